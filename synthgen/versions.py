"""Versions of Python and of installed packages, recorded in every artifact."""

__all__ = ["package_versions"]

import platform
from importlib import metadata


def package_versions(*packages: str) -> dict[str, str]:
    """``{"python": ..., package: version or "unknown"}`` for the named distributions."""
    out = {"python": platform.python_version()}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "unknown"
    return out
