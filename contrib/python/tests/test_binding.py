"""test_binding.py: the lcr binding against a real lcrd ($LCR_SOCKET), in two phases that
test_python.sh runs as two processes, so that the second finds what the first left:

  first   regions written and marked committed, an update given up by an exception, the
          key-value store, errors as lcr.Error, tensors over regions and marked optimizer
          steps (lcr.torch);
  second  the region found again with its data and the step to resume at, optimizer state
          found again (numbers too), a rank stopped during an update (torn), a rank's exit
          as an event.
"""

import errno
import os
import subprocess
import sys

import torch

import lcr
import lcr.torch
from checks import check, finish, raises

PATTERN = bytes(range(256)) * 16


def first_phase():
    raises(errno.ENOENT, lambda: lcr.Session("/nonexistent/lcrd.sock"),
           "opening a session without a helper raises lcr.Error ENOENT")
    session = lcr.Session()
    session.register(0)
    raises(errno.EINVAL, lambda: session.region_alloc("x" * 64, 8), "a region name over 63 bytes is refused")
    region = session.region_alloc("weights", len(PATTERN))
    check(not region.reattached, "a new region is not reattached")
    buffer = region.buffer
    check(bytes(buffer) == bytes(len(PATTERN)), "a new host region reads as zero")
    buffer[:] = PATTERN
    with session.update(7):
        buffer[0] = 0
    info = session.region_lookup("weights")
    check(info.committed_step == 7 and info.phase == lcr.Phase.COMMITTED,
          "with session.update(7): the region shows step 7 committed", str(info))
    buffer[0] = PATTERN[0]
    abandoned_update(session)
    error = raises(errno.EEXIST, lambda: session.region_alloc("weights", 8), "the same name with another size: EEXIST")
    check(error is not None and "already exists" in error.detail, "the error carries the helper's message",
          error and str(error))
    raises(errno.EBUSY, lambda: session.close(), "closing while a buffer over a region lives is refused")
    raises(errno.ENOENT, lambda: session.region_lookup("absent"), "looking up an absent region: ENOENT")
    key_value_store(session)
    marked_optimizer_steps()
    rmsprop_steps(2)


def abandoned_update(session):
    """An exception inside session.update(8) gives the update up: the page shows ABANDONED
    (torn, the last commit still 7), and the next update of the rank begins from there."""
    try:
        with session.update(8):
            raise ConnectionError("a peer of the collective is gone")
    except ConnectionError:
        pass
    check(session.rank_state() == (7, lcr.Phase.ABANDONED),
          "an exception inside session.update(8) leaves the update abandoned", str(session.rank_state()))
    raises(errno.EINVAL, lambda: session.update_end(8), "an abandoned update cannot be committed")
    raises(errno.EINVAL, lambda: session.update_abandon(8), "nor abandoned twice")
    raises(errno.ENOTRECOVERABLE, session.resume_step, "resume_step() of an abandoned update: ENOTRECOVERABLE")
    with session.update(7):  # the state of step 7 written again, as a replica's copy would be
        pass
    check(session.rank_state() == (7, lcr.Phase.COMMITTED), "an update begins and commits after one abandoned",
          str(session.rank_state()))


def key_value_store(session):
    session.kv_put("binary", b"\0\1\2" * 1000)
    check(session.kv_get("binary") == b"\0\1\2" * 1000, "a binary value round-trips through the key-value store")
    session.kv_put("binary", "text")
    check(session.kv_get("binary") == b"text", "put replaces a value; str values are stored as UTF-8")
    raises(errno.ENOENT, lambda: session.kv_get("missing"), "an absent key without waiting: ENOENT")
    raises(errno.ETIMEDOUT, lambda: session.kv_get("missing", timeout=0.1), "an absent key with a timeout: ETIMEDOUT")
    raises(errno.EINVAL, lambda: session.kv_put("big", bytes(lcr.LCR_VALUE_MAX + 1)), "a value over 32 KiB: EINVAL")


def marked_optimizer_steps():
    session = lcr.Session()
    session.register(4)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    before = model.weight.detach().clone()
    placement = lcr.torch.place_module(session, model, "model")
    lcr.torch.place_optimizer(session, optimizer, "adam")
    region = session.region_lookup("model")
    inside = region.address <= model.weight.data_ptr() < region.address + region.size
    check(torch.equal(model.weight, before) and inside,
          "place_module keeps the values and moves the parameters into the region")
    marks = lcr.torch.mark_steps(session, optimizer, first_step=10)
    for _ in range(3):
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
    check(session.rank_state() == (12, lcr.Phase.COMMITTED) and marks.step == 13,
          "mark_steps marks each optimizer.step(): steps 10 to 12 committed", str(session.rank_state()))
    pack = session.region_lookup("adam.0")
    state = optimizer.state[model.weight]
    check(all(pack.address <= t.data_ptr() < pack.address + pack.size for t in state.values()),
          "the optimizer's lazily created state lives in region adam.0")
    check(not placement.reattached, "a first placement is not reattached")


def rmsprop_steps(steps):
    """Rank 5 trains with RMSprop, whose 'step' state is a Python int on PyTorch 1.13 and a
    0-dim tensor from 2.0; returns its state."""
    session = lcr.Session()
    session.register(5)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.RMSprop(model.parameters(), momentum=0.5)
    lcr.torch.place_module(session, model, "model")
    placement = lcr.torch.place_optimizer(session, optimizer, "rmsprop")
    start = session.resume_step()
    for step in range(start, start + steps):
        model(torch.ones(1, 3)).sum().backward()
        with session.update(step):
            optimizer.step()
    return placement, optimizer.state[model.weight]


def second_phase():
    session = lcr.Session()
    session.register(0)
    region = session.region_alloc("weights", len(PATTERN))
    check(region.reattached, "a new process of the same rank reattaches its region")
    check(bytes(region.buffer) == PATTERN, "the region kept its data")
    check(session.resume_step() == 8, "resume_step() is the committed step + 1")
    placement, state = rmsprop_steps(0)
    step_type = int if lcr.torch.torch_version() < (2, 0) else torch.Tensor
    check(placement.reattached and state["step"] == 2 and isinstance(state["step"], step_type)
          and torch.is_tensor(state["square_avg"]),
          f"a restarted rank finds its RMSprop state, 'step' too (a {step_type.__name__} on PyTorch {torch.__version__})",
          str(state))
    torn_rank(session)
    rank_exit_event(session)


def torn_rank(session):
    subprocess.run([sys.executable, __file__, "torn-child"], check=True)
    other = lcr.Session()
    other.register(2)
    check(other.rank_state() == (3, lcr.Phase.UPDATING), "a rank that died in an update shows UPDATING",
          str(other.rank_state()))
    raises(errno.ENOTRECOVERABLE, other.resume_step, "resume_step() of a torn rank: ENOTRECOVERABLE")


def torn_child():
    session = lcr.Session()
    session.register(2)
    region = session.region_alloc("weights", 64)
    with session.update(3):
        region.buffer[0] = 1
    session.update_begin(4)


def rank_exit_event(session):
    child = subprocess.Popen([sys.executable, __file__, "exit-child"])
    child.wait()
    event = session.wait_event(timeout=5)
    while event is not None and event.rank != 3:  # the torn child's exit came first
        event = session.wait_event(timeout=5)
    check(event is not None and event.type == lcr.EventType.RANK_EXITED and event.rank == 3
          and event.pid == child.pid, "a registered rank's exit comes as a RANK_EXITED event", str(event))
    check(event is not None and (event.status == -1 or os.WEXITSTATUS(event.status) == 3),
          "the event carries the rank's exit status, or -1 when the helper cannot know it", str(event))
    check(session.event_fd() >= 0 and session.next_event() is None, "no event waits after it was taken")


def exit_child():
    session = lcr.Session()
    session.register(3)
    os._exit(3)


PHASES = {"first": first_phase, "second": second_phase, "torn-child": torn_child, "exit-child": exit_child}

if __name__ == "__main__":
    PHASES[sys.argv[1]]()
    finish()
