"""lcr: the Python binding of liblcr, LCR's client library (include/lcr.h).

A training rank keeps its model and optimizer state in regions that the node's helper, lcrd,
holds; the state outlives a crashed rank, and the helper knows from the update marks which
step it holds. From Python::

    import lcr
    with lcr.Session() as session:             # $LCR_SOCKET
        session.register(rank)
        region = session.region_alloc("weights", 4096)
        with session.update(step):
            ...write region.buffer...

PyTorch integration (tensors in regions, marked optimizer steps, a torch.distributed store on
the helper's key-value store, recovery of the process group) is in :mod:`lcr.torch`.
"""

from ._library import LCR_NAME_MAX, LCR_VALUE_MAX, LIB, strerror
from .errors import Error, RankFailure, VersionError
from .session import Event, EventSource, EventType, Phase, Region, RegionDescription, RegionKind, Session


def api_version():
    """LCR_API_VERSION of the liblcr that was loaded."""
    return LIB.lcr_api_version()


__all__ = [
    "LCR_NAME_MAX", "LCR_VALUE_MAX", "Error", "Event", "EventSource", "EventType", "Phase",
    "RankFailure", "Region", "RegionDescription", "RegionKind", "Session", "VersionError",
    "api_version", "strerror",
]
