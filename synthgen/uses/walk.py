"""Sounds along paths through a model's spaces: load model and sounds, render points, measure steps."""

__all__ = [
    "Walk",
    "check_latent_range",
    "latent_origin",
    "latent_point",
    "open_model",
    "preset_document",
    "render_walk",
    "source_gain_db",
    "source_note",
    "step_distances",
    "write_walk_audio",
]

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.audio_io import write_wav
from synthgen.errors import SynthgenError
from synthgen.features import log_mel
from synthgen.model import LoadedModel, load_model
from synthgen.presets.json_preset import JsonPreset, read_document, read_preset
from synthgen.synths.base import Synth
from synthgen.synths.rendering import render_unit, silence_broken
from synthgen.synths.resolve import resolve_config
from synthgen.uses.level import apply_gain_db
from synthgen.uses.metrics import level_gain_db
from synthgen.uses.resynth import read_sound


@dataclass
class Walk:
    """Rendered points of a path.

    Arguments:
        unit: presets ``(S, P)`` in unit space.
        audio: their renderings ``(S, n_samples)``.
        mel: log-mels of the renderings ``(S, n_mels, n_frames)``.
        z: the latent points ``(S, D)``, or ``None`` where the path does not run through the latent space.
        midi_pitch: the note they play.
    """

    unit: np.ndarray
    audio: np.ndarray
    mel: np.ndarray
    z: np.ndarray | None
    midi_pitch: int


def open_model(path: str | Path, latent_for: str | None = None, synth: str | None = None, plugin: str | Path | None = None) -> LoadedModel:
    """Load a model; with ``latent_for`` (the command that needs it), insist that it has a latent space.

    ``synth`` (a config name or ``.yaml``) and ``plugin`` are the user's own config and plugin file
    for the model's synth (see :func:`synthgen.model.load_model`).
    """
    path = Path(path)
    if not path.exists():
        raise SynthgenError(
            f"model not found: {path}; train one (synthgen train --data DATA --model vae_flow_post --out RUN) and pass --model RUN/model.pt"
        )
    model = load_model(path, synth_config=resolve_config(synth, plugin)[0] if synth else None)
    if latent_for is not None and not model.has_latent:
        raise SynthgenError(
            f"{latent_for} walks a latent space, and model {model.path} ({model.name}) has none: "
            "use a vae, wae, vae_flow or vae_flow_post model"
        )
    return model


def latent_point(model: LoadedModel, source: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The latent point ``(D,)`` and unit preset ``(P,)`` of a sound file, or of a synthgen JSON preset.

    A sound is encoded and its latent mapped to parameters; a preset is mapped to its latent through
    the inverse of the model's latent -> parameter flow (invertible models only).
    """
    if Path(source).suffix.lower() != ".json":
        z = model.encode(read_sound(model, source)[1][None])
        return z[0], model.params_from_latent(z)[0]
    if not model.is_invertible:
        raise SynthgenError(f"starting from preset {source} needs an invertible model (vae_flow_post); {model.path} is a {model.name}")
    unit = read_preset(source, model.config)
    return model.latent_from_params(unit[None])[0], unit


def preset_document(source: str | Path | None) -> JsonPreset | None:
    """The synthgen JSON preset ``source`` is (by its ``.json`` name), or ``None`` for a sound file or no source."""
    return None if source is None or Path(source).suffix.lower() != ".json" else read_document(source)


def source_note(source: str | Path | None) -> int | None:
    """The note a walk from ``source`` plays by default: a JSON preset's own, else ``None`` (the model's)."""
    return None if (preset := preset_document(source)) is None else preset.note.get("midi_pitch")


def latent_origin(model: LoadedModel, source: str | Path | None = None) -> np.ndarray:
    """Where walks start from: the latent point ``(D,)`` of a sound file or JSON preset, or the centre of the space."""
    if source is None:
        return np.zeros(model.latent_dim, dtype=np.float32)
    return latent_point(model, source)[0]


def source_gain_db(model: LoadedModel, synth: Synth, source: str | Path, unit: np.ndarray) -> float:
    """The output gain (dB) a walk plays at near ``source``: a JSON preset's own ``output_gain_db``, or
    the gain that plays ``unit`` ``(P,)``, the preset inferred from a sound, at that sound's level."""
    if (preset := preset_document(source)) is not None:
        return preset.output_gain_db
    loaded = read_sound(model, source)[0]
    return float(level_gain_db(loaded.audio[None], silence_broken(render_unit(synth, model.config, unit[None])))[0])


def render_walk(
    model: LoadedModel,
    synth: Synth,
    unit: np.ndarray,
    z: np.ndarray | None = None,
    midi_pitch: int | None = None,
    gain_db: np.ndarray | float = 0.0,
    note_duration_s: float | None = None,
) -> Walk:
    """Render presets ``(S, P)`` at the config's note (or at ``midi_pitch``, the key held ``note_duration_s``)
    and take their log-mels.

    ``gain_db`` (a scalar or ``(S,)``) is each rendering's output gain. A sound the synth renders as
    NaN (amsynth does, for a few presets) is silent.
    """
    config = model.config
    notes = None if midi_pitch is None else [(midi_pitch, config.render.velocity)]
    audio = apply_gain_db(silence_broken(render_unit(synth, config, unit, notes, note_duration_s=note_duration_s)), gain_db)
    played = config.render.midi_pitch if midi_pitch is None else midi_pitch
    return Walk(unit, audio, log_mel(audio, config.render.sample_rate, config.features), z, played)


def step_distances(mel: np.ndarray) -> np.ndarray:
    """Mean absolute log-mel difference between successive sounds: ``(S, n_mels, n_frames)`` -> ``(S - 1,)``."""
    return np.abs(np.diff(mel, axis=0)).mean(axis=(1, 2))


def check_latent_range(latent_range: float) -> None:
    """Refuse a walk's half-width (``--range``, in prior standard deviations) that is not a positive finite number."""
    if not (math.isfinite(latent_range) and latent_range > 0):
        raise SynthgenError(f"--range must be a positive finite number of standard deviations (e.g. 3), got {latent_range}")


def write_walk_audio(audio: np.ndarray, sample_rate: int, stem: Path) -> list[Path]:
    """Write each sound of ``audio`` ``(S, n_samples)`` as ``<stem>_<k>.wav`` and all of them in turn as ``<stem>.wav``."""
    paths = [write_wav(stem.with_name(f"{stem.name}_{k:02d}.wav"), sound, sample_rate) for k, sound in enumerate(audio)]
    paths.append(write_wav(stem.with_name(f"{stem.name}.wav"), audio.reshape(-1), sample_rate))
    return paths
