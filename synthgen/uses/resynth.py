"""Resynthesis: a recorded sound -> the synth preset that makes it -> the synth's rendering of it."""

__all__ = ["Resynthesis", "read_sound", "resynthesize"]

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.audio_io import LoadedAudio, read_audio, write_wav
from synthgen.errors import SynthgenError
from synthgen.features import log_mel
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit


@dataclass
class Resynthesis:
    """What one resynthesis produced."""

    source: Path
    unit: np.ndarray
    settings: dict[str, float]
    input_audio: np.ndarray
    output_audio: np.ndarray
    input_mel: np.ndarray
    output_mel: np.ndarray
    sample_rate: int
    changes: list[str]
    files: dict[str, Path] = field(default_factory=dict)


def read_sound(model: LoadedModel, path: str | Path, fade_s: float = 0.1) -> tuple[LoadedAudio, np.ndarray]:
    """Read a sound as the model hears it.

    Returns:
        The audio (mono, the model's rate and duration) and its log-mel ``(n_mels, n_frames)``.
    """
    config = model.config
    loaded = read_audio(path, config.render.sample_rate, config.render.render_duration_s, fade_s)
    return loaded, log_mel(loaded.audio, loaded.sample_rate, config.features)[0]


def resynthesize(
    model: LoadedModel,
    audio_path: str | Path,
    out: str | Path | None = None,
    synth: Synth | None = None,
    plugin: str | Path | None = None,
    plot: bool = False,
) -> Resynthesis:
    """Infer the preset of a sound and render it with the model's synth.

    Arguments:
        model: a loaded model.
        audio_path: any WAV/FLAC/OGG; mixed to mono, resampled, trimmed or padded as the model expects.
        out: folder for ``<name>_resynth.wav`` and ``<name>_preset.json`` (plus the synth's native
            preset where it has one); nothing is written when ``None``.
        synth: an already loaded synth (e.g. kept alive between calls); built from the model's
            config otherwise.
        plugin: plugin file overriding the config's search paths.
        plot: also write ``<name>_compare.png`` (input and output log-mels; needs matplotlib) to ``out``.
    """
    config = model.config
    loaded, mel_in = read_sound(model, audio_path)
    unit = model.infer(mel_in[None])[0]
    synth = synth or load_synth(config, plugin)
    audio_out = render_unit(synth, config, unit[None])[0]
    result = Resynthesis(
        source=Path(audio_path),
        unit=unit,
        settings=config.space.synth_values(unit),
        input_audio=loaded.audio,
        output_audio=audio_out,
        input_mel=mel_in,
        output_mel=log_mel(audio_out, loaded.sample_rate, config.features)[0],
        sample_rate=loaded.sample_rate,
        changes=loaded.changes,
    )
    if out is not None:
        result.files = _write_outputs(result, model, synth, Path(out), plot)
    return result


def _write_outputs(result: Resynthesis, model: LoadedModel, synth: Synth, out: Path, plot: bool) -> dict[str, Path]:
    from synthgen.presets.json_preset import write_native_preset

    if out.exists() and not out.is_dir():
        raise SynthgenError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    stem = result.source.stem
    files = {"audio": write_wav(out / f"{stem}_resynth.wav", result.output_audio, result.sample_rate)}
    extra = {"source": str(result.source), "model": str(model.path)}
    for preset in write_native_preset(synth, model.config, result.unit, out / f"{stem}_preset", extra):
        files[f"preset{preset.suffix}"] = preset
    if not plot:
        return files
    from synthgen.plots import plot_mel_comparison

    files["figure"] = plot_mel_comparison(
        [result.input_mel, result.output_mel],
        [f"input: {result.source.name}", f"resynthesized by {model.config.name} ({model.name})"],
        out / f"{stem}_compare.png",
        model.config,
    )
    return files
