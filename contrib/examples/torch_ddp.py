#!/usr/bin/env python3
"""torch_ddp.py: DistributedDataParallel training (gloo, CPU) made failure-proof with LCR.

An ordinary DDP script (an MLP regression on synthetic data, Adam) plus the lines marked
"# LCR": the parameters and the Adam state live in the node's LCR helper, every optimizer
step is marked, the ranks meet in the helper's key-value store, and lcr.torch.Recovery
resumes at the right step after a failure. Deterministic: the same seed gives bit-identical
parameters whatever failures happen (with --policy rejoin or exit).

    srun -N4 -n4 --lcr /usr/bin/python3 torch_ddp.py --rendezvous-dir=/shared/rdv
    RANK=0 WORLD_SIZE=2 LCR_SOCKET=... python3 torch_ddp.py    # against a foreground lcrd

--policy says what the survivors do when a rank dies: "replace" (the default with
--rendezvous-dir, a directory every node reaches) is in-job recovery under `srun --lcr`: the
survivors pause in the same processes, the helpers start the lost node's ranks on a spare
node with their state, and everybody goes on at the epoch of the join; without a spare
(--lcr-replace=none) the ranks end with status 75 once the helpers published their
checkpoint, which `srun --lcr-restore=auto` resumes from. "rejoin" (the default without
--rendezvous-dir) waits for the rank to come back on the same node, "shrink" goes on
without it, "exit" ends with status 75 so that a launcher restarts every rank (they resume
from the state the helper kept). A replacement (LCR_REJOIN=1) needs nothing special: it
finds its state in its regions.
Prints "rank R step N loss L" every --log-every steps, "rank R starts at step N with M
members (pid P, epoch E)" after each build of the group and, at the end,
"final rank R step N members M sha256 H", H being the hash of the parameters.
"""

import argparse
import datetime
import hashlib
import logging
import os
import sys

import torch
import torch.nn.functional as F
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
    parser.add_argument("--policy", choices=("replace", "rejoin", "shrink", "exit"),
                        help="what to do when a rank fails (default: replace with --rendezvous-dir, else rejoin)")
    parser.add_argument("--rendezvous-dir", help="a directory every node reaches, where the ranks meet")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds a rebuild (rejoin) or a collective (replace) waits for the ranks")
    parser.add_argument("--recovery-wait", type=float, default=60,
                        help="seconds the survivors wait for a spare to join (replace)")
    parser.add_argument("--rank", type=int, default=env_int("RANK", "SLURM_PROCID", default=0))
    parser.add_argument("--world-size", type=int, default=env_int("WORLD_SIZE", "SLURM_NTASKS", default=1))
    args = parser.parse_args()
    if args.policy is None:
        args.policy = "replace" if args.rendezvous_dir else "rejoin"
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


def main():
    args = parse_args()
    logging.basicConfig(format="%(message)s")
    logging.getLogger("lcr").setLevel(logging.INFO)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    session = lcr.Session()  # LCR: $LCR_SOCKET
    session.register(args.rank, dp_index=args.rank, dp_size=args.world_size, shard_key="dp")  # LCR
    model = make_model(args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    placements = [lcr.torch.place_module(session, model, "model"),  # LCR
                  lcr.torch.place_optimizer(session, optimizer, "adam")]  # LCR
    store = None if args.rendezvous_dir else lcr.torch.Store(session, "ddp")  # LCR: per node
    ddp = None

    def rebuild(recovery):  # LCR: what depends on the process group is built again
        nonlocal ddp
        # find_unused_parameters=True: DDP then keeps its first bucket layout instead of
        # rebuilding it after one step; a DDP built again after a recovery would run that step
        # with another layout, and gloo's ring would add the ranks' gradients in another order.
        ddp = DistributedDataParallel(model, find_unused_parameters=True)
        print(f"rank {args.rank} starts at step {recovery.next_step} with {recovery.group_size} members "
              f"(pid {os.getpid()}, epoch {recovery.epoch})", flush=True)

    def release():  # LCR: lets go of the broken group at once
        nonlocal ddp
        ddp = None

    recovery = lcr.torch.Recovery(session, store, args.rank, args.world_size, placements,  # LCR
                                  rebuild=rebuild, release=release, policy=args.policy,
                                  rendezvous_dir=args.rendezvous_dir, recovery_wait=args.recovery_wait,
                                  timeout=datetime.timedelta(seconds=args.timeout))

    def train_step(step):
        x, y = batch(args, step, args.rank)
        optimizer.zero_grad(set_to_none=True)
        loss = F.mse_loss(ddp(x), y)
        loss.backward()
        with session.update(step):  # LCR: the state is torn until the step is committed
            optimizer.step()
        if step % args.log_every == 0:
            print(f"rank {args.rank} step {step} loss {loss.item():.6f}", flush=True)

    try:
        recovery.run(train_step, args.steps)  # LCR: instead of `for step in range(steps)`
    except lcr.RankFailure as failure:
        print(f"rank {args.rank}: {failure}: restart the ranks to resume", file=sys.stderr)
        return EXIT_RESTART
    print(f"final rank {args.rank} step {args.steps} members {recovery.group_size} "
          f"sha256 {parameters_hash(model)}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except lcr.VersionError as error:  # a PyTorch too old for what LCR uses here
        sys.exit(f"torch_ddp.py: {error}")
