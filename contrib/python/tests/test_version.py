"""test_version.py: a feature that needs a newer PyTorch raises lcr.VersionError (an
lcr.Error) that names the feature, the version it needs and the version found; nothing
crashes. On PyTorch older than 2.0 (Debian 12 has 1.13) that is cuda_allocator, which
needs torch.cuda.memory.CUDAPluggableAllocator."""

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
    finish()


if __name__ == "__main__":
    main()
