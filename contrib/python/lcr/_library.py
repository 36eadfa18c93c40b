"""Loads liblcr with ctypes and declares the C API of include/lcr.h.

This module is the only place that knows the C structures and function prototypes; the rest
of the package calls ``LIB.lcr_*`` with them. The library is looked up in this order:

1. ``$LCR_LIBRARY``: a path to liblcr.so.1 (or any file name ``dlopen`` accepts);
2. ``$LCR_BUILDDIR/lib/.libs/liblcr.so.1``: the build tree, as ``make check`` exports it;
3. ``liblcr.so.1`` from the system's library path (an installed LCR).
"""

import ctypes
import os

from .errors import Error

LCR_NAME_MAX = 63
LCR_VALUE_MAX = 32768
LCR_STORE_VALUE_MAX = 16384
LCR_MESSAGE_MAX = 255
LCR_NODE_NAME_MAX = 127
LCR_NO_STEP = 2**64 - 1
LCR_NO_NODE = 2**32 - 1
LCR_REATTACHED = 1
SONAME = "liblcr.so.1"


class RankInfo(ctypes.Structure):
    """struct lcr_rank_info."""

    _fields_ = [
        ("global_rank", ctypes.c_uint32),
        ("dp_index", ctypes.c_uint32),
        ("dp_size", ctypes.c_uint32),
        ("shard_key", ctypes.c_char_p),
    ]


class RegionInfo(ctypes.Structure):
    """struct lcr_region."""

    _fields_ = [
        ("name", ctypes.c_char * (LCR_NAME_MAX + 1)),
        ("size", ctypes.c_uint64),
        ("kind", ctypes.c_int),
        ("owner_rank", ctypes.c_uint32),
        ("shard_key", ctypes.c_char * (LCR_NAME_MAX + 1)),
        ("committed_step", ctypes.c_uint64),
        ("phase", ctypes.c_int),
        ("owner_alive", ctypes.c_int),
        ("ptr", ctypes.c_void_p),
    ]


class EventInfo(ctypes.Structure):
    """struct lcr_event."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("source", ctypes.c_int),
        ("rank", ctypes.c_uint32),
        ("pid", ctypes.c_int32),
        ("status", ctypes.c_int32),
        ("node", ctypes.c_char * (LCR_NODE_NAME_MAX + 1)),
        ("message", ctypes.c_char * (LCR_MESSAGE_MAX + 1)),
        ("node_id", ctypes.c_uint32),
        ("generation", ctypes.c_uint64),
        ("leader", ctypes.c_uint32),
        ("epoch", ctypes.c_uint64),
    ]


_SESSION = ctypes.c_void_p
_INT = ctypes.c_int
_PROTOTYPES = {
    "lcr_api_version": (_INT, []),
    "lcr_strerror": (ctypes.c_char_p, [_INT]),
    "lcr_open": (_INT, [ctypes.c_char_p, ctypes.POINTER(_SESSION)]),
    "lcr_close": (_INT, [_SESSION]),
    "lcr_last_error": (ctypes.c_char_p, [_SESSION]),
    "lcr_register": (_INT, [_SESSION, ctypes.POINTER(RankInfo)]),
    "lcr_region_alloc": (_INT, [_SESSION, ctypes.c_char_p, ctypes.c_uint64, _INT, _INT,
                                ctypes.POINTER(ctypes.c_void_p)]),
    "lcr_region_lookup": (_INT, [_SESSION, ctypes.c_char_p, ctypes.POINTER(RegionInfo)]),
    "lcr_region_list": (_INT, [_SESSION, ctypes.POINTER(RegionInfo), ctypes.c_size_t,
                               ctypes.POINTER(ctypes.c_size_t)]),
    "lcr_region_free": (_INT, [_SESSION, ctypes.c_char_p]),
    "lcr_update_begin": (_INT, [_SESSION, ctypes.c_uint64]),
    "lcr_update_end": (_INT, [_SESSION, ctypes.c_uint64]),
    "lcr_event_fd": (_INT, [_SESSION]),
    "lcr_event_next": (_INT, [_SESSION, ctypes.POINTER(EventInfo)]),
    "lcr_pmix_attach": (_INT, [_SESSION]),
    "lcr_kv_put": (_INT, [_SESSION, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]),
    "lcr_kv_get": (_INT, [_SESSION, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
                          ctypes.POINTER(ctypes.c_size_t), _INT]),
    "lcr_barrier": (_INT, [_SESSION, ctypes.c_char_p, ctypes.c_uint32, _INT]),
    "lcr_resume_step": (_INT, [_SESSION, ctypes.POINTER(ctypes.c_uint64)]),
    "lcr_checkpoint": (_INT, [_SESSION, ctypes.POINTER(ctypes.c_uint64)]),
    "lcr_checkpoint_on_signal": (_INT, [_SESSION, _INT]),
}
# Additions (LCR_API_REVISION): declared when the library loaded has them, so that an older
# liblcr.so.1 still loads; HAS_JOB_STORE says whether it has the job-wide store (revision 1).
_SIZE_P = ctypes.POINTER(ctypes.c_size_t)
_ADDED_PROTOTYPES = {
    "lcr_store_set": (_INT, [_SESSION, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]),
    "lcr_store_get": (_INT, [_SESSION, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, _SIZE_P,
                             _INT]),
    "lcr_store_add": (_INT, [_SESSION, ctypes.c_char_p, ctypes.c_int64,
                             ctypes.POINTER(ctypes.c_int64)]),
    "lcr_store_compare_set": (_INT, [_SESSION, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                     ctypes.c_size_t, _SIZE_P]),
    "lcr_store_delete": (_INT, [_SESSION, ctypes.c_char_p]),
    "lcr_update_abandon": (_INT, [_SESSION, ctypes.c_uint64]),  # revision 6
}


def _candidates():
    """The places to load liblcr from, in the order of the module docstring."""
    if os.environ.get("LCR_LIBRARY"):
        return [os.environ["LCR_LIBRARY"]]
    found = []
    builddir = os.environ.get("LCR_BUILDDIR")
    if builddir:
        path = os.path.join(builddir, "lib", ".libs", SONAME)
        if os.path.exists(path):
            found.append(path)
    found.append(SONAME)
    return found


def _load():
    errors = []
    for name in _candidates():
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            errors.append(str(e))
            continue
        for function, (restype, argtypes) in _PROTOTYPES.items():
            getattr(lib, function).restype = restype
            getattr(lib, function).argtypes = argtypes
        for function, (restype, argtypes) in _ADDED_PROTOTYPES.items():
            if hasattr(lib, function):
                getattr(lib, function).restype = restype
                getattr(lib, function).argtypes = argtypes
        return lib
    raise ImportError("lcr: cannot load liblcr (set LCR_LIBRARY to its path): " + "; ".join(errors))


LIB = _load()
HAS_JOB_STORE = all(hasattr(LIB, function) for function in _ADDED_PROTOTYPES if function.startswith("lcr_store_"))
HAS_UPDATE_ABANDON = hasattr(LIB, "lcr_update_abandon")


def strerror(rc):
    """lcr_strerror(rc) as a str."""
    return LIB.lcr_strerror(rc).decode(errors="replace")


def check(rc, call, session=None):
    """Returns rc when it is not negative; else raises Error with the helper's message."""
    if rc >= 0:
        return rc
    detail = LIB.lcr_last_error(session).decode(errors="replace") if session else ""
    raise Error(-rc, strerror(rc), call, detail)


def encode_name(name, what="a name"):
    """A region name, key or barrier name as the bytes C wants, checked for length."""
    data = name.encode() if isinstance(name, str) else bytes(name)
    if not 1 <= len(data) <= LCR_NAME_MAX:
        raise Error.invalid(f"{what} must be 1 to {LCR_NAME_MAX} bytes: {name!r}")
    return data
