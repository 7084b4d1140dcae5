"""The pitch of a recorded sound, and the note a preset is played at to imitate it."""

__all__ = ["NoteChoice", "PitchEstimate", "choose_note", "detect_pitch", "note_name"]

from dataclasses import dataclass

import numpy as np

#: pitch search range of the tracker (C2 to C7)
PITCH_LOW_HZ = 65.4
PITCH_HIGH_HZ = 2093.0
#: pYIN's pitch grid (semitones): fine enough to round to the nearest note, three times faster than 0.1
PITCH_RESOLUTION = 0.2
#: less voiced time than this is no pitch: the model's own note is played instead
MIN_VOICED_S = 0.2
#: frames count as voiced above this pYIN probability (it marks noise voiced at its floor of 0.01)
MIN_VOICED_PROBABILITY = 0.05
#: frames this far below the loudest one are silence (a reverb tail keeps a faint pitch)
SILENCE_BELOW_PEAK_DB = 40.0


@dataclass
class PitchEstimate:
    """The pitch of a sound.

    Arguments:
        f0_hz: tracked fundamental per frame ``(T,)``, NaN where unvoiced.
        voiced_s: seconds of voiced frames.
        median_hz: median f0 over voiced frames; None with less than :data:`MIN_VOICED_S` voiced.
        midi_pitch: the nearest MIDI note to ``median_hz``; None when there is no pitch.
    """

    f0_hz: np.ndarray
    voiced_s: float
    median_hz: float | None
    midi_pitch: int | None


@dataclass(frozen=True)
class NoteChoice:
    """The note a preset is played at, and why, in one line."""

    midi_pitch: int
    message: str
    pitch: PitchEstimate | None = None


def detect_pitch(audio: np.ndarray, sample_rate: int, hop_length: int) -> PitchEstimate:
    """Track the pitch of mono ``audio`` ``(n_samples,)`` with pYIN, one frame every ``hop_length`` samples."""
    import librosa  # only when tracking: it takes a second to import

    f0_hz, voiced, probability = librosa.pyin(
        audio,
        fmin=PITCH_LOW_HZ,
        fmax=PITCH_HIGH_HZ,
        sr=sample_rate,
        frame_length=2048,
        hop_length=hop_length,
        resolution=PITCH_RESOLUTION,
    )
    level = librosa.feature.rms(y=audio, frame_length=2048, hop_length=hop_length)[0, : len(voiced)]
    voiced &= (probability > MIN_VOICED_PROBABILITY) & (level > level.max() * 10 ** (-SILENCE_BELOW_PEAK_DB / 20))
    f0_hz = np.where(voiced, f0_hz, np.nan)
    voiced_s = float(voiced.sum()) * hop_length / sample_rate
    if voiced_s < MIN_VOICED_S:
        return PitchEstimate(f0_hz, voiced_s, None, None)
    median_hz = float(np.median(f0_hz[voiced]))
    return PitchEstimate(f0_hz, voiced_s, median_hz, int(np.clip(round(_hz_to_midi(median_hz)), 0, 127)))


def _hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * float(np.log2(hz / 440.0))


_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi_pitch: int) -> str:
    """``60`` -> ``C4``, ``61`` -> ``C#4`` (as ``librosa.midi_to_note``)."""
    return f"{_NAMES[midi_pitch % 12]}{midi_pitch // 12 - 1}"


def choose_note(audio: np.ndarray, sample_rate: int, hop_length: int, default_midi_pitch: int, midi_pitch: int | None = None) -> NoteChoice:
    """The note to play a preset at so that it imitates ``audio`` ``(n_samples,)``.

    Arguments:
        audio: the sound to imitate.
        sample_rate: Hz.
        hop_length: the pitch tracker's frame step in samples.
        default_midi_pitch: played when the sound has no clear pitch (the model's note).
        midi_pitch: the user's choice; wins over tracking (nothing is tracked).
    """
    if midi_pitch is not None:
        return NoteChoice(int(midi_pitch), f"note {midi_pitch} ({note_name(midi_pitch)}) as asked")
    pitch = detect_pitch(audio, sample_rate, hop_length)
    if pitch.midi_pitch is None:
        message = (
            f"no clear pitch ({pitch.voiced_s:.2f} s voiced, {MIN_VOICED_S:g} s needed): "
            f"playing the model's note {default_midi_pitch} ({note_name(default_midi_pitch)})"
        )
        return NoteChoice(default_midi_pitch, message, pitch)
    where = f"{pitch.median_hz:.1f} Hz (median over {pitch.voiced_s:.2f} s voiced)"
    message = f"pitch {where} -> MIDI {pitch.midi_pitch} ({note_name(pitch.midi_pitch)})"
    return NoteChoice(pitch.midi_pitch, message, pitch)
