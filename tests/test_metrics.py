"""Metrics on hand-made cases: identical sounds score 0; known changes give known values."""

import numpy as np

from synthgen.config import FeatureSettings
from synthgen.features import log_mel
from synthgen.uses.metrics import audio_metrics, param_mse

SETTINGS = FeatureSettings()


def metrics(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    return audio_metrics(a, b, log_mel(a, 22050, SETTINGS), log_mel(b, 22050, SETTINGS), SETTINGS)


def test_identical_sounds_score_zero() -> None:
    audio = np.random.default_rng(0).standard_normal((3, 22050)).astype(np.float32) * 0.1
    for name, values in metrics(audio, audio.copy()).items():
        np.testing.assert_allclose(values, 0.0, atol=1e-5, err_msg=name)


def test_half_amplitude_has_known_distances() -> None:
    # white noise puts energy in every bin, so the dB difference is 6.02 everywhere
    audio = np.random.default_rng(1).standard_normal((1, 22050)).astype(np.float32) * 0.2
    m = metrics(audio, audio * 0.5)
    np.testing.assert_allclose(m["spectral_convergence"], 0.5, rtol=1e-4)
    np.testing.assert_allclose(m["log_spectral_distance_db"], 20 * np.log10(2), rtol=1e-2)
    assert m["log_mel_mse"][0] > 0 and m["mfcc_distance"][0] > 0


def test_further_sounds_score_worse() -> None:
    t = np.arange(22050) / 22050
    ref = np.sin(2 * np.pi * 440 * t)[None].astype(np.float32)
    near = np.sin(2 * np.pi * 450 * t)[None].astype(np.float32)
    far = np.sin(2 * np.pi * 1500 * t)[None].astype(np.float32)
    m_near, m_far = metrics(ref, near), metrics(ref, far)
    for name in ("log_mel_mse", "mfcc_distance", "log_spectral_distance_db"):
        assert m_near[name][0] < m_far[name][0], name


def test_param_mse() -> None:
    np.testing.assert_allclose(param_mse(np.zeros((2, 4)), np.array([[0, 0, 0, 0], [1, 1, 0, 0]])), [0.0, 0.5])
