"""A readable summary of a rendered dataset, and a short fingerprint that tells one dataset from another."""

__all__ = ["DatasetOverview", "data_fingerprint", "dataset_overview", "describe_dataset"]

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.config import SynthConfig
from synthgen.dataset.reading import DatasetFile, is_merged, open_dataset
from synthgen.features import AUDIBLE_DB, DB_PER_NEPER


def data_fingerprint(data: DatasetFile) -> str:
    """A short hash of a dataset's metadata (synth, config, seed, rows): models record it to name their training data."""
    return hashlib.sha256(json.dumps(data.metadata, sort_keys=True).encode()).hexdigest()[:16]


def describe_dataset(path: str | Path, sample_rows: int = 256) -> str:
    """What a dataset holds: synth, rows, rejected renders, parameters, features and provenance."""
    with open_dataset(path) as data:
        meta, config = data.metadata, data.config
        n = len(data)
        idx = np.linspace(0, n - 1, min(n, sample_rows)).astype(int)
        mel = data.read("mel", idx)
        unit = data.read("params_unit", idx)
        banks = sorted(set(data.read("source_bank")))
        columns = data.columns()
        merged_from = data.source_folders if is_merged(meta) else []
    feats, render, counts = config.features, config.render, meta["counts"]
    run = meta.get("render_run")
    rejected = ", ".join(f"{v} {k.removeprefix('n_')}" for k, v in counts.items())
    if counts.get("n_failed"):
        rejected += "; the failed ones crashed or hung the synth (listed in failed_presets.json)"
    lines = [
        f"dataset {data.path} (format {data.format_version})",
        f"  synth       {config.name} ({config.backend}), seed {meta['seed']}, source {meta['source']['kind']}",
        *([f"  sources     {', '.join(map(str, merged_from))} (merged; their shards are read where they are)"] if merged_from else []),
        f"  rows        {n} (planned {meta['n_rows_planned']}; rejected renders: {rejected or 'none'})",
        *([f"  rendered    with {run['backend']}; {run['chunks_retried']} chunks retried after their worker died"] if run else []),
        f"  notes       {', '.join(f'pitch {p} vel {v}' for p, v in meta['notes'])}; "
        f"{render.note_duration_s} s held in {render.render_duration_s} s at {render.sample_rate} Hz",
        f"  features    log-mel {feats.n_mels} x {feats.n_frames} (n_fft {feats.n_fft}, hop {feats.hop_length}, "
        f"{feats.fmin:g}-{feats.fmax:g} Hz); sample mean {mel.mean():.2f}, std {mel.std():.2f}",
        f"  parameters  {data.space.size} learned: {', '.join(data.space.names)}",
        f"  unit range  mean {unit.mean():.3f}, min {unit.min():.3f}, max {unit.max():.3f}",
        f"  banks       {len(banks)}: {', '.join(banks[:8])}{' ...' if len(banks) > 8 else ''}",
        f"  columns     {', '.join(f'{k} {v[0]}' for k, v in columns.items())}",
        f"  versions    {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}",
    ]
    if len(idx) > 1 and np.ptp(mel, axis=0).max() * DB_PER_NEPER < AUDIBLE_DB:
        lines.append(
            f"  warning     the {len(idx)} rows sampled all sound the same: the learned parameters change nothing audible "
            "(`synthgen info --probe`, with the --synth it was rendered with, sweeps each one)"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class DatasetOverview:
    """A dataset at a glance, from seeded random rows: what ``synthgen dataset info --plot`` draws.

    Arguments:
        config: the synth config it was rendered with.
        n_rows: the dataset's rows.
        examples: log-mels ``(E, n_mels, n_frames)`` of a few rows, and ``labels`` for them (row, bank/preset).
        unit: the learned parameters ``(S, P)`` of the sampled rows, in unit space.
        peak_db: each sampled row's loudest log-mel bin (dB) ``(S,)``.
        midi_pitch: each sampled row's note ``(S,)``.
    """

    config: SynthConfig
    n_rows: int
    examples: np.ndarray
    labels: list[str]
    unit: np.ndarray
    peak_db: np.ndarray
    midi_pitch: np.ndarray


def dataset_overview(path: str | Path, sample_rows: int = 2000, n_examples: int = 8, seed: int = 0) -> DatasetOverview:
    """Read ``sample_rows`` random rows of a dataset (seeded) and ``n_examples`` log-mels among them."""
    with open_dataset(path) as data:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(data), min(len(data), sample_rows), replace=False))
        shown = np.sort(rng.choice(rows, min(len(rows), n_examples), replace=False))
        banks, presets = data.read("source_bank", shown), data.read("source_preset", shown)
        labels = [f"row {r}" + (f": {bank}/{preset}" if preset else "") for r, bank, preset in zip(shown, banks, presets, strict=True)]
        mel = data.read("mel", rows)
        return DatasetOverview(
            config=data.config,
            n_rows=len(data),
            examples=mel[np.searchsorted(rows, shown)],  # the shown rows are among those read
            labels=labels,
            unit=data.read("params_unit", rows),
            peak_db=mel.max(axis=(1, 2)) * DB_PER_NEPER,
            midi_pitch=data.read("midi_pitch", rows),
        )
