"""Batches of standardized log-mels, unit parameters and MIDI pitches from a dataset file (in memory when they fit)."""

__all__ = ["MelBatches", "MelStats", "mel_stats"]

from collections.abc import Iterator

import numpy as np
import torch

from synthgen.dataset import DatasetFile
from synthgen.errors import SynthgenError
from synthgen.model import MelStats


def mel_stats(data: DatasetFile, rows: np.ndarray, max_rows: int = 2048, seed: int = 0) -> MelStats:
    """Mean and std of the log-mels of (at most ``max_rows`` of) ``rows``."""
    rng = np.random.default_rng(seed)
    pick = rows if len(rows) <= max_rows else rng.choice(rows, max_rows, replace=False)
    mel = data.read("mel", pick).astype(np.float64)
    # NaN rows are reported by the batches that meet them; they must not spoil the statistics
    return MelStats(float(np.nanmean(mel)), float(np.nanstd(mel) + 1e-8))


#: splits whose log-mels take at most this many bytes are read once and served from memory
IN_MEMORY_BYTES = 3 * 2**30


class MelBatches:
    """Iterates over ``rows`` in batches: from memory when the rows' log-mels fit in
    :data:`IN_MEMORY_BYTES` (read once, in disk order), else reading each batch from disk (memory
    flat in N).

    Arguments:
        data: the open dataset.
        rows: row indices to serve.
        stats: standardization of the log-mels.
        batch_size: rows per batch.
        shuffle: shuffle each epoch (order from ``seed`` and the epoch number, so a resumed run sees
            the same batches).
    """

    def __init__(self, data: DatasetFile, rows: np.ndarray, stats: MelStats, batch_size: int, shuffle: bool, seed: int = 0) -> None:
        self.data, self.rows, self.stats = data, np.asarray(rows), stats
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0
        self._sorted = np.sort(self.rows)
        features = data.config.features
        fits = len(self.rows) * features.n_mels * features.n_frames * 4 <= IN_MEMORY_BYTES
        self._memory = {name: data.read(name, self._sorted) for name in ("mel", "params_unit", "midi_pitch")} if fits else None

    def _read(self, name: str, idx: np.ndarray) -> np.ndarray:
        if self._memory is None:
            return self.data.read(name, idx)
        return self._memory[name][np.searchsorted(self._sorted, idx)]

    def __len__(self) -> int:
        return -(-len(self.rows) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``(mel (B, n_mels, n_frames), params_unit (B, P), midi_pitch (B,))`` per batch."""
        rows = self.rows
        if self.shuffle:
            rows = np.random.default_rng([self.seed, self.epoch]).permutation(rows)
        for start in range(0, len(rows), self.batch_size):
            idx = rows[start : start + self.batch_size]
            if self.shuffle and len(idx) < 2:
                break  # batch norm cannot train on a single row
            mel, params = self._read("mel", idx), self._read("params_unit", idx)
            bad = ~(np.isfinite(mel).all(axis=(1, 2)) & np.isfinite(params).all(axis=1))
            if bad.any():
                raise SynthgenError(f"{self.data.path}: row {int(idx[bad][0])} holds NaN or infinite values: re-render the dataset")
            mel = self.stats.standardize(mel)
            pitch = self._read("midi_pitch", idx).astype(np.float32)
            yield torch.from_numpy(np.ascontiguousarray(mel)), torch.from_numpy(params), torch.from_numpy(pitch)
