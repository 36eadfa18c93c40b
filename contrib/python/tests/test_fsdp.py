"""test_fsdp.py: a FullyShardedDataParallel model (PyTorch 2.x, on the CPU with gloo) whose
ranks each keep their shard of the flat parameters and of Adam's state in the helper's
regions, under a shard key of their own; saved in a checkpoint and restored from it.

The model has a BatchNorm layer: its running statistics (buffers, whole on every rank) are
placed with the shard and part of the result.

  train STEPS CKPT_AT RANK SIZE    the ranks train STEPS steps; every rank asks for a
                                   checkpoint once step CKPT_AT is committed (-1: never).
                                   Prints "result RANK STEPS FULL_SHA256 SHARD_SHA256": the
                                   whole parameters (gathered) and this rank's shard of the
                                   parameters and of Adam's state.
  restore STEPS FROM RANK SIZE     new ranks of a helper restored from the checkpoint of step
                                   FROM continue at FROM + 1 from their regions, train to
                                   STEPS and print their result (test_python.sh compares it
                                   with a run without interruption).
"""

import hashlib
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

import lcr
import lcr.torch
from checks import check, finish, leave


def make_model():
    torch.manual_seed(11)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.BatchNorm1d(32), torch.nn.Tanh(),
                               torch.nn.Linear(32, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))


class Trainer:
    def __init__(self, rank, size):
        self.rank = rank
        self.session = lcr.Session()
        self.session.register(rank, dp_index=rank, dp_size=size, shard_key=f"fsdp-r{rank}")
        store = lcr.torch.Store(self.session, "fsdp")
        dist.init_process_group("gloo", store=store, rank=rank, world_size=size)
        self.model = FSDP(make_model(), device_id=torch.device("cpu"), use_orig_params=False)
        self.placement = lcr.torch.place_module(self.session, self.model, "model")
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.01)
        self.optimizer_placement = lcr.torch.place_optimizer(self.session, self.optimizer, "adam")

    def flat(self):
        return list(self.model.parameters())

    def step(self, step):
        x = torch.randn(16, 8, generator=torch.Generator().manual_seed(1000 * step + self.rank))
        self.optimizer.zero_grad(set_to_none=True)
        F.mse_loss(self.model(x), x.sum(dim=1, keepdim=True).sin()).backward()
        with self.session.update(step):
            self.optimizer.step()

    def run(self, steps, checkpoint_at=None):
        first = step = self.session.resume_step()
        while step < steps:
            self.step(step)
            if step == checkpoint_at:
                dist.barrier()
                saved = self.session.checkpoint()
                check(saved == step, f"rank {self.rank}: the checkpoint holds step {step}", f"step {saved}")
            step += 1
        return first

    def check_placed(self):
        views = self.placement.pack.views
        check(self.placement.sharded and self.optimizer_placement.sharded,
              f"rank {self.rank}: the FSDP shard and Adam's state over it are placed as sharded")
        check(all(p.data_ptr() == views[name].data_ptr() for name, p in zip(views, self.flat())),
              f"rank {self.rank}: after the steps, every flat parameter is still a view of the region")
        buffers = list(self.model.buffers())
        check(len(views) == len(self.flat()) + len(buffers) and
              all(b.data_ptr() == views[name].data_ptr() for name, b in zip(list(views)[len(self.flat()):], buffers)),
              f"rank {self.rank}: BatchNorm's running statistics are views of the region too")
        check(all(self.optimizer.state[p]["exp_avg"].data_ptr() ==
                  self.optimizer_placement.bound[(i, "exp_avg")].data_ptr() for i, p in enumerate(self.flat())),
              f"rank {self.rank}: Adam's moments are views of the regions")

    def result(self, steps):
        shard = hashlib.sha256()
        for i, p in enumerate(self.flat()):
            shard.update(p.detach().numpy().tobytes())
            for key, value in sorted(self.optimizer.state[p].items()):
                shard.update(key.encode() + value.numpy().tobytes())
        with FSDP.summon_full_params(self.model):  # clone(): numpy() would pin FSDP's gathered storage
            full = hashlib.sha256(b"".join(p.detach().clone().numpy().tobytes() for p in self.model.parameters()))
        for b in self.model.buffers():  # BatchNorm's running statistics: this rank's own
            shard.update(b.detach().numpy().tobytes())
        print(f"result {self.rank} {steps} {full.hexdigest()} {shard.hexdigest()}", flush=True)


def train(steps, checkpoint_at, rank, size):
    t = Trainer(rank, size)
    check(not t.placement.reattached, f"rank {rank}: a new helper holds no region: FSDP's shard goes into one")
    first = t.run(steps, checkpoint_at)
    check(first == 0, f"rank {rank} starts at step 0", f"step {first}")
    t.check_placed()
    t.result(steps)
    leave()


def restore(steps, restored, rank, size):
    t = Trainer(rank, size)
    check(t.placement.reattached and t.optimizer_placement.reattached,
          f"rank {rank}: the restored regions give FSDP's shard and Adam's state back")
    first = t.run(steps)
    check(first == restored + 1, f"rank {rank} continues at step {restored + 1}, after the checkpoint",
          f"step {first}")
    t.check_placed()
    t.result(steps)
    leave()


if __name__ == "__main__":
    mode, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    {"train": train, "restore": restore}[mode](*args)
    finish()
