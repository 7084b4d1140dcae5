"""Synths for tests that wrap a real one."""

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from synthgen.config import Note
from synthgen.synths.base import Synth


class BrokenSounds(Synth):
    """``synth``, but NaN for the sounds of each batch that ``broken`` marks (a mask, or indices), as a
    plugin renders a few presets (or crashes on them, as a search sees it)."""

    def __init__(self, synth: Synth, broken: Callable[[Sequence[Mapping[str, float]]], Sequence]) -> None:
        self.synth, self.broken, self.sample_rate = synth, broken, synth.sample_rate

    def parameters(self):
        return self.synth.parameters()

    def render(self, batch: Sequence[Mapping[str, float]], note: Note) -> np.ndarray:
        audio = self.synth.render(batch, note)
        audio[self.broken(batch)] = np.nan
        return audio
