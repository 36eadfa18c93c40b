#!/bin/bash
# tests/gpu/snapshot.sh: snapshots of CUDA regions on a real GPU (after tests/gpu/all.sh has
# built LCR with CUDA, or with LCR_GPU_BUILDDIR set to such a build). Runs the helper tests
# of recovery from copies (snapshot_recover.sh), of the checkpoint written from snapshots
# (snapshot_ckpt.sh) and of recovery from erasure-coded parity (snapshot_erasure_recover.sh)
# with CUDA regions (ckpt_client with CKPT_CLIENT_REGION_KIND=cuda, which writes and reads
# them with cuMemcpy), on this machine's driver: each round the helpers copy their ranks'
# device memory to host; a recovery writes it back host to device. CI runs the same tests
# under a stand-in driver (tests/helper/*_cuda.sh); this is the run on a device. Needs
# munged (the tests skip without it). Prints each test's TAP; exits non-zero if one failed.
set -u
build=${LCR_GPU_BUILDDIR:?set LCR_GPU_BUILDDIR to a build configured with CUDA}
src=$(cd "$(dirname "$0")/../.." && pwd)
make -C "$build" tests/helper/ckpt_client tests/helper/xfer_client tests/helper/parity_expect \
	>/dev/null || { echo "snapshot.sh: cannot build the test programs in $build"; exit 1; }
export LCR_BUILDDIR=$build LCR_SRCDIR=$src CKPT_CLIENT_REGION_KIND=cuda
status=0
for t in snapshot_recover snapshot_ckpt snapshot_erasure_recover; do
	echo "== $t.sh with CUDA regions"
	(cd "$build" && timeout 300 "$src/tests/helper/$t.sh") || status=1
done
exit $status
