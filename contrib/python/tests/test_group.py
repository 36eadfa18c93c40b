"""test_group.py: lcr.torch.end_group, which Recovery uses to end a broken process group.

  single DIR          with no group it does nothing; a gloo group of one is destroyed (not
                      aborted: PyTorch aborts NCCL groups only) and can be built again; the
                      NCCL abort path is there on PyTorch 2.x and not on 1.13
  peer DIR RANK SIZE  two gloo ranks: rank 1 ends its group while rank 0 waits for it in an
                      all_reduce; rank 0's collective fails at once, not at the group's
                      timeout, though rank 1 lives on
  pending DIR RANK SIZE  two gloo ranks: a call of rank 0 raises with a broadcast from rank 1
                      still queued, which rank 1 sends 2 s later; wait_for_pending_works,
                      given the failure's traceback, returns once that broadcast is done
                      (its tensor holds rank 1's values), and the group then ends

The abort itself (an NCCL group) needs a GPU and is not run here.
"""

import datetime
import os
import sys
import time

import torch
import torch.distributed as dist

import lcr.torch
from checks import check, finish

GROUP_TIMEOUT = datetime.timedelta(seconds=60)


def build(path, rank, size):
    store = dist.FileStore(path, size)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=size, timeout=GROUP_TIMEOUT)


def single(directory):
    check(lcr.torch.end_group() is None, "end_group without a process group does nothing")
    for attempt in (1, 2):
        build(os.path.join(directory, f"single.{attempt}"), 0, 1)
        ended = lcr.torch.end_group()
        check(ended == "destroyed" and not dist.is_initialized(),
              f"a gloo group (built {attempt} time(s) in this process) is destroyed", str(ended))
    check(not lcr.torch.group.can_abort("gloo"), "a gloo group is never aborted (PyTorch aborts NCCL groups only)")
    has_abort = hasattr(dist.distributed_c10d, "_abort_process_group")
    if lcr.torch.torch_version() >= (2, 6):
        check(has_abort and lcr.torch.group.can_abort("nccl"),
              f"PyTorch {torch.__version__} has the abort path, used for NCCL groups")
    elif lcr.torch.torch_version() < (2, 0):
        check(not has_abort and not lcr.torch.group.can_abort("nccl"),
              f"PyTorch {torch.__version__} has no abort path: an NCCL group is destroyed")


def peer(directory, rank, size):
    build(os.path.join(directory, "peer"), rank, size)
    dist.barrier()
    if rank == 1:
        time.sleep(1)  # rank 0 is in its all_reduce by now
        check(lcr.torch.end_group() == "destroyed", "rank 1 ends its group while rank 0 waits for it")
        time.sleep(5)  # alive, not taking part
        return
    start = time.monotonic()
    try:
        dist.all_reduce(torch.ones(4))
        failed = False
    except RuntimeError:
        failed = True
    waited = time.monotonic() - start
    check(failed and waited < 5, f"rank 0's all_reduce fails {waited:.1f} s after it began, not at the "
          f"group's timeout ({GROUP_TIMEOUT.seconds} s)")
    lcr.torch.end_group()


def pending(directory, rank, size):
    build(os.path.join(directory, "pending"), rank, size)
    dist.barrier()
    received = torch.zeros(4)
    if rank == 1:
        time.sleep(2)
        dist.broadcast(torch.full((4,), 7.0), src=1)
        lcr.torch.end_group()
        return

    def failing_call():
        handles = [dist.broadcast(received, src=1, async_op=True)]  # noqa: F841 (held by the frame)
        raise RuntimeError("a collective of this call failed")

    try:
        failing_call()
    except RuntimeError as error:
        failure = error
    start = time.monotonic()
    waited = lcr.torch.group.wait_for_pending_works(failure.__traceback__)
    took = time.monotonic() - start
    check(waited == 1 and torch.equal(received, torch.full((4,), 7.0)) and took > 1,
          f"wait_for_pending_works waits for the broadcast the failed call left queued ({waited} work(s), {took:.1f} s)",
          str(received))
    check(lcr.torch.end_group() == "destroyed", "the group then ends")


if __name__ == "__main__":
    if sys.argv[1] == "single":
        single(sys.argv[2])
    elif sys.argv[1] == "pending":
        pending(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        peer(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    finish()
