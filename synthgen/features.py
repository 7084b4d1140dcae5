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
    n_fft, hop, n_frames = settings.n_fft, settings.hop_length, settings.n_frames
    pad = n_fft // 2
    # Frames that fit in the centered (padded) signal; later ones are zero, as if padded after the STFT.
    n_valid = max(0, min(n_frames, (audio.shape[1] + 2 * pad - n_fft) // hop + 1))
    used = (n_frames - 1) * hop + n_fft  # samples of the padded signal the frames read
    filterbank = mel_filterbank(sample_rate, settings).T
    window = _window(n_fft)
    mel = np.zeros((len(audio), n_frames, settings.n_mels), dtype=np.float32)
    # A few sounds at a time keep the frames in cache: several times less memory traffic than the whole batch.
    block = 4
    padded = np.zeros((block, used), dtype=np.float32)
    frames = np.empty((block, n_frames, n_fft), dtype=np.float32)
    n_copy = min(audio.shape[1], used - pad)
    for start in range(0, len(audio), block):
        part = audio[start : start + block]
        b = len(part)
        padded[:b, pad : pad + n_copy] = part[:, :n_copy]
        windows = np.lib.stride_tricks.sliding_window_view(padded[:b], n_fft, axis=1)[:, ::hop][:, :n_frames]
        np.multiply(windows, window, out=frames[:b])
        spectrum = scipy.fft.rfft(frames[:b], axis=-1)  # (b, T, n_fft//2+1) complex64
        squares = spectrum.view(np.float32)
        np.square(squares, out=squares)
        power = squares[..., 0::2] + squares[..., 1::2]
        mel[start : start + b, :n_valid] = (power[:, :n_valid].reshape(-1, power.shape[-1]) @ filterbank).reshape(b, n_valid, -1)
    mel = np.swapaxes(mel, 1, 2)  # (B, n_mels, T)
    return np.log(mel + settings.log_offset).astype(np.float32)
