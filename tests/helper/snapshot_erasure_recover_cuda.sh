#!/bin/bash
# snapshot_erasure_recover_cuda.sh: snapshot_erasure_recover.sh with CUDA regions instead of host regions, under the stand-in
# driver (fake_cuda_env.sh): the snapshots copy the ranks' CUDA regions through lcrd's own
# mapping, device to host, and the recovery writes them back host to device.
: "${LCR_BUILDDIR:=$PWD}"
. "$(dirname "$0")/fake_cuda_env.sh"
exec "$(dirname "$0")/snapshot_erasure_recover.sh"
