"""Play a synthgen JSON preset: at its own note or at others, one after another or together, at its level."""

__all__ = ["MAX_PLAYED_S", "play_preset"]

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthgen.config import Note, SynthConfig
from synthgen.errors import SynthgenError
from synthgen.presets.json_preset import read_document, read_preset
from synthgen.synths.base import Synth
from synthgen.synths.rendering import render_note
from synthgen.uses.level import apply_gain_db
from synthgen.uses.note_length import longer_note

#: the longest sound ``play`` renders: longer is a typo rather than an audition
MAX_PLAYED_S = 120.0


def play_preset(
    path: str | Path,
    config: SynthConfig,
    synth: Synth,
    midi_pitches: Sequence[int] = (),
    held_s: float | None = None,
    chord: bool = False,
) -> tuple[np.ndarray, Note]:
    """Render the preset in ``path`` on ``config``'s synth at its output gain.

    Each note's key is held ``held_s`` (default: as long as the preset's own note), then the synth's
    release rings for the config's release time (render length minus note length). Notes play one
    after another, each starting where the key before is released (its release under the next), or
    with ``chord`` all at once.

    Arguments:
        path: a synthgen JSON preset (what ``resynth``, ``sketch`` and ``serve`` write).
        config: the config of the preset's synth.
        synth: that synth.
        midi_pitches: the notes to play (default: the preset's own).
        held_s: seconds each key is held.
        chord: play the notes together.

    Returns:
        Mono audio ``(n_samples,)`` at the config's rate, and the preset's own note.
    """
    preset = read_document(path)
    unit = read_preset(path, config)[None]
    own = preset.note_on(config.render)
    held = own.note_duration_s if held_s is None else float(held_s)
    pitches = list(midi_pitches) or [own.midi_pitch]
    note = longer_note(own, config.render, held)
    played_s = note.render_duration_s + (0 if chord else held * (len(pitches) - 1))
    if held <= 0 or played_s > MAX_PLAYED_S:
        raise SynthgenError(
            f"{len(pitches)} notes held {held:g} s each play for {played_s:.0f} s: give a hold over 0 and under {MAX_PLAYED_S:g} s in all"
        )
    rate = config.render.sample_rate
    if too_high := [p for p in pitches if not 0 <= p <= 127 or 440.0 * 2 ** ((p - 69) / 12) >= rate / 2]:
        raise SynthgenError(
            f"MIDI note {too_high[0]} is not one a {rate} Hz render can play: give notes from 0 up to where the pitch "
            f"stays under {rate / 2:.0f} Hz"
        )
    renders = [render_note(synth, config, unit, dataclasses.replace(note, midi_pitch=p))[0] for p in pitches]
    mix = np.zeros(round(played_s * rate) + 1, dtype=np.float32)
    for k, audio in enumerate(renders):
        start = 0 if chord else round(k * held * rate)
        mix[start : start + len(audio)] += audio[: len(mix) - start]
    return apply_gain_db(mix[None], preset.output_gain_db)[0], own
