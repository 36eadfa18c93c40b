#!/bin/sh
# erasure.sh: runs the erasure-coding benchmark from the build directory (see
# erasure_bench.c): 64 MiB of state per node, groups of 8 nodes with 2 parity blocks.
# Usage: contrib/bench/erasure.sh [BUILDDIR]
set -e
builddir=${1:-.}
exec "$builddir/contrib/bench/erasure_bench" --mib=64 --group=8 --parity=2
