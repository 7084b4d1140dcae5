"""Batched log-mel equals librosa's reference, per sound."""

import librosa
import numpy as np

from synthgen.config import FeatureSettings
from synthgen.features import hz_to_mel, log_mel, magnitude_spectrogram, mel_filterbank, mel_to_hz, mfcc


def test_matches_librosa() -> None:
    settings = FeatureSettings()
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((3, 88200)) * np.array([[0.01], [0.1], [0.5]])).astype(np.float32)
    ours = log_mel(audio, 22050, settings)
    assert ours.shape == (3, 64, 80) and ours.dtype == np.float32
    for i in range(3):
        ref = librosa.feature.melspectrogram(y=audio[i], sr=22050, n_fft=2048, hop_length=1024, n_mels=64, fmin=30, fmax=11000)[:, :80]
        np.testing.assert_allclose(ours[i], np.log(ref + 1e-3), atol=1e-4)


def test_filterbank_and_mel_scale_match_librosa_on_other_settings() -> None:
    settings = FeatureSettings(n_fft=1024, n_mels=40, fmin=0.0, fmax=30000.0)
    ours = mel_filterbank(44100, settings)
    ref = librosa.filters.mel(sr=44100, n_fft=1024, n_mels=40, fmin=0.0, fmax=22050.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-8)
    hz = np.array([0.0, 440.0, 999.0, 1000.0, 4321.0, 20000.0])
    np.testing.assert_allclose(hz_to_mel(hz), librosa.hz_to_mel(hz), rtol=1e-12)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12)


def test_short_audio_is_padded_and_a_tone_lands_in_its_band() -> None:
    settings = FeatureSettings()
    t = np.arange(22050) / 22050
    mel = log_mel(np.sin(2 * np.pi * 440 * t)[None], 22050, settings)[0]
    assert mel.shape == (64, 80)
    band = mel[:, 5].argmax()
    centers = librosa.mel_frequencies(n_mels=66, fmin=30, fmax=11000)[1:-1]
    assert abs(centers[band] - 440) < 60
    assert mel[:, 40].max() < mel[:, 5].max() - 5  # silence after the sound


def test_one_front_end_serves_metrics_and_descriptors() -> None:
    audio = np.random.default_rng(0).standard_normal((2, 22050)).astype(np.float32)
    ours = magnitude_spectrogram(audio, 1024, 256)
    theirs = np.abs(librosa.stft(audio, n_fft=1024, hop_length=256))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * theirs.max())
    log_mels = np.log(np.random.default_rng(1).random((2, 64, 10)) + 1e-3)
    np.testing.assert_allclose(mfcc(log_mels, 13), librosa.feature.mfcc(S=log_mels, n_mfcc=13, dct_type=2, norm="ortho"), atol=1e-6)
