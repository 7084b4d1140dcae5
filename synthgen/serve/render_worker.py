"""Render the panel's latest point in a worker thread with its own synth; quick moves coalesce (latest wins)."""

__all__ = ["RenderWorker", "Sound"]

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthgen.audio_io import wav_bytes
from synthgen.config import SynthConfig
from synthgen.features import log_mel
from synthgen.serve.panel import PanelState
from synthgen.synths.base import Synth
from synthgen.synths.rendering import render_unit

_log = logging.getLogger("synthgen.serve")


@dataclass(frozen=True)
class Sound:
    """One rendered point.

    Arguments:
        version: the panel state it renders.
        wav: the note as a 16-bit mono WAV file.
        display: the synth's own display text per learned parameter (plugins; empty for Faust).
        render_s: seconds from picking the state up to the sound being ready.
    """

    version: int
    wav: bytes
    display: dict[str, str]
    render_s: float


class RenderWorker:
    """A thread that renders the newest submitted state as soon as the previous render finishes.

    States submitted while a render runs replace each other: only the latest is rendered next. The
    sound is handed on first; its log-mel follows unless a newer state is already waiting.

    Arguments:
        config: the model's synth config.
        make_synth: builds the worker's own synth (called once, in the worker thread).
        on_sound: called with every :class:`Sound`, in the worker thread.
        on_mel: called with a sound's version and log-mel ``(n_mels, n_frames)``, in the worker thread.
    """

    def __init__(
        self,
        config: SynthConfig,
        make_synth: Callable[[], Synth],
        on_sound: Callable[[Sound], None],
        on_mel: Callable[[int, np.ndarray], None],
    ) -> None:
        self.config = config
        self._make_synth = make_synth
        self._on_sound = on_sound
        self._on_mel = on_mel
        self._pending: PanelState | None = None
        self._wake = threading.Condition()
        self._stopped = False
        self.renders = 0
        self._thread = threading.Thread(target=self._run, name="synthgen-render", daemon=True)
        self._thread.start()

    def submit(self, state: PanelState) -> None:
        """Ask for ``state`` to be rendered (replacing any state still waiting)."""
        with self._wake:
            self._pending = state
            self._wake.notify()

    def close(self) -> None:
        """Stop after the render under way and wait for the thread."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join()

    def _next(self) -> PanelState | None:
        with self._wake:
            while self._pending is None and not self._stopped:
                self._wake.wait()
            state, self._pending = self._pending, None
            return None if self._stopped else state

    def _run(self) -> None:
        synth = self._make_synth()
        while (state := self._next()) is not None:
            try:
                audio = self._render(synth, state)
                if self._pending is None:
                    config = self.config
                    self._on_mel(state.version, log_mel(audio, config.render.sample_rate, config.features)[0])
            except Exception:  # a bad render must not stop the instrument
                _log.exception("render of version %d failed", state.version)

    def _render(self, synth: Synth, state: PanelState) -> np.ndarray:
        """Render a state, hand its sound on, and return its audio ``(n_samples,)``."""
        start = time.perf_counter()
        config = self.config
        audio = render_unit(synth, config, state.unit[None], [(state.midi_pitch, state.velocity)])[0]
        text = getattr(synth, "parameter_text", None)
        display = {name: text(name) for name in config.space.names} if text is not None else {}
        self.renders += 1
        self._on_sound(Sound(state.version, wav_bytes(audio, config.render.sample_rate), display, time.perf_counter() - start))
        return audio
