#!/bin/bash
# tests/gpu/all.sh: every GPU check of LCR in one run, for the days a GPU machine is lent:
# the device proxy (run.sh: CUDA regions, SIGKILLed rank, device-to-host bandwidth), CUDA
# regions in checkpoints (ckpt.sh), state transfer from and into CUDA regions (transfer.sh;
# its skip, 77, is not a failure), snapshots of CUDA regions (snapshot.sh), lcrd's copies
# through pinned buffers (tests/helper/cuda_stage_test, on the real driver, and
# contrib/bench/cuda_copy.sh, their speed against the plain driver copy), and liblcr's
# NCCL communicator (comm_nccl_test, one rank). Builds LCR with CUDA first unless LCR_GPU_BUILDDIR names a build made with CUDA.
# Prints each part's TAP and RESULT lines; exits non-zero if any part failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${LCR_GPU_BUILDDIR:-}" ]; then
	export LCR_GPU_BUILDDIR=$(mktemp -d /tmp/lcr-gpu-build.XXXXXX)
	(cd "$here/../.." && autoreconf -fi && cd "$LCR_GPU_BUILDDIR" &&
		"$here/../../configure" --disable-cluster-tests && make -j"$(nproc)") >"$LCR_GPU_BUILDDIR/build.log" 2>&1 ||
		{ tail -n 30 "$LCR_GPU_BUILDDIR/build.log"; echo "all.sh: the build with CUDA failed"; exit 1; }
fi
build=$LCR_GPU_BUILDDIR
status=0

echo "== device proxy (run.sh)"
timeout 300 "$here/run.sh" || status=1
echo "== checkpoints of CUDA regions (ckpt.sh)"
timeout 120 "$here/ckpt.sh" || status=1
echo "== state transfer between helpers, CUDA regions (transfer.sh)"
timeout 120 "$here/transfer.sh" || [ $? -eq 77 ] || status=1
echo "== snapshots of CUDA regions: recovery from copies and parity, checkpoint (snapshot.sh)"
timeout 600 "$here/snapshot.sh" || status=1

echo "== lcrd's copies through pinned buffers on its own streams (cuda_stage_test)"
if make -C "$build" tests/helper/cuda_stage_test >/dev/null 2>&1; then
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 120 "$build/tests/helper/cuda_stage_test" || status=1
else
	echo "not ok - cuda_stage_test did not build"
	status=1
fi

echo "== benchmark: lcrd's pinned-buffer copies against the plain driver copy (cuda_copy.sh)"
timeout 300 "$here/../../contrib/bench/cuda_copy.sh" "$build" || status=1

echo "== NCCL communicator (comm_nccl_test)"
work=$(mktemp -d /tmp/lcr-gpu-nccl.XXXXXX)
chmod 700 "$work"
mkdir -m 700 "$work/run"
"$build/helper/lcrd" --foreground --job-id=71 --runtime-dir="$work/run" >"$work/lcrd.out" 2>"$work/lcrd.log" &
lcrd=$!
for _ in $(seq 100); do
	LCR_SOCKET=$(sed -n 's/^LCR_SOCKET=//p' "$work/lcrd.out")
	[ -n "$LCR_SOCKET" ] && break
	sleep 0.05
done
export LCR_SOCKET
timeout 120 "$build/tests/gpu/comm_nccl_test" || { status=1; sed 's/^/# /' "$work/lcrd.log"; }
kill "$lcrd" 2>/dev/null
wait "$lcrd" 2>/dev/null
rm -rf "$work"
echo "== all.sh: $([ $status = 0 ] && echo passed || echo FAILED)"
exit $status
