"""Checkpoints written atomically, holding tensors and plain JSON-like data only (they load with ``weights_only=True``)."""

__all__ = ["save_checkpoint"]

import os
from pathlib import Path
from typing import Any

import torch

from synthgen.model import CHECKPOINT_FORMAT


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """Write atomically: an interrupted save never leaves a broken file behind."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)
    os.replace(tmp, path)
