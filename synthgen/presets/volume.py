"""Put a preset's fitted output gain into the synth's own volume parameter, measured by rendering."""

__all__ = ["at_output_gain"]

import warnings
from collections.abc import Mapping

import numpy as np

from synthgen.config import Note, SynthConfig
from synthgen.errors import SynthgenWarning
from synthgen.synths.base import Synth

#: renders spent looking for the volume value
MAX_RENDERS = 10
#: the largest change of the volume (dB) from one try to the next, outside a bracket of the target
MAX_STEP_DB = 24.0
#: a level change (dB) below this between two tries says the level did not follow the volume
MIN_LEVEL_CHANGE_DB = 0.05
#: how near the target gain (dB) is near enough
TOLERANCE_DB = 0.25
#: a level this far (dB) from the target gain is told to the user
OFF_WARNING_DB = 1.0


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def _next_volume_db(points: list[tuple[float, float]], gain_db: float, exponent: float) -> float:
    """The next volume (dB) to try for ``gain_db``: between the nearest volumes whose levels lie either side of it
    (by their line, kept off both ends), or else a secant step from the last two (at most :data:`MAX_STEP_DB`; twice
    the last step, at least the volume law's, where the level barely moved, as it does while a limiter holds it)."""
    below, above = [p for p in points if p[1] < gain_db], [p for p in points if p[1] > gain_db]
    if below and above:
        (x0, f0), (x1, f1) = max(below), min(above)
        return x0 + float(np.clip((gain_db - f0) / (f1 - f0), 0.1, 0.9)) * (x1 - x0)
    (x0, f0), (x1, f1) = points[-2:]
    if abs(f1 - f0) > MIN_LEVEL_CHANGE_DB:
        step = (gain_db - f1) * (x1 - x0) / (f1 - f0)
    else:  # the level held still (a limiter): twice as far, towards the target
        step = max(2 * abs(x1 - x0), abs(gain_db - f1) / exponent) * np.sign(gain_db - f1)
    return x1 + float(np.clip(step, -MAX_STEP_DB, MAX_STEP_DB))


def at_output_gain(
    synth: Synth, config: SynthConfig, values: Mapping[str, float], gain_db: float, note: Note, preset: str = "the preset"
) -> dict[str, float]:
    """A preset's values with ``gain_db`` moved into the config's volume parameter, where it names one.

    The volume law (``value ** exponent``) gives the first guess; renders correct it (:func:`_next_volume_db`), since
    a synth may saturate or limit after its volume stage (amsynth's output limiter does). The level comes as
    near ``gain_db`` as the parameter's range (at most 1) allows; a level more than
    :data:`OFF_WARNING_DB` from it is told by a :class:`~synthgen.errors.SynthgenWarning` naming ``preset``.

    Arguments:
        synth: the config's synth.
        config: its config; without ``volume`` (or with no gain) the values come back unchanged.
        values: every parameter of the preset as the synth takes them (its volume at the config's value).
        gain_db: the output gain to move into the volume parameter.
        note: the note the preset is played at.
    """
    values = dict(values)
    if config.volume is None or gain_db == 0.0:
        return values
    control, parameter = config.volume, config.volume.parameter
    reference = _rms(synth.render([values], note))
    if reference == 0.0 or values[parameter] <= 0.0:
        return values
    points = [(20 * np.log10(values[parameter]), 0.0)]  # (volume in dB, level reached in dB)
    volume_db = points[0][0] + gain_db / control.exponent  # the volume law's guess
    for _ in range(MAX_RENDERS):
        volume_db = min(volume_db, 0.0)  # the value stays at most 1
        if any(abs(volume_db - tried) < 1e-3 for tried, _ in points):
            break  # nowhere new to go: the end of the range
        reached = 20 * np.log10(max(_rms(synth.render([{**values, parameter: 10 ** (volume_db / 20)}], note)), 1e-12) / reference)
        points.append((volume_db, reached))
        if abs(reached - gain_db) <= TOLERANCE_DB:
            break
        volume_db = _next_volume_db(points, gain_db, control.exponent)
    volume_db, reached_db = min(points[1:] or points, key=lambda p: abs(p[1] - gain_db))
    if abs(gain_db - reached_db) > OFF_WARNING_DB:
        warnings.warn(
            f"{preset}: the synth's {parameter!r} changes its level by {reached_db:+.1f} dB, not by the fitted output gain's "
            f"{gain_db:+.1f} dB (its range or the synth's limiter allows no closer); the JSON preset's output_gain_db plays it "
            "at that level",
            SynthgenWarning,
            stacklevel=2,
        )
    return {**values, parameter: float(10 ** (volume_db / 20))}
