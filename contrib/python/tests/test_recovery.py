"""test_recovery.py: lcr.torch.Recovery brings every member to the newest committed state.

  prepare RANK STEPS [torn]   rank RANK trains STEPS steps alone (the same data on every
                              rank, so all ranks' states are prefixes of one history); with
                              'torn', it then dies in the middle of the next update;
  recover [replace] RANK SIZE the ranks meet through Recovery.start(): the member with the
                              newest committed step sends its regions to the others, whose
                              state is older, torn or missing; all must continue at the
                              same step with identical parameters and optimizer state, and
                              train on identically. With 'replace', Recovery's in-job
                              policy, the ranks meet under the epoch's prefix of the
                              job-wide store, with no rendezvous directory.
  replacement DIR RANK SIZE   policy "replace" with a stand-in for the helper's events and
                              no lcrd: rank 0 is a replacement launched at epoch 2 whose
                              other member (rank 1) never comes at that epoch (its node
                              died), and whose events then say so and name the next join,
                              epoch 5 (its own join at epoch 2 first, which it must skip);
                              rank 1 builds at epoch 5. Rank 0's first build fails, it waits
                              for the join and both meet at epoch 5 in DIR.
  replacement-told DIR RANK SIZE  the same, but those events were told before rank 0
                              starts (its state took long to fill): it builds at epoch 5 at
                              once, never at 2.
"""

import datetime
import hashlib
import os
import sys

import torch
import torch.distributed as dist

import lcr
import lcr.torch
from checks import check, finish, leave


def setup(rank, size):
    session = lcr.Session()
    session.register(rank, dp_index=rank, dp_size=size, shard_key="dp")
    torch.manual_seed(7)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    placements = [lcr.torch.place_module(session, model, "model"),
                  lcr.torch.place_optimizer(session, optimizer, "adam")]
    return session, model, optimizer, placements


def train_step(session, model, optimizer, step):
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(step))
    optimizer.zero_grad()
    model(x).pow(2).mean().backward()
    with session.update(step):
        optimizer.step()


def state_hash(model, optimizer):
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(p.detach().numpy().tobytes())
        for key, value in sorted(optimizer.state[p].items()):
            digest.update(key.encode() + value.numpy().tobytes())
    return digest.hexdigest()


def prepare(rank, steps, torn):
    session, model, optimizer, _ = setup(rank, 3)
    for step in range(steps):
        train_step(session, model, optimizer, step)
    if torn:
        session.update_begin(steps)
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float("nan"))
        os._exit(9)


def recover(rank, size, policy="rejoin"):
    session, model, optimizer, placements = setup(rank, size)
    store = lcr.torch.Store(session, "rec")
    recovery = lcr.torch.Recovery(session, store, rank, size, placements, policy=policy,
                                  timeout=datetime.timedelta(seconds=60))
    step = recovery.start()
    if policy == "replace":
        arrived = store.add("epoch-0.arrived", 0)
        check(arrived == size, f"rank {rank}: every member counted itself in under epoch 0 of the job-wide store",
              f"{arrived} of {size}")
    check(step == 5, f"rank {rank} continues at step 5, after the newest committed step", f"step {step}")
    check(session.rank_state() == (4, lcr.Phase.COMMITTED), f"rank {rank}'s regions hold step 4 committed",
          str(session.rank_state()))
    hashes = [None] * size
    dist.all_gather_object(hashes, state_hash(model, optimizer))
    check(len(set(hashes)) == 1, f"rank {rank}: every member holds the same parameters and optimizer state")
    train_step(session, model, optimizer, step)
    dist.all_gather_object(hashes, state_hash(model, optimizer))
    check(len(set(hashes)) == 1, f"rank {rank}: the members train on identically from there")
    leave()


class EventsOnly:
    """Stands in for lcr.Session where Recovery reads only events and an empty state: the
    events queued at the start are what a replacement's helper would deliver, already told
    when the rank starts, or (told_at_start False) only once it waits for events."""

    def __init__(self, events, told_at_start=True):
        self.queue = list(events)
        self.held = not told_at_start

    def events(self):
        if self.held:
            return []
        pending, self.queue = self.queue, []
        return pending

    def wait_event(self, timeout=None):
        self.held = False
        return self.queue.pop(0) if self.queue else None

    def rank_state(self):
        return None, lcr.Phase.COMMITTED

    def checkpoint_step(self):
        return None


def event(kind, epoch, message):
    return lcr.Event(type=kind, source=lcr.EventSource.HELPER, rank=0, pid=0, status=0, node="", message=message,
                     node_id=0, generation=0, leader=1, epoch=epoch)


def replacement(directory, rank, size, told_at_start=False):
    if rank == 0:
        os.environ.update(LCR_REJOIN="1", LCR_REJOIN_EPOCH="2", LCR_REPLACE="spare")
        wait = 3.0
    else:
        os.environ.update(LCR_REJOIN_EPOCH="5", LCR_REPLACE="spare")
        wait = 20.0
    session = EventsOnly([event(lcr.EventType.NODE_JOINED, 2, "node 1 rejoined (this replacement)"),
                          event(lcr.EventType.NODE_DOWN, 0, "node 0 is down"),
                          event(lcr.EventType.REPLACING, 5, "replacing node 0"),
                          event(lcr.EventType.NODE_JOINED, 5, "node 0 rejoined")] if rank == 0 else [],
                         told_at_start)
    recovery = lcr.torch.Recovery(session, None, rank, size, [], policy="replace", rendezvous_dir=directory,
                                  recovery_wait=wait, timeout=datetime.timedelta(seconds=30))
    try:
        step = recovery.start()
    except Exception as error:  # the check below says what went wrong
        check(False, f"rank {rank} builds the group", f"{type(error).__name__}: {error}")
        return
    check(step == 0 and recovery.epoch == 5, f"rank {rank} builds the group at epoch 5",
          f"step {step}, epoch {recovery.epoch}")
    check(dist.get_world_size() == size, f"rank {rank}: the group has {size} members", str(dist.get_world_size()))
    if rank == 0 and told_at_start:
        check(not os.path.exists(os.path.join(directory, "epoch-2")),
              "rank 0, told of the join at epoch 5 before it started, never built at epoch 2",
              str(os.listdir(directory)))
    elif rank == 0:
        check(os.path.exists(os.path.join(directory, "epoch-2")), "rank 0 tried its first build at epoch 2",
              str(os.listdir(directory)))
    total = torch.ones(1)
    dist.all_reduce(total)
    check(total.item() == size, f"rank {rank}: an all_reduce over the group sums {size}", str(total.item()))
    leave()


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] == ["torn"])
    elif sys.argv[1] == "replacement":
        replacement(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "replacement-told":
        replacement(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), told_at_start=True)
    elif sys.argv[2] == "replace":
        recover(int(sys.argv[3]), int(sys.argv[4]), "replace")
    else:
        recover(int(sys.argv[2]), int(sys.argv[3]))
    finish()
