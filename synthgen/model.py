"""The model artifact: where shipped models live, their mel statistics, and loading one for inference."""

__all__ = ["CHECKPOINT_FORMAT", "DEFAULT_MODEL", "MODELS_DIR", "LoadedModel", "MelStats", "load_checkpoint", "load_model"]

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthgen.config import SynthConfig, parse_config
from synthgen.errors import SynthgenError

if TYPE_CHECKING:
    import torch

    from synthgen.nn import SynthModel

_PACKAGE = Path(__file__).resolve().parent
# The repository's models/ folder; a built wheel carries it inside the package.
MODELS_DIR = next((d for d in (_PACKAGE / "models", _PACKAGE.parent / "models") if d.is_dir()), _PACKAGE.parent / "models")
DEFAULT_MODEL = MODELS_DIR / "builtin_vae_flow_post" / "model.pt"
CHECKPOINT_FORMAT = "synthgen-checkpoint-1"


@dataclass(frozen=True)
class MelStats:
    """One global mean and std of the training log-mels (scalars, as in the paper)."""

    mean: float
    std: float

    def standardize(self, mel: Any) -> Any:
        """``(mel - mean) / std`` on arrays or tensors."""
        return (mel - self.mean) / self.std

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}


@dataclass
class LoadedModel:
    """A model ready for inference, with the synth config and feature settings it was trained on.

    All methods take and return numpy arrays; log-mels are raw (the model's standardization is
    applied here).
    """

    name: str
    model: "SynthModel"
    stats: MelStats
    config: SynthConfig
    path: Path
    summary: dict

    @property
    def has_latent(self) -> bool:
        return self.model.has_latent

    @property
    def is_invertible(self) -> bool:
        return self.model.is_invertible

    def _run(self, fn: Callable[["torch.Tensor"], "torch.Tensor"], x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return fn(torch.as_tensor(np.asarray(x, dtype=np.float32))).numpy()

    def encode(self, mel: np.ndarray) -> np.ndarray:
        """Log-mels ``(B, n_mels, n_frames)`` -> latents ``(B, D)``."""
        return self._run(lambda m: self.model.encode(self.stats.standardize(m)), mel)

    def infer(self, mel: np.ndarray) -> np.ndarray:
        """Log-mels ``(B, n_mels, n_frames)`` -> unit parameters ``(B, P)``."""
        return self._run(lambda m: self.model.infer(self.stats.standardize(m)), mel)

    def params_from_latent(self, z: np.ndarray) -> np.ndarray:
        """Latents ``(B, D)`` -> unit parameters ``(B, P)``."""
        return self._run(self.model.params_from_latent, z)

    def latent_from_params(self, params_unit: np.ndarray) -> np.ndarray:
        """Unit parameters ``(B, P)`` -> latents ``(B, D)`` (invertible models only)."""
        return self._run(self.model.latent_from_params, params_unit)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents ``(B, D)`` -> raw log-mels ``(B, n_mels, n_frames)`` (autoencoders only)."""
        return self._run(lambda v: self.model.decode(v) * self.stats.std + self.stats.mean, z)


def load_model(path: str | Path) -> LoadedModel:
    """Load ``model.pt`` (or a run folder holding one) safely and put the model in eval mode."""
    from synthgen.nn import build_model

    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    payload = load_checkpoint(path)
    model = build_model(payload["model"], **payload["config"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    stats = MelStats(**payload["mel_stats"])
    config = parse_config(payload["synth_config"], source=f"model {path}")
    return LoadedModel(payload["model"], model, stats, config, path, payload.get("summary", {}))


def load_checkpoint(path: str | Path, device: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint without running any code it might contain (``weights_only=True``)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise SynthgenError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises many types for foreign or damaged files
        raise SynthgenError(f"{path} is not a synthgen model checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise SynthgenError(f"{path} is not a synthgen model checkpoint")
    return payload
