#!/bin/bash
# cuda_stage.sh: lcrd's pipelined copies between CUDA regions and host memory
# (helper/loop/cuda_stage.c), tested by cuda_stage_test (cmocka, speaking TAP) under the
# stand-in driver (fake_cuda_env.sh), whose asynchronous copies wait for their stream's
# synchronization.
: "${LCR_BUILDDIR:=$PWD}"
. "$(dirname "$0")/fake_cuda_env.sh"
export CMOCKA_MESSAGE_OUTPUT=TAP
exec "$LCR_BUILDDIR/tests/helper/cuda_stage_test"
