"""Commands that use a latent model creatively: ``macro``, ``interpolate``, ``sketch``, ``explore``."""

__all__ = ["COMMANDS", "explore", "interpolate", "macro", "sketch"]

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from synthgen.cli.options import (
    MIDI_NOTE,
    budget_option,
    draws_figures,
    latent_range_option,
    model_option,
    model_synth_options,
    progress_wanted,
)

if TYPE_CHECKING:
    import numpy as np

    from synthgen.model import LoadedModel
    from synthgen.synths.base import Synth
    from synthgen.uses.macro import DimensionScore, MacroWalk

_PATH = click.Path(path_type=Path)


def _model_options(out: str) -> Callable[[Callable], Callable]:
    """``--model``, ``--synth``, ``--plugin`` and ``--out`` (default: the folder ``out``)."""

    def decorate(f: Callable) -> Callable:
        f = click.option("--out", type=_PATH, default=Path(out), show_default=True, help="Output folder (created).")(f)
        return model_option()(model_synth_options(f))

    return decorate


_HELD_HELP = "Seconds the key is held, at most 30 (default: until the sketch falls 25 dB below its peak)."


def _note_option(default: str) -> Callable[[Callable], Callable]:
    """``--note``: the note every sound plays at (``default`` says what it is when not given)."""
    text = f"Note to play at, a MIDI number or a name: 48 or C3 (default: {default})."
    return click.option("--note", "midi_pitch", type=MIDI_NOTE, default=None, help=text)


def _walk_options(steps: int, max_steps: int, steps_help: str) -> Callable[[Callable], Callable]:
    """``DIMS``/``--dims``, ``--steps`` (2 to ``max_steps``), ``--range``, ``--from`` and ``--note``."""

    def decorate(f: Callable) -> Callable:
        f = _note_option("a --from preset's own note, else the model's")(f)
        f = click.option(
            "--from",
            "from_sound",
            type=_PATH,
            default=None,
            help="Centre the walks on this sound's latent point, or a JSON preset's (through the flow's inverse), instead of the origin.",
        )(f)
        f = latent_range_option("How far to go on each side of the centre (the prior's standard deviation is 1).")(f)
        f = click.option("--steps", type=click.IntRange(2, max_steps), default=steps, show_default=True, help=steps_help)(f)
        f = click.option(
            "--dims",
            type=int,
            multiple=True,
            help="Latent dimensions to use: --dims 3 7 (default: rank every dimension and take the best).",
        )(f)
        # `--dims 3 7` leaves 7 as an argument: DIMS collects it.
        return click.argument("more_dims", nargs=-1, type=int, metavar="[DIMS]...")(f)

    return decorate


def _ranked(
    model: "LoadedModel", synth: "Synth", origin: "np.ndarray", steps: int, latent_range: float, midi_pitch: int | None
) -> tuple[list["MacroWalk"], list["DimensionScore"]]:
    """Walk every latent dimension, print the ranking table, and return the walks and scores (best first)."""
    from synthgen.uses.macro import rank_dimensions, ranking_table, walk_dimensions

    walks = walk_dimensions(model, synth, list(range(len(origin))), origin, steps, latent_range, midi_pitch)
    scores = rank_dimensions(walks, model.config.space.names)
    click.echo(ranking_table(scores))
    return walks, scores


@click.command()
@_walk_options(9, 1000, "Points along each walk.")
@click.option(
    "--top", type=click.IntRange(min=1), default=3, show_default=True, help="Without --dims: how many of the best dimensions to walk."
)
@_model_options("macro")
@draws_figures
def macro(
    more_dims: tuple[int, ...],
    dims: tuple[int, ...],
    steps: int,
    latent_range: float,
    from_sound: Path | None,
    midi_pitch: int | None,
    top: int,
    model_path: Path,
    synth_name: str | None,
    plugin: Path | None,
    out: Path,
) -> None:
    """Walk single latent dimensions as macro knobs: render each step, plot spectrograms, parameters and descriptors.

    Without --dims every dimension is walked and ranked by how much and how evenly it changes the
    sound; the best --top are written.

    \b
    Examples:
      synthgen macro --out out/macro
      synthgen macro --dims 3 7 --steps 9 --from voice.wav --out out/macro
      synthgen macro --from resynth/preset.json --note C2 --out out/macro
    """
    from synthgen.synths.loading import load_synth
    from synthgen.uses.macro import walk_dimensions, write_macro
    from synthgen.uses.walk import latent_origin, open_model, source_note

    model = open_model(model_path, "macro", synth_name, plugin)
    synth = load_synth(model.config, plugin)
    origin = latent_origin(model, from_sound)
    midi_pitch = source_note(from_sound) if midi_pitch is None else midi_pitch
    chosen = [*dims, *more_dims]
    if chosen:
        walks, scores = walk_dimensions(model, synth, chosen, origin, steps, latent_range, midi_pitch), None
    else:
        every, scores = _ranked(model, synth, origin, steps, latent_range, midi_pitch)
        walks = [every[s.dim] for s in scores[:top]]
    files = write_macro(walks, model, out, scores)
    for walk in walks:
        trends = ", ".join(f"{name} {rho:+.2f}" for name, rho in walk.trends.items())
        click.echo(f"dim {walk.dim}: descriptor trends (Spearman rho) {trends} -> {files[f'dim{walk.dim:02d}_figure'].parent}")
    click.echo(f"wrote {files['summary']}")


@click.command()
@click.argument("sound_a", type=_PATH)
@click.argument("sound_b", type=_PATH)
@click.option("--steps", type=click.IntRange(2, 1000), default=8, show_default=True, help="Points from A to B, both included.")
@_note_option("the model's")
@_model_options("interpolate")
@draws_figures
def interpolate(
    sound_a: Path,
    sound_b: Path,
    steps: int,
    midi_pitch: int | None,
    model_path: Path,
    synth_name: str | None,
    plugin: Path | None,
    out: Path,
) -> None:
    """Morph sound A into sound B through the latent space, and compare with a straight walk between their presets.

    A and B are sound files or synthgen JSON presets (a preset enters the latent space through the
    inverse of the model's flow).

    Smoothness: log-mel distance of each step divided by the distance between the ends; an even
    walk has every step 1/(steps-1), and a lower max step means no sudden jump.

    Example: synthgen interpolate a.wav b.wav --steps 8 --out out/morph
    """
    from synthgen.synths.loading import load_synth
    from synthgen.uses.interpolate import interpolate_sounds, write_interpolation
    from synthgen.uses.walk import open_model

    model = open_model(model_path, "interpolate", synth_name, plugin)
    result = interpolate_sounds(model, load_synth(model.config, plugin), sound_a, sound_b, steps, midi_pitch)
    files = write_interpolation(result, model, out)
    click.echo(f"{'walk':<7} {'mean step':>9} {'max step':>9} {'path length':>11}  (even steps: {1 / (steps - 1):.3f})")
    for name, s in result.smoothness.items():
        click.echo(f"{name:<7} {s['mean_step']:9.3f} {s['max_step']:9.3f} {s['path_length']:11.3f}")
    smoother = min(result.smoothness, key=lambda name: result.smoothness[name]["max_step"])
    click.echo(f"smoother (smaller largest jump): {smoother} walk; wrote {files['summary']} and {files['figure']}")


@click.command()
@click.argument("sound", type=_PATH)
@_note_option("the sketch's tracked pitch, or the model's note when it has none")
@click.option("--held", "held_s", type=click.FloatRange(min=0, min_open=True), default=None, help=_HELD_HELP)
@budget_option(
    "Renders a search may spend refining the model's answer, as in resynth (whose default, the synth config's "
    "search_budget, takes about 1.5 s); 0: the model alone."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seeds the search.")
@_model_options("sketch")
@draws_figures
def sketch(
    sound: Path,
    midi_pitch: int | None,
    held_s: float | None,
    budget: int,
    seed: int,
    model_path: Path,
    synth_name: str | None,
    plugin: Path | None,
    out: Path,
) -> None:
    """Vocal sketching: hum, sing or play a sound; get the preset that imitates it, played at its pitch.

    The pitch is tracked (YIN) and its median taken as the note; the timbre and envelope are
    matched by the model, and the key is held as long as the sketch sounds (until it falls 25 dB
    below its peak; a sketch longer than the model's sounds is matched on its start and played as
    long, up to 30 s).

    The preset is the model's answer alone, rendered up to three times to set its pitch: a sketch is a
    gesture to start from. With --budget, a search with the synth in the loop refines it first, as
    `synthgen resynth` does, at the sketch's own note.

    \b
    Examples:
      synthgen sketch voice.wav --out out/sketch
      synthgen sketch voice.wav --note C2 --held 1.5 --out out/sketch
      synthgen sketch voice.wav --budget 330 --out out/sketch
    """
    from synthgen.audio_io import clipping_note
    from synthgen.synths.loading import load_synth
    from synthgen.uses.sketch import sketch_sound, write_sketch
    from synthgen.uses.walk import open_model

    model = open_model(model_path, None, synth_name, plugin)
    synth = load_synth(model.config, plugin)
    result = sketch_sound(model, synth, sound, midi_pitch, held_s, budget, seed, progress_wanted(0))
    for change in result.changes:
        click.echo(f"input: {change}")
    click.echo(result.note_message)
    for remark in result.notes:
        click.echo(f"note: {remark}")
    if (clipping := clipping_note(result.output_audio)) is not None:
        click.echo(f"note: {clipping}")
    files = write_sketch(result, model, synth, out)
    click.echo("wrote " + ", ".join(str(path) for path in files.values()))


@click.command()
@_walk_options(5, 64, "Grid points per side (the page holds steps x steps sounds).")
@_model_options("explore")
@draws_figures
def explore(
    more_dims: tuple[int, ...],
    dims: tuple[int, ...],
    steps: int,
    latent_range: float,
    from_sound: Path | None,
    midi_pitch: int | None,
    model_path: Path,
    synth_name: str | None,
    plugin: Path | None,
    out: Path,
) -> None:
    """Write one HTML page to look at and listen to a grid of sounds over the two best latent knobs.

    The page holds every spectrogram and sound inline: open it anywhere, nothing else is needed.

    Example: synthgen explore --out out/explore
    """
    from synthgen.errors import SynthgenError
    from synthgen.synths.loading import load_synth
    from synthgen.uses.html import latent_grid, write_explore_page
    from synthgen.uses.walk import latent_origin, open_model, source_note

    model = open_model(model_path, "explore", synth_name, plugin)
    synth = load_synth(model.config, plugin)
    origin = latent_origin(model, from_sound)
    midi_pitch = source_note(from_sound) if midi_pitch is None else midi_pitch
    chosen, scores = [*dims, *more_dims], None
    if not chosen:
        scores = _ranked(model, synth, origin, steps, latent_range, midi_pitch)[1]
        chosen = [s.dim for s in scores[:2]]
    if len(chosen) != 2:
        raise SynthgenError(f"explore needs two latent dimensions (--dims A B), got {len(chosen)}")
    grid = latent_grid(model, synth, (chosen[0], chosen[1]), origin, steps, latent_range, midi_pitch)
    click.echo(f"wrote {write_explore_page(grid, model, out, scores)}: dimensions {chosen[0]} across, {chosen[1]} down")


#: the commands this module adds to ``synthgen``
COMMANDS = (macro, interpolate, sketch, explore)
