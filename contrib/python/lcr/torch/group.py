"""Ending a broken default process group: aborted where PyTorch can, destroyed otherwise.

PyTorch 2.x has ``torch.distributed.distributed_c10d._abort_process_group``: for an NCCL
group it aborts the communicators, so that collectives still queued on the GPU fail at once
instead of being waited for (``destroy_process_group`` of an NCCL group whose peer died can
block in the communicator's teardown), then forgets every group as
``destroy_process_group`` does. PyTorch says the API is experimental and does nothing for
other backends (it warns and returns), so ``end_group`` aborts only an NCCL group on a
PyTorch that has it, and destroys any other group (gloo, and every group on PyTorch 1.13):
gloo's connections to a dead rank break by themselves.
"""

import torch.distributed as dist

ABORTED = "aborted"
DESTROYED = "destroyed"


def can_abort(backend):
    """Whether end_group aborts a group of `backend` ('nccl', 'gloo') on this PyTorch."""
    return backend == "nccl" and hasattr(dist.distributed_c10d, "_abort_process_group")


def end_group():
    """Ends the default process group and every group built on it; returns ABORTED or
    DESTROYED, or None when no group was built."""
    if not dist.is_initialized():
        return None
    if can_abort(dist.get_backend()):
        dist.distributed_c10d._abort_process_group(dist.group.WORLD)
        return ABORTED
    dist.destroy_process_group()
    return DESTROYED
