"""The instrument panel's state: the current latent point, its preset, the note, and a history to undo."""

__all__ = ["Panel", "PanelState"]

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from synthgen.errors import SynthgenError
from synthgen.model import LoadedModel
from synthgen.serve.knobs import Knob
from synthgen.uses.walk import latent_point, preset_document


@dataclass(frozen=True)
class PanelState:
    """One point the panel has been at.

    Arguments:
        version: increases by one with every change.
        z: the latent point ``(D,)``.
        unit: its preset ``(P,)`` in unit space.
        midi_pitch, velocity: the note to audition.
        source: what made the change (``knob``, ``osc``, ``preset NAME``, ``undo``, ...).
        move_id: the number its sender gave the move (echoed with the state and its sound), if any.
        gain_db: the output gain the sound plays at: a loaded preset's own, or a resynthesis's fitted one.
    """

    version: int
    z: np.ndarray
    unit: np.ndarray
    midi_pitch: int
    velocity: int
    source: str
    move_id: int | None = None
    gain_db: float = 0.0


class Panel:
    """Where the instrument is in the latent space, changed by knobs, the XY pad, presets and undo.

    Every change makes a new :class:`PanelState` and calls the listeners with it (in the calling
    thread, one change at a time). A move pushes the point it leaves onto the history when it starts
    a new gesture: the previous change was more than ``gesture_gap_s`` ago, or was not a move.

    Arguments:
        model: an invertible model with a latent space (``vae_flow_post``).
        knobs: the macro knobs; the XY pad drives the first two.
        latent_range: knobs span ``-latent_range .. latent_range``.
        history_size: how many earlier points undo can go back to.
        gesture_gap_s: a pause longer than this starts a new gesture.
        clock: seconds, monotonic (replaceable in tests).
    """

    def __init__(
        self,
        model: LoadedModel,
        knobs: Sequence[Knob],
        latent_range: float = 3.0,
        history_size: int = 32,
        gesture_gap_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not model.has_latent or not model.is_invertible:
            raise SynthgenError(
                f"serve steers a latent space mapped both ways to the parameters, and model {model.path} ({model.name}) "
                "is not invertible: use a vae_flow_post model"
            )
        if len(knobs) < 2:
            raise SynthgenError(f"the panel needs at least 2 knobs (the XY pad drives two), got {len(knobs)}")
        self.model = model
        self.knobs = list(knobs)
        self.latent_range = float(latent_range)
        self.gesture_gap_s = gesture_gap_s
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[Callable[[PanelState], None]] = []
        self._history: deque[PanelState] = deque(maxlen=history_size)
        self._last_move_at = -np.inf
        render = model.config.render
        z = np.zeros(model.latent_dim, dtype=np.float32)
        self._state = PanelState(0, z, self._unit(z), render.midi_pitch, render.velocity, "start")

    @property
    def state(self) -> PanelState:
        return self._state

    @property
    def history_size(self) -> int:
        return len(self._history)

    def subscribe(self, listener: Callable[[PanelState], None]) -> None:
        """Call ``listener(state)`` after every change."""
        self._listeners.append(listener)

    def _unit(self, z: np.ndarray) -> np.ndarray:
        return self.model.params_from_latent(z[None])[0]

    def _change(
        self,
        source: str,
        z: np.ndarray | None = None,
        note: tuple[int, int] | None = None,
        move: bool = False,
        unit: np.ndarray | None = None,
        move_id: int | None = None,
        gain_db: float | None = None,
    ) -> PanelState:
        with self._lock:
            old = self._state
            now = self._clock()
            if not move or now - self._last_move_at > self.gesture_gap_s:
                self._history.append(old)
            self._last_move_at = now if move else -np.inf
            z = old.z if z is None else np.asarray(z, dtype=np.float32)
            if unit is None:
                unit = old.unit if z is old.z else self._unit(z)
            pitch, velocity = note or (old.midi_pitch, old.velocity)
            gain_db = old.gain_db if gain_db is None else float(gain_db)
            return self._publish(PanelState(old.version + 1, z, unit, pitch, velocity, source, move_id, gain_db))

    def _publish(self, state: PanelState) -> PanelState:
        self._state = state
        for listener in self._listeners:
            listener(state)
        return state

    def _check_value(self, what: str, value: float, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise SynthgenError(f"{what} must be a finite number, got {value!r}")
        if not low <= value <= high:
            raise SynthgenError(f"{what} = {value} is out of range {low:g} .. {high:g}")
        return float(value)

    def set_latent(self, values: Mapping[int, float], source: str = "knob", move_id: int | None = None) -> PanelState:
        """Move latent dimensions (``dim -> value``, each within ``±latent_range``); the others stay.

        ``move_id``: the sender's number for this move, echoed with the state and its sound.
        """
        with self._lock:  # moves from the page and from OSC may come at once: none is lost
            z = self._state.z.copy()
            n_dims = len(z)
            for dim, value in values.items():
                if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 0 <= dim < n_dims:
                    raise SynthgenError(f"latent dimension {dim!r} does not exist: the model has dimensions 0 to {n_dims - 1}")
                z[dim] = self._check_value(f"latent {dim}", value, -self.latent_range, self.latent_range)
            return self._change(source, z, move=True, move_id=move_id)

    def set_xy(self, x: float, y: float, source: str = "xy", move_id: int | None = None) -> PanelState:
        """Move the first two knobs: ``x`` and ``y`` in 0..1 span their whole range."""
        x = self._check_value("x", x, 0.0, 1.0)
        y = self._check_value("y", y, 0.0, 1.0)
        r = self.latent_range
        return self.set_latent({self.knobs[0].dim: (2 * x - 1) * r, self.knobs[1].dim: (2 * y - 1) * r}, source, move_id)

    def set_note(self, midi_pitch: int, velocity: int) -> PanelState:
        """Audition another note: MIDI pitch 0..127, velocity 1..127."""
        for what, value, low in (("midi_pitch", midi_pitch, 0), ("velocity", velocity, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 127:
                raise SynthgenError(f"{what} must be a whole number from {low} to 127, got {value!r}")
        return self._change("note", note=(midi_pitch, velocity))

    def jump(
        self, z: np.ndarray, unit_row: np.ndarray, source: str, note: tuple[int, int] | None = None, gain_db: float | None = None
    ) -> PanelState:
        """Go to a latent point ``(D,)`` with its preset ``(P,)`` (kept as given until the next move), and to
        ``note`` (MIDI pitch, velocity) and ``gain_db`` where given."""
        z = np.asarray(z, dtype=np.float32)
        if z.shape != self._state.z.shape or not np.isfinite(z).all():
            raise SynthgenError(f"{source}: the model cannot place this preset in its latent space")
        return self._change(source, z, note=note, unit=np.asarray(unit_row, dtype=np.float32), gain_db=gain_db)

    def load(self, path: str | Path, name: str | None = None) -> PanelState:
        """Go to a synthgen JSON preset (through the flow's inverse; at its own note and output gain) or to the
        encoded point of a sound file.

        Arguments:
            path: the ``.json`` preset or sound file.
            name: what to call it in the state's source (default: the file name).
        """
        z, unit = latent_point(self.model, path)
        source = f"preset {name or Path(path).name}"
        if (stored := preset_document(path)) is None:
            return self.jump(z, unit, source)
        note = stored.note_on(self.model.config.render)
        return self.jump(z, unit, source, (note.midi_pitch, note.velocity), stored.output_gain_db)

    def undo(self) -> PanelState:
        """Go back to the point before the last gesture, preset or note change."""
        with self._lock:
            if not self._history:
                raise SynthgenError("nothing to undo")
            back = self._history.pop()
            self._last_move_at = -np.inf
            return self._publish(replace(back, version=self._state.version + 1, source="undo", move_id=None))
