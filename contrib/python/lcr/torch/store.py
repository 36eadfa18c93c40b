"""A torch.distributed Store on the helper's key-value store, to build process groups.

``init_process_group(backend="gloo", store=lcr.torch.Store(session, "pg"), ...)`` needs no
master address, port or shared file: the ranks meet in the key-value store of their helper,
which outlives any of them, so a group can be built again after a rank died.

The helper's store has put and get (waiting for a key to appear) only. What the Store adds:

- values are tagged: ``=<bytes>`` is a value, ``-`` a deleted key (the helper cannot delete);
- keys longer than the helper's 63 bytes are replaced by a hash of the key;
- ``add``, ``compare_set``, ``set`` and ``delete_key`` read and write under a lock: an
  exclusive ``flock`` on the helper's runtime directory (the directory of its socket), taken
  by every process of every Store of this helper. That makes ``add`` atomic across processes
  while the key-value store is per node, as it is today: every user of this helper's store
  runs on this node. The lock goes with a process that dies holding it, and a read-modify-
  write that died before its put left nothing behind. When the key-value store spans the
  step's nodes, a true atomic add needs the helper's help: one KV_ADD request that adds in
  the helper's event loop (which serializes requests) and returns the sum. See README.md.

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
import threading
import time
import weakref

import torch.distributed as dist

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
PREFIX_MAX = 24


def _bytes(value):
    return value.encode() if isinstance(value, str) else bytes(value)


class Store(dist.Store):
    """A torch.distributed.Store whose keys live in the helper's key-value store under
    `prefix`. Operations wait up to the store's timeout (set_timeout, or init_process_group's
    timeout) for keys to appear."""

    def __init__(self, session, prefix="torch", timeout=datetime.timedelta(minutes=5)):
        super().__init__()
        if not prefix or len(prefix.encode()) > PREFIX_MAX or "/" in prefix:
            raise Error.invalid(f"a Store prefix is 1 to {PREFIX_MAX} bytes without '/': {prefix!r}")
        self.session = session
        self.prefix = prefix
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

    @_store_errors
    def set(self, key, value):
        with self._locked():
            self._replace(self._key(key), _bytes(value))

    @_store_errors
    def get(self, key):
        timeout = self._timeout()
        return self._wait_for(self._key(key), time.monotonic() + timeout.total_seconds(), timeout)

    @_store_errors
    def add(self, key, amount):
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
        with self._locked():
            stored = self._key(key)
            current = self._read(stored)
            if current == expected or (current is None and expected == b""):
                self._replace(stored, desired)
                return desired
            return expected if current is None else current

    @_store_errors
    def check(self, keys):
        return all(self._read(self._key(key)) is not None for key in keys)

    @_store_errors
    def wait(self, keys, timeout=None):
        timeout = self._timeout(timeout)
        deadline = time.monotonic() + timeout.total_seconds()
        for key in keys:
            self._wait_for(self._key(key), deadline, timeout, "wait")

    @_store_errors
    def delete_key(self, key):
        with self._locked():
            return self._replace(self._key(key), None)

    @_store_errors
    def num_keys(self):
        return int(self._read(self._count_key()) or 0)
