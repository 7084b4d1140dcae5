"""What the panel shows and sends of a preset: each parameter's value with its unit, and its host value."""

__all__ = ["ParameterReading", "host_ranges", "host_values", "read_parameters", "unit_of"]

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from synthgen.config import SynthConfig
from synthgen.synths.base import Synth

# Name endings of synthgen's Faust sliders and the units they carry (see vst_configs/builtin.yaml).
_SUFFIX_UNITS = {"_s": "s", "_hz": "Hz", "_semitones": "st", "_cents": "ct", "_db": "dB"}
# Faust sliders whose values are notes on the MIDI scale (69 = 440 Hz).
_NOTE_SCALE = ("cutoff", "highpass")


def unit_of(name: str, backend: str) -> str:
    """The unit a parameter's synth value is in, from the name conventions of Faust configs.

    Plugins give host values (0..1) and their own display text instead: no unit.
    """
    if backend != "faust":
        return ""
    if name in _NOTE_SCALE:
        return "note"
    return next((unit for suffix, unit in _SUFFIX_UNITS.items() if name.endswith(suffix)), "")


@dataclass(frozen=True)
class ParameterReading:
    """One parameter of the current preset.

    Arguments:
        name: the synth's parameter name.
        unit_value: its position in the config's range, 0..1.
        value: the synth value (plugins: host value 0..1; Faust: the slider's units).
        unit: the unit of ``value`` (empty when unitless; ``note``: the MIDI note scale, 69 = 440 Hz).
    """

    name: str
    unit_value: float
    value: float
    unit: str

    @property
    def text(self) -> str:
        """``value`` with its unit, e.g. ``0.35 s``; notes also in Hz (``note 69 (440 Hz)``)."""
        if self.unit == "note":
            return f"note {self.value:.3g} ({440.0 * 2.0 ** ((self.value - 69.0) / 12.0):.0f} Hz)"
        return f"{self.value:.3g} {self.unit}".rstrip()

    def to_dict(self) -> dict:
        return {"name": self.name, "unit_value": self.unit_value, "value": self.value, "unit": self.unit, "text": self.text}


def read_parameters(config: SynthConfig, unit_row: np.ndarray) -> list[ParameterReading]:
    """Every learned parameter of one preset ``(P,)`` in unit space, with synth values and units."""
    unit_row = config.space.snap_unit(np.asarray(unit_row, dtype=np.float64)[None])[0]
    raw = config.space.from_unit(unit_row[None])[0]
    return [
        ParameterReading(name, float(u), float(v), unit_of(name, config.backend))
        for name, u, v in zip(config.space.names, unit_row, raw, strict=True)
    ]


def host_ranges(synth: Synth) -> dict[str, tuple[float, float]]:
    """Each parameter's whole range as the synth reports it, ``name -> (low, high)`` in synth units."""
    return {p.name: (p.low, p.high) for p in synth.parameters()}


def host_values(ranges: Mapping[str, tuple[float, float]], config: SynthConfig, unit_row: np.ndarray) -> dict[str, float]:
    """Learned parameters of one preset ``(P,)`` as a host sees them: 0..1 over the synth's whole range.

    A plugin's synth values already are host values (its ranges are 0..1); a Faust slider's value is
    scaled by the slider's own range (as a plugin built from the same source would show it).

    Arguments:
        ranges: from :func:`host_ranges`.
        config: the config whose unit space ``unit_row`` is in.
        unit_row: one preset ``(P,)``.
    """
    raw = config.space.from_unit(np.asarray(unit_row, dtype=np.float64)[None])[0]
    out = {}
    for name, value in zip(config.space.names, raw, strict=True):
        low, high = ranges[name]
        out[name] = float(np.clip((value - low) / (high - low), 0.0, 1.0)) if high > low else 0.0
    return out
