"""The instrument the server runs: a panel, its render worker and OSC bridge, presets and resynthesis."""

__all__ = ["Instrument"]

import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from synthgen.errors import SynthgenError
from synthgen.model import LoadedModel
from synthgen.presets.json_preset import write_native_preset
from synthgen.serve.knobs import Knob
from synthgen.serve.osc import OscBridge
from synthgen.serve.panel import Panel, PanelState
from synthgen.serve.render_worker import RenderWorker, Sound
from synthgen.synths.base import Synth
from synthgen.uses.resynth import resynthesize

_PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}")


class Instrument:
    """A model made playable: knobs and presets move a :class:`Panel`; every change is rendered and sent out.

    Arguments:
        model: an invertible latent model.
        synth: a synth of the model's config, for resynthesis and preset files (the render worker
            builds its own).
        knobs: the macro knobs (the XY pad drives the first two).
        presets_dir: where saved presets go.
        latent_range: knobs span ``-latent_range .. latent_range``.
        osc_listen: ``(host, port)`` for OSC in, or ``None``.
        osc_send_to: ``(host, port)`` for OSC out, or ``None``.
        plugin: plugin file overriding the config's search paths.
        carla_plugin: send OSC as Carla's control messages for the plugin of this id (see :class:`OscBridge`).
    """

    def __init__(
        self,
        model: LoadedModel,
        synth: Synth,
        knobs: Sequence[Knob],
        presets_dir: str | Path,
        latent_range: float = 3.0,
        osc_listen: tuple[str, int] | None = None,
        osc_send_to: tuple[str, int] | None = None,
        plugin: str | Path | None = None,
        carla_plugin: int | None = None,
    ) -> None:
        self.model = model
        self.presets_dir = Path(presets_dir)
        self.synth = synth
        self._synth_lock = threading.Lock()
        self.panel = Panel(model, knobs, latent_range)
        self.latest_sound: Sound | None = None
        self.latest_mel: tuple[int, np.ndarray] | None = None
        self._sound_listeners: list[Callable[[Sound], None]] = []
        self._mel_listeners: list[Callable[[int, np.ndarray], None]] = []
        self.worker = RenderWorker(model.config, plugin, self._on_sound, self._on_mel)
        self.panel.subscribe(self.worker.submit)
        try:
            self.osc = OscBridge(self.panel, self.synth, osc_listen, osc_send_to, carla_plugin)
        except SynthgenError:
            self.worker.close()
            raise
        self.worker.submit(self.panel.state)

    def listen(self, on_sound: Callable[[Sound], None], on_mel: Callable[[int, np.ndarray], None]) -> None:
        """Call ``on_sound(sound)`` for every new sound and ``on_mel(version, mel)`` for its log-mel (in the render thread)."""
        self._sound_listeners.append(on_sound)
        self._mel_listeners.append(on_mel)

    def _on_sound(self, sound: Sound) -> None:
        self.latest_sound = sound
        for listener in self._sound_listeners:
            listener(sound)

    def _on_mel(self, version: int, mel: np.ndarray) -> None:
        self.latest_mel = version, mel
        for listener in self._mel_listeners:
            listener(version, mel)

    def close(self) -> None:
        """Stop the OSC bridge and the render worker."""
        self.osc.close()
        self.worker.close()

    def save_preset(self, name: str) -> list[Path]:
        """Write the current point as ``<presets_dir>/<name>.json`` plus the synth's native preset files.

        The JSON's ``extra`` holds the latent point and the model, so the point can be found again.
        """
        if not isinstance(name, str) or not _PRESET_NAME.fullmatch(name):
            raise SynthgenError(
                f"preset name {name!r} must be 1-80 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit"
            )
        state = self.panel.state
        self.presets_dir.mkdir(parents=True, exist_ok=True)
        extra = {"latent": state.z.tolist(), "model": str(self.model.path), "source": state.source}
        note = self.model.config.render.note(state.midi_pitch, state.velocity)
        with self._synth_lock:
            return write_native_preset(self.synth, self.model.config, state.unit, self.presets_dir / name, extra, note, state.gain_db)

    def load_preset(self, document: bytes, name: str) -> PanelState:
        """Go to a synthgen JSON preset given as the file's bytes."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "preset.json"
            path.write_bytes(document)
            return self.panel.load(path, Path(name).name or "preset.json")

    def resynthesize(self, audio: bytes, name: str) -> tuple[PanelState, list[str]]:
        """Infer the preset of a sound file given as bytes, and go to it and its latent point.

        Returns:
            The new state, and what was changed to fit the sound to the model (resampled, trimmed...).
        """
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / (Path(name).name or "sound.wav")
            path.write_bytes(audio)
            with self._synth_lock:
                try:
                    result = resynthesize(self.model, path, synth=self.synth)
                except SynthgenError as error:  # named as the user named it, not by the temporary copy
                    raise SynthgenError(str(error).replace(str(path), path.name)) from None
        z = self.model.latent_from_params(result.unit[None])[0]
        note = (result.played.midi_pitch, result.played.velocity)
        return self.panel.jump(z, result.unit, f"resynthesis {path.name}", note, result.gain_db), result.changes
