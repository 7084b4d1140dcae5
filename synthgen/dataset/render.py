"""Render presets into a dataset in parallel: one shard per chunk, resumable after any interruption."""

__all__ = ["BACKENDS", "FAILED_FILE", "render_dataset"]

import json
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from synthgen.config import SynthConfig
from synthgen.dataset.chunks import RenderedChunk, RenderJob, gather_failures, write_chunk
from synthgen.dataset.manifest import check_render_settings, prepare_folder
from synthgen.dataset.sampling import PresetSource, UniformPresets
from synthgen.dataset.storage import chunks_to_render, finalize_dataset, write_text_atomic
from synthgen.dataset.workers import WorkerPool
from synthgen.errors import SynthgenError
from synthgen.progress import progress_bar
from synthgen.synths.rendering import usable_cpus

#: the presets that crashed or hung the synth and were skipped, and the human presets dropped for a
#: silent or broken render, written next to ``dataset.h5``
FAILED_FILE = "failed_presets.json"
#: where chunks can render: supervised worker processes here, or Ray tasks (here or on a cluster)
BACKENDS = ("local", "ray")


def _notify(message: str) -> None:
    """One line on stderr, above the progress bar."""
    tqdm.write(message, file=sys.stderr)


def _usable_cpus(jobs: int) -> int:
    """The CPUs this process may use (``jobs``, the workers asked for, must be at least 1)."""
    if jobs < 1:
        raise SynthgenError(f"--jobs must be at least 1, got {jobs}")
    return usable_cpus()


def render_dataset(
    config: SynthConfig,
    out: str | Path,
    n: int | None = None,
    seed: int = 0,
    jobs: int | None = None,
    source: PresetSource | None = None,
    notes: list[tuple[int, int]] | None = None,
    chunk_size: int = 64,
    with_audio: bool = False,
    plugin: str | Path | None = None,
    progress: bool = True,
    render_timeout_s: float | None = 60.0,
    backend: str = "local",
    address: str | None = None,
    collect: bool = False,
) -> Path:
    """Render a dataset into the folder ``out``, resuming whatever an earlier run left there.

    Arguments:
        config: the synth config (parameter space, render and feature settings).
        out: dataset folder; ``out/dataset.h5`` presents every shard as one file.
        n: number of uniform random presets (when ``source`` is not given).
        seed: seeds every random choice; the same seed gives the same rows whatever ``jobs``.
        jobs: worker processes, each with its own synth engine (at most the CPUs); with Ray, tasks
            at once (default: every CPU of the cluster).
        source: where presets come from (default: ``UniformPresets(n)``).
        notes: ``(midi_pitch, velocity)`` pairs each preset is played at (default: the config's).
        chunk_size: rows per shard; the unit of resumption.
        with_audio: also store the rendered audio.
        plugin: plugin file overriding the config's search paths.
        progress: show a progress bar.
        render_timeout_s: seconds one sound may take before the synth counts as hung (``None``: no
            limit). A preset that crashes or hangs the synth is tried again in a fresh worker, then
            skipped (replaced by a new draw where the source allows) and listed in ``failed_presets.json``.
            With Ray, a task whose worker dies is re-run by Ray instead (no timeout).
        backend: ``"local"`` (worker processes here) or ``"ray"`` (Ray tasks, here or on a cluster).
        address: with Ray, the cluster to join (``"auto"``, ``"ray://host:10001"``); default: start Ray here.
        collect: with Ray, send shards back to this process to write (when ``out`` is not shared storage).

    Returns:
        The path of ``dataset.h5``.
    """
    if source is None:
        if n is None or n < 1:
            raise SynthgenError(f"--n must be at least 1, got {n}")
        source = UniformPresets(config.space, seed, n)
    if source.n_items < 1:
        raise SynthgenError("no presets to render: the preset source is empty")
    if render_timeout_s is not None and render_timeout_s <= 0:
        raise SynthgenError(f"--render-timeout-s must be positive, got {render_timeout_s:g}")
    root = Path(out)
    plugin_path = str(plugin) if plugin is not None else None
    notes = notes or [(config.render.midi_pitch, config.render.velocity)]
    job = RenderJob(config, source, tuple(tuple(n) for n in notes), root, chunk_size, with_audio, plugin_path)
    check_render_settings(job.settings())
    if backend not in BACKENDS:
        raise SynthgenError(f"unknown render backend '{backend}': use one of {', '.join(BACKENDS)}")
    if backend != "ray" and (address is not None or collect):
        raise SynthgenError("--address and --collect need --backend ray")
    if backend == "ray":
        return _render_on_ray(job, jobs, address, collect, progress)
    asked = 1 if jobs is None else jobs
    cpus = _usable_cpus(asked)
    workers = min(asked, cpus, job.n_chunks)
    # The workers build the synth (and check the config's names) before the folder is touched.
    # With a CPU to spare, this process computes the log-mels while the workers render; without, they do.
    with WorkerPool(job, workers, render_timeout_s, _notify, features=workers >= cpus) as pool:
        if asked > cpus:
            _notify(f"--jobs {asked} is more than the {cpus} CPUs here: rendering with {workers} worker{'s' * (workers != 1)}")
        with prepare_folder(root, job.settings()):
            if todo := chunks_to_render(root, job.n_chunks):
                _render_chunks(job, pool, todo, progress)
            return _finish(job, {"backend": backend, "chunks_retried": 0})


def _finish(job: RenderJob, run: dict[str, Any]) -> Path:
    """Record the presets that failed, and write ``dataset.h5`` over the shards with how the render ran."""
    if failures := gather_failures(job.root, job.n_chunks):
        write_text_atomic(job.root / FAILED_FILE, json.dumps(failures, indent=1))
    return finalize_dataset(job.root, job.n_chunks, {**job.settings(), "render_run": run})


def _render_on_ray(job: RenderJob, jobs: int | None, address: str | None, collect: bool, progress: bool) -> Path:
    """Render the missing chunks as Ray tasks under the progress bar, then finish the dataset."""
    from synthgen.dataset.ray_backend import ray_session, render_chunks_on_ray
    from synthgen.synths.loading import load_synth

    if jobs is not None and jobs < 1:
        raise SynthgenError(f"--jobs must be at least 1, got {jobs}")
    # Fail early, here, on a missing plugin or a bad parameter name, before Ray starts or the folder is touched.
    load_synth(job.config, job.plugin, check=True)
    with ray_session(address, jobs), prepare_folder(job.root, job.settings()):
        todo = chunks_to_render(job.root, job.n_chunks)
        bar, counts = _progress(job, todo, progress)
        counts["retried"] = 0
        with bar:
            for rendered, attempt in render_chunks_on_ray(job, todo, jobs, collect):
                counts["retried"] += attempt > 1
                for failure in rendered.failures:
                    _notify(f"skipped preset {failure.describe()}: it {failure.reason}; recorded in the dataset")
                _tally(job, bar, counts, rendered)
        return _finish(job, {"backend": "ray", "chunks_retried": counts["retried"], "ray": importlib_metadata.version("ray")})


def _progress(job: RenderJob, todo: Iterable[int], progress: bool) -> tuple[tqdm, dict[str, int]]:
    """The render's progress bar, started at the rows already done, and its counts."""
    done_rows = job.n_rows - sum(job.chunk_rows(k) for k in todo)
    bar = progress_bar(total=job.n_rows, initial=done_rows, unit="sound", desc=f"render {job.config.name}", disable=not progress)
    return bar, {"silent": 0, "broken": 0, "failed": 0}


def _tally(job: RenderJob, bar: tqdm, counts: dict[str, int], rendered: RenderedChunk) -> None:
    """Count a finished chunk's rejected and skipped renders and move the bar on."""
    counts["silent"] += rendered.n_silent
    counts["broken"] += rendered.n_broken
    counts["failed"] += len(rendered.failures)
    for preset in rendered.dropped:
        _notify(f"dropped preset '{preset.preset}' ({preset.bank}): it {preset.reason}; listed in {FAILED_FILE}")
    bar.update(job.chunk_rows(rendered.chunk))
    bar.set_postfix(counts)


def _render_chunks(job: RenderJob, pool: WorkerPool, todo: list[int], progress: bool) -> None:
    """Render the chunks ``todo`` with the pool; a writer thread turns each into a shard as it arrives.

    HDF5 writes (and the log-mels, unless the workers computed them) happen in that thread, off both
    the render path and the supervisor's loop, which stays free to hand out chunks and watch for crashes and hangs.
    """
    bar, counts = _progress(job, todo, progress)

    def write(rendered: RenderedChunk, audio: np.ndarray, release: Callable[[], None]) -> RenderedChunk:
        try:
            write_chunk(job, rendered, audio)
        finally:
            release()
        return rendered

    def written(future: Future) -> None:
        _tally(job, bar, counts, future.result())

    # The workers take the CPUs: one BLAS thread here, so the log-mels never wait on each other's threads.
    with bar, threadpool_limits(1), ThreadPoolExecutor(1, thread_name_prefix="synthgen-writer") as writer:
        pending: deque[Future] = deque()
        for item in pool.render(todo):
            pending.append(writer.submit(write, *item))
            while pending and pending[0].done():
                written(pending.popleft())
        while pending:
            written(pending.popleft())
