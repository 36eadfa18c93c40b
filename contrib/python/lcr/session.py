"""A session with the node's helper, lcrd: the Python face of include/lcr.h.

:class:`Session` mirrors the C calls one for one (``lcr_region_alloc`` is
``Session.region_alloc``, ``lcr_kv_get`` is ``Session.kv_get``...) with Python types: names
are ``str``, values ``bytes``, timeouts seconds (``None`` waits for ever), failures raise
:class:`lcr.Error`. A host region comes back as a :class:`Region` whose ``buffer`` is a
writable ``memoryview`` over the mapping, which ``torch.frombuffer`` or ``numpy.frombuffer``
turn into arrays without a copy.

The mapping lives as long as the session: ``close()`` refuses to unmap it while a buffer
handed out by :attr:`Region.buffer` (or a tensor made from one) is still alive.
"""

import contextlib
import ctypes
import enum
import errno
import gc
import itertools
import logging
import os
import select
import time
import weakref
from dataclasses import dataclass
from typing import Optional

from . import _library
from ._library import HAS_UPDATE_ABANDON, LIB, LCR_NO_NODE, LCR_NO_STEP, LCR_STORE_VALUE_MAX, LCR_VALUE_MAX, check, encode_name
from .errors import Error

log = logging.getLogger("lcr")


class RegionKind(enum.IntEnum):
    HOST = 1
    CUDA = 2


class Phase(enum.IntEnum):
    """Where a rank stands in its update cycle (enum lcr_phase)."""

    RUNNING = 0
    UPDATING = 1
    COMMITTED = 2
    ROLLING_BACK = 3  # the helper rolls the regions back to a protected step (a recovery)
    ABANDONED = 4  # update_abandon: an update given up, the regions torn until a rollback or a copy

    @property
    def torn(self):
        """Whether the regions hold no committed state (in an update, or one given up)."""
        return self in (Phase.UPDATING, Phase.ABANDONED)


class EventType(enum.IntEnum):
    RANK_EXITED = 1
    HELPER_SHUTDOWN = 2
    HELPER_LOST = 3
    NODE_DOWN = 4
    NODE_LEFT = 5
    MESH_UP = 6
    CHECKPOINT = 7
    REPLACING = 8
    NODE_JOINED = 9
    RECOVERY_FAILED = 10
    PROTECTED = 11


class EventSource(enum.IntEnum):
    HELPER = 0
    PMIX = 1


def _enum_or_int(kind, value):
    """The enum member for value, or the plain int for a value this binding does not know."""
    try:
        return kind(value)
    except ValueError:
        return value


def _seconds_to_ms(timeout):
    return -1 if timeout is None else max(0, int(timeout * 1000))


def _optional_step(step):
    return None if step == LCR_NO_STEP else step


@dataclass(frozen=True)
class Event:
    """A notice from the helper (struct lcr_event); `type` is an int for unknown types."""

    type: object
    source: object
    rank: int
    pid: int
    status: int
    node: str
    message: str
    node_id: Optional[int]
    generation: int
    leader: Optional[int]
    epoch: int = 0  # REPLACING, NODE_JOINED: the communicator epoch of the replacement

    @classmethod
    def from_c(cls, ev):
        return cls(type=_enum_or_int(EventType, ev.type), source=_enum_or_int(EventSource, ev.source),
                   rank=ev.rank, pid=ev.pid, status=ev.status, node=ev.node.decode(errors="replace"),
                   message=ev.message.decode(errors="replace"),
                   node_id=None if ev.node_id == LCR_NO_NODE else ev.node_id,
                   generation=ev.generation, leader=None if ev.leader == LCR_NO_NODE else ev.leader,
                   epoch=ev.epoch)


@dataclass(frozen=True)
class RegionDescription:
    """A region as lcr_region_lookup / lcr_region_list describe it (struct lcr_region)."""

    name: str
    size: int
    kind: object
    owner_rank: int
    shard_key: str
    committed_step: Optional[int]  # the owner's last committed step; None: none yet
    phase: Phase                   # the owner's phase
    owner_alive: bool
    address: Optional[int]         # where this process maps it, or None

    @classmethod
    def from_c(cls, info):
        return cls(name=info.name.decode(), size=info.size, kind=_enum_or_int(RegionKind, info.kind),
                   owner_rank=info.owner_rank, shard_key=info.shard_key.decode(),
                   committed_step=_optional_step(info.committed_step), phase=Phase(info.phase),
                   owner_alive=bool(info.owner_alive), address=info.ptr)


class Region:
    """A region mapped in this process: `address` is a host pointer (HOST) or a CUDA device
    pointer (CUDA); `reattached` tells that it already existed and kept its data."""

    def __init__(self, session, name, size, kind, address, reattached):
        self.session = session
        self.name = name
        self.size = size
        self.kind = kind
        self.address = address
        self.reattached = reattached

    @property
    def buffer(self):
        """A writable memoryview (format 'B') over a host region's mapping."""
        if self.kind != RegionKind.HOST:
            raise Error.of(errno.EINVAL, f"buffer of region '{self.name}'",
                           "only host regions can be seen as a memoryview")
        return self.session._buffer(self.name, self.address, self.size)

    def __repr__(self):
        return (f"Region({self.name!r}, size={self.size}, kind={self.kind.name}, "
                f"reattached={self.reattached})")


class Session:
    """A connection to the node's helper (lcr_open); a context manager that closes it."""

    def __init__(self, socket_path=None):
        self.socket_path = socket_path or os.environ.get("LCR_SOCKET")
        if not self.socket_path:
            raise Error.of(errno.ENOENT, "lcr_open",
                           "no socket path given and LCR_SOCKET is unset (is the step running with --lcr?)")
        handle = ctypes.c_void_p()
        check(LIB.lcr_open(self.socket_path.encode(), ctypes.byref(handle)), f"lcr_open({self.socket_path})")
        self._handle = handle
        self._buffers = weakref.WeakValueDictionary()  # id -> live RegionBuffer
        self._buffer_ids = itertools.count()
        self.rank = None
        self._closer = weakref.finalize(self, LIB.lcr_close, handle)
        self._closer.atexit = False

    # --- the session ---

    def close(self):
        """Closes the session (lcr_close). Refused while tensors or buffers over its regions
        are alive: the memory would be unmapped under them."""
        if self._buffers:
            raise Error.of(errno.EBUSY, "lcr_close",
                           f"{len(self._buffers)} buffers over this session's regions are still in use")
        self._closer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return not self._closer.alive

    @property
    def handle(self):
        """The lcr_session_t pointer, for C code that shares this session."""
        if self.closed:
            raise Error.of(errno.EBADF, "session", "the session is closed")
        return self._handle

    @property
    def last_error(self):
        return LIB.lcr_last_error(self.handle).decode(errors="replace")

    def _check(self, rc, call):
        return check(rc, call, self.handle)

    # --- ranks and regions ---

    def register(self, rank, dp_index=0, dp_size=1, shard_key=None):
        """Registers this session as global rank `rank` (lcr_register), data-parallel index
        `dp_index` of `dp_size` (the defaults: no data parallelism). Ranks with the same
        shard_key hold identical state (replicas)."""
        info = _library.RankInfo(rank, dp_index, dp_size, encode_name(shard_key, "a shard key") if shard_key else None)
        self._check(LIB.lcr_register(self.handle, ctypes.byref(info)), f"lcr_register(rank {rank})")
        self.rank = rank

    def region_alloc(self, name, size, kind=RegionKind.HOST, cuda_device=-1):
        """Allocates region `name` of `size` bytes, or maps it again with its data when it
        exists with that size and kind (then the Region's `reattached` is True)."""
        ptr = ctypes.c_void_p()
        rc = self._check(LIB.lcr_region_alloc(self.handle, encode_name(name, "a region name"), size,
                                              int(kind), cuda_device, ctypes.byref(ptr)),
                         f"lcr_region_alloc('{name}', {size} bytes)")
        return Region(self, name, size, RegionKind(kind), ptr.value, rc == _library.LCR_REATTACHED)

    def region_lookup(self, name):
        """Describes (and maps) this rank's region `name`; lcr.Error with errno ENOENT if none."""
        info = _library.RegionInfo()
        self._check(LIB.lcr_region_lookup(self.handle, encode_name(name, "a region name"), ctypes.byref(info)),
                    f"lcr_region_lookup('{name}')")
        return RegionDescription.from_c(info)

    def region_list(self):
        """Every region the helper holds, every rank's, oldest first."""
        count = ctypes.c_size_t()
        while True:
            capacity = max(count.value, 1)
            out = (_library.RegionInfo * capacity)()
            self._check(LIB.lcr_region_list(self.handle, out, capacity, ctypes.byref(count)), "lcr_region_list")
            if count.value <= capacity:
                return [RegionDescription.from_c(out[i]) for i in range(count.value)]

    def region_free(self, name):
        """Frees this rank's region `name`. Refused while a buffer over it is alive here:
        this process unmaps it."""
        if any(raw.region_name == name for raw in self._buffers.values()):
            gc.collect()  # tensors in reference cycles may still hold it
        if any(raw.region_name == name for raw in self._buffers.values()):
            raise Error.of(errno.EBUSY, f"lcr_region_free('{name}')", "buffers over the region are still in use")
        self._check(LIB.lcr_region_free(self.handle, encode_name(name, "a region name")),
                    f"lcr_region_free('{name}')")

    def _buffer(self, name, address, size):
        buffer_type = type("RegionBuffer", (ctypes.c_ubyte * size,), {})
        raw = buffer_type.from_address(address)
        raw.session = self  # keeps the session, hence the mapping, alive while it is used
        raw.region_name = name
        self._buffers[next(self._buffer_ids)] = raw
        return memoryview(raw).cast("B")

    # --- update marks ---

    def update_begin(self, step):
        """lcr_update_begin. lcr.Error EINPROGRESS while the helper rolls this rank's regions
        back to a protected step (a recovery), ESTALE once it did and this session has not
        asked resume_step() or checkpoint_step() since (lcr_resume_step acknowledges the
        rollback): nothing is marked, the regions must not be written; `detail` says which
        step the regions hold."""
        self._check(LIB.lcr_update_begin(self.handle, step), f"lcr_update_begin({step})")

    def update_end(self, step):
        self._check(LIB.lcr_update_end(self.handle, step), f"lcr_update_end({step})")

    def update_abandon(self, step):
        """lcr_update_abandon: the update of `step` stopped before its end; the regions are
        torn (Phase.ABANDONED) and the helper's rollback may go on at once. Raises lcr.Error
        ENOSYS with a liblcr older than revision 6, EOPNOTSUPP with an older helper."""
        if not HAS_UPDATE_ABANDON:
            raise Error.of(errno.ENOSYS, "lcr_update_abandon", "the liblcr loaded is older than revision 6")
        self._check(LIB.lcr_update_abandon(self.handle, step), f"lcr_update_abandon({step})")

    @contextlib.contextmanager
    def update(self, step):
        """Marks the block as the update of `step`: ``with session.update(step):
        optimizer.step()``. An exception inside gives the update up (update_abandon: the
        state is torn, and a recovery's rollback need not wait for an update that will not
        end) and is raised again; with a liblcr or a helper older than that call the rank
        stays UPDATING."""
        self.update_begin(step)
        try:
            yield
        except BaseException as error:
            if HAS_UPDATE_ABANDON and LIB.lcr_update_abandon(self.handle, step) == 0:
                log.warning("lcr: rank %s: the update of step %d is given up, its state torn: %s",
                            self.rank, step, error)
            raise
        self.update_end(step)

    def rank_state(self):
        """(committed step or None, Phase) of this rank's control page, as its regions show;
        (None, Phase.RUNNING) while the rank has no region."""
        if self.rank is None:
            raise Error.of(errno.EPERM, "rank_state", "the session has no registered rank")
        for region in self.region_list():
            if region.owner_rank == self.rank:
                return region.committed_step, region.phase
        return None, Phase.RUNNING

    def resume_step(self):
        """The step to start training at: the one after the step this rank's regions hold
        committed (kept by the helper, or restored from a checkpoint), 0 when there is none.
        lcr.Error (ENOTRECOVERABLE) when the rank was stopped during an update: its regions
        are torn and need a replica's copy (lcr.torch.Recovery brings one). It asks
        lcr_resume_step first, which acknowledges the helper's rollbacks of the regions ended
        by then (a recovery from the in-memory copies), so update_begin of the step it
        returns is let in unless a rollback is still going on (EINPROGRESS: wait for
        NODE_JOINED and ask again)."""
        if self.rank is None:
            raise Error.of(errno.EPERM, "resume_step", "the session has no registered rank")
        restored = self.checkpoint_step()
        committed, phase = self.rank_state()
        if phase.torn:
            raise Error.of(errno.ENOTRECOVERABLE, "resume_step",
                           f"rank {self.rank} was stopped during an update after step {committed} "
                           f"(phase {phase.name.lower()}): its regions are torn and need a replica's copy")
        if committed is None:
            committed = restored
        return 0 if committed is None else committed + 1

    # --- events ---

    def event_fd(self):
        """A descriptor that polls readable when an event waits (do not read it)."""
        return LIB.lcr_event_fd(self.handle)

    def next_event(self):
        """The next waiting event, or None (lcr_event_next, without blocking)."""
        ev = _library.EventInfo()
        rc = LIB.lcr_event_next(self.handle, ctypes.byref(ev))
        if rc == -errno.EAGAIN:
            return None
        self._check(rc, "lcr_event_next")
        return Event.from_c(ev)

    def events(self):
        """The events waiting now, oldest first."""
        pending = []
        while (ev := self.next_event()) is not None:
            pending.append(ev)
        return pending

    def wait_event(self, timeout=None):
        """The next event, waiting up to `timeout` seconds for one; None if none came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (ev := self.next_event()) is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            select.select([self.event_fd()], [], [], left)
        return ev

    def pmix_attach(self):
        self._check(LIB.lcr_pmix_attach(self.handle), "lcr_pmix_attach")

    # --- key-value store and barrier ---

    def kv_put(self, key, value):
        """Stores `value` (bytes or str, at most 32 KiB) under `key`, replacing any older one."""
        data = value.encode() if isinstance(value, str) else bytes(value)
        self._check(LIB.lcr_kv_put(self.handle, encode_name(key, "a key"), data, len(data)), f"lcr_kv_put('{key}')")

    def kv_get(self, key, timeout=0):
        """The value of `key`, waiting up to `timeout` seconds for it to appear (0: not at all,
        None: for ever); lcr.Error with ENOENT (absent) or ETIMEDOUT."""
        value = ctypes.create_string_buffer(LCR_VALUE_MAX)
        length = ctypes.c_size_t()
        self._check(LIB.lcr_kv_get(self.handle, encode_name(key, "a key"), value, LCR_VALUE_MAX,
                                   ctypes.byref(length), _seconds_to_ms(timeout)), f"lcr_kv_get('{key}')")
        return value.raw[:length.value]

    def barrier(self, name, participants, timeout=None):
        """Waits until `participants` sessions of this helper entered barrier `name`."""
        self._check(LIB.lcr_barrier(self.handle, encode_name(name, "a barrier name"), participants,
                                    _seconds_to_ms(timeout)), f"lcr_barrier('{name}', {participants})")

    # --- the job-wide key-value store (lcr_store_*: every node of the step, replicated) ---

    def _job_store(self, call):
        if not _library.HAS_JOB_STORE:
            raise Error.of(errno.ENOSYS, call, "the liblcr loaded has no job-wide store (LCR_API_REVISION 1)")

    def store_set(self, key, value):
        """Stores `value` (bytes or str, at most 16 KiB) under `key` in the job-wide store."""
        call = f"lcr_store_set('{key}')"
        self._job_store(call)
        data = value.encode() if isinstance(value, str) else bytes(value)
        self._check(LIB.lcr_store_set(self.handle, encode_name(key, "a key"), data, len(data)), call)

    def store_get(self, key, timeout=0):
        """The value of `key` in the job-wide store, waiting up to `timeout` seconds for it to
        appear (0: not at all, None: for ever); lcr.Error with ENOENT (absent) or ETIMEDOUT."""
        call = f"lcr_store_get('{key}')"
        self._job_store(call)
        value = ctypes.create_string_buffer(LCR_STORE_VALUE_MAX)
        length = ctypes.c_size_t()
        self._check(LIB.lcr_store_get(self.handle, encode_name(key, "a key"), value, LCR_STORE_VALUE_MAX,
                                      ctypes.byref(length), _seconds_to_ms(timeout)), call)
        return value.raw[:length.value]

    def store_add(self, key, delta):
        """Adds `delta` to the decimal number under `key` (absent: 0); returns the sum."""
        call = f"lcr_store_add('{key}', {delta})"
        self._job_store(call)
        total = ctypes.c_int64()
        self._check(LIB.lcr_store_add(self.handle, encode_name(key, "a key"), int(delta), ctypes.byref(total)), call)
        return total.value

    def store_compare_set(self, key, expected, desired):
        """Stores `desired` when `key` holds `expected` (absent: b""); returns (swapped, the
        value stored afterwards). lcr.Error with ENOENT when the key is absent and `expected`
        is not empty."""
        call = f"lcr_store_compare_set('{key}')"
        self._job_store(call)
        old = expected.encode() if isinstance(expected, str) else bytes(expected)
        new = desired.encode() if isinstance(desired, str) else bytes(desired)
        value = ctypes.create_string_buffer(LCR_STORE_VALUE_MAX)
        length = ctypes.c_size_t()
        swapped = self._check(LIB.lcr_store_compare_set(self.handle, encode_name(key, "a key"), old, len(old), new,
                                                        len(new), value, LCR_STORE_VALUE_MAX, ctypes.byref(length)),
                              call)
        return swapped == 1, value.raw[:length.value]

    def store_delete(self, key):
        """Removes `key` from the job-wide store; lcr.Error with ENOENT when it is absent."""
        call = f"lcr_store_delete('{key}')"
        self._job_store(call)
        self._check(LIB.lcr_store_delete(self.handle, encode_name(key, "a key")), call)

    # --- checkpoints ---

    def checkpoint_step(self):
        """The step of the checkpoint the helper restored this rank from, or after a recovery
        the protected step the helper rolled this rank's regions back to, or None
        (lcr_resume_step, which acknowledges those rollbacks: see update_begin)."""
        step = ctypes.c_uint64()
        self._check(LIB.lcr_resume_step(self.handle, ctypes.byref(step)), "lcr_resume_step")
        return _optional_step(step.value)

    def checkpoint(self):
        """Asks the helpers for a checkpoint now and waits for it; returns the step saved."""
        step = ctypes.c_uint64()
        self._check(LIB.lcr_checkpoint(self.handle, ctypes.byref(step)), "lcr_checkpoint")
        return step.value

    def checkpoint_on_signal(self, signo):
        self._check(LIB.lcr_checkpoint_on_signal(self.handle, int(signo)), f"lcr_checkpoint_on_signal({signo})")
