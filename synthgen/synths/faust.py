"""Faust synths compiled at run time by DawDreamer, rendering many presets side by side."""

__all__ = ["COMPILE_FLAGS", "NOTE_PARAMETERS", "OPT_LEVEL", "FaustSynth"]

import atexit
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.config import Note
from synthgen.denormals import flushing_denormals
from synthgen.errors import SynthgenError
from synthgen.synths.base import ParameterInfo, Synth
from synthgen.synths.host import import_dawdreamer

daw = import_dawdreamer()

# Sliders set from the Note rather than from the preset (where the voice has them).
NOTE_PARAMETERS = ("midi_pitch", "velocity", "note_duration_s")

# Faust compiler flags and LLVM optimization level (-1: the highest). Measured on the built-in voice
# (python -m benchmarks.faust_speed): vectorized code (-vec -vs 16/32) renders ~20 % more sounds per
# CPU-second, as the ladder filter's feedback is one serial chain, and its other rounding flips
# threshold decisions (the sub-octave's) on about one preset in four, changing samples by up to 1.25;
# -ftz 2 changes rounding and is no faster; opt levels 1 and -1 are as fast. Scalar code at the
# highest level keeps the audio bit for bit, and flushing denormals in hardware while rendering
# (FaustSynth's flush_denormals: ~1.27x) changes no sample by more than 1.2e-38. It compiles in ~0.15 s per process,
# so compiled code is not cached on disk (DawDreamer's restore from LLVM bitcode takes ~0.1 s and
# its samples differ from a fresh compile's by ~1e-4).
COMPILE_FLAGS: tuple[str, ...] = ()
OPT_LEVEL = -1
_BLOCK_SIZE = 4096
_VOICE_GROUP = re.compile(r"v(\d+)")
_DEFINES_VOICE = re.compile(r"^\s*voice\s*=", re.MULTILINE)


@dataclass
class _Compiled:
    """One compiled batch of voices: the engine, its processor and its sliders as DawDreamer lists them."""

    engine: daw.RenderEngine
    processor: daw.FaustProcessor
    sliders: list[dict]
    lock: threading.Lock


# Compiling takes seconds for large batches, so every process keeps one engine per
# (source, sample rate, batch size, compiler flags, optimization level, engine number).
_CACHE: dict[tuple[str, int, int, tuple[str, ...], int, int], _Compiled] = {}
_CACHE_LOCK = threading.Lock()
# Free the engines before the interpreter tears DawDreamer's bindings down.
atexit.register(_CACHE.clear)
# The thread that built this process's first engine: DawDreamer (JUCE) finishes building an engine's
# graph on that thread, so an engine built on another thread waits for it at its first render, forever
# if that thread is itself waiting. Copies for parallel renders are only made there.
_FIRST_ENGINE_THREAD: list[threading.Thread] = []


def _compile(dsp: str, sample_rate: int, batch_size: int, flags: tuple[str, ...], opt_level: int, engine: int) -> _Compiled:
    key = (dsp, sample_rate, batch_size, flags, opt_level, engine)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if not _DEFINES_VOICE.search(dsp):
                raise SynthgenError(
                    "the Faust source defines no 'voice': define 'voice = ...;' (one mono output, "
                    "no inputs); synthgen adds 'process' itself"
                )
            if not _FIRST_ENGINE_THREAD:
                _FIRST_ENGINE_THREAD.append(threading.current_thread())
            engine = daw.RenderEngine(sample_rate, _BLOCK_SIZE)
            processor = engine.make_faust_processor("faust")
            processor.compile_flags = list(flags)
            processor.opt_level = opt_level
            processor.set_dsp_string(f'{dsp}\nprocess = par(i, {batch_size}, hgroup("v%i", voice));\n')
            try:
                ok = processor.compile()
            except RuntimeError as e:
                raise SynthgenError(f"the Faust source does not compile: {_first_error(str(e), processor)}") from None
            if not ok:
                raise SynthgenError("the Faust source does not compile (no message from the compiler)")
            inputs, outputs = processor.get_num_input_channels(), processor.get_num_output_channels()
            if inputs or outputs != batch_size:
                raise SynthgenError(
                    "the Faust 'voice' must have no inputs and one output, got "
                    f"{inputs // batch_size} inputs and {outputs // batch_size} outputs"
                )
            engine.load_graph([(processor, [])])
            _CACHE[key] = _Compiled(engine, processor, processor.get_parameters_description(), threading.Lock())
        return _CACHE[key]


def _decimal(value: float) -> float:
    """A float32 slider bound as the short decimal it was written as (0.05, not 0.0500000007)."""
    return float(str(np.float32(value)))


def _first_error(message: str, processor: daw.FaustProcessor) -> str:
    """The first line of a Faust compiler message, numbered as lines of the given source."""
    first = next((line for line in message.splitlines() if line.strip()), message).strip()
    first = first.removeprefix("FaustProcessor::compile(): ")
    # DawDreamer compiles its auto-import lines, then a line break, then the source.
    where = re.fullmatch(r"dawdreamer:(\d+) : ERROR : (.*)", first)
    if where is None:
        return first
    line = int(where.group(1)) - processor.auto_import.count("\n") - 1
    return f"line {line}: {where.group(2)}"


class FaustSynth(Synth):
    """A synth written in Faust: the source defines ``voice``, one note gated by time.

    The source defines ``voice`` (no inputs, one mono output) with sliders for its parameters; the
    sliders ``midi_pitch``, ``velocity`` and ``note_duration_s`` (the gate is open while
    ``time < note_duration_s``), where the voice uses them, are set from the note. synthgen
    compiles ``batch_size`` copies of the voice side by side and renders that many presets per
    engine call. DawDreamer clears the DSP state (time, envelopes, filters, noise) before every
    render, so a preset sounds the same alone, at any position of a batch, and on every render.

    Arguments:
        dsp: Faust source text.
        sample_rate: sample rate in Hz.
        batch_size: voices compiled side by side; the audio does not depend on it. One voice per
            engine call renders at least as fast per sound as 16 (DawDreamer's per-call cost is small next
            to the voice's) and compiles ten times faster.
        compile_flags: Faust compiler flags (e.g. ``("-vec", "-vs", "32")``); see :data:`COMPILE_FLAGS`.
        opt_level: LLVM optimization level, -1 for the highest.
        flush_denormals: render with denormal floats flushed to zero (see :mod:`synthgen.denormals`).
        engine: which of this process's engines for this source renders: instances with the same
            number share one (and render one after the other), others render in parallel threads.
    """

    def __init__(
        self,
        dsp: str,
        sample_rate: int,
        batch_size: int = 1,
        compile_flags: tuple[str, ...] = COMPILE_FLAGS,
        opt_level: int = OPT_LEVEL,
        flush_denormals: bool = True,
        engine: int = 0,
    ) -> None:
        if batch_size < 1:
            raise SynthgenError(f"batch_size must be at least 1, got {batch_size}")
        self.dsp = dsp
        self.sample_rate = int(sample_rate)
        self.batch_size = int(batch_size)
        self.compile_flags, self.opt_level = tuple(compile_flags), int(opt_level)
        self.flush_denormals, self.engine = flush_denormals, int(engine)
        compiled = self._compiled()
        # Slider address of (voice index, short name).
        self._addresses: dict[tuple[int, str], str] = {}
        infos: dict[str, ParameterInfo] = {}
        for slider in compiled.sliders:
            parts = slider["name"].strip("/").split("/")
            voice = next((int(m.group(1)) for p in parts if (m := _VOICE_GROUP.fullmatch(p))), None)
            if voice is None:
                continue
            name = parts[-1]
            if (voice, name) in self._addresses:
                raise SynthgenError(f"the Faust voice has two sliders named '{name}': give them distinct labels")
            self._addresses[voice, name] = slider["name"]
            if voice == 0:
                infos[name] = ParameterInfo(name, *(_decimal(slider[k]) for k in ("value", "min", "max")))
        self._note_infos = {p: infos.pop(p) for p in NOTE_PARAMETERS if p in infos}
        self._infos = infos

    def _compiled(self) -> _Compiled:
        return _compile(self.dsp, self.sample_rate, self.batch_size, self.compile_flags, self.opt_level, self.engine)

    def _twin(self, k: int) -> "FaustSynth | None":
        if threading.current_thread() is not _FIRST_ENGINE_THREAD[0]:
            return None
        flags = (self.compile_flags, self.opt_level, self.flush_denormals)
        return FaustSynth(self.dsp, self.sample_rate, self.batch_size, *flags, engine=self.engine + k)

    def parameters(self) -> list[ParameterInfo]:
        """The voice's sliders (in DawDreamer's order, by name), without the note sliders."""
        return list(self._infos.values())

    def _values(self, preset: Mapping[str, float], note: Note) -> dict[str, float]:
        """Every slider value of one voice: defaults, then the preset, then the note; clipped to range."""
        unknown = sorted(set(preset) - set(self._infos))
        if unknown:
            raise SynthgenError(f"unknown parameter '{unknown[0]}' for this Faust synth; valid names: {', '.join(self._infos)}")
        values = {name: info.default for name, info in self._infos.items()}
        values.update({name: float(v) for name, v in preset.items()})
        bad = [name for name, v in values.items() if not np.isfinite(v)]
        if bad:
            raise SynthgenError(f"parameter '{bad[0]}' has the value {values[bad[0]]}; give a finite number")
        note_values = {"midi_pitch": note.midi_pitch, "velocity": note.velocity, "note_duration_s": note.note_duration_s}
        values.update({name: float(note_values[name]) for name in self._note_infos})
        infos = self._infos | self._note_infos
        return {name: min(max(v, infos[name].low), infos[name].high) for name, v in values.items()}

    def render(self, batch: Sequence[Mapping[str, float]], note: Note) -> np.ndarray:
        """Render one note per preset, ``batch_size`` presets per engine call.

        Arguments:
            batch: one mapping per sound, short parameter name -> slider value; unlisted parameters
                keep their defaults; values outside a slider's range are clipped to it.
            note: pitch, velocity and durations.

        Returns:
            Mono audio ``(B, n_samples)`` float32 with ``n_samples = render_duration_s * sample_rate``.
        """
        n_samples = self.n_samples(note, self.sample_rate)
        voices = [self._values(preset, note) for preset in batch]
        compiled = self._compiled()
        out = np.zeros((len(voices), n_samples), dtype=np.float32)
        with compiled.lock, flushing_denormals(self.flush_denormals):
            for start in range(0, len(voices), self.batch_size):
                chunk = voices[start : start + self.batch_size]
                for i, values in enumerate(chunk):
                    for name, value in values.items():
                        compiled.processor.set_parameter(self._addresses[i, name], value)
                # DawDreamer renders int(duration * sample_rate) samples; aim half a sample past n_samples.
                compiled.engine.render((n_samples + 0.5) / self.sample_rate)
                audio = compiled.engine.get_audio()
                out[start : start + len(chunk), : audio.shape[1]] = audio[: len(chunk), :n_samples]
        return out
