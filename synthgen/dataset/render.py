"""Render presets into a dataset in parallel: one shard per chunk, resumable after any interruption."""

__all__ = ["MAX_ATTEMPTS", "RenderJob", "check_renders", "render_dataset"]

import json
import platform
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from synthgen.config import SynthConfig
from synthgen.dataset.sampling import PresetSource, UniformPresets
from synthgen.dataset.storage import MANIFEST_FILE, SHARD_DIR, finalize_dataset, shard_path, write_shard
from synthgen.errors import SynthgenError
from synthgen.features import log_mel
from synthgen.synths.base import Synth
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit

#: renders quieter than this RMS (-60 dBFS) count as silent
SILENCE_RMS = 1e-3
#: renders louder than this peak, or not finite, count as broken
BROKEN_PEAK = 100.0
#: new draws tried for a row whose render was rejected before giving up
MAX_ATTEMPTS = 32


def check_renders(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flag silent and broken renders in ``(B, n_samples)`` audio; returns two ``(B,)`` masks."""
    finite = np.isfinite(audio).all(axis=1)
    safe = np.where(finite[:, None], audio, 0.0)
    broken = ~finite | (np.abs(safe).max(axis=1) > BROKEN_PEAK)
    silent = ~broken & (np.sqrt((safe**2).mean(axis=1)) < SILENCE_RMS)
    return silent, broken


@dataclass(frozen=True)
class RenderJob:
    """Everything a worker needs to render one chunk (picklable).

    Rows are ``source`` items times ``notes``: row ``r`` is item ``r // len(notes)`` played at
    note ``r % len(notes)``.
    """

    config: SynthConfig
    source: PresetSource
    notes: tuple[tuple[int, int], ...]
    root: Path
    chunk_size: int
    with_audio: bool
    plugin: str | None = None

    @property
    def n_rows(self) -> int:
        return self.source.n_items * len(self.notes)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_rows // self.chunk_size)

    def chunk_rows(self, chunk: int) -> int:
        """Rows planned in chunk ``chunk`` (the last one may be short)."""
        return min(self.chunk_size, self.n_rows - chunk * self.chunk_size)

    def settings(self) -> dict[str, Any]:
        """What must match for a render to resume into an existing folder."""
        return {
            "synth": self.config.name,
            "config": self.config.to_dict(),
            "source": self.source.describe(),
            "seed": self.source.seed,
            "notes": [list(n) for n in self.notes],
            "n_rows_planned": self.n_rows,
            "chunk_size": self.chunk_size,
            "with_audio": self.with_audio,
        }


_SYNTHS: dict[tuple[str, str | None], Synth] = {}


def _worker_synth(job: RenderJob, check: bool = False) -> Synth:
    """One synth per process, built on first use and kept for every later chunk.

    ``check`` verifies the config's parameter names against the synth when it is built.
    """
    key = (json.dumps(job.config.to_dict(), sort_keys=True), job.plugin)
    if key not in _SYNTHS:
        _SYNTHS[key] = load_synth(job.config, job.plugin, check=check)
    return _SYNTHS[key]


def _render_chunk(job: RenderJob, chunk: int) -> tuple[int, int, int, int]:
    """Render chunk ``chunk`` into its shard; returns (chunk, rows stored, silent, broken)."""
    synth = _worker_synth(job)
    rows = chunk * job.chunk_size + np.arange(job.chunk_rows(chunk))
    items, note_idx = rows // len(job.notes), rows % len(job.notes)
    unit, banks, names = job.source.items(items, 0)
    banks, names = np.array(banks, dtype=object), np.array(names, dtype=object)
    audio = render_unit(synth, job.config, unit, job.notes, note_idx, job.source.authored(items))
    silent, broken = check_renders(audio)
    n_silent, n_broken = int(silent.sum()), int(broken.sum())
    bad = silent | broken
    attempt = 0
    while bad.any() and job.source.retry_rejected:
        attempt += 1
        if attempt > MAX_ATTEMPTS:
            raise SynthgenError(
                f"synth '{job.config.name}' rendered silence or garbage {MAX_ATTEMPTS} times in a row "
                "for the same row: check the config's fixed values and ranges"
            )
        idx = np.flatnonzero(bad)
        unit[idx], banks[idx], names[idx] = job.source.items(items[idx], attempt)
        audio[idx] = render_unit(synth, job.config, unit[idx], job.notes, note_idx[idx], job.source.authored(items[idx]))
        silent_now, broken_now = check_renders(audio[idx])
        n_silent, n_broken = n_silent + int(silent_now.sum()), n_broken + int(broken_now.sum())
        bad[idx] = silent_now | broken_now
    keep = ~bad
    columns = {
        "row_id": rows[keep].astype(np.int64),
        "mel": log_mel(audio[keep], synth.sample_rate, job.config.features),
        "params_unit": unit[keep].astype(np.float32),
        "params_value": job.config.space.from_unit(unit[keep]),
        "midi_pitch": np.array([job.notes[k][0] for k in note_idx[keep]], dtype=np.int16),
        "velocity": np.array([job.notes[k][1] for k in note_idx[keep]], dtype=np.int16),
        "source_bank": banks[keep],
        "source_preset": names[keep],
    }
    if job.with_audio:
        columns["audio"] = audio[keep]
    write_shard(shard_path(job.root, chunk), columns, {"n_silent": n_silent, "n_broken": n_broken})
    return chunk, int(keep.sum()), n_silent, n_broken


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("synthgen", "dawdreamer", "numpy", "librosa", "h5py", "scipy"):
        try:
            out[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _prepare_folder(root: Path, settings: dict[str, Any]) -> None:
    """Create ``root`` or check that the render already in it was made with the same settings."""
    if root.exists() and not root.is_dir():
        raise SynthgenError(f"--out {root} is a file; give a folder for the dataset")
    manifest = root / MANIFEST_FILE
    if manifest.exists():
        previous = json.loads(manifest.read_text())
        changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
        if changed:
            raise SynthgenError(
                f"{root} holds a dataset made with other settings ({', '.join(changed)} differ): "
                "use another --out, or the original command to resume it"
            )
        return
    if root.exists() and any(root.iterdir()):
        raise SynthgenError(f"--out {root} is not empty and holds no synthgen dataset; give a new folder")
    (root / SHARD_DIR).mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(settings, indent=1))


def render_dataset(
    config: SynthConfig,
    out: str | Path,
    n: int | None = None,
    seed: int = 0,
    jobs: int = 1,
    source: PresetSource | None = None,
    notes: list[tuple[int, int]] | None = None,
    chunk_size: int = 64,
    with_audio: bool = False,
    plugin: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Render a dataset into the folder ``out``, resuming whatever an earlier run left there.

    Arguments:
        config: the synth config (parameter space, render and feature settings).
        out: dataset folder; ``out/dataset.h5`` presents every shard as one file.
        n: number of uniform random presets (when ``source`` is not given).
        seed: seeds every random choice; the same seed gives the same rows whatever ``jobs``.
        jobs: worker processes, each with its own synth engine.
        source: where presets come from (default: ``UniformPresets(n)``).
        notes: ``(midi_pitch, velocity)`` pairs each preset is played at (default: the config's).
        chunk_size: rows per shard; the unit of resumption.
        with_audio: also store the rendered audio.
        plugin: plugin file overriding the config's search paths.
        progress: show a progress bar.

    Returns:
        The path of ``dataset.h5``.
    """
    if source is None:
        if n is None or n < 1:
            raise SynthgenError(f"--n must be at least 1, got {n}")
        source = UniformPresets(config.space, seed, n)
    if source.n_items < 1:
        raise SynthgenError("no presets to render: the preset source is empty")
    if jobs < 1:
        raise SynthgenError(f"--jobs must be at least 1, got {jobs}")
    root = Path(out)
    plugin_path = str(plugin) if plugin is not None else None
    notes = notes or [(config.render.midi_pitch, config.render.velocity)]
    job = RenderJob(config, source, tuple(tuple(n) for n in notes), root, chunk_size, with_audio, plugin_path)
    # Fail early, in this process, on a missing plugin or a bad name; with --jobs 1 this synth renders too.
    _worker_synth(job, check=True)
    _prepare_folder(root, job.settings())
    todo = [k for k in range(job.n_chunks) if not shard_path(root, k).exists()]
    done_rows = job.n_rows - sum(job.chunk_rows(k) for k in todo)
    bar = tqdm(total=job.n_rows, initial=done_rows, unit="sound", desc=f"render {config.name}", disable=not progress)
    rejected = [0, 0]
    with bar:
        tasks = (delayed(_render_chunk)(job, k) for k in todo)
        for chunk, _, n_silent, n_broken in Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks):
            rejected[0] += n_silent
            rejected[1] += n_broken
            bar.update(job.chunk_rows(chunk))
            bar.set_postfix(silent=rejected[0], broken=rejected[1])
    metadata = {
        **job.settings(),
        "space": config.space.to_dict(),
        "parameter_names": config.space.names,
        "features": config.to_dict()["features"],
        "render": config.to_dict()["render"],
        "versions": _versions(),
    }
    return finalize_dataset(root, job.n_chunks, metadata)
