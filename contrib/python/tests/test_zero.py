"""test_zero.py: a ZeroRedundancyOptimizer's state (ZeRO-1) kept by lcr.torch, each rank's shard
under its own shard key, saved in a checkpoint and restored from it.

  train STEPS CKPT_AT RANK SIZE    the ranks train STEPS steps (ZeroRedundancyOptimizer over
                                   Adam, gloo, built in Recovery's rebuild); the optimizer
                                   placement is sharded and holds only the state of the
                                   parameters this rank owns; every rank asks for a
                                   checkpoint once step CKPT_AT is committed (-1: never).
                                   Prints "result RANK STEPS PARAMS_SHA256 SHARD_SHA256".
  restore STEPS FROM RANK SIZE     new ranks of a helper restored from the checkpoint of
                                   step FROM continue at FROM + 1 with their own shard, then
                                   train to STEPS and print their result (test_python.sh
                                   compares it with a run without interruption).
  prepare STEPS RANK               rank RANK marks STEPS steps of its model alone;
  differ RANK SIZE                 then members whose sharded state holds different steps
                                   refuse to build the group (ENOTRECOVERABLE): none may
                                   take another's shard.
"""

import datetime
import errno
import hashlib
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.optim import ZeroRedundancyOptimizer

import lcr
import lcr.torch
from checks import check, finish, leave


def make_model():
    torch.manual_seed(11)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                               torch.nn.Linear(32, 1))


class Trainer:
    def __init__(self, rank, size, sharded=True):
        self.rank = rank
        self.session = lcr.Session()
        self.session.register(rank, dp_index=rank, dp_size=size, shard_key=f"zero-r{rank}")
        self.model = make_model()
        self.zero = self.placement = None
        self.recovery = lcr.torch.Recovery(self.session, lcr.torch.Store(self.session, "zero"), rank, size,
                                           [lcr.torch.place_module(self.session, self.model, "model")],
                                           rebuild=self.rebuild, sharded=sharded,
                                           timeout=datetime.timedelta(seconds=60))

    def rebuild(self, recovery):
        self.zero = ZeroRedundancyOptimizer(self.model.parameters(), optimizer_class=torch.optim.Adam, lr=0.01)
        self.placement = lcr.torch.place_optimizer(self.session, self.zero, "adam")

    def step(self, step):
        x = torch.randn(16, 8, generator=torch.Generator().manual_seed(1000 * step + self.rank))
        self.zero.zero_grad(set_to_none=True)
        F.mse_loss(self.model(x), x.sum(dim=1, keepdim=True).sin()).backward()
        for p in self.model.parameters():  # what DDP does: the gradient averaged over the ranks
            dist.all_reduce(p.grad)
            p.grad /= dist.get_world_size()
        with self.session.update(step):
            self.zero.step()

    def run(self, steps, checkpoint_at=None):
        step = self.recovery.start()
        first = step
        while step < steps:
            self.step(step)
            if step == checkpoint_at:
                dist.barrier()
                saved = self.session.checkpoint()
                check(saved == step, f"rank {self.rank}: the checkpoint holds step {step}", f"step {saved}")
            step += 1
        return first

    def result(self, steps):
        params = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in self.model.parameters()))
        shard = hashlib.sha256()
        local = self.zero.optim
        for p in (p for group in local.param_groups for p in group["params"]):
            for key, value in sorted(local.state[p].items()):
                shard.update(key.encode() + value.numpy().tobytes())
        print(f"result {self.rank} {steps} {params.hexdigest()} {shard.hexdigest()}", flush=True)


def check_shard(t, size):
    owned = [p for group in t.zero.optim.param_groups for p in group["params"]]
    every = list(t.model.parameters())
    check(t.placement.sharded, f"rank {t.rank}: the ZeroRedundancyOptimizer's state is placed as sharded")
    check(0 < len(owned) < len(every) or size == 1,
          f"rank {t.rank}: its local optimizer owns {len(owned)} of the {len(every)} parameters")
    placed = {entry["name"].split(".", 1)[0] for pack in t.placement.packs for entry in pack.entries}
    check(len(placed) == len(owned), f"rank {t.rank}: the regions hold the state of those parameters only",
          f"{len(placed)} parameters placed")
    check(all(t.zero.optim.state[p]["exp_avg"].data_ptr() == t.placement.bound[(i, "exp_avg")].data_ptr()
              for i, p in enumerate(owned)), f"rank {t.rank}: Adam's moments are views of the regions")


def train(steps, checkpoint_at, rank, size):
    t = Trainer(rank, size)
    first = t.run(steps, checkpoint_at)
    check(first == 0, f"rank {rank} starts at step 0", f"step {first}")
    check_shard(t, size)
    t.result(steps)
    leave()


def restore(steps, restored, rank, size):
    t = Trainer(rank, size)
    first = t.run(steps)
    check(first == restored + 1, f"rank {rank} continues at step {restored + 1}, after the checkpoint",
          f"step {first}")
    check_shard(t, size)
    t.result(steps)
    leave()


def prepare(steps, rank):
    session = lcr.Session()
    session.register(rank, dp_index=rank, dp_size=2, shard_key=f"zero-r{rank}")
    lcr.torch.place_module(session, make_model(), "model")
    for step in range(steps):
        with session.update(step):
            pass


def differ(rank, size):
    try:
        Trainer(rank, size).recovery.start()
    except lcr.Error as error:
        check(error.errno == errno.ENOTRECOVERABLE and "rank 0 step 4, rank 1 step 2" in str(error),
              f"rank {rank}: members at different steps refuse sharded state", str(error))
    else:
        check(False, f"rank {rank}: members at different steps refuse sharded state", "the group was built")
    leave()


if __name__ == "__main__":
    mode, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    {"train": train, "restore": restore, "prepare": prepare, "differ": differ}[mode](*args)
    finish()
