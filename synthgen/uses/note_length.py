"""How long to hold a synth's key so that its note lasts as long as a recorded sound."""

__all__ = ["HeldTime", "held_time", "hold_for", "longer_note"]

import dataclasses
from dataclasses import dataclass

import numpy as np

from synthgen.audio_io import LEVEL_BLOCK, WHOLE_SOUND_S, LoadedAudio, block_levels_db
from synthgen.config import Note, RenderSettings
from synthgen.errors import SynthgenError

#: the sound has ended where it stays this far below its loudest block
ENDED_BELOW_PEAK_DB = 25.0
#: the shortest hold: a key tapped shorter than this is a click
MIN_HELD_S = 0.1


@dataclass(frozen=True)
class HeldTime:
    """How long the key is held, and why, in one line."""

    seconds: float
    message: str


def held_time(
    audio: np.ndarray, sample_rate: int, longest_s: float, held_s: float | None = None, longest: str = "the model's note length"
) -> HeldTime:
    """The time to hold a key so that the note imitates ``audio`` ``(n_samples,)``.

    It is where the sound's level falls for good more than :data:`ENDED_BELOW_PEAK_DB` below its
    loudest block of :data:`~synthgen.audio_io.LEVEL_BLOCK` samples (the synth's own release plays
    after it), at least :data:`MIN_HELD_S` and at most ``longest_s`` (e.g. the model's note: the
    sounds it knows).

    Arguments:
        audio: the sound to imitate.
        sample_rate: Hz.
        longest_s: the longest hold.
        held_s: the user's choice; wins over the measure (nothing is measured).
        longest: what ``longest_s`` is, in a few words for the message.
    """
    if held_s is not None:
        return HeldTime(float(held_s), f"key held {held_s:g} s as asked")
    levels = block_levels_db(audio)
    if not levels.size:
        return HeldTime(longest_s, f"key held {longest_s:g} s ({longest}): the input is silent")
    sounding = np.flatnonzero(levels > -ENDED_BELOW_PEAK_DB)
    ends_s = float(sounding[-1] + 1) * LEVEL_BLOCK / sample_rate
    if ends_s >= longest_s:
        return HeldTime(longest_s, f"key held {longest_s:g} s ({longest}): the input sounds {ends_s:.2f} s or longer")
    seconds = max(ends_s, MIN_HELD_S)
    return HeldTime(seconds, f"key held {seconds:.2f} s: the input falls {ENDED_BELOW_PEAK_DB:g} dB below its peak there")


def hold_for(loaded: LoadedAudio, render: RenderSettings, held_s: float | None = None) -> tuple[HeldTime, float]:
    """How long to hold the key for a whole sound, and how long within the model's render.

    A sound that ends within the model's render length is held as the model's own notes are (at
    most their note length, the release inside the render). One that outlasts it is held until it
    ends, up to :data:`~synthgen.audio_io.WHOLE_SOUND_S`, and the key stays down through the whole
    render (see :func:`longer_note`).

    Returns:
        The hold, and the hold within the render (seconds): shorter when the sound outlasts it.
    """
    if held_s is not None and not 0 < held_s <= WHOLE_SOUND_S:
        raise SynthgenError(f"the key cannot be held {held_s:g} s: a resynthesis lasts at most {WHOLE_SOUND_S:g} s")
    held = held_time(loaded.whole, loaded.sample_rate, WHOLE_SOUND_S, held_s, "the longest resynthesis")
    if held.seconds > render.render_duration_s:
        return held, render.render_duration_s
    held = held_time(loaded.audio, loaded.sample_rate, render.note_duration_s, held_s)
    return held, held.seconds


def longer_note(note: Note, render: RenderSettings, held_s: float) -> Note:
    """``note`` with its key held ``held_s``, followed by the model's release time (render length minus note length)."""
    return dataclasses.replace(note, note_duration_s=held_s, render_duration_s=held_s + render.render_duration_s - render.note_duration_s)
