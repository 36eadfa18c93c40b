#!/bin/sh
# frame_seal.sh: runs the per-frame sealing benchmark from the build directory (see
# frame_seal_bench.c). Usage: contrib/bench/frame_seal.sh [BUILDDIR]
set -e
builddir=${1:-.}
exec "$builddir/contrib/bench/frame_seal_bench" --mib=256
