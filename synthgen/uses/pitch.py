"""The pitch of a recorded sound, and the note a preset is played at to imitate it."""

__all__ = [
    "NoteChoice",
    "PitchEstimate",
    "choose_note",
    "choose_note_within",
    "detect_pitch",
    "note_name",
    "pitch_changes",
    "pitch_range_semitones",
]

from dataclasses import dataclass

import numpy as np

#: pitch search range of the tracker: a piano's, A0 to C8 (MIDI 21-108), so that a bass's low E (41 Hz) or a
#: piccolo's top notes are found rather than taken for a note an octave or more off
PITCH_LOW_HZ = 27.5
PITCH_HIGH_HZ = 4186.0
#: samples per analysis frame of the tracker (it must hold a period of PITCH_LOW_HZ and more)
FRAME_LENGTH = 2048
#: YIN's absolute threshold: the period is the first dip of the normalized difference below it
YIN_THRESHOLD = 0.15
#: a frame is voiced where the normalized difference at its period is below this (a voice's jitter
#: and breath keep its dips at 0.15-0.35, where noise stays above 0.5)
VOICED_THRESHOLD = 0.35
#: less voiced time than this is no pitch: the model's own note is played instead
MIN_VOICED_S = 0.2
#: less voiced time than this within one note of a phrase is no pitch: the phrase's note is played instead
MIN_NOTE_VOICED_S = 0.05
#: a pitch this far (semitones) from the note before, for this long (seconds), is a new note
NEW_NOTE_SEMITONES = 0.8
NEW_NOTE_S = 0.08
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


def detect_pitch(
    audio: np.ndarray, sample_rate: int, hop_length: int, low_hz: float = PITCH_LOW_HZ, high_hz: float = PITCH_HIGH_HZ
) -> PitchEstimate:
    """Track the pitch of mono ``audio`` ``(n_samples,)`` with YIN, one frame every ``hop_length`` samples.

    Frames of :data:`FRAME_LENGTH` samples (centred, zero-padded) get YIN's cumulative-mean-normalized
    difference over periods of ``high_hz`` down to ``low_hz`` (default: the piano's range); the period is the
    first local minimum below :data:`YIN_THRESHOLD` (else the lowest), refined by parabolic
    interpolation. A frame is voiced when the difference there is below :data:`VOICED_THRESHOLD` and
    its level is within :data:`SILENCE_BELOW_PEAK_DB` of the loudest frame.

    References:
        de Cheveigné and Kawahara, "YIN, a fundamental frequency estimator for speech and music",
        J. Acoust. Soc. Am. 111(4), 2002.
    """
    frames = _frames(np.asarray(audio, dtype=np.float64), hop_length)
    cmnd = _normalized_difference(frames, int(np.ceil(sample_rate / low_hz)) + 1)
    period, lowest = _first_dip(cmnd, int(np.floor(sample_rate / high_hz)))
    level = np.sqrt(np.mean(frames**2, axis=1))
    voiced = (lowest < VOICED_THRESHOLD) & (level > level.max() * 10 ** (-SILENCE_BELOW_PEAK_DB / 20))
    f0_hz = np.where(voiced, sample_rate / period, np.nan)
    return _estimate(f0_hz, hop_length / sample_rate, MIN_VOICED_S)


def _estimate(f0_hz: np.ndarray, frame_s: float, min_voiced_s: float) -> PitchEstimate:
    """The pitch of a track ``(T,)`` of frames ``frame_s`` apart (NaN where unvoiced): none with less than ``min_voiced_s`` voiced."""
    voiced = np.isfinite(f0_hz)
    voiced_s = float(voiced.sum()) * frame_s
    if voiced_s < min_voiced_s:
        return PitchEstimate(f0_hz, voiced_s, None, None)
    median_hz = float(np.median(f0_hz[voiced]))
    return PitchEstimate(f0_hz, voiced_s, median_hz, int(np.clip(round(_hz_to_midi(median_hz)), 0, 127)))


def pitch_range_semitones(pitch: PitchEstimate) -> float:
    """How far the voiced pitch moves: semitones from its 10th to its 90th percentile (0 without a pitch).

    Frames more than half an octave from the median are taken an octave nearer (the tracker's octave
    errors, as in a piano's decay), so a range reads at most 12.
    """
    if pitch.median_hz is None:
        return 0.0
    offset = _hz_to_midi(pitch.f0_hz[np.isfinite(pitch.f0_hz)]) - _hz_to_midi(pitch.median_hz)
    folded = (offset + 6.0) % 12.0 - 6.0
    return float(np.percentile(folded, 90) - np.percentile(folded, 10))


def pitch_changes(track: PitchEstimate, hop_length: int, sample_rate: int) -> np.ndarray:
    """Where a sound moves to a new note without a new attack (legato, a slur): samples ``(C,)``.

    A new note starts at the first of at least :data:`NEW_NOTE_S` of voiced frames in a row (unvoiced
    ones skipped) that all lie :data:`NEW_NOTE_SEMITONES` or more from the median pitch of the note
    before and less than that from the first of them: one new pitch. Distances are folded within
    half an octave, as the tracker's octave errors are. A vibrato or a voice's wobble stays nearer.
    """
    midi = _hz_to_midi(track.f0_hz)
    need = max(1, round(NEW_NOTE_S * sample_rate / hop_length))
    changes, note, run = [], [], []
    for frame, pitch in enumerate(midi):
        if not np.isfinite(pitch):
            continue
        if note and _semitones_apart(pitch, float(np.median(note))) >= NEW_NOTE_SEMITONES:
            if run and _semitones_apart(pitch, run[0][1]) >= NEW_NOTE_SEMITONES:  # not one new pitch: start again
                note += [p for _, p in run]
                run = []
            run.append((frame, pitch))
            if len(run) >= need:
                changes.append(run[0][0] * hop_length)
                note, run = [p for _, p in run], []
            continue
        note += [p for _, p in run] + [pitch]
        run = []
    return np.asarray(changes, dtype=np.int64)


def _semitones_apart(a: float, b: float) -> float:
    """Semitones between two MIDI pitches, folded within half an octave."""
    return abs((a - b + 6.0) % 12.0 - 6.0)


def _frames(audio: np.ndarray, hop_length: int) -> np.ndarray:
    """Centred frames ``(T, FRAME_LENGTH)`` of ``audio``, ``T = 1 + n_samples // hop_length`` (as librosa's)."""
    padded = np.pad(audio, FRAME_LENGTH // 2)
    return np.lib.stride_tricks.sliding_window_view(padded, FRAME_LENGTH)[::hop_length]


def _normalized_difference(frames: np.ndarray, max_period: int) -> np.ndarray:
    """YIN's cumulative-mean-normalized difference ``(T, max_period + 1)`` of frames ``(T, N)`` over lags ``0..max_period``.

    ``d(τ) = Σ_j (x_j - x_{j+τ})²`` over the first ``N - max_period`` samples, from an FFT
    autocorrelation and cumulative sums of ``x²``; then ``d'(τ) = d(τ) τ / Σ_{k≤τ} d(k)``, ``d'(0) = 1``.
    """
    n = frames.shape[1]
    window = n - max_period
    if window <= 0:
        raise ValueError(f"a frame of {n} samples cannot hold a period of {max_period} samples")
    # no wrap-around: the lags read (up to max_period) reach index window - 1 + max_period < n
    spectrum = np.fft.rfft(frames, n) * np.conj(np.fft.rfft(frames[:, :window], n))
    correlation = np.fft.irfft(spectrum, n)[:, : max_period + 1]
    energy = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(max_period + 1)
    shifted = energy[:, lags + window] - energy[:, lags]
    difference = np.maximum(energy[:, window : window + 1] + shifted - 2 * correlation, 0.0)
    total = np.cumsum(difference[:, 1:], axis=1)
    cmnd = np.ones_like(difference)
    np.divide(difference[:, 1:] * lags[1:], total, out=cmnd[:, 1:], where=total > 0)
    return cmnd


def _first_dip(cmnd: np.ndarray, min_period: int) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's period in samples (fractional) and its normalized difference ``(T,)``, from ``cmnd`` ``(T, L)``.

    The period is the first local minimum below :data:`YIN_THRESHOLD` at lags ``min_period..L - 2``,
    else the lowest value there; parabolic interpolation refines it between lags.
    """
    rows = np.arange(len(cmnd))
    inner = np.arange(max(min_period, 1), cmnd.shape[1] - 1)
    here = cmnd[:, inner]
    dips = (here < YIN_THRESHOLD) & (here <= cmnd[:, inner - 1]) & (here < cmnd[:, inner + 1])
    lag = inner[np.where(dips.any(axis=1), dips.argmax(axis=1), here.argmin(axis=1))]
    before, at, after = cmnd[rows, lag - 1], cmnd[rows, lag], cmnd[rows, lag + 1]
    curvature = before - 2 * at + after
    shift = np.divide(before - after, 2 * curvature, out=np.zeros_like(at), where=curvature > 0)
    return lag + np.clip(shift, -0.5, 0.5), at


def _hz_to_midi(hz: float | np.ndarray) -> float | np.ndarray:
    return 69.0 + 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0)


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
    return _choice(detect_pitch(audio, sample_rate, hop_length), MIN_VOICED_S, default_midi_pitch, "the model's note")


def choose_note_within(track: PitchEstimate, start: int, end: int, hop_length: int, sample_rate: int, phrase_midi_pitch: int) -> NoteChoice:
    """The note for samples ``start:end`` of a sound whose pitch ``track`` (a frame every ``hop_length``) is known.

    A note of a phrase is often too short for :func:`choose_note` on its own: this takes the median
    of the track's voiced frames within it (at least :data:`MIN_NOTE_VOICED_S` of them; each frame
    saw the phrase around it), else ``phrase_midi_pitch`` (the phrase's note).
    """
    window = _estimate(track.f0_hz[start // hop_length : -(-end // hop_length)], hop_length / sample_rate, MIN_NOTE_VOICED_S)
    return _choice(window, MIN_NOTE_VOICED_S, phrase_midi_pitch, "the phrase's note")


def _choice(pitch: PitchEstimate, min_voiced_s: float, default_midi_pitch: int, default: str) -> NoteChoice:
    """The note of a pitch estimate and its one-line message; ``default_midi_pitch`` (``default`` says what it is) without a pitch."""
    if pitch.midi_pitch is None:
        message = (
            f"no clear pitch ({pitch.voiced_s:.2f} s voiced, {min_voiced_s:g} s needed): "
            f"playing {default} {default_midi_pitch} ({note_name(default_midi_pitch)})"
        )
        return NoteChoice(default_midi_pitch, message, pitch)
    where = f"{pitch.median_hz:.1f} Hz (median over {pitch.voiced_s:.2f} s voiced)"
    return NoteChoice(pitch.midi_pitch, f"pitch {where} -> MIDI {pitch.midi_pitch} ({note_name(pitch.midi_pitch)})", pitch)
