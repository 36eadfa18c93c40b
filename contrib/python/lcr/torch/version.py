"""Version checks: a feature that needs a newer PyTorch raises lcr.VersionError, naming the
feature, the version it needs and the version found, instead of failing deep inside."""

import re

import torch

from ..errors import VersionError


def torch_version():
    """(major, minor) of the PyTorch in use: '1.13.0a0+git' is (1, 13)."""
    match = re.match(r"(\d+)\.(\d+)", torch.__version__)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def require_torch(feature, minimum):
    """Raises VersionError when PyTorch is older than `minimum`, a (major, minor) tuple."""
    if torch_version() < minimum:
        raise VersionError(feature, "PyTorch >= " + ".".join(map(str, minimum)), f"PyTorch {torch.__version__}")
