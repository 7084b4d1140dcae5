"""The synth interface: named parameters in, mono audio out."""

__all__ = ["ParameterInfo", "Synth"]

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.config import Note


@dataclass(frozen=True)
class ParameterInfo:
    """A parameter as the synth reports it (synth units)."""

    name: str
    default: float
    low: float = 0.0
    high: float = 1.0
    text: str = ""


class Synth(ABC):
    """A synthesizer that renders notes from named parameter values."""

    sample_rate: int

    @abstractmethod
    def parameters(self) -> list[ParameterInfo]:
        """Every parameter the synth exposes, in its own order."""

    @abstractmethod
    def render(self, batch: Sequence[Mapping[str, float]], note: Note) -> np.ndarray:
        """Render one note per preset.

        Arguments:
            batch: one mapping per sound, parameter name -> synth value; unlisted parameters keep
                their defaults.
            note: pitch, velocity and durations.

        Returns:
            Mono audio ``(B, n_samples)`` float32 with ``n_samples = render_duration_s * sample_rate``.
        """

    def parameter_names(self) -> list[str]:
        """Names of every parameter, in the synth's order."""
        return [p.name for p in self.parameters()]

    def _twin(self, k: int) -> "Synth | None":
        """Independent instance number ``k`` (same parameters and state), or ``None`` where the synth has none."""
        return None

    def copies(self, n: int) -> list["Synth"]:
        """Up to ``n`` independent instances to render with, made once and kept: this synth and up to
        ``n - 1`` twins (a synth that cannot make them gives only itself; a plugin overrides this).

        Different instances may render at the same time in different threads (DawDreamer renders
        without holding Python's lock).
        """
        made: list[Synth] = self.__dict__.setdefault("_copies", [self])
        while len(made) < n and (twin := self._twin(len(made))) is not None:
            made.append(twin)
        return made[:n]

    @staticmethod
    def n_samples(note: Note, sample_rate: int) -> int:
        """Length of one render in samples."""
        return round(note.render_duration_s * sample_rate)
