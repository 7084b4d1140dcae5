"""Audio descriptors of rendered sounds (RMS, spectral centroid, flatness, bandwidth, roll-off) and their trends."""

__all__ = ["DESCRIPTORS", "describe_audio", "trend"]

import librosa
import numpy as np
import scipy.stats

from synthgen.config import FeatureSettings
from synthgen.features import magnitude_spectrogram

#: descriptor name -> what it measures (units in the name)
DESCRIPTORS = {
    "rms": "root mean square level of the whole render",
    "centroid_hz": "spectral centroid (brightness)",
    "flatness": "spectral flatness (0 tonal .. 1 noisy)",
    "bandwidth_hz": "spectral bandwidth around the centroid",
    "rolloff_hz": "frequency under which 85% of the energy lies",
}


def _describe(audio: np.ndarray, sample_rate: int, settings: FeatureSettings) -> dict[str, np.ndarray]:
    """:func:`describe_audio` of one chunk of sounds ``(B, n_samples)``."""
    stft = {"n_fft": settings.n_fft, "hop_length": settings.hop_length}
    magnitude = magnitude_spectrogram(audio, settings.n_fft, settings.hop_length)  # (B, n_fft // 2 + 1, T)
    energy = (magnitude**2).sum(axis=1)  # (B, T)
    weights = energy / np.maximum(energy.sum(axis=1, keepdims=True), np.finfo(np.float32).tiny)
    frames = {
        "centroid_hz": librosa.feature.spectral_centroid(S=magnitude, sr=sample_rate, **stft),
        "flatness": librosa.feature.spectral_flatness(S=magnitude, **stft),
        "bandwidth_hz": librosa.feature.spectral_bandwidth(S=magnitude, sr=sample_rate, **stft),
        "rolloff_hz": librosa.feature.spectral_rolloff(S=magnitude, sr=sample_rate, **stft),
    }
    out = {"rms": np.sqrt((audio.astype(np.float64) ** 2).mean(axis=1))}
    out.update({name: (values[:, 0] * weights).sum(axis=1) for name, values in frames.items()})
    return out


def describe_audio(audio: np.ndarray, sample_rate: int, settings: FeatureSettings, chunk_size: int = 64) -> dict[str, np.ndarray]:
    """Descriptors of each sound, spectral ones averaged over frames weighted by frame energy.

    Arguments:
        audio: mono sounds ``(B, n_samples)``.
        sample_rate: Hz.
        settings: the STFT size and hop to use.
        chunk_size: sounds analysed at once (bounds the memory the spectrograms take).

    Returns:
        Descriptor name (see :data:`DESCRIPTORS`) -> values ``(B,)``.
    """
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    parts = [_describe(audio[start : start + chunk_size], sample_rate, settings) for start in range(0, len(audio), chunk_size)]
    return {name: np.concatenate([part[name] for part in parts]) for name in DESCRIPTORS}


def trend(values: np.ndarray) -> float:
    """Spearman rank correlation of values ``(S,)`` with their order: +1 rises steadily, -1 falls; 0 when constant."""
    values = np.asarray(values, dtype=np.float64)
    if np.ptp(values) == 0:
        return 0.0
    return float(scipy.stats.spearmanr(np.arange(len(values)), values).statistic)
