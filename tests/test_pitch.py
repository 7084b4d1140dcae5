"""The pitch tracker finds the fundamental of tones (a weak one too) and none in noise or silence."""

import numpy as np
import pytest
from scipy.signal import lfilter

from synthgen.uses.pitch import PitchEstimate, choose_note, detect_pitch, pitch_range_semitones

SAMPLE_RATE = 22050


def _tone(frequency_hz: float, amplitudes: dict[int, float], seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = sum(a * np.sin(2 * np.pi * k * frequency_hz * t + k) for k, a in amplitudes.items())
    return 0.3 * tone / np.abs(tone).max()


@pytest.mark.parametrize(
    ("frequency_hz", "amplitudes", "midi_pitch"),
    [
        (27.5, {1: 1.0, 2: 0.5, 3: 0.3}, 21),  # A0, the bottom of the range
        (41.2, {1: 0.3, 2: 1.0, 3: 0.6, 4: 0.4}, 28),  # a bass's low E1, its fundamental weak
        (65.41, {1: 1.0, 2: 0.5}, 36),  # C2
        (261.63, {1: 1.0}, 60),  # a pure C4
        (1760.0, {1: 1.0, 2: 0.3}, 93),  # A6
        (3951.07, {1: 1.0, 2: 0.2}, 107),  # B7, near the top (not an octave or a twelfth below it)
        (110.0, {1: 0.05, 2: 1.0, 3: 0.9, 4: 0.8, 5: 0.7, 6: 0.6}, 45),  # A2 with a weak fundamental
        (329.63, {k: 1.0 / k for k in range(1, 12)}, 64),  # E4, sawtooth-like
    ],
)
def test_tones_give_their_pitch(frequency_hz: float, amplitudes: dict[int, float], midi_pitch: int) -> None:
    pitch = detect_pitch(_tone(frequency_hz, amplitudes), SAMPLE_RATE, 512)
    assert pitch.midi_pitch == midi_pitch
    assert pitch.median_hz == pytest.approx(frequency_hz, rel=0.01)
    assert pitch.voiced_s > 0.8
    assert pitch.f0_hz.shape == (1 + SAMPLE_RATE // 512,)


def test_noise_and_silence_have_no_pitch() -> None:
    noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE) * 0.1
    for audio in (noise, np.zeros(SAMPLE_RATE)):
        pitch = detect_pitch(audio, SAMPLE_RATE, 512)
        assert pitch.midi_pitch is None and pitch.voiced_s < 0.2
    assert choose_note(noise, SAMPLE_RATE, 512, 60).message.startswith("no clear pitch")


def test_a_quiet_tail_is_not_voiced() -> None:
    loud, faint = _tone(440.0, {1: 1.0}, 0.5), 1e-3 * _tone(440.0, {1: 1.0}, 0.5)
    pitch = detect_pitch(np.concatenate([loud, faint]), SAMPLE_RATE, 512)
    assert pitch.midi_pitch == 69 and 0.4 < pitch.voiced_s < 0.6


def test_a_glide_moves_over_its_range_and_a_held_note_does_not() -> None:
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    glide = 0.3 * np.sin(2 * np.pi * 220.0 * (2 ** (t / 2) - 1) * 2 / np.log(2))  # 220 -> 440 Hz over 2 s
    assert pitch_range_semitones(detect_pitch(glide, SAMPLE_RATE, 512)) == pytest.approx(0.8 * 12, abs=1.0)
    assert pitch_range_semitones(detect_pitch(_tone(220.0, {1: 1.0, 2: 0.5}), SAMPLE_RATE, 512)) < 0.2
    assert pitch_range_semitones(detect_pitch(np.zeros(SAMPLE_RATE), SAMPLE_RATE, 512)) == 0.0


def test_octave_errors_of_the_tracker_do_not_read_as_movement() -> None:
    f0 = np.full(100, 130.8)
    f0[::4] = 261.6  # a quarter of the frames an octave up, as the tracker does in a piano's decay
    f0[1::10] = np.nan
    assert pitch_range_semitones(PitchEstimate(f0, 1.0, 130.8, 48)) < 0.1


def test_a_breathy_jittery_voice_has_its_pitch() -> None:
    # glottal pulses at 110 Hz (A2), each period 2 % off at random, through two formants, with breath noise
    rng = np.random.default_rng(0)
    pulses, t = np.zeros(2 * SAMPLE_RATE), 0.0
    while t < 2.0:
        pulses[int(t * SAMPLE_RATE)] = 1.0
        t += (1 + 0.02 * rng.standard_normal()) / 110.0
    voice = pulses
    for formant_hz in (700.0, 1200.0):
        r = np.exp(-np.pi * 100 / SAMPLE_RATE)
        voice = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * formant_hz / SAMPLE_RATE), r * r], voice)
    voice = 0.5 * voice / np.abs(voice).max() + 0.05 * rng.standard_normal(len(voice))
    pitch = detect_pitch(voice, SAMPLE_RATE, 1024)
    assert pitch.midi_pitch == 45 and pitch.voiced_s > 0.5
