"""The interface every synthgen model shares: settings, input checks, inference and latent maps."""

__all__ = ["CONV_DEFAULTS", "PITCH_CENTER", "SynthModel", "pitch_feature"]

import reprlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from synthgen.errors import SynthgenError
from synthgen.nn.encoders import ConvDecoder, ConvEncoder
from synthgen.nn.heads import ParamLayout

CONV_DEFAULTS: dict[str, int | float] = {
    "channels": 32,
    "conv_layers": 4,
    "kernel_size": 5,
    "dilation_growth": 1,
    "hidden": 256,
}

# Settings that may be 0; every other setting must be positive.
_ZERO_ALLOWED = frozenset({"dropout", "latent_dim", "iaf_steps", "mmd_weight", "param_margin", "pitch_conditioning", "consistency_weight"})
# The largest value a setting takes: a larger one is a typo (and NaN and infinities are no value).
_LARGEST_SETTING = 1e12

#: the MIDI pitch a model assumes when none is given, and the pitch feature's zero
PITCH_CENTER = 60
# The pitch feature moves by 1 per two octaves.
_PITCH_SPAN = 24.0


def pitch_feature(midi_pitch: Tensor | None, like: Tensor) -> Tensor:
    """The note a sound is played at, as a model input ``(B, 1)``: ``(midi_pitch - 60) / 24``.

    Arguments:
        midi_pitch: MIDI pitches ``(B,)`` (or one number); None means :data:`PITCH_CENTER`.
        like: a ``(B, F)`` tensor whose batch size, dtype and device the feature takes.
    """
    zeros = torch.zeros_like(like[:, :1])  # (B, 1), batch size kept free in exported graphs
    if midi_pitch is None:
        return zeros
    pitch = torch.as_tensor(midi_pitch, dtype=like.dtype, device=like.device).reshape(-1, 1)
    return zeros + (pitch - PITCH_CENTER) / _PITCH_SPAN


class SynthModel(nn.Module, ABC):
    """A model from standardized log-mels ``(B, n_mels, n_frames)`` to unit parameters ``(B, P)``.

    Subclasses set ``NAME`` and ``DEFAULTS`` (every setting with its default; a value is cast to
    the default's type). ``config`` (JSON-ready) rebuilds the model:
    ``build_model(model.NAME, **model.config)``, then ``load_state_dict``.

    With ``pitch_conditioning`` 1 (the default) every model also takes the MIDI pitch the sound
    was played at (``midi_pitch``, ``(B,)``; None: note 60), so that what it learns is the
    timbre, not the note; 0 builds a model that ignores it.

    Arguments:
        n_classes: per learned parameter, 0 for continuous or ``K`` classes.
        n_mels, n_frames: spectrogram size.
        settings: overrides of ``DEFAULTS``.
    """

    NAME: ClassVar[str]
    DEFAULTS: ClassVar[dict[str, int | float]]
    has_latent: ClassVar[bool] = False
    is_invertible: ClassVar[bool] = False

    def __init__(self, n_classes: Sequence[int], n_mels: int, n_frames: int, **settings: int | float) -> None:
        super().__init__()
        self.layout = ParamLayout(n_classes)
        self.n_params = self.layout.size
        self.n_mels, self.n_frames = int(n_mels), int(n_frames)
        self.config: dict = {
            "n_classes": list(self.layout.n_classes),
            "n_mels": self.n_mels,
            "n_frames": self.n_frames,
        }
        self.config.update(self.checked_settings({**self.setting_defaults(), **settings}))

    @classmethod
    def setting_defaults(cls) -> dict[str, int | float]:
        """Every setting the model takes, with its default (``DEFAULTS`` and pitch conditioning, on by default)."""
        return {"pitch_conditioning": 1, **cls.DEFAULTS}

    @classmethod
    def checked_settings(cls, settings: dict[str, object]) -> dict[str, int | float]:
        """``settings`` cast to their defaults' types, each checked to be a number of that type up to
        :data:`_LARGEST_SETTING` (0 only where :data:`_ZERO_ALLOWED`; no booleans; an int setting takes
        whole numbers only).

        Raises:
            SynthgenError: one line naming the first unknown setting, or the first given a value of the wrong kind.
        """
        defaults = cls.setting_defaults()
        unknown = sorted(set(settings) - set(defaults))
        if unknown:
            raise SynthgenError(f"model {cls.NAME!r} has no setting {unknown[0]!r}; its settings are {', '.join(sorted(cls.DEFAULTS))}")
        checked = {}
        for key, value in settings.items():
            kind = type(defaults[key])
            number = isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= _LARGEST_SETTING
            if not number or (kind is int and not float(value).is_integer()) or value < 0 or (value == 0 and key not in _ZERO_ALLOWED):
                what = "a whole number (int)" if kind is int else "a number (float)"
                span = f"from 0 to {_LARGEST_SETTING:g}" if key in _ZERO_ALLOWED else f"above 0 and at most {_LARGEST_SETTING:g}"
                raise SynthgenError(f"setting {key!r} of model {cls.NAME!r} must be {what} {span}, got {reprlib.repr(value)}")
            checked[key] = kind(value)
        return checked

    @property
    def n_conditions(self) -> int:
        """Width of the conditioning input (1 with pitch conditioning, else 0)."""
        return int(self.config["pitch_conditioning"] > 0)

    def condition(self, features: Tensor, midi_pitch: Tensor | None) -> Tensor:
        """``features`` ``(B, F)`` with the pitch feature appended when the model is conditioned."""
        return torch.cat([features, pitch_feature(midi_pitch, features)], -1) if self.n_conditions else features

    def _conv_settings(self) -> dict[str, int]:
        c = self.config
        return {
            "channels": c["channels"],
            "n_layers": c["conv_layers"],
            "kernel_size": c["kernel_size"],
            "dilation_growth": c["dilation_growth"],
        }

    def _conv_encoder(self) -> ConvEncoder:
        return ConvEncoder(self.n_mels, self.n_frames, self.config["hidden"], **self._conv_settings())

    def _conv_decoder(self, in_features: int) -> ConvDecoder:
        return ConvDecoder(self.n_mels, self.n_frames, in_features, **self._conv_settings())

    def check_mel(self, mel: Tensor) -> None:
        """Raises unless ``mel`` is ``(B, n_mels, n_frames)``."""
        if mel.ndim != 3 or tuple(mel.shape[1:]) != (self.n_mels, self.n_frames):
            raise SynthgenError(f"model expects log-mels of shape (batch, {self.n_mels}, {self.n_frames}), got {tuple(mel.shape)}")

    @abstractmethod
    def forward(self, mel: Tensor, midi_pitch: Tensor | None = None) -> dict[str, Tensor]:
        """All outputs for a batch; always ``param_values`` (B, P) and ``param_logits``."""

    @abstractmethod
    def loss(
        self,
        mel: Tensor,
        params_unit: Tensor,
        outputs: dict[str, Tensor],
        beta: float = 1.0,
        gamma: float = 1.0,
    ) -> dict[str, Tensor]:
        """Scalar losses: ``total`` to minimize, plus its parts (keys: see :func:`synthgen.nn.build_model`)."""

    def unit_params(self, outputs: dict[str, Tensor]) -> Tensor:
        """Outputs of :meth:`forward` -> unit parameters ``(B, P)`` with valid class values."""
        return self.layout.unit(outputs["param_values"], outputs["param_logits"])

    def infer(self, mel: Tensor, midi_pitch: Tensor | None = None) -> Tensor:
        """Log-mels ``(B, n_mels, n_frames)`` played at ``midi_pitch`` ``(B,)`` -> unit parameters ``(B, P)``; call ``eval()`` first."""
        return self.unit_params(self(mel, midi_pitch))

    def _unsupported(self, what: str, models: str) -> SynthgenError:
        return SynthgenError(f"model {self.NAME!r} has no {what}; use {models}")

    def encode(self, mel: Tensor, midi_pitch: Tensor | None = None) -> Tensor:
        """Log-mels ``(B, n_mels, n_frames)`` played at ``midi_pitch`` ``(B,)`` -> mean latent ``(B, latent_dim)``."""
        raise self._unsupported("latent space", "vae, wae, vae_flow or vae_flow_post")

    def decode(self, z: Tensor, midi_pitch: Tensor | None = None) -> Tensor:
        """Latents ``(B, latent_dim)`` at ``midi_pitch`` ``(B,)`` -> log-mels ``(B, n_mels, n_frames)``."""
        raise self._unsupported("decoder", "vae, wae, vae_flow or vae_flow_post")

    def params_from_latent(self, z: Tensor, snap: bool = True) -> Tensor:
        """Latents ``(B, latent_dim)`` -> unit parameters ``(B, P)``."""
        raise self._unsupported("latent space", "vae, wae, vae_flow or vae_flow_post")

    def latent_from_params(self, params_unit: Tensor) -> Tensor:
        """Unit parameters ``(B, P)`` -> latents ``(B, P)`` through an invertible map."""
        raise self._unsupported("invertible parameter map", "vae_flow_post")
