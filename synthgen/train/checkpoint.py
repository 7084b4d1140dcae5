"""Checkpoints that load safely: tensors and plain JSON-like data only (``weights_only=True``)."""

__all__ = ["FORMAT", "load_checkpoint", "load_trained_module", "save_checkpoint"]

import os
from pathlib import Path
from typing import Any

import torch

from synthgen.errors import SynthgenError
from synthgen.nn import SynthModel, build_model

FORMAT = "synthgen-checkpoint-1"


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """Write atomically: an interrupted save never leaves a broken file behind."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint without running any code it might contain."""
    path = Path(path)
    if not path.is_file():
        raise SynthgenError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises many types for foreign or damaged files
        raise SynthgenError(f"{path} is not a synthgen model checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SynthgenError(f"{path} is not a synthgen model checkpoint")
    return payload


def load_trained_module(path: str | Path) -> tuple[dict[str, Any], SynthModel]:
    """The checkpoint's payload and its model, weights loaded, in eval mode."""
    payload = load_checkpoint(path)
    module = build_model(payload["model"], **payload["config"])
    module.load_state_dict(payload["state_dict"])
    module.eval()
    return payload, module
