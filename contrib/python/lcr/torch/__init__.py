"""lcr.torch: PyTorch training whose state lives in the helper's regions.

- ``place_module`` / ``place_optimizer``: parameters, buffers and optimizer state as CPU
  tensors over host regions; found again by a restarted process of the same rank (a
  ZeroRedundancyOptimizer's own shard, an FSDP module's flat shards: placed ``sharded``);
- ``session.update(step)`` (a context manager) or ``mark_steps`` (a hook on
  ``optimizer.step``): the update marks that tell the helper which step the state holds;
- ``Store``: a torch.distributed Store on the helper's key-value store; ``StoreError``, what
  it raises (an lcr.Error and PyTorch's RuntimeError);
- ``Recovery``: builds the process group, resumes at the right step, and rebuilds the group
  when a rank fails;
- ``cuda_allocator``: CUDA memory in regions through CUDAPluggableAllocator (PyTorch >= 2.0);
  ``cuda_pool``: a torch.cuda.MemPool on it, for the training state only;
- ``end_group``: ends a broken process group, aborting an NCCL group where PyTorch can (2.x).

See contrib/python/README.md for the lines to add to a training script.
"""

from .cuda import cuda_allocator, cuda_pool
from .group import end_group
from .placement import ModulePlacement, OptimizerPlacement, mark_steps, place_module, place_optimizer
from .recovery import Recovery
from .store import Store, StoreError
from .version import require_torch, torch_version

__all__ = [
    "ModulePlacement", "OptimizerPlacement", "Recovery", "Store", "StoreError", "cuda_allocator", "cuda_pool", "end_group",
    "mark_steps", "place_module", "place_optimizer", "require_torch", "torch_version",
]
