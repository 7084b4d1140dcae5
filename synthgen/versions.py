"""Versions of Python and of installed packages, recorded in every artifact."""

__all__ = ["package_versions", "provenance", "training_versions"]

import platform
from importlib import metadata
from typing import Any


def package_versions(*packages: str) -> dict[str, str]:
    """``{"python": ..., package: version or "unknown"}`` for the named distributions."""
    out = {"python": platform.python_version()}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "unknown"
    return out


def provenance(format: str, synth: str, seed: int | None, *packages: str) -> dict[str, Any]:
    """The fields an artifact opens with: its format, its synth, the seed of its random choices (``None``: it
    made none) and the versions that wrote it (Python, synthgen, numpy and ``packages``)."""
    return {"format": format, "synth": synth, "seed": seed, "versions": package_versions("synthgen", "numpy", *packages)}


def training_versions() -> dict[str, str]:
    """The versions a training artifact records: Python, synthgen, torch and numpy."""
    return package_versions("synthgen", "torch", "numpy")
