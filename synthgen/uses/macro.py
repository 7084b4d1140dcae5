"""Macro-control: walk single latent dimensions, render every step, and rank dimensions as knobs."""

__all__ = [
    "MACRO_FORMAT",
    "DimensionScore",
    "MacroWalk",
    "moved_parameters",
    "rank_dimensions",
    "ranking_table",
    "walk_dimensions",
    "write_macro",
]

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.audio_io import prepare_folder
from synthgen.errors import SynthgenError
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.uses.audio_features import describe_audio, trend
from synthgen.uses.walk import Walk, check_latent_range, render_walk, step_distances, write_walk_audio
from synthgen.versions import provenance

#: ``format`` of ``macro.json``
MACRO_FORMAT = "synthgen-macro-1"


@dataclass
class MacroWalk:
    """One latent dimension swept while the others stay at the origin.

    Arguments:
        dim: the latent dimension.
        values: its values along the walk ``(S,)``.
        walk: the rendered steps.
        descriptors: audio descriptor name -> values along the walk ``(S,)``.
    """

    dim: int
    values: np.ndarray
    walk: Walk
    descriptors: dict[str, np.ndarray]

    @property
    def trends(self) -> dict[str, float]:
        """Spearman correlation of each descriptor with the step: how monotonically the knob drives it."""
        return {name: trend(values) for name, values in self.descriptors.items()}


@dataclass(frozen=True)
class DimensionScore:
    """How good a knob a latent dimension is.

    Arguments:
        dim: the latent dimension.
        change: summed log-mel distance between successive steps (how much the sound changes).
        smoothness: ``max(0, 1 - std / mean)`` of those step distances (1: even steps, 0: jumps).
        monotonicity: the largest ``|rho|`` of the walk's descriptor trends (1: the knob drives some
            descriptor, e.g. brightness, one way all along; 0: back and forth).
        moved: the parameters that move most along the walk, with their unit-space range.
    """

    dim: int
    change: float
    smoothness: float
    monotonicity: float
    moved: tuple[tuple[str, float], ...]

    @property
    def score(self) -> float:
        """``change * smoothness * monotonicity``: large, even changes that go one way rank first."""
        return self.change * self.smoothness * self.monotonicity


def walk_dimensions(
    model: LoadedModel,
    synth: Synth,
    dims: list[int],
    origin: np.ndarray,
    steps: int,
    latent_range: float,
    midi_pitch: int | None = None,
) -> list[MacroWalk]:
    """Sweep each of ``dims`` from ``origin - latent_range`` to ``origin + latent_range`` in ``steps`` steps.

    Arguments:
        model: a model with a latent space.
        synth: the model's synth.
        dims: latent dimensions to walk.
        origin: the latent point ``(D,)`` the walks pass through (0, or an encoded sound).
        steps: points per walk (at least 2).
        latent_range: how far each walk goes on either side of the origin.
        midi_pitch: the note the walks play (default: the model's).

    Returns:
        One rendered walk per dimension, in the order of ``dims``.
    """
    n_dims = len(origin)
    bad = [d for d in dims if not 0 <= d < n_dims]
    if bad:
        raise SynthgenError(f"latent dimension {bad[0]} does not exist: model {model.path} has dimensions 0 to {n_dims - 1}")
    repeated = sorted({d for d in dims if list(dims).count(d) > 1})
    if repeated:
        raise SynthgenError(f"latent dimension {repeated[0]} is given twice; give each dimension once")
    if steps < 2:
        raise SynthgenError(f"a walk needs at least 2 steps, got {steps}")
    check_latent_range(latent_range)
    offsets = np.linspace(-latent_range, latent_range, steps, dtype=np.float32)
    z = np.repeat(np.asarray(origin, dtype=np.float32)[None, None], len(dims), axis=0).repeat(steps, axis=1)
    for k, dim in enumerate(dims):
        z[k, :, dim] += offsets
    flat_z = z.reshape(-1, n_dims)
    rendered = render_walk(model, synth, model.params_from_latent(flat_z), flat_z, midi_pitch)
    descriptors = describe_audio(rendered.audio, model.config.render.sample_rate, model.config.features)
    walks = []
    for k, dim in enumerate(dims):
        rows = slice(k * steps, (k + 1) * steps)
        walk = Walk(rendered.unit[rows], rendered.audio[rows], rendered.mel[rows], z[k], rendered.midi_pitch)
        walks.append(MacroWalk(dim, z[k, :, dim], walk, {name: v[rows] for name, v in descriptors.items()}))
    return walks


def moved_parameters(names: list[str], unit: np.ndarray, top: int = 3) -> tuple[tuple[str, float], ...]:
    """The ``top`` parameters with the largest unit-space range over presets ``(S, P)``, largest first."""
    spread = np.ptp(unit, axis=0)
    order = np.argsort(-spread, kind="stable")[:top]
    return tuple((names[j], float(spread[j])) for j in order)


def rank_dimensions(walks: list[MacroWalk], names: list[str]) -> list[DimensionScore]:
    """Score walks by how much, how evenly and how much one way the sound changes along them; best first."""
    scores = []
    for walk in walks:
        distances = step_distances(walk.walk.mel)
        mean = float(distances.mean())
        smoothness = max(0.0, 1.0 - float(distances.std()) / mean) if mean > 0 else 0.0
        monotonicity = max((abs(rho) for rho in walk.trends.values()), default=0.0)
        moved = moved_parameters(names, walk.walk.unit)
        scores.append(DimensionScore(walk.dim, float(distances.sum()), smoothness, monotonicity, moved))
    return sorted(scores, key=lambda s: -s.score)


def ranking_table(scores: list[DimensionScore]) -> str:
    """The ranking as text: one row per dimension, with the parameters it moves most."""
    header = f"{'rank':>4}  {'dim':>3}  {'change':>7}  {'smooth':>6}  {'|rho|':>5}  {'score':>7}  parameters moved most (unit range)"
    lines = [header]
    for rank, s in enumerate(scores, 1):
        moved = ", ".join(f"{name} {spread:.2f}" for name, spread in s.moved)
        lines.append(f"{rank:>4}  {s.dim:>3}  {s.change:7.2f}  {s.smoothness:6.2f}  {s.monotonicity:5.2f}  {s.score:7.2f}  {moved}")
    return "\n".join(lines)


def write_macro(walks: list[MacroWalk], model: LoadedModel, out: str | Path, scores: list[DimensionScore] | None = None) -> dict[str, Path]:
    """Write each walk to ``out/dim<d>/``: step WAVs, the whole walk as one WAV, and its figure; plus ``macro.json``.

    Arguments:
        walks: rendered walks.
        model: the model they come from.
        out: output folder.
        scores: the ranking of all dimensions, stored in ``macro.json`` when given.

    Returns:
        Name -> path of the main files: ``dim<d>_audio`` (whole walk), ``dim<d>_figure``, ``summary``.
    """
    from synthgen.plots import plot_latent_walk

    out = prepare_folder(out)
    config = model.config
    files = {}
    summary: dict = {
        **provenance(MACRO_FORMAT, config.name, None),
        "model": str(model.path),
        "midi_pitch": walks[0].walk.midi_pitch if walks else None,
        "walks": [],
    }
    for walk in walks:
        name = f"dim{walk.dim:02d}"
        folder = prepare_folder(out / name)
        files[f"{name}_audio"] = write_walk_audio(walk.walk.audio, config.render.sample_rate, folder / "walk")[-1]
        labelled = {f"{k} (rho {walk.trends[k]:+.2f})": v for k, v in walk.descriptors.items()}
        title = f"latent dimension {walk.dim} of {model.name} ({config.name}); the other dimensions held at the centre"
        files[f"{name}_figure"] = plot_latent_walk(
            walk.walk.mel, walk.values, walk.walk.unit, config.space.names, labelled, folder / "walk.png", config, title
        )
        summary["walks"].append(
            {
                "dim": walk.dim,
                "values": walk.values.tolist(),
                "descriptors": {k: v.tolist() for k, v in walk.descriptors.items()},
                "descriptor_trends": walk.trends,
                "parameters_unit": dict(zip(config.space.names, walk.walk.unit.T.tolist(), strict=True)),
            }
        )
    if scores is not None:
        summary["ranking"] = [
            {
                "dim": s.dim,
                "change": s.change,
                "smoothness": s.smoothness,
                "monotonicity": s.monotonicity,
                "score": s.score,
                "moved": dict(s.moved),
            }
            for s in scores
        ]
    files["summary"] = out / "macro.json"
    files["summary"].write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return files
