"""Model parameters and optimizer state as CPU tensors over the helper's regions.

A *pack* is one host region that holds several tensors: a header (magic, version, the length
of a JSON manifest, the manifest: each tensor's name, dtype, shape and offset) followed by the
tensors' bytes at 64-byte aligned offsets. Because the manifest travels inside the region, a
restarted process, a checkpoint restore or a copy from a replica brings the layout along with
the data.

``place_module`` puts a module's parameters and persistent buffers in one pack (region
``<prefix>``) and swaps each tensor's storage for a view of it, so the module, an optimizer
and DDP keep using the same tensor objects. ``place_optimizer`` does the same for the
optimizer's state, which PyTorch creates lazily in the first ``step()``: it wraps ``step`` so
that state tensors that are not yet in a region are moved into a new pack (regions
``<prefix>.0``, ``<prefix>.1``...) before the step's update is marked committed. When the
regions exist already (a restarted process that registered the same rank), both find the
state again and keep it instead of the fresh values.

``place_optimizer`` of a ``torch.distributed.optim.ZeroRedundancyOptimizer`` (ZeRO-1) places
the state of its local optimizer (``optimizer.optim``): the state of the parameters this rank
owns, which no other rank holds. Such a placement is ``sharded``: the rank should register a
shard key of its own, and lcr.torch.Recovery never copies it from another member.
``place_module`` of a FullyShardedDataParallel module places the rank's shard of its flat
parameters (fsdp.py), and ``place_optimizer`` of an optimizer over them is sharded as well.
"""

import errno
import json
import math
import struct
import types

import torch

from ..errors import Error

MAGIC = b"LCRTPACK"
VERSION = 1
ALIGN = 64
_HEADER = struct.Struct("<8sII")  # magic, version, manifest length


def _align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def _dtype(name):
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise Error.of(errno.EPROTO, "reading a tensor pack", f"unknown dtype '{name}'")
    return dtype


def _layout(specs):
    """The manifest entries and region size for specs [(name, dtype, shape, scalar)]; scalar
    names the Python type ('int', 'float', 'bool') a 0-dim entry stands for, or is None."""
    entries = []
    for name, dtype, shape, scalar in specs:
        nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        entries.append({"name": name, "dtype": _dtype_name(dtype), "shape": list(shape), "nbytes": nbytes,
                        "scalar": scalar, "offset": 10**15})  # the widest offset, to size the manifest
    offset = _align(_HEADER.size + len(json.dumps({"entries": entries}).encode()))
    for entry in entries:
        entry["offset"] = offset
        offset = _align(offset + entry["nbytes"])
    return entries, offset


def _read_manifest(buffer):
    """The entries of the pack in buffer, or None when it holds no pack (a new region)."""
    magic, version, length = _HEADER.unpack_from(buffer, 0)
    if magic != MAGIC:
        return None
    if version != VERSION or _HEADER.size + length > len(buffer):
        raise Error.of(errno.EPROTO, "reading a tensor pack", f"version {version}, manifest of {length} bytes")
    return json.loads(bytes(buffer[_HEADER.size:_HEADER.size + length]))["entries"]


def _write_manifest(buffer, entries):
    data = json.dumps({"entries": entries}).encode()
    _HEADER.pack_into(buffer, 0, MAGIC, VERSION, len(data))
    buffer[_HEADER.size:_HEADER.size + len(data)] = data


def _signature(entries):
    return [(e["name"], e["dtype"], e["shape"]) for e in entries]


def _view(buffer, entry):
    shape = tuple(entry["shape"])
    dtype = _dtype(entry["dtype"])
    if entry["nbytes"] == 0:
        return torch.empty(shape, dtype=dtype)
    count = entry["nbytes"] // torch.empty((), dtype=dtype).element_size()
    return torch.frombuffer(buffer, dtype=dtype, count=count, offset=entry["offset"]).view(shape)


class Pack:
    """One region of tensors: `views` maps each name to a tensor over the region."""

    def __init__(self, region, entries):
        self.region = region
        self.entries = entries
        buffer = region.buffer
        self.views = {entry["name"]: _view(buffer, entry) for entry in entries}

    @property
    def name(self):
        return self.region.name

    @classmethod
    def create(cls, session, name, specs):
        """(pack, fresh): the pack `name` for specs [(name, dtype, shape, scalar)], and whether it
        holds no earlier data (then the caller fills it). An existing one must have this layout."""
        entries, size = _layout(specs)
        region = session.region_alloc(name, size)
        found = _read_manifest(region.buffer)
        if found is None:
            _write_manifest(region.buffer, entries)
            return cls(region, entries), True
        if _signature(found) != _signature(entries):
            raise Error.of(errno.EEXIST, f"placing tensors in region '{name}'",
                           "the region holds tensors of other names, dtypes or shapes (another model?)")
        return cls(region, found), False

    @classmethod
    def attach(cls, session, name):
        """The existing pack `name`, or None when this rank has no such region."""
        try:
            size = session.region_lookup(name).size
        except Error as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        region = session.region_alloc(name, size)
        entries = _read_manifest(region.buffer)
        if entries is None:
            raise Error.of(errno.EPROTO, f"attaching region '{name}'", "it holds no tensor pack")
        return cls(region, entries)


def _swap_storage(tensor, view):
    """Makes `tensor` (a Parameter or buffer, same object kept) use `view`'s memory."""
    with torch.no_grad():
        tensor.data = view


class ModulePlacement:
    """A module's parameters and persistent buffers in region `prefix` (see place_module)."""

    def __init__(self, session, module, prefix):
        self.session = session
        self.module = module
        self.prefix = prefix
        tensors = self._unique_tensors()
        specs = [(name, t.dtype, tuple(t.shape), None) for name, t in tensors.items()]
        self.pack, fresh = Pack.create(session, prefix, specs)
        self.reattached = not fresh
        for name, tensor in tensors.items():
            if fresh:
                self.pack.views[name].copy_(tensor.detach())
            _swap_storage(tensor, self.pack.views[name])

    def _unique_tensors(self):
        """name -> tensor of the state dict, each tensor once (tied weights share one)."""
        tensors, seen = {}, set()
        for name, tensor in self.module.state_dict(keep_vars=True).items():
            if id(tensor) in seen:
                continue
            if tensor.device.type != "cpu":
                raise Error.of(errno.EOPNOTSUPP, f"placing '{name}' in a host region",
                               f"it is on {tensor.device}: place CPU tensors (see lcr.torch.cuda_allocator for CUDA)")
            seen.add(id(tensor))
            tensors[name] = tensor
        return tensors

    sharded = False  # the parameters of a ZeRO-1 or data-parallel run: the same on every rank

    def regions(self):
        return [self.pack.region]

    def drop(self):
        """Before a copy from a replica: the module keeps its views of the region."""

    def reload(self):
        """After a copy from a replica: the tensors are views of the region, nothing to do."""


class _StepHooks:
    """What a wrapped optimizer.step() does around the real one: begin the update mark, the
    step, move new state into regions, commit the mark."""

    def __init__(self, optimizer):
        self.original = optimizer.step
        self.placement = None
        self.marks = None
        optimizer.step = types.MethodType(_hooked_step, optimizer)


def _hooked_step(optimizer, *args, **kwargs):
    hooks = optimizer._lcr_hooks
    if hooks.marks:
        hooks.marks.begin()
    result = hooks.original(*args, **kwargs)
    if hooks.placement:
        hooks.placement.sync()
    if hooks.marks:
        hooks.marks.end()
    return result


def _step_hooks(optimizer):
    """The optimizer's _StepHooks, installed on first use."""
    if not hasattr(optimizer, "_lcr_hooks"):
        optimizer._lcr_hooks = _StepHooks(optimizer)
    return optimizer._lcr_hooks


_SCALARS = {"bool": bool, "int": int, "float": float}


class OptimizerPlacement:
    """An optimizer's state in regions `<prefix>.0`, `<prefix>.1`... (see place_optimizer).
    State is keyed by the parameter's position in the param groups and the state's key
    ('exp_avg'), so a restarted process with the same model finds it. Tensors become views of
    the regions; Python numbers (RMSprop's 'step') stay numbers in the optimizer and are
    copied into a 0-dim slot after each step. `sharded`: the state is this rank's own (the
    local optimizer of a ZeroRedundancyOptimizer), no other rank holds it."""

    def __init__(self, session, optimizer, prefix, sharded=False):
        self.session = session
        self.optimizer = optimizer
        self.sharded = sharded
        self.prefix = prefix
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        packs = self._existing_packs()
        self.reattached = bool(packs)
        self.packs, self.bound, self.scalars = [], {}, {}  # (param index, key) -> view, scalar type
        if packs:
            self._bind_only(packs)  # the regions win over state the optimizer may have
        _step_hooks(optimizer).placement = self

    def regions(self):
        return [pack.region for pack in self.packs]

    def drop(self):
        """Before a copy from a replica: lets go of the state and its views, so that regions
        the replica does not have can be freed."""
        self._bind_only([])

    def reload(self):
        """After a copy from a replica: binds the state to the packs the helper holds now."""
        self._bind_only(self._existing_packs())

    def _existing_packs(self):
        packs = []
        while (pack := Pack.attach(self.session, f"{self.prefix}.{len(packs)}")) is not None:
            packs.append(pack)
        return packs

    def _bind_only(self, packs):
        """Makes `packs` the optimizer's whole state."""
        self.packs, self.bound, self.scalars = [], {}, {}
        for param in self.params:
            self.optimizer.state.pop(param, None)
        for pack in packs:
            self._bind(pack)

    def _bind(self, pack):
        self.packs.append(pack)
        for entry in pack.entries:
            index, key = entry["name"].split(".", 1)
            slot, view, scalar = (int(index), key), pack.views[entry["name"]], entry.get("scalar")
            self.optimizer.state[self.params[slot[0]]][key] = _SCALARS[scalar](view.item()) if scalar else view
            self.bound[slot] = view
            if scalar:
                self.scalars[slot] = scalar
            else:
                self.scalars.pop(slot, None)

    def sync(self):
        """Brings the regions up to date with the optimizer's state: new state goes into a new
        pack, a tensor the optimizer replaced is copied into its view, numbers into their
        slots. Runs after each step, inside its update mark."""
        new = []
        for index, param in enumerate(self.params):
            for key, value in self.optimizer.state.get(param, {}).items():
                if not self._update_slot(index, key, value):
                    new.append((index, key, value))
        if new:
            self._place_new(new)

    def _update_slot(self, index, key, value):
        """Writes `value` into its slot; False when it has no slot that fits it."""
        slot = (index, key)
        view = self.bound.get(slot)
        if value is view or value is None:
            return True
        if isinstance(value, (bool, int, float)):
            if self.scalars.get(slot) != type(value).__name__:
                return False
            view.fill_(value)
            return True
        if not torch.is_tensor(value):
            raise Error.of(errno.EOPNOTSUPP, f"placing optimizer state '{key}' of parameter {index}",
                           f"it is a {type(value).__name__}: only tensors and numbers can live in a region")
        if view is None or slot in self.scalars or view.shape != value.shape or view.dtype != value.dtype:
            return False
        view.copy_(value)
        self.optimizer.state[self.params[index]][key] = view
        return True

    def _place_new(self, new):
        specs = [_state_spec(f"{index}.{key}", value) for index, key, value in new]
        pack, _ = Pack.create(self.session, f"{self.prefix}.{len(self.packs)}", specs)
        for (_, _, value), (name, _, _, scalar) in zip(new, specs):
            if scalar:
                pack.views[name].fill_(value)
            else:
                pack.views[name].copy_(value.detach())
        self._bind(pack)


def _state_spec(name, value):
    """The pack spec of one optimizer state value: a tensor, or a number in a 0-dim slot."""
    if torch.is_tensor(value):
        return name, value.dtype, tuple(value.shape), None
    dtype = torch.float64 if isinstance(value, float) else torch.int64
    return name, dtype, (), type(value).__name__


class StepMarks:
    """Marks each optimizer.step() as the update of `step`, then counts it (mark_steps)."""

    def __init__(self, session, optimizer, first_step):
        self.session = session
        self.step = first_step
        _step_hooks(optimizer).marks = self

    def begin(self):
        self.session.update_begin(self.step)

    def end(self):
        self.session.update_end(self.step)
        self.step += 1


def place_module(session, module, prefix="model"):
    """Moves `module`'s parameters and persistent buffers into region `prefix` of the
    session's rank. When the region exists (a restarted rank), the module takes the values
    it holds; else the region takes the module's. Returns a ModulePlacement (`reattached`).
    For a FullyShardedDataParallel module, the rank's own shard of its flat parameters
    (fsdp.py), placed `sharded`: an FsdpPlacement."""
    from .fsdp import FsdpPlacement, is_fsdp
    if is_fsdp(module):
        return FsdpPlacement(session, module, prefix)
    return ModulePlacement(session, module, prefix)


def _zero_local_optimizer(optimizer):
    """The local optimizer of a ZeroRedundancyOptimizer (the one holding this rank's shard of
    the state), or None when `optimizer` is not one."""
    if not torch.distributed.is_available():
        return None
    from torch.distributed.optim import ZeroRedundancyOptimizer
    if not isinstance(optimizer, ZeroRedundancyOptimizer):
        return None
    if getattr(optimizer, "_overlap_with_ddp", False):
        raise Error.of(errno.EOPNOTSUPP, "placing the state of a ZeroRedundancyOptimizer",
                       "overlap_with_ddp=True builds its local optimizer only after DDP's first buckets: "
                       "use overlap_with_ddp=False")
    return optimizer.optim


def place_optimizer(session, optimizer, prefix="optim"):
    """Keeps `optimizer`'s state in regions `<prefix>.N`: existing ones are bound now, new
    state is moved there after each step(), inside its update mark. For a
    ZeroRedundancyOptimizer, the state of its local optimizer: this rank's shard, placed
    `sharded` (build it, and place it, after the process group, again after each rebuild).
    An optimizer over FSDP flat parameters holds this rank's shard of the state: placed
    `sharded` too. Returns an OptimizerPlacement (`reattached`, `sharded`)."""
    local = _zero_local_optimizer(optimizer)
    if local is not None:
        return OptimizerPlacement(session, local, prefix, sharded=True)
    from .fsdp import is_flat_param
    over_shards = any(is_flat_param(p) for group in optimizer.param_groups for p in group["params"])
    return OptimizerPlacement(session, optimizer, prefix, sharded=over_shards)


def mark_steps(session, optimizer, first_step=0):
    """Makes every optimizer.step() mark its update (lcr_update_begin/end) as step
    `first_step`, then the next... Set the returned object's `step` after a resume."""
    return StepMarks(session, optimizer, first_step)
