"""Keeps a torch.distributed process group going when ranks fail.

:class:`Recovery` builds the default process group on an :class:`lcr.torch.Store`, brings
every member to the newest committed state and tells the loop which step comes next. Between
steps it watches the helper's events (lcr_event_fd / lcr_event_next); when a member fails (an
event, or an error from a collective that an event explains within ``detect_timeout``), it
destroys the group and builds it again:

- ``policy="rejoin"``: with the same members, waiting for the lost ranks to come back (a
  restarted process, or a replacement started by the helpers' in-job recovery);
- ``policy="shrink"``: with the survivors only, renumbered;
- ``policy="exit"``: not at all: it raises lcr.RankFailure, for a launcher that restarts
  every rank (they then resume from the state the helper kept);
- ``policy="replace"``: in-job recovery under Slurm (``srun --lcr``): the helpers start the
  lost node's ranks again on a spare node of the job. The survivors pause, in the same
  processes, until the helper says NODE_JOINED (bounded by ``recovery_wait``, which a
  REPLACING event starts again), then build the group at the event's ``epoch``; a
  replacement (LCR_REJOIN=1) starts at LCR_REJOIN_EPOCH, and when that first build fails
  (a node died before every member came) it waits for the next NODE_JOINED as a survivor
  does. Without a spare
  (LCR_REPLACE=none) they stop with lcr.RankFailure once the helpers published the
  just-in-time checkpoint (a new step with ``--lcr-restore=auto`` resumes from it), and
  likewise on RECOVERY_FAILED. The members of a group meet under the prefix ``epoch-<E>`` of
  ``store`` when it is the job-wide store (``lcr.torch.Store``'s default scope "job": one
  store for the step on every node, kept by the helpers, which a replacement's helper
  receives whole), with no shared directory; or, with ``rendezvous_dir``, in a
  ``torch.distributed.FileStore`` ``<rendezvous_dir>/epoch-<E>``, a directory every node can
  reach (under Slurm ``<rendezvous_dir>/<job>.<step>.epoch-<E>``). Either way a build starts
  once every member has counted itself in, bounded by ``recovery_wait``.

Each build meets under its own PrefixStore ``<members digest>.<round>``; the round comes from
an atomic count of the builds that joined, so the keys of an earlier group, still in the
helper's store, never mix in. After each build the members exchange (all_gather_object) the
step their regions hold committed; the lowest-ranked member with the newest one broadcasts
its regions' bytes to the others, whose state was older, torn by a kill during an update, or
missing. They all continue at that step + 1, so a killed and restarted rank ends bit-identical
to a run without failure. Then ``rebuild(recovery)`` lets the program build what depends on
the group (DistributedDataParallel, a ZeroRedundancyOptimizer).

With ``sharded=True`` (or a ``sharded`` placement: a ZeroRedundancyOptimizer's state), a
member's state is its own and is never copied from another: the members must hold the same
committed step (a restore from one checkpoint, or a restart of every rank after a clean
stop), else the build raises lcr.Error ENOTRECOVERABLE naming each member's step.

A broken group is ended by ``lcr.torch.group.end_group``: aborted when it is an NCCL group
on a PyTorch that can (2.x), destroyed otherwise. Gloo cannot abort a collective (PyTorch
1.13 to 2.6): one that waits on a rank that hangs without dying ends with the group's
timeout. Ranks that die break the collectives of their direct peers at once; a rank that
waits on a live peer which gave up waits until that peer ends its group (``release`` lets
the program drop what holds the group, its DDP wrapper, so that this happens at once) or
until ``timeout``. Every wait is bounded. With sharded state and policy "replace" the
survivors' helpers roll them back, which waits at most 30 s (ROLLBACK_WAIT) for a rank
still inside its update (``with session.update(step)`` gives it up when the collective
raises): a gloo rank stuck in a broadcast from a live peer that already gave up raises only
at ``timeout``, so keep it under 30 s there (a warning says so).
"""

import datetime
import errno
import hashlib
import logging
import os
import time
import traceback

import torch
import torch.distributed as dist

from ..errors import Error, RankFailure
from ..session import EventType, Phase
from .group import end_group, wait_for_pending_works
from .version import require_torch

log = logging.getLogger("lcr.torch")
POLICIES = ("rejoin", "shrink", "exit", "replace")
# How long a helper's rollback waits for a rank inside its update (SNAPSHOT_ROLLBACK_WAIT_MS)
# before it ends its node's ranks (doc/redundancy.md).
ROLLBACK_WAIT = datetime.timedelta(seconds=30)
_POLL_SECONDS = 0.05


class Recovery:
    """The process group of `world_size` ranks that survives failures (module docstring).
    `placements` are what place_module / place_optimizer returned."""

    def __init__(self, session, store, rank, world_size, placements, rebuild=None, backend="gloo",
                 policy="rejoin", timeout=datetime.timedelta(minutes=5), detect_timeout=5.0,
                 rendezvous_dir=None, recovery_wait=60.0, release=None, sharded=False):
        require_torch("lcr.torch.Recovery (destroying and building process groups again in one process)",
                      (1, 13))
        if policy not in POLICIES:
            raise Error.invalid(f"policy must be one of {', '.join(POLICIES)}: {policy!r}")
        if policy == "replace" and not rendezvous_dir and getattr(store, "scope", "job") != "job":
            raise Error.invalid("policy 'replace' needs the job-wide store (lcr.torch.Store with scope 'job') "
                                "or rendezvous_dir, a directory shared by the nodes: a store of scope "
                                f"{store.scope!r} is per node")
        if store is None and not rendezvous_dir:
            raise Error.invalid("give a store (lcr.torch.Store) or a rendezvous_dir")
        self.session = session
        self.store = store
        self.rank = rank
        self.members = list(range(world_size))
        self.placements = list(placements)
        self.sharded = sharded or any(getattr(p, "sharded", False) for p in self.placements)
        if policy == "replace" and self.sharded and backend == "gloo" and timeout >= ROLLBACK_WAIT:
            log.warning("lcr: rank %d: a gloo collective that waits on a live member which gave up ends only at "
                        "the group's timeout (%s), and with sharded state a helper's rollback waits %d s for a "
                        "rank inside its update before it ends the node's ranks: use a timeout under %d s",
                        rank, timeout, ROLLBACK_WAIT.seconds, ROLLBACK_WAIT.seconds)
        self.rebuild = rebuild
        self.release = release
        self.backend = backend
        self.policy = policy
        self.timeout = timeout
        self.detect_timeout = detect_timeout
        self.rendezvous_dir = rendezvous_dir
        self.recovery_wait = recovery_wait
        self.epoch = int(os.environ.get("LCR_REJOIN_EPOCH") or 0)  # the group's epoch (policy replace)
        self.replacement = os.environ.get("LCR_REJOIN") == "1"
        self.pids = {}  # member rank -> its process, to tell a dead process from its successor
        self.next_step = None  # the step the last build continues at
        self._backlog = []  # events read but not yet looked at by check() or recovery (policy replace)

    @property
    def group_rank(self):
        return self.members.index(self.rank)

    @property
    def group_size(self):
        return len(self.members)

    # --- the loop ---

    def start(self):
        """Builds the first group and synchronizes the state; returns the step to run next.
        With policy "replace", a replacement builds at the newest join already told when it
        starts (_take_newest_join), and a first build that fails (a node died before every
        member came, such as the leader right after this replacement joined) is a failure
        like a survivor's: it waits for the next join and builds at its epoch."""
        if self.policy != "replace" or not self.replacement:
            return self._build()
        self._take_newest_join()
        try:
            return self._build()
        except Exception as failed:  # a member died meanwhile: build at the next join
            log.warning("lcr: rank %d (pid %d): building the group at epoch %d failed: %s; waiting for the next join",
                        self.rank, os.getpid(), self.epoch, failed)
            self._drop_group(failed)  # as a survivor does: release, frames cleared, group ended
            return self._build_at_next_join(failed)

    def _take_newest_join(self):
        """A replacement starts once its state is filled, which takes seconds: a node may have
        died meanwhile and been replaced again, and that join been told already. A build at
        its own join's epoch could then only time out while the others wait for it at the
        newer one: self.epoch becomes the newest join's. The events before that join are
        over (printed); the others wait in the backlog for check() and recovery."""
        events = self.session.events()
        joins = [i for i, ev in enumerate(events) if ev.type == EventType.NODE_JOINED and ev.epoch > self.epoch]
        if not joins:
            self._backlog.extend(events)
            return
        newest = max(joins, key=lambda i: events[i].epoch)
        for ev in events[:newest + 1]:
            log.warning("lcr: rank %d: event: %s", self.rank, ev.message)
        log.warning("lcr: rank %d (pid %d): a node failed and was replaced again before this rank's first "
                    "build: building at epoch %d, not %d", self.rank, os.getpid(), events[newest].epoch, self.epoch)
        self.epoch = events[newest].epoch
        self._backlog.extend(events[newest + 1:])

    def check(self):
        """Between steps: raises RankFailure when the helper reported a member's failure."""
        events, self._backlog = self._backlog + self.session.events(), []
        failures = self._failures(events)
        if failures:
            if self.policy == "replace":
                self._backlog.extend(events)
            raise RankFailure(failures, "; ".join(ev.message for ev in failures))

    def recover(self, error):
        """After `error` broke a step: when the helper reports (or reported) a member's
        failure, rebuilds the group by the policy and returns the step to run next; else
        raises `error` again."""
        if self.policy == "replace":
            return self._replace(error)
        failures = error.events if isinstance(error, RankFailure) else self._await_failures()
        if not failures:
            raise error
        if self.policy == "exit":
            raise RankFailure(failures, "; ".join(ev.message for ev in failures)) from error
        log.warning("lcr: rank %d: %s; rebuilding the process group (%s)", self.rank,
                    "; ".join(ev.message for ev in failures), self.policy)
        end_group()
        if self.policy == "shrink":
            lost = self._lost_ranks(failures)
            self.members = [r for r in self.members if r not in lost]
        return self._build()

    def run(self, train_step, steps):
        """Runs train_step(step) for every step up to `steps`, recovering from failures."""
        step = self.start()
        while step < steps:
            try:
                self.check()
                train_step(step)
                step += 1
            except Exception as error:  # recover() raises it again unless a failure explains it
                step = self.recover(error)
        return step

    # --- failures ---

    def _failures(self, events):
        """The events among `events` that mean a member of the group is lost."""
        failures = []
        for ev in events:
            if ev.type in (EventType.HELPER_LOST, EventType.HELPER_SHUTDOWN):
                raise Error.of(errno.ESHUTDOWN, "watching for failures", f"the helper is gone: {ev.message}")
            if ev.type == EventType.NODE_DOWN or (ev.type == EventType.RANK_EXITED and self._is_member_process(ev)):
                failures.append(ev)
        return failures

    def _is_member_process(self, ev):
        """Whether a RANK_EXITED is about a current member (not an earlier process of it)."""
        if ev.rank not in self.members or ev.rank == self.rank:
            return False
        return ev.pid == 0 or self.pids.get(ev.rank) in (None, ev.pid)

    def _await_failures(self):
        """The failure events that come within detect_timeout seconds."""
        ev = self.session.wait_event(self.detect_timeout)
        while ev is not None:
            failures = self._failures([ev] + self.session.events())
            if failures:
                return failures
            ev = self.session.wait_event(self.detect_timeout)
        return []

    # --- in-job replacement (policy "replace") ---

    def _replace(self, error):
        """Pauses until a spare took the lost node's place, builds the group at the epoch of
        its NODE_JOINED and returns the step to go on at. A build that fails (another node
        failed meanwhile) waits for the next join. Raises RankFailure when no spare comes
        (the checkpoint is the way on), or `error` when no event explains it."""
        log.warning("lcr: rank %d (pid %d): training stopped: %s; waiting for the helpers' recovery",
                    self.rank, os.getpid(), error)
        self._drop_group(error)
        return self._build_at_next_join(error)

    def _build_at_next_join(self, error):
        """Builds the group at the epoch of the next NODE_JOINED newer than the last build's;
        a build that fails waits for the join after it. Raises as _await_join."""
        while True:
            self.epoch = self._await_join(error)
            try:
                return self._build()
            except Exception as failed:  # another failure while building: wait for its join
                log.warning("lcr: rank %d: building the group at epoch %d failed: %s", self.rank, self.epoch, failed)
                self._drop_group(failed)
                error = failed

    def _drop_group(self, error):
        """Lets go of the broken group at once, so that members still waiting on this rank in
        a collective see it fail instead of waiting for the timeout; but first waits for the
        collectives the failed call left queued (group.wait_for_pending_works: ZeRO's other
        broadcasts, which end by the group's timeout at the latest), whose teardown would
        otherwise hang the process on PyTorch 2.6."""
        if error.__traceback__ is not None:
            waited = wait_for_pending_works(error.__traceback__)
            if waited:
                log.info("lcr: rank %d: let the %d collective(s) the failed call held end first", self.rank, waited)
            traceback.clear_frames(error.__traceback__)  # the frames hold the DDP wrapper
        if self.release:
            self.release()
        end_group()  # collects the cycles too, in its teardown thread

    def _await_join(self, error):
        """The epoch of the next NODE_JOINED newer than the last build's (an older one is the
        join that build was for, such as a replacement's own), waiting up to recovery_wait
        seconds (restarted by REPLACING). Raises RankFailure when the helpers say no spare comes, `error` when
        nothing explains it within the wait."""
        spare_expected = os.environ.get("LCR_REPLACE", "spare") == "spare"
        explained = isinstance(error, RankFailure)
        seen = list(error.events) if explained else []
        deadline = time.monotonic() + self.recovery_wait
        pending, self._backlog = self._backlog, []
        while True:
            for ev in pending:
                if ev.type != EventType.MESH_UP:
                    log.warning("lcr: rank %d: event: %s", self.rank, ev.message)
                    seen.append(ev)
                if ev.type in (EventType.HELPER_LOST, EventType.HELPER_SHUTDOWN, EventType.RECOVERY_FAILED):
                    raise RankFailure(seen, ev.message) from error
                if ev.type == EventType.CHECKPOINT and not spare_expected:
                    raise RankFailure(seen, f"no spare replaces the lost node (LCR_REPLACE=none): {ev.message}") \
                        from error
                if ev.type in (EventType.NODE_DOWN, EventType.REPLACING, EventType.CHECKPOINT) or \
                        (ev.type == EventType.RANK_EXITED and self._is_member_process(ev)):
                    explained = True
                if ev.type == EventType.REPLACING:
                    deadline = time.monotonic() + self.recovery_wait
                if ev.type == EventType.NODE_JOINED and ev.epoch > self.epoch:
                    return ev.epoch
            left = deadline - time.monotonic()
            if left <= 0:
                if not explained:
                    raise error
                raise RankFailure(seen, f"no replacement joined within {self.recovery_wait:g} s") from error
            ev = self.session.wait_event(left)
            pending = [ev] + self.session.events() if ev is not None else []

    def _rendezvous_path(self):
        """<rendezvous_dir>/<job>.<step>.epoch-<E> under Slurm (a replacement runs in a step
        of its own: LCR_REJOIN_STEP names the step it joins), else <rendezvous_dir>/epoch-<E>:
        one directory can serve several jobs and steps."""
        job = os.environ.get("SLURM_JOB_ID")
        step = os.environ.get("LCR_REJOIN_STEP") or os.environ.get("SLURM_STEP_ID")
        tag = f"{job}.{step}." if job and step else ""
        return os.path.join(self.rendezvous_dir, f"{tag}epoch-{self.epoch}")

    def _file_store(self):
        """The FileStore of this epoch's group, once every member has come."""
        path = self._rendezvous_path()
        store = dist.FileStore(path, -1)
        store.set_timeout(datetime.timedelta(seconds=self.recovery_wait))
        self._await_members(store, "arrived", f"in {path}")
        return store

    def _epoch_store(self):
        """This epoch's prefix of the job-wide store, once every member has come."""
        prefix = f"epoch-{self.epoch}"
        self.store.set_timeout(self.timeout)
        self._await_members(self.store, f"{prefix}.arrived", "in the job-wide store")
        return dist.PrefixStore(prefix, self.store)

    def _await_members(self, store, key, where):
        """Counts this member in under `key` and waits until the whole group has (bounded by
        recovery_wait: a replacement imports PyTorch first)."""
        store.add(key, 1)
        deadline = time.monotonic() + self.recovery_wait
        while store.add(key, 0) < self.group_size:
            if time.monotonic() > deadline:
                raise Error.of(errno.ETIMEDOUT, f"meeting the group of epoch {self.epoch} {where}",
                               f"{store.add(key, 0)} of {self.group_size} members came within "
                               f"{self.recovery_wait:g} s")
            time.sleep(_POLL_SECONDS)

    def _lost_ranks(self, failures):
        if any(ev.type == EventType.NODE_DOWN for ev in failures):
            raise Error.of(errno.EOPNOTSUPP, "shrinking the process group",
                           "a node is down and which ranks it held is not known here: use policy 'replace'")
        return {ev.rank for ev in failures}

    # --- building the group ---

    def _group_store(self):
        """(store, name) where this build's members meet: the FileStore of the epoch in
        rendezvous_dir, the epoch's prefix of the job-wide store (policy replace), or a
        prefix of the helper's store counted per round."""
        if self.rendezvous_dir:
            return dist.PrefixStore("pg", self._file_store()), f"epoch {self.epoch}"
        if self.policy == "replace":
            return dist.PrefixStore("pg", self._epoch_store()), f"epoch {self.epoch}"
        digest = hashlib.blake2b(",".join(map(str, self.members)).encode(), digest_size=4).hexdigest()
        joined = self.store.add(f"lcr.joins.{digest}", 1)
        prefix = f"{digest}.{(joined - 1) // self.group_size}"
        self.store.set_timeout(self.timeout)
        return dist.PrefixStore(prefix, self.store), prefix

    def _build(self):
        store, name = self._group_store()
        dist.init_process_group(self.backend, store=store, rank=self.group_rank, world_size=self.group_size,
                                timeout=self.timeout)
        self._forget_older_epochs()
        self.next_step = self._synchronize()
        log.info("lcr: rank %d: process group %s built: %d members, continuing at step %d", self.rank, name,
                 self.group_size, self.next_step)
        if self.rebuild:
            self.rebuild(self)
        return self.next_step

    def _forget_older_epochs(self):
        """Policy replace through the job-wide store: once the group of this epoch is built,
        nobody reads an older epoch's keys; this member deletes the ones it wrote, so that
        rebuilds do not fill the store's bounded keys."""
        if self.rendezvous_dir or self.policy != "replace" or not hasattr(self.store, "forget"):
            return
        for key in self.store.written_keys():
            epoch = key.split("/", 1)[0].split(".", 1)[0]
            if epoch.startswith("epoch-") and epoch != f"epoch-{self.epoch}":
                self.store.forget(epoch)

    def _inventory(self):
        return [(region.name, region.size) for placement in self.placements for region in placement.regions()]

    def _synchronize(self):
        """Brings every member to the newest committed state; returns the next step."""
        # lcr_resume_step first: it acknowledges a rollback of this rank's regions (recovery
        # from the in-memory copies), without which update_begin raises ESTALE
        restored = self.session.checkpoint_step()  # restored from a checkpoint or replicas
        committed, phase = self.session.rank_state()
        if committed is None and not phase.torn:
            committed = restored
        mine = {"committed": committed, "phase": int(phase), "regions": self._inventory(), "pid": os.getpid()}
        states = [None] * self.group_size
        dist.all_gather_object(states, mine)
        self.pids = {rank: state["pid"] for rank, state in zip(self.members, states)}
        source = _pick_source(states)
        if source is None:
            raise Error.of(errno.ENOTRECOVERABLE, "resuming the training",
                           "every member was stopped during an update: no member holds a consistent state")
        wanted = states[source]
        step = 0 if wanted["committed"] is None else wanted["committed"] + 1
        if self.sharded:
            _require_one_step(states, self.members)
        elif any(_holding(state) != _holding(wanted) for state in states):
            self._copy_from(source, wanted)
        return step

    def _copy_from(self, source, wanted):
        """Broadcasts the source's regions to every member."""
        receiving = self.group_rank != source
        log.info("lcr: rank %d: %s the state of step %s", self.rank, "receiving" if receiving else "sending",
                 wanted["committed"])
        if receiving:
            self._make_room(wanted["regions"])
            if wanted["committed"] is not None:
                self.session.update_begin(wanted["committed"])
        for name, size in wanted["regions"]:
            data = torch.frombuffer(self.session.region_alloc(name, size).buffer, dtype=torch.uint8)
            dist.broadcast(data, src=source)
        if receiving:
            if wanted["committed"] is not None:
                self.session.update_end(wanted["committed"])
            for placement in self.placements:
                placement.reload()

    def _make_room(self, wanted_regions):
        """Frees this rank's placed regions that the source has not, or has in another size."""
        wanted = dict(wanted_regions)
        mine = self._inventory()
        for placement in self.placements:
            placement.drop()
        for name, size in mine:
            if wanted.get(name) != size:
                self.session.region_free(name)


def _require_one_step(states, members):
    """Sharded state: every member must hold the same committed step, none torn."""
    marks = {(state["committed"], _torn(state)) for state in states}
    if len(marks) == 1 and not next(iter(marks))[1]:
        return
    held = ", ".join(f"rank {rank} {'torn in an update after step' if _torn(state) else 'step'} "
                     f"{'none' if state['committed'] is None else state['committed']}"
                     for rank, state in zip(members, states))
    raise Error.of(errno.ENOTRECOVERABLE, "resuming sharded training",
                   f"the members hold different or torn steps ({held}) and each one's state is its own: "
                   "none can be copied from another; restart every member from one checkpoint")


def _holding(state):
    """What a member's regions hold: the same for members that need no copy."""
    return state["committed"], _torn(state), state["regions"]


def _torn(state):
    """Whether a member's regions hold no committed state (in an update, or one abandoned)."""
    return Phase(state["phase"]).torn


def _pick_source(states):
    """The index of the lowest member with the newest consistent state, or None."""
    consistent = [i for i, state in enumerate(states) if not _torn(state)]
    if not consistent:
        return None
    newest = max(-1 if states[i]["committed"] is None else states[i]["committed"] for i in consistent)
    return next(i for i in consistent if (-1 if states[i]["committed"] is None else states[i]["committed"]) == newest)
