#!/bin/bash
# ckpt_save_restore_cuda.sh: ckpt_save_restore.sh with CUDA regions instead of host regions,
# under the stand-in driver (fake_cuda_env.sh): the checkpoint's writer reads them device to
# host through lcrd's own mapping, the restore writes them host to device.
: "${LCR_BUILDDIR:=$PWD}"
. "$(dirname "$0")/fake_cuda_env.sh"
exec "$(dirname "$0")/ckpt_save_restore.sh"
