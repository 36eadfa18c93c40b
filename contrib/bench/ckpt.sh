#!/bin/sh
# ckpt.sh: runs the just-in-time checkpoint benchmark from the build directory (see
# ckpt_bench.c) and prints its RESULT lines. Usage: contrib/bench/ckpt.sh [BUILDDIR [DIR]]
# DIR is where checkpoints and the baseline's files are written (default /var/tmp: a disk,
# not a tmpfs); further ckpt_bench options come from $LCR_CKPT_BENCH_ARGS, such as
# "--nodes=2 --size=256M" on a machine with less than 6 GiB to spare.
set -e
builddir=${1:-.}
dir=${2:-/var/tmp}
# shellcheck disable=SC2086
exec "$builddir/contrib/bench/ckpt_bench" --lcrd="$builddir/helper/lcrd" --dir="$dir" \
	${LCR_CKPT_BENCH_ARGS:-}
