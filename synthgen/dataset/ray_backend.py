"""Render a dataset's chunks as Ray tasks, on this machine or on a cluster.

Each chunk is one task running the same chunk renderer as the local backend; a worker process keeps
its synth loaded between tasks. A task whose worker dies is re-run by Ray (``max_retries``). Shards
are written by the tasks into the dataset folder, which on a cluster is shared storage, or, with
``collect``, sent back as files to the driver, which writes them.
"""

__all__ = ["MAX_TASK_RETRIES", "ray_session", "render_chunks_on_ray"]

import logging
import socket
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
#: seconds a cluster's address may take to accept a connection before the render gives up
CONNECT_TIMEOUT_S = 5.0


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise SynthgenError("--backend ray needs Ray, which is not installed: pip install synthgen[ray]") from None
    return ray


class _ChunkStarts:
    """What the tasks of every chunk report (a Ray actor): their starts, and on retries the preset they render.

    A retried chunk marks each preset before rendering it; when its worker dies again, the preset
    marked last crashed it, and the next attempt skips it (recorded as a failure). A worker that dies
    before its task has reported its start leaves no trace here: such a retry lost no rendering and
    is not counted.
    """

    def __init__(self) -> None:
        self._starts: dict[int, int] = {}
        self._marks: dict[int, tuple[int, int]] = {}
        self._crashed: dict[int, set[tuple[int, int]]] = {}

    def start(self, chunk: int) -> tuple[int, list[tuple[int, int]]]:
        """Count a start of ``chunk``; returns the attempt number and the ``(row, draw)`` pairs that crashed it."""
        self._starts[chunk] = self._starts.get(chunk, 0) + 1
        row, draw = self._marks.pop(chunk, (-1, 0))
        if row >= 0:
            self._crashed.setdefault(chunk, set()).add((row, draw))
        return self._starts[chunk], sorted(self._crashed.get(chunk, ()))

    def mark(self, chunk: int, row: int, draw: int) -> None:
        """``(row, draw)`` of ``chunk`` is being rendered (``(-1, 0)``: none)."""
        self._marks[chunk] = (row, draw)


def _render_task(job: RenderJob, chunk: int, starts: Any, collect: bool) -> tuple[RenderedChunk, int, bytes | None]:
    """Render one chunk on a Ray worker (its synth kept for the process's later chunks).

    Returns:
        The rendered chunk, its attempt number and, with ``collect``, the bytes of its shard file.
    """
    import ray

    attempt, crashed = ray.get(starts.start.remote(chunk))
    skip = {tuple(pair): "crashed its Ray worker" for pair in crashed}
    # only a retried chunk pays for reporting each preset: its worker died at least once
    mark = (lambda row, draw: starts.mark.remote(chunk, row, draw)) if attempt > 1 else None
    if not collect:
        return render_chunk(job, chunk, skip=skip, mark=mark), attempt, None
    with tempfile.TemporaryDirectory(prefix="synthgen-chunk-") as tmp:
        local = replace(job, root=Path(tmp))
        shard = shard_path(local.root, chunk)
        shard.parent.mkdir(parents=True)
        rendered = render_chunk(local, chunk, skip=skip, mark=mark)
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


def _check_reachable(address: str) -> None:
    """Refuse at once an address ``[ray://]host:port`` where nothing listens (Ray itself retries for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise SynthgenError(
            f"nothing answers at --address {address} ({e.strerror or e}): start the cluster with `ray start --head`, "
            "or check the host and port"
        ) from None


def _connect(ray: ModuleType, address: str | None, jobs: int | None) -> None:
    """Start Ray on this machine with ``jobs`` CPUs, or join the cluster at ``address``."""
    if address is None:
        ray.init(address="local", num_cpus=jobs, include_dashboard=False, logging_level=logging.WARNING)
        return
    _check_reachable(address)
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
                f"(rows {chunk * job.chunk_size}-{chunk * job.chunk_size + job.chunk_rows(chunk) - 1}), "
                "more often than skipping the presets that crashed it allows: render them with --backend local"
            ) from None
        if shard is not None:
            write_shard_file(shard_path(root, chunk), shard)
        yield rendered, attempt
