#!/bin/sh
# proxy.sh: runs the device proxy benchmarks from the build directory (see proxy_bench.c)
# and prints their RESULT lines. Usage: contrib/bench/proxy.sh [BUILDDIR]
set -e
builddir=${1:-.}
exec "$builddir/contrib/bench/proxy_bench" --lcrd="$builddir/helper/lcrd"
