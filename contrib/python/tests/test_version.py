"""test_version.py: a feature that needs a newer PyTorch raises lcr.VersionError (an
lcr.Error) that names the feature, the version it needs and the version found; nothing
crashes. On PyTorch older than 2.0 (Debian 12 has 1.13) that is cuda_allocator, which
needs torch.cuda.memory.CUDAPluggableAllocator. Other versions are simulated by replacing
torch.__version__: Recovery on a PyTorch older than 1.13, cuda_allocator past the version
gate on 2.1 (where it fails for want of a GPU instead), and a version string that cannot be
read. cuda_pool needs torch.cuda.MemPool (PyTorch 2.6 has it, 1.13 not): without it,
lcr.VersionError; with it on a machine without a GPU, ENODEV."""

import errno

import torch

import lcr
import lcr.torch
from checks import check, finish, raises


def main():
    error = raises(errno.EOPNOTSUPP, lambda: lcr.torch.require_torch("a future feature", (99, 0)),
                   "require_torch of a newer PyTorch raises lcr.VersionError (EOPNOTSUPP)")
    check(isinstance(error, lcr.VersionError) and "a future feature" in str(error) and "PyTorch >= 99.0" in str(error)
          and torch.__version__ in str(error), "the message names the feature, the version needed and the one found",
          str(error))
    if lcr.torch.torch_version() < (2, 0):
        error = raises(errno.EOPNOTSUPP, lambda: lcr.torch.cuda_allocator(lcr.Session()),
                       f"cuda_allocator on PyTorch {torch.__version__} raises lcr.VersionError")
        check(isinstance(error, lcr.VersionError) and "CUDAPluggableAllocator" in str(error)
              and "PyTorch >= 2.0" in str(error), "it names CUDAPluggableAllocator and PyTorch >= 2.0", str(error))
    else:
        check(hasattr(torch.cuda.memory, "CUDAPluggableAllocator"),
              f"PyTorch {torch.__version__} has CUDAPluggableAllocator")
    memory_pool()
    simulated_versions()
    finish()


def memory_pool():
    """cuda_pool needs torch.cuda.MemPool: a VersionError without it (1.13, or 2.6 with
    MemPool hidden), else it gets as far as cuda_allocator, which wants a GPU here."""
    if hasattr(torch.cuda, "MemPool"):
        real = torch.cuda.MemPool
        try:
            del torch.cuda.MemPool
            error = raises(errno.EOPNOTSUPP, lambda: lcr.torch.cuda_pool(lcr.Session()),
                           f"on PyTorch {torch.__version__} with torch.cuda.MemPool hidden, cuda_pool raises "
                           "lcr.VersionError")
        finally:
            torch.cuda.MemPool = real
        error = raises(errno.ENODEV, lambda: lcr.torch.cuda_pool(lcr.Session()),
                       f"PyTorch {torch.__version__} has torch.cuda.MemPool: cuda_pool says it sees no GPU")
    else:
        error = raises(errno.EOPNOTSUPP, lambda: lcr.torch.cuda_pool(lcr.Session()),
                       f"on PyTorch {torch.__version__} (no torch.cuda.MemPool) cuda_pool raises lcr.VersionError")
    if isinstance(error, lcr.VersionError):
        check("torch.cuda.MemPool" in str(error), "it names torch.cuda.MemPool", str(error))


def simulated_versions():
    real = torch.__version__
    try:
        torch.__version__ = "1.12.1+cpu"
        error = raises(errno.EOPNOTSUPP, lambda: lcr.torch.Recovery(None, None, 0, 1, [], rendezvous_dir="/tmp"),
                       "on a simulated PyTorch 1.12.1, Recovery raises lcr.VersionError")
        check(isinstance(error, lcr.VersionError) and "PyTorch >= 1.13" in str(error) and "1.12.1+cpu" in str(error),
              "it names the version needed and the one found", str(error))
        torch.__version__ = "2.1.0"
        try:
            lcr.torch.cuda_allocator(lcr.Session())
            error = None
        except lcr.Error as e:
            error = e
        check(error is not None and not isinstance(error, lcr.VersionError)
              and error.errno in (errno.ENODEV, errno.ENOENT),
              "on a simulated PyTorch 2.1 without a GPU, cuda_allocator passes the version check and says "
              "what is missing instead", str(error))
        torch.__version__ = "unknown"
        check(lcr.torch.torch_version() == (0, 0), "an unreadable version string reads as (0, 0)")
        raises(errno.EOPNOTSUPP, lambda: lcr.torch.require_torch("a feature", (1, 13)),
               "and then counts as too old: lcr.VersionError, not a crash")
    finally:
        torch.__version__ = real


if __name__ == "__main__":
    main()
