"""Ending a broken default process group: aborted where PyTorch can, destroyed otherwise.

PyTorch 2.x has ``torch.distributed.distributed_c10d._abort_process_group``: for an NCCL
group it aborts the communicators, so that collectives still queued on the GPU fail at once
instead of being waited for (``destroy_process_group`` of an NCCL group whose peer died can
block in the communicator's teardown), then forgets every group as
``destroy_process_group`` does. PyTorch says the API is experimental and does nothing for
other backends (it warns and returns), so ``end_group`` aborts only an NCCL group on a
PyTorch that has it, and destroys any other group (gloo, and every group on PyTorch 1.13):
gloo's connections to a dead rank break by themselves.

A destroyed group's C++ teardown runs in a thread of its own (``lcr-group-teardown``, a
daemon): on PyTorch 2.6 the teardown of a gloo group whose peer left at the same moment
sometimes never returns (pytorch/pytorch#75097; 2 runs in 20 of ``tests/test_group.py
peer``), and the rank must go on to build the next group. PyTorch's own bookkeeping is done
on the caller's thread as before; the thread lets go of end_group's references and
collects cycles. A group that something else still holds (a DDP module the program keeps)
is torn down where that lets go of it: ``Recovery`` calls ``release`` first under the
replace policy (under rejoin and shrink, ``rebuild`` replacing the DDP module lets go).
``end_group`` waits for it up to TEARDOWN_WAIT seconds (it takes milliseconds), so that no
teardown is left running when the process ends (PyTorch 1.13 aborts then); a teardown that
hangs past it is left to its thread, with a warning, and holds that thread and a few
sockets, not the training.

A gloo group must not be torn down while collectives of its are still queued (the other
broadcasts of a ZeroRedundancyOptimizer step whose first wait raised): on PyTorch 2.6 the
teardown holds the interpreter lock while it waits for gloo's worker threads, and a worker
that finishes such a collective needs that lock to free the tensor's Python object, so the
whole process hangs (seen on the cluster, tests/integration/cases/62_torch_zero.sh).
``wait_for_pending_works`` waits for the collectives that a failed call's frames still
hold (each ends by the group's timeout at the latest) before they are let go.
"""

import gc
import logging
import threading

import torch.distributed as dist

log = logging.getLogger("lcr.torch")

TEARDOWN_WAIT = 5.0

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
    groups = _live_groups()
    dist.destroy_process_group()
    teardown = threading.Thread(target=_let_go, args=(groups,), name="lcr-group-teardown", daemon=True)
    teardown.start()
    teardown.join(TEARDOWN_WAIT)
    if teardown.is_alive():
        log.warning("lcr: the ended process group's teardown did not finish within %g s "
                    "(pytorch/pytorch#75097); it goes on in the background", TEARDOWN_WAIT)
    return DESTROYED


def wait_for_pending_works(tb):
    """Waits for every collective (a torch.distributed Work, or a list or tuple of them)
    that the frames of traceback `tb` hold, ignoring their errors; returns how many."""
    work_type = getattr(dist, "Work", None) or dist.distributed_c10d.Work
    works = []
    while tb is not None:
        for value in list(tb.tb_frame.f_locals.values()):
            values = value if isinstance(value, (list, tuple)) else (value,)
            works.extend(v for v in values if isinstance(v, work_type))
        tb = tb.tb_next
    for work in works:
        try:
            work.wait()
        except Exception:  # the failure, or the group's timeout: the work is over either way
            pass
    return len(works)


def _let_go(groups):
    """The teardown thread: drops end_group's references, then collects the cycles that
    may hold the group too (a DDP wrapper in a traceback's frames), so that their teardown
    runs here as well."""
    groups.clear()
    gc.collect()


def _live_groups():
    """Every process group PyTorch knows of (the default one and those built on it)."""
    c10d = dist.distributed_c10d
    world = getattr(c10d, "_world", None)  # PyTorch 2.x
    groups = world.pg_map if world is not None else getattr(c10d, "_pg_map", {})
    return list(groups) or [dist.group.WORLD]
