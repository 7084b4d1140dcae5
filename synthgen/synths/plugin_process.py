"""A plugin instance in a process of its own, so that it can render while another instance does."""

__all__ = ["LOAD_TIMEOUT_S", "RENDER_TIMEOUT_S", "PluginProcess"]

import signal
import subprocess
import weakref
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from synthgen.config import Note
from synthgen.errors import SynthgenError
from synthgen.synths.base import ParameterInfo, Synth
from synthgen.synths.child import reap, start_child

#: seconds a plugin may take to load in its process, and to render one sound, before it counts as hung
LOAD_TIMEOUT_S = 600.0
RENDER_TIMEOUT_S = 60.0


def serve(fd: int) -> None:
    """The child's main: load the plugin named on ``fd``, then render each ``(batch, note)`` until ``None`` comes.

    Each sound is sent as soon as it is rendered; an error sends ``("failed", text)`` and ends that batch.
    """
    from synthgen.synths.plugin import PluginSynth

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which then stops this process
    conn = Connection(fd)
    try:
        path, sample_rate, state = conn.recv()
        synth = PluginSynth(path, sample_rate)
        if state is not None:
            synth.load_state(state)
        conn.send(("ready", None))
        while (job := conn.recv()) is not None:
            batch, note = job
            for values in batch:
                try:
                    audio = synth.render([values], note)[0]
                except Exception as e:  # the parent raises it; this process renders on
                    conn.send(("failed", f"{type(e).__name__}: {e}"))
                    break
                conn.send(("audio", audio))
    except SynthgenError as e:
        conn.send(("failed", str(e)))
    except (EOFError, OSError):  # the parent went away
        return


def _stop(conn: Connection, process: subprocess.Popen) -> None:
    """Ask the child to finish, then make sure it has."""
    try:
        conn.send(None)
    except OSError:
        pass
    reap(process)
    conn.close()


class _Crashed(Exception):
    """The child process ended in the middle of a render."""


class PluginProcess(Synth):
    """Renders with its own instance of a plugin, loaded in a child process.

    The child starts at once and loads the plugin while the caller goes on; the first render waits
    for it. A render blocks only the calling thread, so instances in several processes render at
    the same time. A plugin that crashes (amsynth aborts on some presets) takes only its process
    down: the batch is rendered again one preset at a time in a fresh process, and each preset that
    crashes it comes back as NaN audio (counted in :attr:`crashes`). A sound that takes more than
    :data:`RENDER_TIMEOUT_S` counts as a crash too (the process is killed). A plugin that cannot even
    load raises a :class:`~synthgen.errors.SynthgenError`. The process stops with this object.

    Arguments:
        path: the plugin file.
        sample_rate: render rate in Hz.
        state: a native state file for the instance to load first (see ``PluginSynth.load_state``).
        parameters: the plugin's parameters, as the parent instance reports them.
    """

    def __init__(self, path: Path, sample_rate: int, state: Path | None, parameters: list[ParameterInfo]) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.state = state
        self.crashes = 0
        self._parameters = parameters
        self._start()

    def _start(self) -> None:
        # It loads the plugin while the caller goes on. Its output (the plugin's chatter, an abort's
        # assertion text) stays off the caller's terminal: what the caller needs comes back over the
        # pipe, and a crash shows as the crash count.
        quiet = subprocess.DEVNULL
        self._process, self._conn = start_child("synthgen.synths.plugin_process.serve", stdin=quiet, stdout=quiet, stderr=quiet)
        self._conn.send((str(self.path), self.sample_rate, None if self.state is None else str(self.state)))
        self._ready = False
        self._finalizer = weakref.finalize(self, _stop, self._conn, self._process)

    @property
    def pid(self) -> int | None:
        """The child process's id."""
        return self._process.pid

    def parameters(self) -> list[ParameterInfo]:
        return list(self._parameters)

    def render(self, batch: Sequence[Mapping[str, float]], note: Note) -> np.ndarray:
        try:
            return self._render(batch, note)
        except _Crashed:
            self.crashes += 1
        out = np.full((len(batch), self.n_samples(note, self.sample_rate)), np.nan, dtype=np.float32)
        for b, values in enumerate(batch):
            try:
                out[b] = self._render([values], note)[0]
            except _Crashed:
                self.crashes += 1
        return out

    def close(self) -> None:
        """Stop the child process (after the render under way)."""
        self._finalizer()

    def _render(self, batch: Sequence[Mapping[str, float]], note: Note) -> np.ndarray:
        if self._process.poll() is not None:  # crashed last time: a fresh one
            self._finalizer()
            self._start()
        if not self._ready:
            try:
                self._receive(LOAD_TIMEOUT_S)
            except _Crashed:
                code = self._process.returncode
                raise SynthgenError(f"{self.path.name} crashed while loading in its render process (exit code {code})") from None
            self._ready = True
        try:
            self._conn.send(([dict(values) for values in batch], note))
        except OSError:
            raise self._crashed() from None
        out = np.empty((len(batch), self.n_samples(note, self.sample_rate)), dtype=np.float32)
        for b in range(len(batch)):
            out[b] = self._receive(RENDER_TIMEOUT_S)
        return out

    def _receive(self, timeout_s: float) -> Any:
        try:
            if not self._conn.poll(timeout_s):  # hung: as good as crashed
                self._process.kill()
                raise self._crashed()
            kind, value = self._conn.recv()
        except (EOFError, OSError):
            raise self._crashed() from None
        if kind == "failed":
            raise SynthgenError(f"{self.path.name} failed in its render process: {value}")
        return value

    def _crashed(self) -> _Crashed:
        """The error for a child whose end of the pipe closed, once the child is gone (it may still be exiting)."""
        reap(self._process)
        return _Crashed()
