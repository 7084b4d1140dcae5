"""Persistent render worker processes, watched by a supervisor that survives their crashes and hangs.

Each worker builds the synth once, then renders chunk after chunk into one of two shared audio
buffers, so it renders the next chunk while the consumer turns the last one into a shard. The
log-mels are computed by the consumer while a CPU is left for it, else by the workers themselves.
Before every sound a worker marks (row, draw, start time) in shared memory: when a plugin aborts,
segfaults or hangs, the supervisor knows which preset did it, tries it again in a fresh worker, and
after :data:`MAX_PRESET_TRIES` failures has the worker skip it (recorded in the shard). A worker
dies with its parent, so a ``kill -9`` of the render leaves no process behind. (A general pool
such as joblib's cannot say which preset killed a worker, nor time out one sound.)
"""

__all__ = ["LOAD_TIMEOUT_S", "MAX_PRESET_TRIES", "WorkerPool", "serve"]

import ctypes
import mmap
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from multiprocessing.connection import Connection, wait

import numpy as np
from threadpoolctl import threadpool_limits

from synthgen.dataset.chunks import RenderedChunk, RenderJob, preset_failure, render_chunk_audio
from synthgen.errors import SynthgenError
from synthgen.synths.child import start_child

#: tries of a preset that crashes or hangs the synth before it is skipped
MAX_PRESET_TRIES = 2
#: seconds a worker may take to build its synth (a Faust compile, a plugin load)
LOAD_TIMEOUT_S = 600.0
#: worker deaths outside any render (loading, between sounds) tolerated before the render stops
_MAX_STRAY_DEATHS = 2
_PR_SET_PDEATHSIG = 1
_POLL_S = 0.25
_IDLE = -1
_MARKER_BYTES = 64


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when the supervisor dies (Linux), or leave at once if it is gone."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def _shared_views(memory: mmap.mmap, job: RenderJob) -> tuple[np.ndarray, np.ndarray]:
    """The preset marker ``(3,)`` int64 (row, draw, start ns) and the audio buffers ``(2, chunk_size, n_samples)``."""
    marker = np.frombuffer(memory, dtype=np.int64, count=3)
    slots = np.frombuffer(memory, dtype=np.float32, offset=_MARKER_BYTES).reshape(2, job.chunk_size, job.n_samples)
    return marker, slots


def serve(conn_fd: int, memory_fd: int, parent_pid: int) -> None:
    """A worker's life: build the synth, say ready, then render each chunk it is sent until told to stop.

    Arguments:
        conn_fd: this end of the supervisor's socket; the first message is the :class:`RenderJob` and
            whether this worker computes the log-mels.
        memory_fd: the shared memory holding the preset marker and the two audio buffers.
        parent_pid: the supervisor, whose death ends this process.
    """
    _die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group: the supervisor handles it and ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from synthgen.synths.loading import load_synth

    conn = Connection(conn_fd)
    job, features = conn.recv()
    marker, slots = _shared_views(mmap.mmap(memory_fd, 0), job)

    def mark(row: int, attempt: int) -> None:
        # The row goes last: a supervisor reading row >= 0 sees this sound's start time.
        if row == _IDLE:
            marker[0] = _IDLE
        else:
            marker[2], marker[1], marker[0] = time.monotonic_ns(), attempt, row

    # One BLAS thread: the workers already take every CPU between them.
    threadpool_limits(1)
    try:
        synth = load_synth(job.config, job.plugin, check=True)
        conn.send(("ready",))
        while (task := conn.recv()) is not None:
            chunk, slot, skip = task
            conn.send(("done", slot, render_chunk_audio(job, chunk, synth, slots[slot], skip, mark, features)))
    except SynthgenError as e:
        conn.send(("user-error", str(e)))
    except EOFError:
        pass
    except Exception:
        conn.send(("error", traceback.format_exc()))


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"crashed ({signal.Signals(-exitcode).name})"
    return f"ended its process (exit code {exitcode})"


class _Worker:
    """The supervisor's handle on one worker process, its two audio buffers and its preset marker.

    The process is a fresh interpreter running :func:`serve` (not a multiprocessing child, so the
    caller's main module is never imported again); it shares a socket and a memory file with us.
    """

    def __init__(self, job: RenderJob, features: bool) -> None:
        self._job, self._features = job, features
        size = _MARKER_BYTES + 2 * job.chunk_size * job.n_samples * 4
        self._memory_fd = os.memfd_create("synthgen-render") if hasattr(os, "memfd_create") else _unlinked_file()
        os.ftruncate(self._memory_fd, size)
        self.marker, self.slots = _shared_views(mmap.mmap(self._memory_fd, size), job)
        self.chunk: int | None = None
        self.slot = 0  # the buffer the chunk in progress is rendered into
        self.held = [False, False]  # buffers whose audio the consumer has not released yet
        self.start()

    def start(self) -> None:
        """Start a fresh process (after a crash too); it reports ``ready`` once its synth is built."""
        self.marker[0] = _IDLE
        self.process, self.conn = start_child("synthgen.dataset.workers.serve", self._memory_fd, os.getpid(), pass_fds=(self._memory_fd,))
        self.conn.send((self._job, self._features))
        self.chunk = None
        self.loaded_at = time.monotonic()
        self.ready = False

    def free_slot(self) -> int | None:
        """A buffer neither rendered into nor held by the consumer, if the worker is idle."""
        if not self.ready or self.chunk is not None:
            return None
        return next((slot for slot in (1 - self.slot, self.slot) if not self.held[slot]), None)

    def submit(self, chunk: int, slot: int, skip: dict[tuple[int, int], str]) -> None:
        self.chunk, self.slot = chunk, slot
        try:
            self.conn.send((chunk, slot, skip))
        except OSError:
            pass  # it has just died: the supervisor sees that next, and gives the chunk to its successor

    def preset(self) -> tuple[int, int] | None:
        """The (row, draw) being rendered, if any."""
        row = int(self.marker[0])
        return None if row == _IDLE else (row, int(self.marker[1]))

    def overdue(self, render_timeout_s: float | None) -> bool:
        """Whether the sound in progress (or the synth's start-up) has run past its time."""
        if not self.ready:
            return time.monotonic() - self.loaded_at > LOAD_TIMEOUT_S
        if render_timeout_s is None or self.preset() is None:
            return False
        return (time.monotonic_ns() - int(self.marker[2])) / 1e9 > render_timeout_s

    def exitcode(self) -> int | None:
        """The process's exit code once it has ended (negative: the signal that ended it)."""
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.conn.close()

    def stop(self) -> None:
        """Ask an idle worker to leave; kill it if it does not."""
        try:
            self.conn.send(None)
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def close(self) -> None:
        """Free the shared memory (after the process has ended)."""
        os.close(self._memory_fd)


def _unlinked_file() -> int:
    """A file descriptor of a temporary file that no longer has a name (where there is no memfd)."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        fd = os.dup(f.fileno())
    os.unlink(f.name)
    return fd


class WorkerPool:
    """Persistent render workers under supervision; a context manager that kills them all on exit.

    Entering starts ``jobs`` workers and waits until each has built its synth, so a bad config or
    a plugin that cannot load fails before anything is written.

    Arguments:
        job: the render.
        jobs: worker processes.
        render_timeout_s: seconds one sound may take before its worker is killed (``None``: no limit).
        notify: called with one line for each crash, hang and skipped preset.
        features: the workers compute each chunk's log-mels (else the consumer does).
    """

    def __init__(
        self, job: RenderJob, jobs: int, render_timeout_s: float | None, notify: Callable[[str], None], features: bool = False
    ) -> None:
        self.job, self.jobs, self.render_timeout_s, self.notify, self.features = job, jobs, render_timeout_s, notify, features
        self._pending: deque[int] = deque()  # chunks given back by a lost worker
        self._fresh: Iterator[int] = iter(())
        self._exhausted = False
        # The consumer releases a buffer from its own thread; this pipe wakes the supervisor then.
        self._wake_r, self._wake_w = mp.Pipe(duplex=False)
        self._skips: dict[int, dict[tuple[int, int], str]] = {}
        self._tries: dict[tuple[int, int], int] = {}
        self._stray_deaths = 0
        self._workers: list[_Worker] = []

    def __enter__(self) -> "WorkerPool":
        try:
            self._workers = [_Worker(self.job, self.features) for _ in range(self.jobs)]
            while not all(w.ready for w in self._workers):
                for _ in self._step():
                    pass
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._wake_r.close()
        self._wake_w.close()
        for worker in self._workers:
            if worker.ready and worker.chunk is None and worker.process.poll() is None:
                worker.stop()
            else:
                worker.kill()
            worker.close()

    def render(self, chunks: Iterable[int]) -> Iterator[tuple[RenderedChunk, np.ndarray, Callable[[], None]]]:
        """Render ``chunks`` (taken one at a time).

        Yields:
            Each rendered chunk (in completion order), its kept rows' audio ``(n_kept, n_samples)``,
            and a function to call (from any thread) once that audio is used: until then its worker
            renders into its other buffer, then waits.
        """
        self._fresh, self._exhausted = iter(chunks), False
        while True:
            for worker in self._workers:
                self._submit_next(worker)
            if self._exhausted and not self._pending and all(w.chunk is None for w in self._workers):
                return
            yield from self._step()

    def _submit_next(self, worker: _Worker) -> None:
        slot = worker.free_slot()
        if slot is None:
            return
        chunk = self._pending.popleft() if self._pending else next(self._fresh, None)
        if chunk is None:
            self._exhausted = True
        else:
            worker.submit(chunk, slot, self._skips.get(chunk, {}))

    def _release(self, worker: _Worker, slot: int) -> None:
        worker.held[slot] = False
        self._wake_w.send_bytes(b"")

    def _step(self) -> Iterator[tuple[RenderedChunk, np.ndarray, Callable[[], None]]]:
        """Wait a moment for news from the workers and act on it: results, errors, deaths, hangs."""
        waiting = [w for w in self._workers if not w.ready or w.chunk is not None]
        # A worker's death closes its socket, which wakes us as a message would.
        wait([self._wake_r] + [w.conn for w in waiting], timeout=_POLL_S)
        while self._wake_r.poll():
            self._wake_r.recv_bytes()
        for worker in waiting:
            if worker.conn.poll():
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    self._lost(worker, _death_reason(worker.exitcode()))
                    continue
                if message[0] == "ready":
                    worker.ready = True
                elif message[0] == "done":
                    _, slot, rendered = message
                    worker.chunk, worker.held[slot] = None, True
                    # The worker renders its next chunk into the other buffer while this one is used.
                    self._submit_next(worker)
                    yield rendered, worker.slots[slot, : len(rendered.row_id)], partial(self._release, worker, slot)
                elif message[0] == "user-error":
                    raise SynthgenError(message[1])
                else:
                    raise RuntimeError(f"a render worker failed:\n{message[1]}")
            elif worker.overdue(self.render_timeout_s):
                limit = f"no sound after {self.render_timeout_s:g} s" if worker.ready else f"not loaded after {LOAD_TIMEOUT_S:g} s"
                self._lost(worker, f"hung ({limit})")

    def _lost(self, worker: _Worker, reason: str) -> None:
        """A worker crashed or hung: charge the preset it was on, put its chunk back, start a new one."""
        preset = worker.preset()
        worker.kill()
        if preset is None:
            self._stray_deaths += 1
            if not worker.ready or self._stray_deaths > _MAX_STRAY_DEATHS:
                where = "while loading" if not worker.ready else "between sounds"
                raise SynthgenError(f"synth '{self.job.config.name}' {reason} {where}; the render stops (finished shards are kept)")
        else:
            self._tries[preset] = tries = self._tries.get(preset, 0) + 1
            failure = preset_failure(self.job, *preset, reason)
            if tries < MAX_PRESET_TRIES:
                self.notify(f"preset {failure.describe()} {reason}; trying it again ({tries} of {MAX_PRESET_TRIES})")
            else:
                self._skips.setdefault(int(worker.chunk), {})[preset] = reason
                self.notify(f"skipped preset {failure.describe()}: it {reason} {MAX_PRESET_TRIES} times; recorded in the dataset")
        if worker.chunk is not None:
            self._pending.appendleft(worker.chunk)
        worker.start()
