"""Vocal sketching: a hummed, sung or played sound -> the preset that imitates it, played at its pitch."""

__all__ = ["SKETCH_FADE_S", "sketch_sound", "write_sketch"]

from pathlib import Path

import librosa
import numpy as np

from synthgen.audio_io import write_wav
from synthgen.config import FeatureSettings
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.uses.pitch import note_name
from synthgen.uses.resynth import Resynthesis, resynthesize
from synthgen.uses.walk import prepare_folder

#: a recording longer than the model's sounds is cut with this fade-out
SKETCH_FADE_S = 1.0


def sketch_sound(model: LoadedModel, synth: Synth, audio_path: str | Path, budget: int = 0) -> Resynthesis:
    """Infer the preset that imitates a sketch's timbre and envelope, and render it at the sketch's pitch and level.

    The preset is inferred from the sketch as it is and played at the tracked note; without a clear
    pitch it plays the model's note. ``budget`` renders refine it as in :func:`~synthgen.uses.resynth.resynthesize`.
    """
    return resynthesize(model, audio_path, synth=synth, budget=budget, fade_s=SKETCH_FADE_S)


def _pitch_bands(f0_hz: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """f0 per frame -> fractional mel band index ``(n_frames,)`` of the log-mel settings, NaN where unvoiced."""
    centres_hz = librosa.mel_frequencies(settings.n_mels + 2, fmin=settings.fmin, fmax=min(settings.fmax, sample_rate / 2))[1:-1]
    bands = np.interp(f0_hz, centres_hz, np.arange(settings.n_mels), left=np.nan, right=np.nan)
    return np.pad(bands, (0, max(0, settings.n_frames - len(bands))), constant_values=np.nan)[: settings.n_frames]


def write_sketch(result: Resynthesis, model: LoadedModel, synth: Synth, out: str | Path) -> dict[str, Path]:
    """Write ``<name>_sketch.wav``, the preset (``<name>_preset.json`` plus native formats) and ``<name>_sketch.png``."""
    from synthgen.plots import plot_sketch
    from synthgen.presets.json_preset import write_native_preset

    out = prepare_folder(out)
    config = model.config
    stem = result.source.stem
    files = {"audio": write_wav(out / f"{stem}_sketch.wav", result.output_audio, result.sample_rate)}
    extra = {"sketch": str(result.source), "pitch": result.note.message}
    note = config.render.note(result.note.midi_pitch)
    presets = write_native_preset(synth, config, result.unit, out / f"{stem}_preset", extra, note, result.gain_db)
    files.update({f"preset{path.suffix}": path for path in presets})
    files["figure"] = plot_sketch(
        result.input_mel,
        result.output_mel,
        _pitch_bands(result.note.pitch.f0_hz, result.sample_rate, config.features),
        [f"sketch: {result.source.name}", f"{config.name} ({model.name}) at {note_name(result.note.midi_pitch)}"],
        out / f"{stem}_sketch.png",
        config,
    )
    result.files = files
    return files
