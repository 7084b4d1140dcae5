"""Distances between a target and an estimate: parameters, spectra, log-mels, MFCCs (pure numpy).

References:
    Esling et al., "Universal audio synthesizer control with normalizing flows", DAFx 2019
    (arXiv:1907.00971): parameter MSE, spectral convergence, log-spectral distance.
"""

__all__ = [
    "AUDIO_METRICS",
    "LEVEL_MATCHED",
    "audio_metrics",
    "level_gain_db",
    "param_mse",
    "scale_log_mel",
]

import numpy as np

from synthgen.config import FeatureSettings
from synthgen.features import magnitude_spectrogram, mfcc
from synthgen.uses.level import QUIETER_AT_MOST_DB, db_to_gain, fit_gain

_RAW_METRICS = ("spectral_convergence", "log_spectral_distance_db", "log_mel_mse", "mfcc_distance")
#: suffix of a metric computed at the estimate's least-squares gain (:func:`~synthgen.uses.level.fit_gain`, no floor)
LEVEL_MATCHED = "_level_matched"
AUDIO_METRICS = _RAW_METRICS + tuple(name + LEVEL_MATCHED for name in _RAW_METRICS)
_EPS = 1e-7


def param_mse(true_unit: np.ndarray, pred_unit: np.ndarray) -> np.ndarray:
    """Mean squared error per row of unit-space parameters ``(N, P)`` -> ``(N,)``."""
    return ((np.asarray(true_unit) - np.asarray(pred_unit)) ** 2).mean(axis=1)


def level_gain_db(target: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """The output gain (dB) per row that makes ``estimate`` as loud as ``target`` (mono audio ``(B, n_samples)``).

    Fitted in closed form on the STFT magnitudes of :func:`magnitude_spectrogram`: the gain that minimizes the
    spectral convergence that :func:`audio_metrics` reports, unless that leaves ``estimate`` more than
    :data:`~synthgen.uses.level.QUIETER_AT_MOST_DB` below ``target``'s energy (a poor match, e.g. at another
    pitch: then that much below).
    """
    return fit_gain(magnitude_spectrogram(target), magnitude_spectrogram(estimate), QUIETER_AT_MOST_DB)


def scale_log_mel(log_mel: np.ndarray, gain_db: np.ndarray, log_offset: float) -> np.ndarray:
    """The log-mels ``(B, n_mels, T)`` of sounds scaled by ``gain_db`` ``(B,)``, without re-analysing them."""
    power = np.maximum(np.exp(np.asarray(log_mel, dtype=np.float64)) - log_offset, 0.0)
    factor = db_to_gain(gain_db) ** 2
    return np.log(power * factor.reshape(-1, 1, 1) + log_offset).astype(np.float32)


def audio_metrics(
    target: np.ndarray, estimate: np.ndarray, target_mel: np.ndarray, estimate_mel: np.ndarray, settings: FeatureSettings
) -> dict[str, np.ndarray]:
    """Per-row audio distances between two batches of sounds; 0 for identical sounds.

    Arguments:
        target, estimate: mono audio ``(B, n_samples)``.
        target_mel, estimate_mel: their log-mels ``(B, n_mels, n_frames)``.
        settings: the feature settings the log-mels were made with.

    Returns:
        ``spectral_convergence``: ``||S - S_hat||_F / ||S||_F`` on STFT magnitudes;
        ``log_spectral_distance_db``: RMS over frequency of the dB power difference, averaged over frames;
        ``log_mel_mse``: MSE of the log-mels; ``mfcc_distance``: mean Euclidean distance of 13 MFCCs per frame;
        and each of them again with :data:`LEVEL_MATCHED` appended, after scaling the estimate by
        its least-squares gain (how far the sound is at its best level; :func:`level_gain_db`, the
        gain a resynthesis plays at, may be raised above it for a poor match). Each ``(B,)``.
    """
    s, s_hat = magnitude_spectrogram(target), magnitude_spectrogram(estimate)
    gain_db = fit_gain(s, s_hat)
    raw = _distances(s, s_hat, target_mel, estimate_mel)
    matched_mel = scale_log_mel(estimate_mel, gain_db, settings.log_offset)
    matched = _distances(s, s_hat * db_to_gain(gain_db).reshape(-1, 1, 1), target_mel, matched_mel)
    return {**raw, **{name + LEVEL_MATCHED: value for name, value in matched.items()}}


def _distances(s: np.ndarray, s_hat: np.ndarray, target_mel: np.ndarray, estimate_mel: np.ndarray) -> dict[str, np.ndarray]:
    """The four raw distances of :func:`audio_metrics` from magnitudes ``(B, F, T)`` and log-mels."""
    convergence = np.linalg.norm(s - s_hat, axis=(1, 2)) / (np.linalg.norm(s, axis=(1, 2)) + _EPS)
    db = 10 * (np.log10(s**2 + _EPS) - np.log10(s_hat**2 + _EPS))
    lsd = np.sqrt((db**2).mean(axis=1)).mean(axis=1)
    mel_mse = ((target_mel - estimate_mel) ** 2).mean(axis=(1, 2))
    mfcc_dist = np.linalg.norm(mfcc(target_mel) - mfcc(estimate_mel), axis=1).mean(axis=1)
    return {
        "spectral_convergence": convergence,
        "log_spectral_distance_db": lsd,
        "log_mel_mse": mel_mse,
        "mfcc_distance": mfcc_dist,
    }
