#!/usr/bin/env python3
"""torch_zero.py: ZeRO-1 training (ZeroRedundancyOptimizer, gloo, CPU) whose state LCR keeps.

The DDP example (torch_ddp.py) with its Adam replaced by
torch.distributed.optim.ZeroRedundancyOptimizer: each rank keeps Adam's state only for the
parameters it owns, updates them, and broadcasts them to the others. The lines marked
"# LCR": each rank registers a shard key of its own ("zero-r<rank>": its optimizer state is
its own, no other rank holds it), the parameters and the rank's optimizer shard live in the
node's LCR helper, every optimizer step is marked, and lcr.torch.Recovery builds the group
and resumes at the right step. ZeroRedundancyOptimizer needs the process group, so it is
built (and its state placed) in Recovery's rebuild callback, again after each rebuild.
Deterministic: the same seed gives bit-identical parameters whatever happens.

    srun -N2 -n2 --lcr /usr/bin/python3 torch_zero.py --rendezvous-dir=/shared/rdv
    RANK=0 WORLD_SIZE=2 LCR_SOCKET=... python3 torch_zero.py    # against a foreground lcrd

--checkpoint-at=STEP: once STEP is committed, every rank waits for the others and asks the
helper for a checkpoint (lcr.Session.checkpoint), which then holds every rank's shard at
that step; `srun --lcr-restore=auto` (or a foreground lcrd's --restore) resumes from it.
No rank holds a replica of another's optimizer shard, so a node lost is recovered in the
job only from the helpers' in-memory copies: `srun --lcr-redundancy=copy` (or erasure)
and a spare, with --policy=replace. A survivor may then be inside its update, since
ZeroRedundancyOptimizer.step() broadcasts the parameters between lcr_update_begin and
lcr_update_end: the broadcast raises, `with session.update(step)` gives the update up
(lcr_update_abandon: the state is torn, and the helper's rollback need not wait for it),
the helpers roll every survivor back to the newest protected step, the spare is filled
from the copies, and the three go on after that step in the survivors' processes, ending
with a failure-free run's parameters and shards (cases/62_torch_zero.sh). Without copies,
or without a spare, the members stop (lcr.Error ENOTRECOVERABLE, or RankFailure with
--policy=exit: status 75) and the last checkpoint is the way on. --policy as in
torch_ddp.py. --slow-update-at=STEP (for tests) holds every rank inside the update of
STEP for --slow-update-for seconds, so that a failure meanwhile finds them there.

Prints "rank R step N loss L" every --log-every steps, "rank R: inside the update of step
N for S s" (--slow-update-at), "rank R starts at step N with M
members (pid P, epoch E)" after each build of the group, "rank R: checkpoint of step S
saved", and at the end "final rank R step N members M sha256 H shard-sha256 O", H being the
hash of the parameters (the same on every rank) and O that of this rank's optimizer shard.
"""

import argparse
import datetime
import hashlib
import logging
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.optim import ZeroRedundancyOptimizer
from torch.nn.parallel import DistributedDataParallel

import lcr  # LCR
import lcr.torch  # LCR

EXIT_RESTART = 75


def env_int(*names, default):
    for name in names:
        if os.environ.get(name):
            return int(os.environ[name])
    return default


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--checkpoint-at", type=int, action="append", default=[],
                        help="take a checkpoint once this step is committed (may be repeated)")
    parser.add_argument("--policy", choices=("replace", "rejoin", "shrink", "exit"),
                        help="what to do when a rank fails (default: replace with --rendezvous-dir, else exit)")
    parser.add_argument("--rendezvous-dir", help="a directory every node reaches, where the ranks meet")
    parser.add_argument("--timeout", type=float, default=20,
                        help="seconds a collective waits for the ranks: under the helpers' 30 s rollback wait "
                             "(a rank caught in ZeRO's broadcast after a failure raises only then)")
    parser.add_argument("--recovery-wait", type=float, default=60,
                        help="seconds the survivors wait for a spare to join (replace)")
    parser.add_argument("--slow-update-at", type=int, action="append", default=[], metavar="STEP",
                        help="(for tests) sleep --slow-update-for seconds inside the update of STEP, "
                             "before ZeroRedundancyOptimizer.step(): a failure then finds the rank inside it")
    parser.add_argument("--slow-update-for", type=float, default=3.0, metavar="SECONDS")
    parser.add_argument("--rank", type=int, default=env_int("RANK", "SLURM_PROCID", default=0))
    parser.add_argument("--world-size", type=int, default=env_int("WORLD_SIZE", "SLURM_NTASKS", default=1))
    args = parser.parse_args()
    if args.policy is None:
        args.policy = "replace" if args.rendezvous_dir else "exit"
    return args


def make_model(args):
    return torch.nn.Sequential(torch.nn.Linear(32, args.hidden), torch.nn.Tanh(),
                               torch.nn.Linear(args.hidden, args.hidden), torch.nn.Tanh(),
                               torch.nn.Linear(args.hidden, 1))


def batch(args, step, rank):
    """This rank's batch of `step`: the same whenever it is computed again."""
    generator = torch.Generator().manual_seed(args.seed * 1_000_003 + step * 1009 + rank)
    x = torch.randn(args.batch, 32, generator=generator)
    return x, torch.sin(x).sum(dim=1, keepdim=True)


def parameters_hash(model):
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(p.detach().numpy().tobytes())
    return digest.hexdigest()


def shard_hash(zero):
    """The hash of this rank's optimizer state: its local optimizer's, in parameter order."""
    digest = hashlib.sha256()
    local = zero.optim
    for p in (p for group in local.param_groups for p in group["params"]):
        for key, value in sorted(local.state.get(p, {}).items()):
            digest.update(key.encode() + (value.numpy().tobytes() if torch.is_tensor(value) else repr(value).encode()))
    return digest.hexdigest()


def main():
    args = parse_args()
    logging.basicConfig(format="%(message)s")
    logging.getLogger("lcr").setLevel(logging.INFO)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    session = lcr.Session()  # LCR: $LCR_SOCKET
    session.register(args.rank, dp_index=args.rank, dp_size=args.world_size,  # LCR: a key of its own
                     shard_key=f"zero-r{args.rank}")
    model = make_model(args)
    placements = [lcr.torch.place_module(session, model, "model")]  # LCR
    store = None if args.rendezvous_dir else lcr.torch.Store(session, "zero")  # LCR: per node
    ddp = zero = None

    def rebuild(recovery):  # LCR: what depends on the process group is built again
        nonlocal ddp, zero
        # find_unused_parameters=True: see torch_ddp.py (DDP keeps its first bucket layout).
        ddp = DistributedDataParallel(model, find_unused_parameters=True)
        zero = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=torch.optim.Adam, lr=args.lr)
        lcr.torch.place_optimizer(session, zero, "adam")  # LCR: this rank's shard of the Adam state
        print(f"rank {args.rank} starts at step {recovery.next_step} with {recovery.group_size} members "
              f"(pid {os.getpid()}, epoch {recovery.epoch})", flush=True)

    def release():  # LCR: lets go of the broken group at once
        nonlocal ddp, zero
        ddp = zero = None

    recovery = lcr.torch.Recovery(session, store, args.rank, args.world_size, placements,  # LCR
                                  rebuild=rebuild, release=release, policy=args.policy, sharded=True,
                                  rendezvous_dir=args.rendezvous_dir, recovery_wait=args.recovery_wait,
                                  timeout=datetime.timedelta(seconds=args.timeout))

    def train_step(step):
        x, y = batch(args, step, args.rank)
        zero.zero_grad(set_to_none=True)
        loss = F.mse_loss(ddp(x), y)
        loss.backward()
        with session.update(step):  # LCR: torn until committed (the local update and the broadcast)
            if step in args.slow_update_at:
                print(f"rank {args.rank}: inside the update of step {step} for {args.slow_update_for:g} s", flush=True)
                time.sleep(args.slow_update_for)
            zero.step()
        if step % args.log_every == 0:
            print(f"rank {args.rank} step {step} loss {loss.item():.6f}", flush=True)
        if step in args.checkpoint_at:  # LCR: every shard at this step, then one checkpoint
            dist.barrier()
            print(f"rank {args.rank}: checkpoint of step {session.checkpoint()} saved", flush=True)

    try:
        recovery.run(train_step, args.steps)  # LCR: instead of `for step in range(steps)`
    except lcr.RankFailure as failure:
        print(f"rank {args.rank}: {failure}: restart the ranks from a checkpoint to resume", file=sys.stderr)
        return EXIT_RESTART
    print(f"final rank {args.rank} step {args.steps} members {recovery.group_size} "
          f"sha256 {parameters_hash(model)} shard-sha256 {shard_hash(zero)}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except lcr.VersionError as error:  # a PyTorch too old for what LCR uses here
        sys.exit(f"torch_zero.py: {error}")
