"""A torch.distributed Store in the helpers, to build process groups.

``init_process_group(backend="gloo", store=lcr.torch.Store(session, "pg"), ...)`` needs no
master address, port or shared file: the ranks meet in a store that the helpers keep, which
outlives any rank, so a group can be built again after a rank died.

Two scopes. ``scope="job"`` (the default) uses the job-wide store (``lcr_store_*``, liblcr's
LCR_API_REVISION 1): one store for every rank of the step on every node, replicated on every
live helper, with atomic add, compare-and-set and delete in the helpers, so ranks on
different nodes meet with no shared directory, and the store survives the loss of any one
node (doc/mesh.md). Values are tagged only where they must be told from a counter: a value
that is not a decimal number is kept as ``=<bytes>``, so an absent key (which holds nothing)
is never confused with an empty value; ``add`` keeps its sum as decimal text, as PyTorch's
stores do; the key count is a counter beside the keys.

``scope="node"`` uses the helper's own per-node key-value store (``lcr_kv_*``), as before
the job-wide store existed: every rank that uses it must run on this node. That store has
put and get (waiting for a key to appear) only. What the Store adds there:

- values are tagged: ``=<bytes>`` is a value, ``-`` a deleted key (the helper cannot delete);
- keys longer than the helper's 63 bytes are replaced by a hash of the key;
- ``add``, ``compare_set``, ``set`` and ``delete_key`` read and write under a lock: an
  exclusive ``flock`` on the helper's runtime directory (the directory of its socket), taken
  by every process of every Store of this helper. That makes ``add`` atomic across processes
  while the key-value store is per node, as it is today: every user of this helper's store
  runs on this node. The lock goes with a process that dies holding it, and a read-modify-
  write that died before its put left nothing behind. When the key-value store spans the
  step's nodes, a true atomic add needs the helper's help: one KV_ADD request that adds in
  the helper's event loop (which serializes requests) and returns the sum: the job-wide
  store's ``lcr_store_add``. See README.md.

It fails as PyTorch's own stores do: every failure of a Store method is a :class:`StoreError`,
both an ``lcr.Error`` (errno, call, detail) and the ``RuntimeError`` that PyTorch's stores
raise (``torch.distributed.DistStoreError`` where PyTorch has it, 2.x), so code that catches
``RuntimeError`` around a store (the store-based barrier, elastic rendezvous) catches it; a
wait that runs out is errno ``ETIMEDOUT`` and names the timeout the call used. A Store stays
alive until :meth:`Store.close` (or the process ends): PyTorch's C++ wrappers of a Python
store (``PrefixStore``, a process group) hold the C++ half only, so a Store that nothing in
Python referred to any more would break them.
"""

import contextlib
import datetime
import errno
import fcntl
import functools
import hashlib
import os
import re
import threading
import time
import weakref

import torch.distributed as dist

from .. import _library
from .._library import LCR_NAME_MAX
from ..errors import Error

# What PyTorch's stores raise: DistStoreError (a RuntimeError) in 2.x, RuntimeError in 1.13.
_TORCH_STORE_ERROR = getattr(dist, "DistStoreError", RuntimeError)


class StoreError(Error, _TORCH_STORE_ERROR):
    """A failed Store operation: an lcr.Error that is also PyTorch's store error."""

    @classmethod
    def from_error(cls, error):
        return cls(error.errno, error.strerror, error.call, error.detail)


def _store_errors(method):
    """Raises every lcr.Error of `method` as a StoreError (the same errno, call and detail)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except StoreError:
            raise
        except Error as e:
            raise StoreError.from_error(e) from None

    return wrapper


# Every open Store: PyTorch's C++ wrappers keep only the C++ half of a Python store.
_OPEN_STORES = set()
_PRESENT = b"="
_DELETED = b"-"
_POLL_SECONDS = 0.01
_DECIMAL = re.compile(rb"-?[0-9]{1,18}")
PREFIX_MAX = 24
SCOPES = ("job", "node")


def _bytes(value):
    return value.encode() if isinstance(value, str) else bytes(value)


class Store(dist.Store):
    """A torch.distributed.Store whose keys live in the helpers' store under `prefix`: the
    job-wide store (scope "job") or this node's helper's (scope "node"). Operations wait up to
    the store's timeout (set_timeout, or init_process_group's timeout) for keys to appear."""

    def __init__(self, session, prefix="torch", timeout=datetime.timedelta(minutes=5), scope="job"):
        super().__init__()
        if not prefix or len(prefix.encode()) > PREFIX_MAX or "/" in prefix:
            raise Error.invalid(f"a Store prefix is 1 to {PREFIX_MAX} bytes without '/': {prefix!r}")
        if scope not in SCOPES:
            raise Error.invalid(f"a Store scope is one of {', '.join(SCOPES)}: {scope!r}")
        if scope == "job" and not _library.HAS_JOB_STORE:
            raise Error.of(errno.ENOSYS, "lcr.torch.Store(scope='job')",
                           "the liblcr loaded has no job-wide store (LCR_API_REVISION 1): use scope='node'")
        self.session = session
        self.prefix = prefix
        self.scope = scope
        self._job = _JobStore(session) if scope == "job" else None
        self._written = set()  # the keys this Store wrote (set, add, compare_set): forget()
        self.set_timeout(timeout)
        self._thread_lock = threading.Lock()
        self._lock_fd = os.open(os.path.dirname(os.path.abspath(session.socket_path)),
                                os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        weakref.finalize(self, os.close, self._lock_fd)
        _OPEN_STORES.add(self)

    def close(self):
        """Lets this Store go once nothing refers to it: call it only when no PrefixStore or
        process group built on it is in use any more. The keys stay in the helper."""
        _OPEN_STORES.discard(self)

    # --- keys and values in the helper ---

    def _key(self, key):
        full = f"{self.prefix}/{key}"
        if len(full.encode()) <= LCR_NAME_MAX:
            return full
        return f"{self.prefix}/#{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"

    def _count_key(self):
        return f"{self.prefix}:keys"

    def _read(self, key):
        """The value of `key`, or None when it is absent or deleted; no wait."""
        try:
            raw = self.session.kv_get(key, timeout=0)
        except Error as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        return raw[1:] if raw.startswith(_PRESENT) else None

    def _write(self, key, value):
        self.session.kv_put(key, _PRESENT + value)

    def _wait_for(self, key, deadline, timeout, call="get"):
        """The value of `key`, waiting until `deadline` (time.monotonic, `timeout` from the
        call's start) for it."""
        while True:
            left = deadline - time.monotonic()
            try:
                raw = self.session.kv_get(key, timeout=max(left, 0))
            except Error as e:
                if e.errno in (errno.ETIMEDOUT, errno.ENOENT):
                    raise Error.of(errno.ETIMEDOUT, f"Store.{call}('{key}')",
                                   f"the key did not appear within {timeout}") from None
                raise
            if raw.startswith(_PRESENT):
                return raw[1:]
            if left <= 0:
                raise Error.of(errno.ETIMEDOUT, f"Store.{call}('{key}')",
                               f"the key was deleted and not set again within {timeout}")
            time.sleep(_POLL_SECONDS)

    def _timeout(self, timeout=None):
        """The call's timeout (a timedelta): its own, else the store's."""
        if timeout is None:
            return self.timeout
        return timeout if isinstance(timeout, datetime.timedelta) else datetime.timedelta(seconds=timeout)

    @contextlib.contextmanager
    def _locked(self):
        """The read-modify-write lock of this helper's store (see the module docstring)."""
        with self._thread_lock:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _replace(self, key, value):
        """Writes `value` (None: deletes) under the lock and keeps the key count; returns
        whether the key existed."""
        existed = self._read(key) is not None
        if value is not None:
            self._write(key, value)
            change = 0 if existed else 1
        elif existed:
            self.session.kv_put(key, _DELETED)
            change = -1
        else:
            change = 0
        if change:
            count = int(self._read(self._count_key()) or 0) + change
            self._write(self._count_key(), str(count).encode())
        return existed

    # --- torch.distributed.Store ---

    def forget(self, prefix):
        """Deletes the keys this Store wrote that belong to `prefix`: the key `prefix.NAME`
        and every key under `prefix/` (a PrefixStore(prefix, store)'s). What a group built
        under a prefix left (gloo's addresses, counters) is then not kept for ever, which the
        job-wide store's bound on keys would feel after many rebuilds. Keys other processes
        wrote stay. Returns how many keys were deleted."""
        mine = sorted(k for k in self._written if k.startswith(prefix) and k[len(prefix):len(prefix) + 1] in ("/", "."))
        deleted = sum(1 for key in mine if self.delete_key(key))
        self._written.difference_update(mine)
        return deleted

    def written_keys(self):
        """The keys this Store wrote and has not deleted or forgotten."""
        return set(self._written)

    @_store_errors
    def set(self, key, value):
        self._written.add(key)
        if self._job:
            return self._job.set(self._key(key), _bytes(value), self._count_key())
        with self._locked():
            self._replace(self._key(key), _bytes(value))

    @_store_errors
    def get(self, key):
        timeout = self._timeout()
        if self._job:
            return self._job.wait_for(self._key(key), timeout, "get")
        return self._wait_for(self._key(key), time.monotonic() + timeout.total_seconds(), timeout)

    @_store_errors
    def add(self, key, amount):
        if amount:
            self._written.add(key)
        if self._job:
            return self._job.add(self._key(key), int(amount), self._count_key())
        with self._locked():
            stored = self._key(key)
            value = int(self._read(stored) or 0) + int(amount)
            self._replace(stored, str(value).encode())
        return value

    @_store_errors
    def compare_set(self, key, expected_value, desired_value):
        """Sets `key` to desired_value when it holds expected_value (or is absent and
        expected_value is empty); returns the value it holds afterwards."""
        expected, desired = _bytes(expected_value), _bytes(desired_value)
        self._written.add(key)
        if self._job:
            return self._job.compare_set(self._key(key), expected, desired, self._count_key())
        with self._locked():
            stored = self._key(key)
            current = self._read(stored)
            if current == expected or (current is None and expected == b""):
                self._replace(stored, desired)
                return desired
            return expected if current is None else current

    @_store_errors
    def check(self, keys):
        if self._job:
            return all(self._job.read(self._key(key)) is not None for key in keys)
        return all(self._read(self._key(key)) is not None for key in keys)

    @_store_errors
    def wait(self, keys, timeout=None):
        timeout = self._timeout(timeout)
        deadline = time.monotonic() + timeout.total_seconds()
        for key in keys:
            if self._job:
                self._job.wait_for(self._key(key), timeout, "wait", deadline)
            else:
                self._wait_for(self._key(key), deadline, timeout, "wait")

    @_store_errors
    def delete_key(self, key):
        self._written.discard(key)
        if self._job:
            return self._job.delete(self._key(key), self._count_key())
        with self._locked():
            return self._replace(self._key(key), None)

    @_store_errors
    def num_keys(self):
        if self._job:
            return int(self._job.read(self._count_key()) or 0)
        return int(self._read(self._count_key()) or 0)


def _tag(value):
    """A value as the job-wide store keeps it: a decimal number as it is (so that add works
    on it), anything else behind "=" (so that no stored value is empty)."""
    return value if _DECIMAL.fullmatch(value) else _PRESENT + value


def _untag(raw):
    return raw[1:] if raw.startswith(_PRESENT) else raw


class _JobStore:
    """The Store's operations on the job-wide store (lcr_store_*), atomic in the helpers. A
    key that a write creates (a compare-and-set from nothing succeeded) counts in the key
    count."""

    def __init__(self, session):
        self.session = session

    def read(self, key):
        """The value of `key`, or None when it is absent; no wait."""
        try:
            return _untag(self.session.store_get(key, timeout=0))
        except Error as e:
            if e.errno == errno.ENOENT:
                return None
            raise

    def wait_for(self, key, timeout, call, deadline=None):
        """The value of `key`, waiting for it until `deadline` (time.monotonic; default:
        `timeout` from now)."""
        if deadline is None:
            deadline = time.monotonic() + timeout.total_seconds()
        try:
            return _untag(self.session.store_get(key, timeout=max(deadline - time.monotonic(), 0)))
        except Error as e:
            if e.errno in (errno.ETIMEDOUT, errno.ENOENT):
                raise Error.of(errno.ETIMEDOUT, f"Store.{call}('{key}')",
                               f"the key did not appear within {timeout}") from None
            raise

    def _create(self, key, stored, count_key):
        """Stores `stored` under `key` if it is absent: whether it did (then it counts)."""
        created, _ = self.session.store_compare_set(key, b"", stored)
        if created:
            self.session.store_add(count_key, 1)
        return created

    def set(self, key, value, count_key):
        if not self._create(key, _tag(value), count_key):
            self.session.store_set(key, _tag(value))

    def add(self, key, amount, count_key):
        if self._create(key, str(amount).encode(), count_key):
            return amount
        return self.session.store_add(key, amount)

    def compare_set(self, key, expected, desired, count_key):
        """PyTorch's rule: desired when the key holds expected (or is absent and expected is
        empty), else the value it holds (expected when it is absent)."""
        if expected == b"":
            if self._create(key, _tag(desired), count_key):
                return desired
            current = self.read(key)
            if current == b"":  # an empty value, kept as "="
                _, now = self.session.store_compare_set(key, _PRESENT, _tag(desired))
                return _untag(now)
            return expected if current is None else current
        try:
            _, now = self.session.store_compare_set(key, _tag(expected), _tag(desired))
        except Error as e:
            if e.errno == errno.ENOENT:
                return expected
            raise
        return _untag(now)

    def delete(self, key, count_key):
        try:
            self.session.store_delete(key)
        except Error as e:
            if e.errno == errno.ENOENT:
                return False
            raise
        self.session.store_add(count_key, -1)
        return True
