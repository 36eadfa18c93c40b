#!/bin/sh
# cuda_copy.sh: lcrd's copies between a CUDA region and host memory, through its pinned
# buffers, against the plain synchronous driver copy into the same pageable memory, in the
# same run (see cuda_copy_bench.c). Usage: contrib/bench/cuda_copy.sh [BUILDDIR]; further
# options from $LCR_CUDA_COPY_BENCH_ARGS ("--size=268435456 --rounds=3"). Needs a GPU: where
# LCR was built without CUDA or no NVIDIA driver loads, it says it skipped, with no RESULT.
builddir=${1:-.}
if [ ! -x "$builddir/contrib/bench/cuda_copy_bench" ]; then
	echo "cuda_copy: skipped: this build has no CUDA"
	exit 0
fi
# shellcheck disable=SC2086
"$builddir/contrib/bench/cuda_copy_bench" ${LCR_CUDA_COPY_BENCH_ARGS:-}
rc=$?
[ $rc = 77 ] && exit 0
exit $rc
