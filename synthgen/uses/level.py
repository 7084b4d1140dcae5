"""Output level: the gain that makes a rendering as loud as the sound it imitates (pure numpy)."""

__all__ = ["GAIN_RANGE_DB", "QUIETER_AT_MOST_DB", "apply_gain_db", "db_to_gain", "fit_gain", "gain_to_db"]

import numpy as np

#: fitted gains are kept within this range (dB): a near-silent rendering is not blown up without end
GAIN_RANGE_DB = (-60.0, 40.0)
#: an output gain leaves a rendering at most this far below the energy of the sound it imitates: the
#: least-squares gain alone shrinks with the overlap of the two spectra, down to near silence for a
#: rendering at another pitch than its target
QUIETER_AT_MOST_DB = 6.0


def db_to_gain(gain_db: np.ndarray | float) -> np.ndarray:
    """Decibels -> linear amplitude factor."""
    return np.power(10.0, np.asarray(gain_db, dtype=np.float64) / 20.0)


def gain_to_db(gain: np.ndarray | float) -> np.ndarray:
    """Linear amplitude factor -> decibels, within :data:`GAIN_RANGE_DB`."""
    gain = np.maximum(np.asarray(gain, dtype=np.float64), db_to_gain(GAIN_RANGE_DB[0]))
    return np.clip(20.0 * np.log10(gain), *GAIN_RANGE_DB)


def fit_gain(target_magnitude: np.ndarray, estimate_magnitude: np.ndarray, quieter_at_most_db: float | None = None) -> np.ndarray:
    """The least-squares gain per row, in closed form: ``argmin_g ||S - g Ŝ||_F = <S, Ŝ> / ||Ŝ||²``.

    It is the gain that minimizes the spectral convergence of ``g Ŝ`` to ``S``. It is never above the gain
    that matches their energies, ``||S|| / ||Ŝ||``, and falls below it as the cosine of the two spectra.

    Arguments:
        target_magnitude, estimate_magnitude: magnitude spectrograms ``(B, ...)`` of the same shape.
        quieter_at_most_db: ``None`` for the least-squares gain alone; else the gain is at least the
            energy-matching gain less this many dB (the closest to the least-squares one that leaves the
            estimate no quieter than that).

    Returns:
        Gains in dB ``(B,)``, within :data:`GAIN_RANGE_DB`; 0 dB for a silent estimate.
    """
    s = np.asarray(target_magnitude, dtype=np.float64).reshape(len(target_magnitude), -1)
    s_hat = np.asarray(estimate_magnitude, dtype=np.float64).reshape(len(estimate_magnitude), -1)
    energy = (s_hat**2).sum(axis=1)
    silent = energy <= np.finfo(np.float32).tiny
    gain = (s * s_hat).sum(axis=1) / np.where(silent, 1.0, energy)
    if quieter_at_most_db is not None:
        matching = np.sqrt((s**2).sum(axis=1) / np.where(silent, 1.0, energy))
        gain = np.maximum(gain, matching * db_to_gain(-quieter_at_most_db))
    return np.where(silent, 0.0, gain_to_db(gain))


def apply_gain_db(audio: np.ndarray, gain_db: np.ndarray | float) -> np.ndarray:
    """Scale each row of ``audio`` ``(B, n_samples)`` by its gain in dB (a scalar or ``(B,)``)."""
    audio = np.atleast_2d(audio)
    factor = np.broadcast_to(db_to_gain(gain_db), (len(audio),)).astype(np.float32)
    return audio * factor[:, None]
