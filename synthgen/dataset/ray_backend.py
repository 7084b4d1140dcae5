"""Render a dataset's chunks as Ray tasks, on this machine or on a cluster.

Each chunk is one task running the same chunk renderer as the local backend; a worker process keeps
its synth loaded between tasks. A task whose worker dies is re-run by Ray (``max_retries``). Shards
are written by the tasks into the dataset folder, which on a cluster is shared storage, or, with
``collect``, sent back as files to the driver, which writes them.
"""

__all__ = ["MAX_TASK_RETRIES", "ray_session", "render_chunks_on_ray"]

import logging
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from synthgen.dataset.chunks import RenderedChunk, RenderJob, render_chunk
from synthgen.dataset.storage import shard_path, write_shard_file
from synthgen.errors import SynthgenError

#: times Ray re-runs a chunk whose worker process died, before the render stops
MAX_TASK_RETRIES = 3


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise SynthgenError("--backend ray needs Ray, which is not installed: pip install synthgen[ray]") from None
    return ray


class _ChunkStarts:
    """Counts the starts of every chunk (a Ray actor), so a task knows which attempt it is.

    A worker that dies before its task has reported its start leaves no trace here: such a retry
    lost no rendering and is not counted.
    """

    def __init__(self) -> None:
        self._starts: dict[int, int] = {}

    def start(self, chunk: int) -> int:
        self._starts[chunk] = self._starts.get(chunk, 0) + 1
        return self._starts[chunk]


def _render_task(job: RenderJob, chunk: int, starts: Any, collect: bool) -> tuple[RenderedChunk, int, bytes | None]:
    """Render one chunk on a Ray worker (its synth kept for the process's later chunks).

    Returns:
        The rendered chunk, its attempt number and, with ``collect``, the bytes of its shard file.
    """
    import ray

    attempt = ray.get(starts.start.remote(chunk))
    if not collect:
        return render_chunk(job, chunk), attempt, None
    with tempfile.TemporaryDirectory(prefix="synthgen-chunk-") as tmp:
        local = replace(job, root=Path(tmp))
        shard = shard_path(local.root, chunk)
        shard.parent.mkdir(parents=True)
        rendered = render_chunk(local, chunk)
        return rendered, attempt, shard.read_bytes()


def _user_error(error: Exception) -> SynthgenError | None:
    """The one-line error a failed task means for the user, if it is a user's mistake rather than a bug."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, SynthgenError):
        return cause
    detail = str(error).strip().splitlines()[-1]
    if isinstance(cause, ImportError) or "failed to import on the worker" in str(cause):
        return SynthgenError(
            f"a Ray worker could not load synthgen's render code ({detail}): "
            'install the same synthgen on every node (pip install "synthgen[ray]")'
        )
    return None


def _connect(ray: ModuleType, address: str | None, jobs: int | None) -> None:
    """Start Ray on this machine with ``jobs`` CPUs, or join the cluster at ``address``."""
    if address is None:
        ray.init(address="local", num_cpus=jobs, include_dashboard=False, logging_level=logging.WARNING)
        return
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SynthgenError(
            f"could not join the Ray cluster at --address {address} ({first_line}): start one with `ray start --head`"
        ) from None


@contextmanager
def ray_session(address: str | None = None, jobs: int | None = None) -> Iterator[None]:
    """Join Ray for the span of a ``with`` block.

    Uses the Ray instance already started in this process if there is one; otherwise starts one
    here with ``jobs`` CPUs (default: all), or joins the cluster at ``address`` (``"auto"``,
    ``"ray://host:10001"``), and leaves it at the end.
    """
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _connect(ray, address, jobs)
    try:
        yield
    finally:
        if started_here:
            ray.shutdown()


def render_chunks_on_ray(
    job: RenderJob, chunks: Iterable[int], jobs: int | None = None, collect: bool = False
) -> Iterator[tuple[RenderedChunk, int]]:
    """Render ``chunks`` of ``job`` as Ray tasks (inside :func:`ray_session`), yielding each as it finishes.

    Arguments:
        job: what to render; its ``root`` must be reachable by every worker unless ``collect``.
        chunks: chunk numbers to render.
        jobs: tasks running at once (default: every CPU of the cluster).
        collect: send every shard back to this process, which writes it into ``job.root``.

    Returns:
        An iterator of ``(rendered chunk, attempt)`` pairs; ``attempt`` is 1 unless the chunk was retried.
    """
    import ray

    width = jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
    task = ray.remote(num_cpus=1, max_retries=MAX_TASK_RETRIES)(_render_task)
    starts = ray.remote(num_cpus=0)(_ChunkStarts).remote()
    root = job.root.resolve()
    job_ref = ray.put(replace(job, root=root))
    todo = iter(chunks)
    pending: dict[Any, int] = {}
    while True:
        while len(pending) < width and (chunk := next(todo, None)) is not None:
            pending[task.remote(job_ref, chunk, starts, collect)] = chunk
        if not pending:
            return
        [ref], _ = ray.wait(list(pending), num_returns=1)
        chunk = pending.pop(ref)
        try:
            rendered, attempt, shard = ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            raise _user_error(e) or e from None
        except ray.exceptions.WorkerCrashedError:
            raise SynthgenError(
                f"chunk {chunk} crashed its Ray worker {MAX_TASK_RETRIES + 1} times "
                f"(rows {chunk * job.chunk_size}-{chunk * job.chunk_size + job.chunk_rows(chunk) - 1}): "
                "a preset there may crash the synth; render them with --backend local to find and skip it"
            ) from None
        if shard is not None:
            write_shard_file(shard_path(root, chunk), shard)
        yield rendered, attempt
