"""Log-mel spectrograms, batched: a librosa mel filterbank over a float32 STFT."""

__all__ = ["log_mel", "mel_filterbank"]

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
