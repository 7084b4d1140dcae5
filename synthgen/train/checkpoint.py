"""Checkpoints written atomically, holding tensors and plain JSON-like data only (they load with ``weights_only=True``)."""

__all__ = ["save_checkpoint"]

import os
from pathlib import Path
from typing import Any

import torch

from synthgen.errors import SynthgenError
from synthgen.model import CHECKPOINT_FORMAT


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """Write atomically: an interrupted or failed save (a full disk) never leaves a broken file behind.

    Raises:
        SynthgenError: the file cannot be written (the previous one, if any, is kept).
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        # through a Python file, so that a full disk raises OSError rather than torch's RuntimeError
        with open(tmp, "wb") as f:
            torch.save({"format": CHECKPOINT_FORMAT, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise SynthgenError(f"cannot write {path}: {e.strerror}; {path.name} keeps its last complete version") from None
    os.replace(tmp, path)
