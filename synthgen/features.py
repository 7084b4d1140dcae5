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
