"""test_recovery.py: lcr.torch.Recovery brings every member to the newest committed state.

  prepare RANK STEPS [torn]   rank RANK trains STEPS steps alone (the same data on every
                              rank, so all ranks' states are prefixes of one history); with
                              'torn', it then dies in the middle of the next update;
  recover RANK SIZE           the ranks meet through Recovery.start(): the member with the
                              newest committed step sends its regions to the others, whose
                              state is older, torn or missing; all must continue at the
                              same step with identical parameters and optimizer state, and
                              train on identically.
"""

import datetime
import hashlib
import os
import sys

import torch
import torch.distributed as dist

import lcr
import lcr.torch
from checks import check, finish


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


def recover(rank, size):
    session, model, optimizer, placements = setup(rank, size)
    recovery = lcr.torch.Recovery(session, lcr.torch.Store(session, "rec"), rank, size, placements,
                                  timeout=datetime.timedelta(seconds=60))
    step = recovery.start()
    check(step == 5, f"rank {rank} continues at step 5, after the newest committed step", f"step {step}")
    check(session.rank_state() == (4, lcr.Phase.COMMITTED), f"rank {rank}'s regions hold step 4 committed",
          str(session.rank_state()))
    hashes = [None] * size
    dist.all_gather_object(hashes, state_hash(model, optimizer))
    check(len(set(hashes)) == 1, f"rank {rank}: every member holds the same parameters and optimizer state")
    train_step(session, model, optimizer, step)
    dist.all_gather_object(hashes, state_hash(model, optimizer))
    check(len(set(hashes)) == 1, f"rank {rank}: the members train on identically from there")
    dist.destroy_process_group()


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] == ["torn"])
    else:
        recover(int(sys.argv[2]), int(sys.argv[3]))
    finish()
