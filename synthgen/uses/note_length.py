"""How long to hold a synth's key so that its note lasts as long as a recorded sound."""

__all__ = ["HeldTime", "held_time"]

from dataclasses import dataclass

import numpy as np

from synthgen.audio_io import LEVEL_BLOCK, block_levels_db

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
