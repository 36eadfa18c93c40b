"""A FullyShardedDataParallel module's own shard of the parameters, in a region.

FSDP (``use_orig_params=False``) keeps each wrapped module's parameters flattened into one
``FlatParameter``; between forward and backward passes it holds only this rank's shard of it,
in the tensor it calls ``_local_shard`` (set from the flat parameter's data at the first
forward pass), and every re-shard makes the flat parameter a view of that tensor again.
``FsdpPlacement`` moves each local shard into a pack (see placement.py) and makes the flat
parameter (and ``_local_shard`` once it exists) views of it, so FSDP gathers from, and the
optimizer updates, the region's memory; the module's persistent buffers (whole on every
rank) go into the same pack. Ignored modules or parameters (FSDP does not flatten them)
and ``MixedPrecision(buffer_dtype=...)`` are refused rather than left out. No other rank holds this
shard: the placement is ``sharded`` (register a shard key of the rank's own), and the
optimizer over the flat parameters is placed sharded too (``place_optimizer``).

Needs a PyTorch whose FSDP runs on the CPU (2.x with ``device_id=torch.device("cpu")``);
parameters offloaded to pinned memory (``CPUOffload(offload_params=True)``) and CUDA flat
parameters are refused.
"""

import errno

import torch

from ..errors import Error
from .placement import Pack


def is_fsdp(module):
    """Whether `module` is a FullyShardedDataParallel module. Told from its class, without
    importing torch.distributed.fsdp: on Debian 12 (PyTorch 1.13, Python 3.11) that import
    fails, and a module of that class exists only where it worked."""
    return any(cls.__name__ == "FullyShardedDataParallel" and cls.__module__.startswith("torch.distributed.fsdp")
               for cls in type(module).__mro__)


def is_flat_param(tensor):
    """Whether `tensor` is an FSDP FlatParameter (a rank's shard of flattened parameters):
    since PyTorch 2.1 a Parameter that FSDP marks, before it an instance of that class."""
    return getattr(tensor, "_is_flat_param", False) or type(tensor).__name__ == "FlatParameter"


def _handles(fsdp_module):
    """The flat parameter handles of one FSDP instance (one before 2.1 was a list)."""
    handles = getattr(fsdp_module, "_handles", None)
    if handles is not None:
        return list(handles)
    handle = getattr(fsdp_module, "_handle", None)
    return [handle] if handle is not None else []


def _flat_params(module):
    """[(name, flat parameter)] of every FSDP instance in `module`, named by its path."""
    from torch.distributed.fsdp import FullyShardedDataParallel
    paths = {id(m): name for name, m in module.named_modules()}
    found = []
    for instance in FullyShardedDataParallel.fsdp_modules(module):
        offload = getattr(instance, "cpu_offload", None)
        if offload is not None and getattr(offload, "offload_params", False):
            raise Error.of(errno.EOPNOTSUPP, "placing an FSDP module's shard in a region",
                           "CPUOffload(offload_params=True) keeps it in pinned memory of FSDP's own")
        for index, handle in enumerate(_handles(instance)):
            flat = handle.flat_param
            if flat.device.type != "cpu":
                raise Error.of(errno.EOPNOTSUPP, "placing an FSDP module's shard in a host region",
                               f"its flat parameter is on {flat.device}")
            local_shard = getattr(flat, "_local_shard", None)  # set by FSDP's first forward
            if local_shard is not None and flat.data.data_ptr() != local_shard.data_ptr():
                raise Error.of(errno.EBUSY, "placing an FSDP module's shard in a region",
                               "the module is not sharded now (inside a forward or backward pass?)")
            found.append((f"{paths.get(id(instance)) or 'root'}.flat{index}", flat))
    return found


def _persistent_buffers(module):
    """[(name, buffer)] of `module`'s persistent buffers (BatchNorm's running statistics...),
    which FSDP keeps whole on every rank, each once."""
    found, seen = [], set()
    for path, owner in module.named_modules():
        for name, buffer in owner.named_buffers(recurse=False):
            if name in getattr(owner, "_non_persistent_buffers_set", ()) or id(buffer) in seen:
                continue
            seen.add(id(buffer))
            found.append((f"buffer.{path}.{name}" if path else f"buffer.{name}", buffer))
    return found


def _refuse_unplaced_state(module):
    """Raises when the FSDP module holds state the placement would leave out."""
    from torch.distributed.fsdp import FullyShardedDataParallel
    for instance in FullyShardedDataParallel.fsdp_modules(module):
        if getattr(instance, "_ignored_params", None):
            raise Error.of(errno.EOPNOTSUPP, "placing an FSDP module's state in a region",
                           "it has ignored modules or parameters (not flattened): they would not be kept")
        precision = getattr(instance, "mixed_precision", None)
        if precision is not None and getattr(precision, "buffer_dtype", None) is not None:
            raise Error.of(errno.EOPNOTSUPP, "placing an FSDP module's state in a region",
                           "MixedPrecision(buffer_dtype=...) replaces the buffers FSDP casts")


class FsdpPlacement:
    """Each FSDP flat parameter's local shard, and the module's persistent buffers, in
    region `prefix` (see place_module)."""

    sharded = True  # this rank's shard of the parameters: no other rank holds it

    def __init__(self, session, module, prefix):
        self.session = session
        self.module = module
        self.prefix = prefix
        flat = _flat_params(module)
        if not flat:
            raise Error.of(errno.EINVAL, "placing an FSDP module", "it holds no flat parameter")
        _refuse_unplaced_state(module)
        buffers = _persistent_buffers(module)
        for name, buffer in buffers:
            if buffer.device.type != "cpu":
                raise Error.of(errno.EOPNOTSUPP, f"placing buffer '{name}' in a host region",
                               f"it is on {buffer.device}")
        specs = [(name, p.dtype, tuple(p.data.shape), None) for name, p in flat + buffers]
        self.pack, fresh = Pack.create(session, prefix, specs)
        self.reattached = not fresh
        with torch.no_grad():
            for name, p in flat:
                view = self.pack.views[name]
                if fresh:
                    view.copy_(p.data)
                if getattr(p, "_local_shard", None) is not None:
                    p._local_shard = view
                p.data = view  # before FSDP's first forward, which takes it as _local_shard
            for name, buffer in buffers:
                if fresh:
                    self.pack.views[name].copy_(buffer.detach())
                buffer.data = self.pack.views[name]

    def regions(self):
        return [self.pack.region]

    def drop(self):
        """Sharded state is never copied from another rank: nothing to let go of."""

    def reload(self):
        """The flat parameters are views of the region: nothing to do."""
