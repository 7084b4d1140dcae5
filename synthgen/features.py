"""Log-mel spectrograms, batched: a Slaney mel filterbank over a float32 STFT, in numpy.

The filterbank and window are librosa's defaults (``librosa.filters.mel`` with the Slaney mel
scale and area normalization, a periodic Hann window), written out here so that the
resynthesis path does not import librosa.
"""

__all__ = ["hz_to_mel", "log_mel", "mel_filterbank", "mel_to_hz"]

from functools import lru_cache

import numpy as np
import scipy.fft

from synthgen.config import FeatureSettings

# Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
_HZ_PER_MEL = 200.0 / 3
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Frequencies in Hz -> Slaney mels (as ``librosa.hz_to_mel(htk=False)``)."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _BREAK_MEL + np.log(np.maximum(hz, _BREAK_HZ) / _BREAK_HZ) / _LOG_STEP
    return np.where(hz >= _BREAK_HZ, log_part, hz / _HZ_PER_MEL)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Slaney mels -> frequencies in Hz (the inverse of :func:`hz_to_mel`)."""
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _BREAK_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _BREAK_MEL) - _BREAK_MEL))
    return np.where(mel >= _BREAK_MEL, log_part, mel * _HZ_PER_MEL)


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` float32, each of unit area in Hz (Slaney).

    Band edges are ``n_mels + 2`` points evenly spaced in mels from ``fmin`` to
    ``min(fmax, sample_rate / 2)``.
    """
    fmax = min(settings.fmax, sample_rate / 2)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(settings.fmin), hz_to_mel(fmax), settings.n_mels + 2))
    bins_hz = np.fft.rfftfreq(settings.n_fft, d=1.0 / sample_rate)
    widths_hz = np.diff(edges_hz)
    ramps = edges_hz[:, None] - bins_hz[None, :]  # (n_mels + 2, n_bins)
    rising = -ramps[:-2] / widths_hz[:-1, None]
    falling = ramps[2:] / widths_hz[1:, None]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return filters.astype(np.float32)


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    """Periodic Hann window ``(n_fft,)`` float32."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def log_mel(audio: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """Log-mel spectrograms of a batch of sounds.

    Arguments:
        audio: mono audio ``(B, n_samples)`` (or ``(n_samples,)``).
        sample_rate: Hz.
        settings: STFT, mel and crop settings.

    Returns:
        ``log(mel_power + log_offset)`` as float32 ``(B, n_mels, n_frames)``: centered STFT frames,
        cropped (or zero-padded before the log) to ``n_frames``.
    """
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    pad = settings.n_fft // 2
    padded = np.pad(audio, ((0, 0), (pad, pad)), mode="constant")
    windows = np.lib.stride_tricks.sliding_window_view(padded, settings.n_fft, axis=1)
    frames = np.ascontiguousarray(windows[:, :: settings.hop_length][:, : settings.n_frames])
    frames *= _window(settings.n_fft)
    spectrum = scipy.fft.rfft(frames, axis=-1, overwrite_x=True)  # (B, T, n_fft//2+1)
    power = spectrum.real**2 + spectrum.imag**2
    # one 2-D product (a single BLAS call) instead of B small ones
    mel = (power.reshape(-1, power.shape[-1]) @ mel_filterbank(sample_rate, settings).T).reshape(*power.shape[:2], -1)
    mel = np.swapaxes(mel, 1, 2)  # (B, n_mels, T)
    if mel.shape[-1] < settings.n_frames:
        mel = np.pad(mel, ((0, 0), (0, 0), (0, settings.n_frames - mel.shape[-1])))
    return np.log(mel + settings.log_offset).astype(np.float32)
