"""Log-mel spectrograms, batched: a librosa mel filterbank over a float32 STFT."""

__all__ = ["log_mel", "mel_filterbank", "mel_from_power", "mel_power", "stft_power"]

from functools import lru_cache

import librosa
import numpy as np
import scipy.fft

from synthgen.config import FeatureSettings


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """The mel filterbank ``(n_mels, n_fft // 2 + 1)`` float32."""
    return librosa.filters.mel(
        sr=sample_rate,
        n_fft=settings.n_fft,
        n_mels=settings.n_mels,
        fmin=settings.fmin,
        fmax=min(settings.fmax, sample_rate / 2),
    ).astype(np.float32)


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    return librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)


def stft_power(audio: np.ndarray, n_fft: int, hop_length: int, n_frames: int | None = None) -> np.ndarray:
    """Power spectra of centered, Hann-windowed frames, batched.

    Arguments:
        audio: mono audio ``(B, n_samples)`` (or ``(n_samples,)``).
        n_fft, hop_length: frame size and step in samples.
        n_frames: keep at most this many frames (all when ``None``).

    Returns:
        float32 ``(B, T, n_fft // 2 + 1)``.
    """
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    pad = n_fft // 2
    padded = np.pad(audio, ((0, 0), (pad, pad)), mode="constant")
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=1)
    frames = np.ascontiguousarray(windows[:, ::hop_length][:, :n_frames])
    frames *= _window(n_fft)
    spectrum = scipy.fft.rfft(frames, axis=-1, overwrite_x=True)
    return spectrum.real**2 + spectrum.imag**2


def mel_from_power(power: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """Mel power spectrograms ``(B, n_mels, n_frames)`` from STFT power ``(B, T, n_fft // 2 + 1)`` of :func:`stft_power`."""
    # one 2-D product (a single BLAS call) instead of B small ones
    mel = (power.reshape(-1, power.shape[-1]) @ mel_filterbank(sample_rate, settings).T).reshape(*power.shape[:2], -1)
    mel = np.swapaxes(mel, 1, 2)  # (B, n_mels, T)
    if mel.shape[-1] < settings.n_frames:
        mel = np.pad(mel, ((0, 0), (0, 0), (0, settings.n_frames - mel.shape[-1])))
    return mel


def mel_power(audio: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """Mel power spectrograms ``(B, n_mels, n_frames)`` float32 (before the log of :func:`log_mel`)."""
    return mel_from_power(stft_power(audio, settings.n_fft, settings.hop_length, settings.n_frames), sample_rate, settings)


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
