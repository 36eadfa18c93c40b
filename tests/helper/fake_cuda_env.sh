# fake_cuda_env.sh: sourced by the tests that run LCR's CUDA region code without a GPU. Puts
# the stand-in driver (tests/helper/fake_libcuda.c, built where configure found CUDA; the
# build links it as tests/helper/fake-cuda/libcuda.so.1) first in the loader's path, and
# makes ckpt_client allocate CUDA regions; skips the test where it was not built.
fake_cuda_dir=$LCR_BUILDDIR/tests/helper/fake-cuda
if [ ! -e "$fake_cuda_dir/libcuda.so.1" ]; then
	echo "1..0 # SKIP no stand-in CUDA driver in this build (configure found no CUDA)"
	exit 0
fi
export LD_LIBRARY_PATH=$fake_cuda_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export CKPT_CLIENT_REGION_KIND=cuda
