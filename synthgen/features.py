"""Log-mel spectrograms, batched: a Slaney mel filterbank over a float32 STFT, in numpy.

The filterbank and window are librosa's defaults (``librosa.filters.mel`` with the Slaney mel
scale and area normalization, a periodic Hann window), written out here so that the
resynthesis path does not import librosa.
"""

__all__ = [
    "AUDIBLE_DB",
    "DB_PER_NEPER",
    "hz_to_mel",
    "log_mel",
    "magnitude_spectrogram",
    "mel_filterbank",
    "mel_from_power",
    "mel_power",
    "mel_to_hz",
    "mfcc",
    "side_by_side_log_mels",
    "stft_magnitude",
    "stft_power",
]

import dataclasses
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import scipy.fft

from synthgen.config import FeatureSettings
from synthgen.denormals import flushing_denormals

#: the smallest change of one log-mel bin (dB) that counts as audible
AUDIBLE_DB = 0.1
#: two sounds shown side by side end where the second stays below this fraction of its peak (-60 dB), or
#: with the first
SHOWN_FLOOR = 1e-3
#: dB per natural-log unit of power (the log-mels' unit)
DB_PER_NEPER = 10.0 / np.log(10.0)

# Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
_HZ_PER_MEL = 200.0 / 3
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0
# sounds per STFT in mel_power
_BLOCK = 4


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


def _stft(audio: np.ndarray, n_fft: int, hop_length: int, n_frames: int | None, part: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``part`` of the spectra (power, magnitude) of centered, Hann-windowed frames ``(B, T, n_fft // 2 + 1)``,
    computed with denormals flushed to zero (twice as fast on the near-silent frames of release tails)."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    pad = n_fft // 2
    padded = np.pad(audio, ((0, 0), (pad, pad)), mode="constant")
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=1)
    # One pass copies and windows the frames (the strided view itself is read-only).
    with flushing_denormals():
        frames = windows[:, ::hop_length][:, :n_frames] * _window(n_fft)
        return part(scipy.fft.rfft(frames, axis=-1, overwrite_x=True))


def _power(spectrum: np.ndarray) -> np.ndarray:
    return spectrum.real**2 + spectrum.imag**2


def stft_power(audio: np.ndarray, n_fft: int, hop_length: int, n_frames: int | None = None) -> np.ndarray:
    """Power spectra of centered, Hann-windowed frames, batched.

    Arguments:
        audio: mono audio ``(B, n_samples)`` (or ``(n_samples,)``).
        n_fft, hop_length: frame size and step in samples.
        n_frames: keep at most this many frames (all when ``None``).

    Returns:
        float32 ``(B, T, n_fft // 2 + 1)``.
    """
    return _stft(audio, n_fft, hop_length, n_frames, _power)


def stft_magnitude(audio: np.ndarray, n_fft: int, hop_length: int, n_frames: int | None = None) -> np.ndarray:
    """Magnitude spectra float32 ``(B, T, n_fft // 2 + 1)`` of the frames :func:`stft_power` takes, in a third of the time of its root."""
    return _stft(audio, n_fft, hop_length, n_frames, np.abs)


def magnitude_spectrogram(audio: np.ndarray, n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """STFT magnitudes ``(B, n_fft // 2 + 1, T)`` of mono audio ``(B, n_samples)`` (centered, periodic Hann)."""
    return np.swapaxes(stft_magnitude(audio, n_fft, hop_length), 1, 2)


def mfcc(log_mel: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    """MFCCs ``(B, n_mfcc, T)`` of natural-log mels ``(B, n_mels, T)`` (DCT-II, orthonormal)."""
    return scipy.fft.dct(np.asarray(log_mel), type=2, axis=1, norm="ortho")[:, :n_mfcc]


def mel_from_power(power: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """Mel power spectrograms ``(B, n_mels, n_frames)`` from STFT power ``(B, T, n_fft // 2 + 1)`` of :func:`stft_power`."""
    # one 2-D product (a single BLAS call) instead of B small ones
    mel = (power.reshape(-1, power.shape[-1]) @ mel_filterbank(sample_rate, settings).T).reshape(*power.shape[:2], -1)
    mel = np.swapaxes(mel, 1, 2)  # (B, n_mels, T)
    if mel.shape[-1] < settings.n_frames:
        mel = np.pad(mel, ((0, 0), (0, 0), (0, settings.n_frames - mel.shape[-1])))
    return mel


def mel_power(audio: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """Mel power spectrograms ``(B, n_mels, n_frames)`` float32 (before the log of :func:`log_mel`).

    A few sounds at a time: their frames stay in cache, which takes a third less time than the whole batch.
    """
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    n_fft, hop, n_frames = settings.n_fft, settings.hop_length, settings.n_frames
    blocks = [audio[start : start + _BLOCK] for start in range(0, max(len(audio), 1), _BLOCK)]
    return np.concatenate([mel_from_power(stft_power(block, n_fft, hop, n_frames), sample_rate, settings) for block in blocks])


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
    return np.log(mel_power(audio, sample_rate, settings) + settings.log_offset).astype(np.float32)


def side_by_side_log_mels(first: np.ndarray, second: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """Log-mels ``(2, n_mels, T)`` of two mono sounds on one time axis, for showing an input over its output.

    They cover the whole first sound and the second until it falls below :data:`SHOWN_FLOOR` of its
    peak for good (a render's silent end left out), the shorter one padded with silence.
    """
    audible = np.flatnonzero(np.abs(second) > SHOWN_FLOOR * np.abs(second).max())
    n_samples = max(len(first), int(audible[-1]) + 1 if audible.size else 0)
    both = np.stack([np.pad(audio[:n_samples], (0, n_samples - len(audio[:n_samples]))) for audio in (first, second)])
    return log_mel(both, sample_rate, dataclasses.replace(settings, n_frames=1 + n_samples // settings.hop_length))
