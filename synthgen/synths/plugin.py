"""VST2 / VST3 plugins hosted by DawDreamer, addressed by parameter name."""

__all__ = ["PluginSynth"]

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import numpy as np

from synthgen.config import Note
from synthgen.errors import SynthgenError
from synthgen.synths.base import ParameterInfo, Synth
from synthgen.synths.host import import_dawdreamer
from synthgen.synths.plugin_process import PluginProcess
from synthgen.synths.static_data import static_data_of

daw = import_dawdreamer()

# Rendered before each sound with the plugin's initial values (amsynth's: a short release, no effects):
# one short note at the sound's pitch, then silence, in which the sound before dies away. A synth that
# keeps one voice per key (amsynth) so starts every sound from the same voice state: it resets a key's
# voice only when the voice is silent at note-on, and the voice's smoothed parameters move only while
# it plays, so without this note each render would go on from where the key's previous sound left them.
_FLUSH_NOTE_S = 0.05
_FLUSH_S = 0.5
_BLOCK_SIZE = 512


@contextmanager
def _quiet_host() -> Iterator[None]:
    """Silence the host's and plugin's chatter on the process's stdout/stderr while loading a plugin."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


class PluginSynth(Synth):
    """A VST2 (``.so``) or VST3 (``.vst3``) instrument.

    Instances of one plugin in one process may share native state, and a plugin may abort the
    process on some presets (amsynth's oscillators assert), so the copies it makes
    (:meth:`copies`, for searches) are :class:`~synthgen.synths.plugin_process.PluginProcess`
    instances, each in a process of its own.

    Each sound starts from the plugin library's static data as it was when the plugin loaded (see
    :mod:`synthgen.synths.static_data`): a preset with noise renders the same audio every time.

    A render that comes out not finite (NaN or infinite) can leave the plugin's inner state broken
    for good (amsynth's filters then play NaN for every later preset), so the instance is replaced
    by a fresh one, with the same native state, before the next sound.

    Arguments:
        path: the plugin file.
        sample_rate: render rate in Hz.
    """

    def __init__(self, path: str | Path, sample_rate: int = 22050) -> None:
        path = Path(path).expanduser()
        if not path.exists():
            raise SynthgenError(f"plugin file not found: {path}")
        self.path = path
        self.sample_rate = int(sample_rate)
        self._state: Path | None = None
        self._open()
        n = self._proc.get_plugin_parameter_size()
        self._index = {self._proc.get_parameter_name(i): i for i in range(n)}
        self._initial = {i: self._proc.get_parameter(i) for i in range(n)}

    def _open(self) -> None:
        """Load a new instance of the plugin (and the native state loaded last, if any)."""
        self._engine = daw.RenderEngine(self.sample_rate, _BLOCK_SIZE)
        try:
            with _quiet_host():
                self._proc = self._engine.make_plugin_processor("synth", str(self.path))
        except RuntimeError:
            raise SynthgenError(f"{self.path} is not a VST2/VST3 plugin DawDreamer can load") from None
        if self._proc.get_num_output_channels() == 0:
            raise SynthgenError(f"{self.path} has no audio output: it is not a synthesizer")
        self._engine.load_graph([(self._proc, [])])
        self._static = static_data_of(self.path)
        if self._state is not None:
            self.load_state(self._state)

    def copies(self, n: int) -> list[Synth]:
        """``n`` instances in processes of their own, made once and kept (not this one: a preset that
        crashes the plugin then ends only a child process, see :class:`PluginProcess`)."""
        made: list[Synth] = self.__dict__.setdefault("_copies", [])
        while len(made) < n:
            made.append(PluginProcess(self.path, self.sample_rate, self._state, self.parameters()))
        return made[:n]

    def parameters(self) -> list[ParameterInfo]:
        return [ParameterInfo(name, self._initial[i], 0.0, 1.0, self._proc.get_parameter_text(i)) for name, i in self._index.items()]

    def index_of(self, name: str) -> int:
        """The plugin's index of a parameter name."""
        try:
            return self._index[name]
        except KeyError:
            raise SynthgenError(f"{self.path.name} has no parameter '{name}' (see `synthgen info --synth {self.path}`)") from None

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """Set parameters by name (host values 0..1)."""
        for name, value in values.items():
            self._proc.set_parameter(self.index_of(name), float(value))

    def parameter_text(self, name: str) -> str:
        """The plugin's own display text of a parameter's current value."""
        return self._proc.get_parameter_text(self.index_of(name))

    def render(self, batch: Sequence[Mapping[str, float]], note: Note) -> np.ndarray:
        out = np.zeros((len(batch), self.n_samples(note, self.sample_rate)), dtype=np.float32)
        for b, values in enumerate(batch):
            self._proc.clear_midi()
            for i, v in self._initial.items():
                self._proc.set_parameter(i, v)
            self._proc.add_midi_note(note.midi_pitch, note.velocity, 0.0, _FLUSH_NOTE_S)
            self._engine.render(_FLUSH_S)
            self._proc.clear_midi()
            self.set_parameters(values)
            if self._static is not None:
                self._static.restore()
            self._proc.add_midi_note(note.midi_pitch, note.velocity, 0.0, note.note_duration_s)
            self._engine.render(note.render_duration_s)
            audio = self._engine.get_audio().mean(axis=0)
            n = min(len(audio), out.shape[1])
            out[b, :n] = audio[:n]
            if not np.isfinite(out[b]).all():
                self._open()
        self._proc.clear_midi()
        return out

    @property
    def state_suffix(self) -> str:
        """File suffix of the native state: a VST2 chunk preset (.fxp) or a VST3 state blob."""
        return ".fxp" if self.path.suffix == ".so" else ".vst3state"

    def save_state(self, path: str | Path) -> Path:
        """Write the plugin's native state (its own preset format) to ``path``."""
        path = Path(path).with_suffix(self.state_suffix)
        self._proc.save_state(str(path))
        return path

    def load_state(self, path: str | Path) -> None:
        """Load a native state written by :meth:`save_state`; later renders start from it."""
        path = Path(path)
        if not path.is_file():
            raise SynthgenError(f"plugin state file not found: {path}")
        try:
            with _quiet_host():
                # VST2: load_preset reads the chunk without opening the plugin's window (which
                # fails on a machine without a display); VST3 states go through load_state.
                if self.state_suffix == ".fxp":
                    self._proc.load_preset(str(path))
                else:
                    self._proc.load_state(str(path))
        except RuntimeError as e:
            # DawDreamer applies the state, then tries to open the editor so the plugin notices.
            if "editor" not in str(e):
                raise SynthgenError(f"{path} is not a saved state of {self.path.name}") from None
        self._state = path
        for copy in self.__dict__.pop("_copies", []):  # made with the previous state
            cast(PluginProcess, copy).close()
        self._initial = {i: self._proc.get_parameter(i) for i in self._initial}
