"""Interpolation between two sounds: a straight walk in latent space against one in parameter space."""

__all__ = [
    "INTERPOLATION_FORMAT",
    "SAME_PRESET_TOLERANCE",
    "SAME_SOUND_TOLERANCE",
    "Interpolation",
    "interpolate_sounds",
    "walk_smoothness",
    "write_interpolation",
]

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.audio_io import prepare_folder
from synthgen.errors import SynthgenError
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.uses.walk import Walk, latent_point, render_walk, source_gain_db, step_distances, write_walk_audio
from synthgen.versions import provenance

#: ``format`` of ``interpolation.json``
INTERPOLATION_FORMAT = "synthgen-interpolation-1"

#: presets whose unit values all differ by less than this are the same preset (two encodings of one
#: file differ by float rounding, ~1e-7)
SAME_PRESET_TOLERANCE = 1e-4
#: walks whose ends differ by less than this mean log-mel distance (natural log units) sound the same
SAME_SOUND_TOLERANCE = 1e-4


@dataclass
class Interpolation:
    """Two walks from sound ``a`` to sound ``b``.

    Arguments:
        sources: the two sound files.
        latent: straight line between their latent points, each point mapped to parameters.
        params: straight line between their inferred presets in unit space (classes snapped).
        smoothness: walk name -> :func:`walk_smoothness` of it.
        files: name -> path of what was written.
    """

    sources: tuple[Path, Path]
    latent: Walk
    params: Walk
    smoothness: dict[str, dict[str, float]]
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def walks(self) -> dict[str, Walk]:
        return {"latent": self.latent, "params": self.params}


def walk_smoothness(mel: np.ndarray) -> dict[str, float]:
    """How evenly a walk ``(S, n_mels, n_frames)`` moves between its endpoints.

    Step distances (mean absolute log-mel difference of successive sounds) are divided by the
    distance between the two endpoints.

    Returns:
        ``mean_step`` and ``max_step`` (a walk of even steps has both ``1 / (S - 1)``; a lower
        ``max_step`` means no sudden jump), ``path_length`` (their sum: 1 for a walk that never
        turns back), and ``endpoint_distance`` (the raw log-mel distance it is measured against).
    """
    endpoint = float(np.abs(mel[-1] - mel[0]).mean())
    if endpoint < SAME_SOUND_TOLERANCE:
        raise SynthgenError("the two ends of the walk sound the same: give two sounds that differ")
    steps = step_distances(mel) / endpoint
    return {
        "mean_step": float(steps.mean()),
        "max_step": float(steps.max()),
        "path_length": float(steps.sum()),
        "endpoint_distance": endpoint,
    }


def interpolate_sounds(
    model: LoadedModel, synth: Synth, a: str | Path, b: str | Path, steps: int, midi_pitch: int | None = None
) -> Interpolation:
    """Render ``steps`` points from ``a`` to ``b`` (sounds or JSON presets), through latents and through parameters,
    at ``midi_pitch`` (default: the model's note).

    A sound's end is its latent mapped to parameters; a preset's end is the preset itself and its
    latent the flow's inverse of it (invertible models). Each end plays at its source's level (see
    :func:`~synthgen.uses.walk.source_gain_db`), and the gain (dB) moves in a straight line between them.
    """
    if steps < 2:
        raise SynthgenError(f"an interpolation needs at least 2 steps, got {steps}")
    (z_a, unit_a), (z_b, unit_b) = latent_point(model, a), latent_point(model, b)
    z_ends, ends = np.stack([z_a, z_b]), np.stack([unit_a, unit_b])
    if np.allclose(ends[0], ends[1], rtol=0.0, atol=SAME_PRESET_TOLERANCE):
        raise SynthgenError(f"{a} and {b} map to the same preset: give two sounds that differ")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    gain_a, gain_b = (source_gain_db(model, synth, source, unit) for source, unit in ((a, unit_a), (b, unit_b)))
    gain_db = (1 - t[:, 0]) * gain_a + t[:, 0] * gain_b
    z = (1 - t) * z_ends[0] + t * z_ends[1]
    latent = render_walk(model, synth, model.params_from_latent(z), z, midi_pitch, gain_db)
    params = render_walk(model, synth, model.config.space.snap_unit((1 - t) * ends[0] + t * ends[1]), None, midi_pitch, gain_db)
    smoothness = {name: walk_smoothness(walk.mel) for name, walk in (("latent", latent), ("params", params))}
    return Interpolation((Path(a), Path(b)), latent, params, smoothness)


def write_interpolation(result: Interpolation, model: LoadedModel, out: str | Path) -> dict[str, Path]:
    """Write both walks' WAVs (per step and whole), their figure and ``interpolation.json`` to ``out``."""
    from synthgen.plots import plot_walk_comparison

    out = prepare_folder(out)
    config = model.config
    a, b = result.sources
    files = {}
    for name, walk in result.walks.items():
        files[f"{name}_audio"] = write_walk_audio(walk.audio, config.render.sample_rate, out / f"{name}_walk")[-1]
    files["figure"] = plot_walk_comparison(
        {f"{name} walk": walk.mel for name, walk in result.walks.items()},
        {f"{name} walk": step_distances(walk.mel) for name, walk in result.walks.items()},
        out / "interpolation.png",
        config,
        f"{a.name} -> {b.name} with {model.name} ({config.name})",
    )
    summary = {
        **provenance(INTERPOLATION_FORMAT, config.name, None),
        "model": str(model.path),
        "sources": [str(a), str(b)],
        "midi_pitch": result.latent.midi_pitch,
        "smoothness": result.smoothness,
        "presets_unit": {name: walk.unit.tolist() for name, walk in result.walks.items()},
        "parameter_names": config.space.names,
    }
    files["summary"] = out / "interpolation.json"
    files["summary"].write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    result.files = files
    return files
