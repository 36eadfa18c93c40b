"""test_cuda.py: the CUDA path of lcr.torch, for a machine with a GPU and a PyTorch with CUDA
that has torch.cuda.MemPool (test_python.sh does not run it: Debian's PyTorch is CPU-only).
Runs against a real lcrd ($LCR_SOCKET) built with CUDA and liblcr_torch_cuda.so (found as
lcr.torch.cuda_allocator says), in two processes:

  write   a tensor allocated in a MemPool on lcr.torch.cuda_allocator lives in a CUDA region;
          a model trains with its parameters there; the step is marked and the rank dies
          without freeing anything;
  read    a new process of the same rank that allocates the same way gets the tensor's
          data back from its region.
"""

import os
import sys

import torch

import lcr
import lcr.torch
from checks import check, finish

COUNT = 1 << 20


def session_and_pool():
    session = lcr.Session()
    session.register(0)
    return session, lcr.torch.cuda_pool(session, "cuda")


def in_cuda_region(session, tensor):
    return any(r.kind == lcr.RegionKind.CUDA and r.address and r.address <= tensor.data_ptr() < r.address + r.size
               for r in session.region_list())


def write():
    session, pool = session_and_pool()
    with torch.cuda.use_mem_pool(pool):
        data = torch.arange(COUNT, dtype=torch.float32, device="cuda")
    check(in_cuda_region(session, data), "a tensor allocated in the pool lives in a CUDA region of the helper")
    with torch.cuda.use_mem_pool(pool):
        model = torch.nn.Linear(256, 256, device="cuda")
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        model(torch.randn(64, 256, device="cuda")).pow(2).mean().backward()
        with session.update(0):
            optimizer.step()
            torch.cuda.synchronize()
    check(in_cuda_region(session, model.weight) and bool(torch.isfinite(model.weight).all()),
          "a model trains with its parameters in CUDA regions")
    sys.stdout.flush()
    os._exit(0)


def read():
    session, pool = session_and_pool()
    with torch.cuda.use_mem_pool(pool):
        data = torch.empty(COUNT, dtype=torch.float32, device="cuda")
    check(in_cuda_region(session, data), "the restarted rank's first allocation is its first region again")
    check(torch.equal(data, torch.arange(COUNT, dtype=torch.float32, device="cuda")),
          "it holds the data the dead process wrote")
    check(session.resume_step() == 1, "and the rank resumes after the committed step 0")


if __name__ == "__main__":
    {"write": write, "read": read}[sys.argv[1]]()
    finish()
