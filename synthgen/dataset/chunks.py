"""One chunk of a render: its presets rendered to audio, then to the columns of one shard.

These two steps are what every execution backend runs: :func:`render_chunk_audio` where the synth
lives (a worker process), :func:`write_chunk` where the shard is written; :func:`render_chunk`
does both in one place for a backend without isolation. The log-mels are computed on either side,
wherever a CPU is free: sound by sound while the audio is in cache, or by :func:`write_chunk`.
"""

__all__ = [
    "MAX_ATTEMPTS",
    "PresetFailure",
    "RenderJob",
    "RenderedChunk",
    "check_renders",
    "gather_failures",
    "preset_failure",
    "render_chunk",
    "render_chunk_audio",
    "write_chunk",
]

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from synthgen.config import SynthConfig
from synthgen.dataset.sampling import PresetSource
from synthgen.dataset.storage import shard_path, write_shard
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
#: shard attribute holding the presets that crashed or hung the synth, as JSON
FAILED_ATTR = "failed_presets"
#: shard attribute holding the human presets dropped for a silent or broken render (not replaced), as JSON
DROPPED_ATTR = "dropped_presets"


def check_renders(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flag silent and broken renders in ``(B, n_samples)`` audio; returns two ``(B,)`` masks."""
    # Three passes and no temporaries: a NaN makes the peak NaN, which fails "<=" and counts as broken.
    peak = np.maximum(audio.max(axis=1), -audio.min(axis=1))
    broken = ~(peak <= BROKEN_PEAK)
    mean_square = np.einsum("ij,ij->i", audio, audio) / max(audio.shape[1], 1)
    silent = ~broken & (np.sqrt(mean_square) < SILENCE_RMS)
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

    @property
    def n_samples(self) -> int:
        """Samples in one rendered sound."""
        return Synth.n_samples(self.config.render.note(), self.config.render.sample_rate)

    def chunk_rows(self, chunk: int) -> int:
        """Rows planned in chunk ``chunk`` (the last one may be short)."""
        return min(self.chunk_size, self.n_rows - chunk * self.chunk_size)

    def settings(self) -> dict[str, Any]:
        """What must match for a render to resume into an existing folder."""
        return {
            "config": self.config.rendering_dict(),
            "source": self.source.describe(),
            "seed": self.source.seed,
            "notes": [list(n) for n in self.notes],
            "n_rows_planned": self.n_rows,
            "chunk_size": self.chunk_size,
            "with_audio": self.with_audio,
        }


@dataclass(frozen=True)
class PresetFailure:
    """A preset that crashed or hung the synth every time it was tried, and was skipped.

    ``params`` holds its learned parameters as synth values.
    """

    row: int
    attempt: int
    bank: str
    preset: str
    reason: str
    params: dict[str, float]

    def describe(self) -> str:
        """One line naming the preset and its parameter values."""
        values = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"row {self.row} ({self.bank} {self.preset}, draw {self.attempt}): {values}"


def preset_failure(job: RenderJob, row: int, attempt: int, reason: str) -> PresetFailure:
    """Name the preset of row ``row``, draw ``attempt``: its source, bank, name and parameter values."""
    item = np.array([row // len(job.notes)])
    unit, bank, name = job.source.items(item, attempt)
    raw = job.config.space.from_unit(unit)[0]
    return PresetFailure(row, attempt, bank[0], name[0], reason, dict(zip(job.config.space.names, raw.tolist(), strict=True)))


@dataclass
class RenderedChunk:
    """The kept rows of one chunk; their audio ``(n_kept, n_samples)`` lies in the caller's buffer.

    ``mel`` holds their log-mels ``(n_kept, n_mels, n_frames)`` where the renderer computed them;
    ``dropped`` the presets whose render was rejected and that the source does not replace (human presets).
    """

    chunk: int
    row_id: np.ndarray
    unit: np.ndarray
    note_index: np.ndarray
    banks: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    n_silent: int = 0
    n_broken: int = 0
    failures: list[PresetFailure] = field(default_factory=list)
    dropped: list[PresetFailure] = field(default_factory=list)
    mel: np.ndarray | None = None


def _log_mel(job: RenderJob, audio: np.ndarray) -> np.ndarray:
    return log_mel(audio, job.config.render.sample_rate, job.config.features)


def render_chunk_audio(
    job: RenderJob,
    chunk: int,
    synth: Synth,
    out: np.ndarray,
    skip: Mapping[tuple[int, int], str] | None = None,
    mark: Callable[[int, int], None] | None = None,
    features: bool = False,
) -> RenderedChunk:
    """Render one chunk's presets one by one, replacing rejected draws where the source allows.

    Arguments:
        job: the render.
        chunk: chunk number.
        synth: the synth, built from ``job.config``.
        out: buffer ``(>= chunk_size, n_samples)`` float32; the kept rows' audio is written to its
            first rows, in row order.
        skip: ``(row, draw)`` pairs not to render, with the reason (a crash or hang seen before);
            they are treated as rejected and recorded as failures.
        mark: called with ``(row, draw)`` before each render and ``(-1, 0)`` after it, so a
            supervisor knows which preset a crash or hang belongs to.
        features: also compute each kept sound's log-mel right after its render (while its audio
            is in cache: ~0.4 ms a sound less than a pass over the whole chunk).

    Returns:
        The kept rows (their audio in ``out[:n_kept]``), rejection counts and skipped presets.
    """
    skip = skip or {}
    rows = chunk * job.chunk_size + np.arange(job.chunk_rows(chunk))
    kept_rows, kept_unit, kept_notes, banks, names = [], [], [], [], []
    result = RenderedChunk(chunk, np.empty(0, np.int64), np.empty((0, job.config.space.size)), np.empty(0, np.int64))
    settings = job.config.features
    mels = np.empty((len(rows), settings.n_mels, settings.n_frames), np.float32) if features else None
    for row in rows.tolist():
        item, note = divmod(row, len(job.notes))
        authored = job.source.authored(np.array([item]))
        for attempt in range(MAX_ATTEMPTS + 1):
            unit, bank, name = job.source.items(np.array([item]), attempt)
            reason = skip.get((row, attempt))
            if reason is not None:
                result.failures.append(preset_failure(job, row, attempt, reason))
                accepted = False
            else:
                if mark is not None:
                    mark(row, attempt)
                audio = render_unit(synth, job.config, unit, job.notes, np.array([note]), authored)
                if mark is not None:
                    mark(-1, 0)
                silent, broken = check_renders(audio)
                result.n_silent += int(silent[0])
                result.n_broken += int(broken[0])
                accepted = not (silent[0] or broken[0])
                if not accepted and not job.source.retry_rejected:
                    why = "rendered silence" if silent[0] else "rendered broken audio (not finite, or too loud)"
                    result.dropped.append(preset_failure(job, row, attempt, why))
            if accepted:
                out[len(kept_rows)] = audio[0]
                if mels is not None:
                    mels[len(kept_rows)] = _log_mel(job, audio)[0]
                kept_rows.append(row)
                kept_unit.append(unit[0])
                kept_notes.append(note)
                banks.append(bank[0])
                names.append(name[0])
                break
            if not job.source.retry_rejected:
                break
        else:
            raise SynthgenError(
                f"synth '{job.config.name}' rendered silence or garbage (or crashed) {MAX_ATTEMPTS + 1} times in a row "
                "for the same row: check the config's fixed values and ranges, and that the plugin is an instrument "
                "(one that plays MIDI notes; an effect renders silence)"
            )
    result.row_id = np.array(kept_rows, dtype=np.int64)
    result.unit = np.array(kept_unit, dtype=np.float64).reshape(len(kept_rows), job.config.space.size)
    result.note_index = np.array(kept_notes, dtype=np.int64)
    result.banks, result.names = banks, names
    result.mel = None if mels is None else mels[: len(kept_rows)]
    return result


def write_chunk(job: RenderJob, rendered: RenderedChunk, audio: np.ndarray) -> None:
    """Turn a rendered chunk into shard columns (log-mel, parameters, provenance) and write its shard.

    Arguments:
        job: the render.
        rendered: what :func:`render_chunk_audio` returned (its log-mels are computed here if missing).
        audio: the kept rows' audio ``(n_kept, n_samples)``.
    """
    notes = np.array(job.notes, dtype=np.int16).reshape(-1, 2)[rendered.note_index]
    columns = {
        "row_id": rendered.row_id,
        "mel": _log_mel(job, audio) if rendered.mel is None else rendered.mel,
        "params_unit": rendered.unit.astype(np.float32),
        "params_value": job.config.space.from_unit(rendered.unit),
        "midi_pitch": notes[:, 0],
        "velocity": notes[:, 1],
        "source_bank": np.array(rendered.banks, dtype=object),
        "source_preset": np.array(rendered.names, dtype=object),
    }
    if job.with_audio:
        columns["audio"] = audio
    attrs = {
        "n_silent": rendered.n_silent,
        "n_broken": rendered.n_broken,
        "n_failed": len(rendered.failures),
        FAILED_ATTR: json.dumps([asdict(f) for f in rendered.failures]),
        DROPPED_ATTR: json.dumps([asdict(f) for f in rendered.dropped]),
    }
    write_shard(shard_path(job.root, rendered.chunk), columns, attrs)


_SYNTHS: dict[str, Synth] = {}


def render_chunk(
    job: RenderJob,
    chunk: int,
    synth: Synth | None = None,
    skip: Mapping[tuple[int, int], str] | None = None,
    mark: Callable[[int, int], None] | None = None,
) -> RenderedChunk:
    """Render chunk ``chunk`` and write its shard in this process, with no isolation from the synth.

    Arguments:
        job: the render.
        chunk: chunk number.
        synth: the synth; default: one built from ``job`` on first use and kept for this process's
            later chunks (a backend's worker pays the start-up once).
        skip, mark: as in :func:`render_chunk_audio`.

    Returns:
        The kept rows, counts and skipped presets, as written.
    """
    if synth is None:
        key = json.dumps([job.config.rendering_dict(), job.plugin], sort_keys=True)
        if key not in _SYNTHS:
            _SYNTHS[key] = load_synth(job.config, job.plugin, check=True)
        synth = _SYNTHS[key]
    out = np.empty((job.chunk_rows(chunk), job.n_samples), dtype=np.float32)
    rendered = render_chunk_audio(job, chunk, synth, out, skip, mark, features=True)
    write_chunk(job, rendered, out[: len(rendered.row_id)])
    return rendered


def gather_failures(root: Path, n_chunks: int) -> list[dict[str, Any]]:
    """Every skipped or dropped preset recorded in the shards of a finished render, in chunk order."""
    failures: list[dict[str, Any]] = []
    for chunk in range(n_chunks):
        with h5py.File(shard_path(root, chunk), "r") as f:
            failures.extend(json.loads(f.attrs.get(FAILED_ATTR, "[]")))
            failures.extend(json.loads(f.attrs.get(DROPPED_ATTR, "[]")))
    return failures
