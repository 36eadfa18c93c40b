"""The exceptions of the lcr package.

Every failure of a liblcr call becomes an :class:`Error` that carries the call's errno
(``err.errno``), the library's description of it (``err.strerror``, from lcr_strerror), the
call that failed (``err.call``) and the helper's own message when it gave one
(``err.detail``, from lcr_last_error). Failures found on the Python side use the same class
with the errno that fits, so one ``except lcr.Error`` catches everything LCR raises.
"""

import errno as _errno
import os


class Error(Exception):
    """A failed LCR operation: errno, description, the call, and the helper's message."""

    def __init__(self, errno, strerror, call="", detail=""):
        super().__init__(errno, strerror, call, detail)
        self.errno = errno
        self.strerror = strerror
        self.call = call
        self.detail = detail

    def __str__(self):
        text = f"lcr: {self.call}: {self.strerror}" if self.call else f"lcr: {self.strerror}"
        return f"{text}: {self.detail}" if self.detail else text

    @classmethod
    def of(cls, errno, what, detail=""):
        """An error found in Python: `what` could not be done, for errno's reason."""
        return cls(errno, os.strerror(errno), what, detail)

    @classmethod
    def invalid(cls, detail):
        return cls.of(_errno.EINVAL, "bad argument", detail)


class VersionError(Error):
    """A feature needs a newer PyTorch (or another dependency) than the one found."""

    def __init__(self, feature, needed, found):
        super().__init__(_errno.EOPNOTSUPP, os.strerror(_errno.EOPNOTSUPP), feature,
                         f"needs {needed}, found {found}")
        self.feature = feature
        self.needed = needed
        self.found = found


class RankFailure(Error):
    """Ranks of the training failed; `events` are the helper's events that say so."""

    def __init__(self, events, detail):
        super().__init__(_errno.ECONNRESET, os.strerror(_errno.ECONNRESET), "training", detail)
        self.events = list(events)
