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
  every rank (they then resume from the state the helper kept).

Each build meets under its own PrefixStore ``<members digest>.<round>``; the round comes from
an atomic count of the builds that joined, so the keys of an earlier group, still in the
helper's store, never mix in. After each build the members exchange (all_gather_object) the
step their regions hold committed; the lowest-ranked member with the newest one broadcasts
its regions' bytes to the others, whose state was older, torn by a kill during an update, or
missing. They all continue at that step + 1, so a killed and restarted rank ends bit-identical
to a run without failure. Then ``rebuild(recovery)`` lets the program build what depends on
the group (DistributedDataParallel).

PyTorch 1.13's gloo cannot abort a collective that waits on a rank that hangs without dying:
such a wait ends with the group's timeout. Ranks that die (the case here) break it at once.
"""

import datetime
import errno
import hashlib
import logging
import os

import torch
import torch.distributed as dist

from ..errors import Error, RankFailure
from ..session import EventType, Phase

log = logging.getLogger("lcr.torch")
POLICIES = ("rejoin", "shrink", "exit")


class Recovery:
    """The process group of `world_size` ranks that survives failures (module docstring).
    `placements` are what place_module / place_optimizer returned."""

    def __init__(self, session, store, rank, world_size, placements, rebuild=None, backend="gloo",
                 policy="rejoin", timeout=datetime.timedelta(minutes=5), detect_timeout=5.0):
        if policy not in POLICIES:
            raise Error.invalid(f"policy must be one of {', '.join(POLICIES)}: {policy!r}")
        self.session = session
        self.store = store
        self.rank = rank
        self.members = list(range(world_size))
        self.placements = list(placements)
        self.rebuild = rebuild
        self.backend = backend
        self.policy = policy
        self.timeout = timeout
        self.detect_timeout = detect_timeout
        self.pids = {}  # member rank -> its process, to tell a dead process from its successor
        self.next_step = None  # the step the last build continues at

    @property
    def group_rank(self):
        return self.members.index(self.rank)

    @property
    def group_size(self):
        return len(self.members)

    # --- the loop ---

    def start(self):
        """Builds the first group and synchronizes the state; returns the step to run next."""
        return self._build()

    def check(self):
        """Between steps: raises RankFailure when the helper reported a member's failure."""
        failures = self._failures(self.session.events())
        if failures:
            raise RankFailure(failures, "; ".join(ev.message for ev in failures))

    def recover(self, error):
        """After `error` broke a step: when the helper reports (or reported) a member's
        failure, rebuilds the group by the policy and returns the step to run next; else
        raises `error` again."""
        failures = error.events if isinstance(error, RankFailure) else self._await_failures()
        if not failures:
            raise error
        if self.policy == "exit":
            raise RankFailure(failures, "; ".join(ev.message for ev in failures)) from error
        log.warning("lcr: rank %d: %s; rebuilding the process group (%s)", self.rank,
                    "; ".join(ev.message for ev in failures), self.policy)
        dist.destroy_process_group()
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

    def _lost_ranks(self, failures):
        if any(ev.type == EventType.NODE_DOWN for ev in failures):
            raise Error.of(errno.EOPNOTSUPP, "shrinking the process group",
                           "a node is down and which ranks it held is not known here: use policy 'rejoin'")
        return {ev.rank for ev in failures}

    # --- building the group ---

    def _build(self):
        digest = hashlib.blake2b(",".join(map(str, self.members)).encode(), digest_size=4).hexdigest()
        joined = self.store.add(f"lcr.joins.{digest}", 1)
        prefix = f"{digest}.{(joined - 1) // self.group_size}"
        self.store.set_timeout(self.timeout)
        dist.init_process_group(self.backend, store=dist.PrefixStore(prefix, self.store), rank=self.group_rank,
                                world_size=self.group_size, timeout=self.timeout)
        self.next_step = self._synchronize()
        log.info("lcr: rank %d: process group %s built: %d members, continuing at step %d", self.rank, prefix,
                 self.group_size, self.next_step)
        if self.rebuild:
            self.rebuild(self)
        return self.next_step

    def _inventory(self):
        return [(region.name, region.size) for placement in self.placements for region in placement.regions()]

    def _synchronize(self):
        """Brings every member to the newest committed state; returns the next step."""
        committed, phase = self.session.rank_state()
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
        if any(_holding(state) != _holding(wanted) for state in states):
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


def _holding(state):
    """What a member's regions hold: the same for members that need no copy."""
    return state["committed"], state["phase"] == Phase.UPDATING, state["regions"]


def _pick_source(states):
    """The index of the lowest member with the newest consistent state, or None."""
    consistent = [i for i, state in enumerate(states) if state["phase"] != Phase.UPDATING]
    if not consistent:
        return None
    newest = max(-1 if states[i]["committed"] is None else states[i]["committed"] for i in consistent)
    return next(i for i in consistent if (-1 if states[i]["committed"] is None else states[i]["committed"]) == newest)
