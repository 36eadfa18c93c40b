"""CUDA tensors in helper regions through torch.cuda.memory.CUDAPluggableAllocator.

``cuda_allocator(session, prefix)`` loads liblcr_torch_cuda.so (lcr_torch_cuda.c, built when
configure finds CUDA), binds it to the session and returns a CUDAPluggableAllocator whose
every allocation is a CUDA region ``<prefix>.<n>``. Route only the training state there with
a memory pool, ``cuda_pool(session, prefix)`` (PyTorch versions that have torch.cuda.MemPool
and torch.cuda.use_mem_pool: Debian 13's 2.6 has them)::

    pool = lcr.torch.cuda_pool(session, "cuda")
    with torch.cuda.use_mem_pool(pool):
        model = Model().cuda()

or all of the process's CUDA memory with torch.cuda.memory.change_current_allocator().
The library is looked up at ``$LCR_TORCH_CUDA_LIBRARY``, then in the build tree
(``$LCR_BUILDDIR/contrib/python/.libs``), then on the system's library path.
"""

import ctypes
import errno
import os

import torch

from .._library import check
from ..errors import Error, VersionError
from .version import require_torch

LIBRARY = "liblcr_torch_cuda.so"


def library_path():
    """Where liblcr_torch_cuda.so is: a path, or the bare name for the system's search."""
    if os.environ.get("LCR_TORCH_CUDA_LIBRARY"):
        return os.environ["LCR_TORCH_CUDA_LIBRARY"]
    builddir = os.environ.get("LCR_BUILDDIR")
    path = os.path.join(builddir or "", "contrib", "python", ".libs", LIBRARY)
    return path if builddir and os.path.exists(path) else LIBRARY


def cuda_allocator(session, prefix="cuda"):
    """A torch.cuda.memory.CUDAPluggableAllocator whose allocations are CUDA regions of the
    session's rank named `<prefix>.<n>` (n counting this process's allocations). Raises
    lcr.VersionError on PyTorch older than 2.0, lcr.Error with ENODEV when PyTorch sees no
    GPU and ENOENT when liblcr_torch_cuda.so was not built (no CUDA at configure time)."""
    feature = "lcr.torch.cuda_allocator (torch.cuda.memory.CUDAPluggableAllocator)"
    require_torch(feature, (2, 0))
    if not torch.cuda.is_available():
        raise Error.of(errno.ENODEV, feature, f"PyTorch {torch.__version__} sees no CUDA device")
    path = library_path()
    try:
        shim = ctypes.CDLL(path)
    except OSError as e:
        raise Error.of(errno.ENOENT, feature,
                       f"cannot load {path} (it is built when configure finds CUDA): {e}") from None
    shim.lcr_torch_cuda_bind.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    check(shim.lcr_torch_cuda_bind(session.handle, prefix.encode()), f"lcr_torch_cuda_bind('{prefix}')")
    return torch.cuda.memory.CUDAPluggableAllocator(path, "lcr_torch_cuda_alloc", "lcr_torch_cuda_free")


def cuda_pool(session, prefix="cuda"):
    """A torch.cuda.MemPool over cuda_allocator(session, prefix): what is allocated inside
    ``torch.cuda.use_mem_pool(pool)`` lives in CUDA regions, the rest of the process's CUDA
    memory does not. Raises lcr.VersionError on a PyTorch without torch.cuda.MemPool and
    use_mem_pool (1.13 has neither), else what cuda_allocator raises."""
    if not (hasattr(torch.cuda, "MemPool") and hasattr(torch.cuda, "use_mem_pool")):
        raise VersionError("lcr.torch.cuda_pool (torch.cuda.MemPool)",
                           "a PyTorch with torch.cuda.MemPool and torch.cuda.use_mem_pool",
                           f"PyTorch {torch.__version__}")
    return torch.cuda.MemPool(cuda_allocator(session, prefix).allocator())
