"""Render the panel's latest point in a worker process with its own synth; quick moves coalesce (latest wins)."""

__all__ = ["RenderWorker", "Sound"]

import logging
import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from synthgen.audio_io import wav_bytes
from synthgen.config import SynthConfig
from synthgen.errors import SynthgenError
from synthgen.features import log_mel
from synthgen.serve.panel import PanelState
from synthgen.synths.base import Synth
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit, silence_broken
from synthgen.uses.level import apply_gain_db

_log = logging.getLogger("synthgen.serve")
# Worker processes fork from one server process that has imported the renderer once.
_CONTEXT = mp.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])


@dataclass(frozen=True)
class Sound:
    """One rendered point.

    Arguments:
        version: the panel state it renders.
        move_id: that state's move number, as its sender gave it.
        wav: the note as a 16-bit mono WAV file.
        display: the synth's own display text per learned parameter (plugins; empty for Faust).
        render_s: seconds from the worker picking the state up to the sound being ready.
    """

    version: int
    move_id: int | None
    wav: bytes
    display: dict[str, str]
    render_s: float


def _render_forever(conn: Connection, config: SynthConfig, plugin: str | Path | None) -> None:
    """The worker process: render each job ``(version, move_id, unit, midi_pitch, velocity, gain_db)`` until ``None`` comes.

    Sends ``("sound", Sound)`` (or ``("failed", text)``), then ``("mel", version, mel)`` with
    ``mel = None`` when the next job is already waiting.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which then stops this process
    try:
        synth = load_synth(config, plugin)
    except SynthgenError as e:
        conn.send(("failed", str(e)))
        return
    conn.send(("ready", None))
    try:
        # One sound at a time: BLAS threads gain nothing, and on a busy machine their spinning costs.
        with threadpool_limits(1):
            _render_jobs(conn, config, synth)
    except (EOFError, OSError, KeyboardInterrupt):  # the server went away
        return


def _render_jobs(conn: Connection, config: SynthConfig, synth: Synth) -> None:
    text = getattr(synth, "parameter_text", None)
    while (job := conn.recv()) is not None:
        version, move_id, unit, midi_pitch, velocity, gain_db = job
        start = time.perf_counter()
        try:
            audio = apply_gain_db(silence_broken(render_unit(synth, config, unit[None], [(midi_pitch, velocity)])), gain_db)[0]
            display = {name: text(name) for name in config.space.names} if text is not None else {}
            conn.send(("sound", Sound(version, move_id, wav_bytes(audio, config.render.sample_rate), display, time.perf_counter() - start)))
        except Exception as e:  # a bad render must not stop the instrument
            conn.send(("failed", f"render of version {version} failed: {type(e).__name__}: {e}"))
            conn.send(("mel", version, None))
            continue
        mel = None if conn.poll() else log_mel(audio, config.render.sample_rate, config.features)[0]
        conn.send(("mel", version, mel))


class RenderWorker:
    """Renders the newest submitted state in a process of its own, as soon as the previous render finishes.

    States submitted while a render runs replace each other: only the latest is rendered next. The
    sound is handed on first; its log-mel follows unless a newer state is already waiting. The process
    keeps its own synth, and rendering never holds up the server's threads.

    Arguments:
        config: the model's synth config.
        plugin: plugin file overriding the config's search paths.
        on_sound: called with every :class:`Sound` (in a thread of this process).
        on_mel: called with a sound's version and log-mel ``(n_mels, n_frames)``.
    """

    def __init__(
        self,
        config: SynthConfig,
        plugin: str | Path | None,
        on_sound: Callable[[Sound], None],
        on_mel: Callable[[int, np.ndarray], None],
    ) -> None:
        self._on_sound = on_sound
        self._on_mel = on_mel
        self._pending: PanelState | None = None
        self._wake = threading.Condition()
        self._stopped = False
        self.renders = 0
        self._conn, child = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(target=_render_forever, args=(child, config, plugin), name="synthgen-render", daemon=True)
        self._process.start()
        child.close()
        self._thread = threading.Thread(target=self._run, name="synthgen-render", daemon=True)
        self._thread.start()

    def submit(self, state: PanelState) -> None:
        """Ask for ``state`` to be rendered (replacing any state still waiting)."""
        with self._wake:
            self._pending = state
            self._wake.notify()

    def close(self) -> None:
        """Stop after the render under way; wait for the thread and the process."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()

    def _take(self, wait: bool) -> PanelState | None:
        """The waiting state (``None`` if none, or once stopped); with ``wait``, block until there is one."""
        with self._wake:
            while wait and self._pending is None and not self._stopped:
                self._wake.wait()
            state, self._pending = self._pending, None
            return None if self._stopped else state

    def _send(self, state: PanelState) -> None:
        self._conn.send((state.version, state.move_id, state.unit, state.midi_pitch, state.velocity, state.gain_db))

    def _receive_sound(self) -> None:
        kind, result = self._conn.recv()
        if kind == "sound":
            self.renders += 1
            self._on_sound(result)
        else:
            _log.error("%s", result)

    def _receive_mel(self) -> None:
        _, version, mel = self._conn.recv()
        if mel is not None:
            self._on_mel(version, mel)

    def _run(self) -> None:
        try:
            kind, message = self._conn.recv()
            if kind != "ready":
                _log.error("the render process could not start: %s", message)
                return
            in_flight = self._take(wait=True)
            if in_flight is not None:
                self._send(in_flight)
            while in_flight is not None:
                self._receive_sound()
                following = self._take(wait=False)
                if following is not None:
                    self._send(following)  # before the log-mel is made: the process skips it then
                self._receive_mel()
                if following is None:
                    following = self._take(wait=True)
                    if following is not None:
                        self._send(following)
                in_flight = following
            self._conn.send(None)
        except (EOFError, OSError):
            _log.error("the render process stopped")
