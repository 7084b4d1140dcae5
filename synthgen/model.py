"""The model artifact: where shipped models live, their mel statistics, and loading one for inference."""

__all__ = ["DEFAULT_MODEL", "MODELS_DIR", "LoadedModel", "MelStats", "load_model"]

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthgen.config import SynthConfig, parse_config

if TYPE_CHECKING:
    import torch

    from synthgen.nn import SynthModel

_PACKAGE = Path(__file__).resolve().parent
# The repository's models/ folder; a built wheel carries it inside the package.
MODELS_DIR = next((d for d in (_PACKAGE / "models", _PACKAGE.parent / "models") if d.is_dir()), _PACKAGE.parent / "models")
DEFAULT_MODEL = MODELS_DIR / "builtin_vae_flow_post" / "model.pt"


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
    applied here). ``midi_pitch`` is the note each sound is played at (one number or ``(B,)``);
    None means the note of the model's config.
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

    def _pitch(self, midi_pitch: "int | np.ndarray | None") -> "torch.Tensor":
        import torch

        return torch.as_tensor(self.config.render.midi_pitch if midi_pitch is None else midi_pitch, dtype=torch.float32)

    def encode(self, mel: np.ndarray, midi_pitch: int | np.ndarray | None = None) -> np.ndarray:
        """Log-mels ``(B, n_mels, n_frames)`` -> latents ``(B, D)``."""
        return self._run(lambda m: self.model.encode(self.stats.standardize(m), self._pitch(midi_pitch)), mel)

    def infer(self, mel: np.ndarray, midi_pitch: int | np.ndarray | None = None) -> np.ndarray:
        """Log-mels ``(B, n_mels, n_frames)`` -> unit parameters ``(B, P)``."""
        return self._run(lambda m: self.model.infer(self.stats.standardize(m), self._pitch(midi_pitch)), mel)

    def params_from_latent(self, z: np.ndarray) -> np.ndarray:
        """Latents ``(B, D)`` -> unit parameters ``(B, P)``."""
        return self._run(self.model.params_from_latent, z)

    def latent_from_params(self, params_unit: np.ndarray) -> np.ndarray:
        """Unit parameters ``(B, P)`` -> latents ``(B, D)`` (invertible models only)."""
        return self._run(self.model.latent_from_params, params_unit)

    def decode(self, z: np.ndarray, midi_pitch: int | np.ndarray | None = None) -> np.ndarray:
        """Latents ``(B, D)`` -> raw log-mels ``(B, n_mels, n_frames)`` (autoencoders only)."""
        return self._run(lambda v: self.model.decode(v, self._pitch(midi_pitch)) * self.stats.std + self.stats.mean, z)


def load_model(path: str | Path) -> LoadedModel:
    """Load ``model.pt`` (or a run folder holding one) safely and put the model in eval mode."""
    from synthgen.nn import build_model
    from synthgen.train.checkpoint import load_checkpoint

    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    payload = load_checkpoint(path)
    # Checkpoints written before models took the note as an input have no pitch conditioning.
    model = build_model(payload["model"], **{"pitch_conditioning": 0, **payload["config"]})
    model.load_state_dict(payload["state_dict"])
    model.eval()
    stats = MelStats(**payload["mel_stats"])
    config = parse_config(payload["synth_config"], source=f"model {path}")
    return LoadedModel(payload["model"], model, stats, config, path, payload.get("summary", {}))
