#!/bin/bash
# tests/gpu/run.sh: the device proxy on a real GPU, in one script. Builds LCR with CUDA in a
# fresh build directory (autoreconf, configure, make), then runs lcr_gpu_test: CUDA regions
# allocated by lcrd, written by the client with cudaMemcpy, read back by lcrd and compared;
# a CUDA region surviving a SIGKILLed rank; device-to-host bandwidth from a proxy region
# versus cudaMalloc memory. Prints RESULT lines; exits non-zero on any failure. Takes a
# minute or two on one GPU.
#
# Environment: CUDA_HOME (default /usr/local/cuda); LCR_GPU_BUILDDIR to use an existing
# build directory configured with CUDA instead of building afresh; LCR_GPU_BANDWIDTH_SIZE
# (default 1G).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cuda=${CUDA_HOME:-/usr/local/cuda}

if command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi

if [ -n "${LCR_GPU_BUILDDIR:-}" ]; then
	build=$LCR_GPU_BUILDDIR
else
	build=$(mktemp -d /tmp/lcr-gpu-build.XXXXXX)
	log=$build/build.log
	echo "building in $build (log: $log)"
	if ! { (cd "$src" && autoreconf -fi) &&
		(cd "$build" && "$src/configure" --with-cuda="$cuda" --disable-cluster-tests) &&
		make -C "$build" -j"$(nproc)"; } >"$log" 2>&1; then
		tail -n 40 "$log"
		echo "run.sh: the build with CUDA failed" >&2
		exit 1
	fi
fi

test_bin=$build/tests/gpu/lcr_gpu_test
if [ ! -x "$test_bin" ]; then
	echo "run.sh: $test_bin was not built: configure did not find CUDA under $cuda" >&2
	exit 1
fi
exec timeout 240 "$test_bin" --lcrd="$build/helper/lcrd" \
	--bandwidth-size="${LCR_GPU_BANDWIDTH_SIZE:-1G}"
