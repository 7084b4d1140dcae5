"""Commands that make and describe datasets: ``render``, ``info``, ``dataset info``, ``dataset verify``."""

__all__ = ["dataset", "info", "render"]

import dataclasses
from pathlib import Path

import click

from synthgen.cli.options import MIDI_NOTE, progress_wanted, synth_options, verbosity_options


@click.command()
@synth_options
@click.option("--n", "n", type=int, default=None, help="Number of random presets to render (not with --presets).")
@click.option(
    "--presets",
    "preset_paths",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Render human presets instead of random ones: preset files (amsynth .bank, synthgen .json) or folders "
    "of them (repeatable). Only the config's learned parameters come from the presets (clipped into its ranges); "
    "its fixed parameters keep the config's values unless --presets-as-authored. Every preset plays at --notes "
    "(not at the note a JSON preset records).",
)
@click.option(
    "--presets-as-authored",
    "as_authored",
    is_flag=True,
    help="With --presets: render each preset with its own values of the parameters the config does not learn "
    "(as its author made it) instead of the config's fixed values; the dataset still records the learned ones.",
)
@click.option("--around-presets", type=int, default=None, help="With --presets: render K random presets near each one instead.")
@click.option(
    "--spread",
    type=float,
    default=None,
    help="With --around-presets: std of the random offsets in unit space (default 0.1); classes change with this probability.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Dataset folder (created; resumed if it exists).")
@click.option(
    "--jobs",
    type=int,
    default=None,
    help="Parallel worker processes, each with its own synth (default 1, at most the CPUs; with --backend ray: "
    "tasks at once, default every CPU of the cluster).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option(
    "--notes",
    type=MIDI_NOTE,
    multiple=True,
    help="Notes each preset is played at, MIDI numbers or names: 60 or C4 (repeatable; default: the config's).",
)
@click.option("--velocities", type=int, multiple=True, help="MIDI velocities each preset is played at (repeatable).")
@click.option("--audio/--no-audio", default=False, show_default=True, help="Also store the rendered audio.")
@click.option("--chunk-size", type=int, default=64, show_default=True, help="Rows per shard file (the unit of resumption).")
@click.option(
    "--render-timeout-s",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds one sound may take before the synth counts as hung. A preset that crashes or hangs the synth "
    "is tried again, then skipped (a new random draw takes its place) and listed in failed_presets.json.",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where chunks render: supervised worker processes on this machine, or Ray tasks on this machine or a cluster "
    "(needs pip install synthgen[ray]).",
)
@click.option(
    "--address",
    default=None,
    help="With --backend ray: the cluster to join, 'auto' (the cluster this node belongs to) or ray://HOST:10001 "
    "(default: start Ray on this machine).",
)
@click.option(
    "--collect",
    is_flag=True,
    help="With --backend ray: send every shard back to this machine, which writes it (when --out is not storage shared by every node).",
)
@verbosity_options()
def render(
    synth: str,
    plugin: str | None,
    n: int | None,
    preset_paths: tuple[Path, ...],
    as_authored: bool,
    around_presets: int | None,
    spread: float | None,
    out: Path,
    jobs: int | None,
    seed: int,
    notes: tuple[int, ...],
    velocities: tuple[int, ...],
    audio: bool,
    chunk_size: int,
    backend: str,
    address: str | None,
    collect: bool,
    render_timeout_s: float,
    verbosity: int,
) -> None:
    """Render random or human presets of a synth into an HDF5 dataset of log-mel spectrograms and parameters.

    Interrupt it at any time and run the same command again: it resumes where it stopped.
    With --presets, only the config's learned parameters come from the presets; the parameters
    it keeps fixed take the config's values, whatever the presets say, unless
    --presets-as-authored (each preset then sounds as its author made it).

    \b
    Examples:
      synthgen render --synth builtin --n 10000 --out data/builtin --jobs 2
      synthgen render --synth amsynth --presets /usr/share/amsynth/banks --out data/am_human
      synthgen render --synth builtin --n 1000000 --out /mnt/shared/builtin --backend ray --address auto
    """
    from synthgen.dataset import render_dataset
    from synthgen.dataset.summary import describe_dataset
    from synthgen.errors import SynthgenError
    from synthgen.presets.human import load_human_presets
    from synthgen.synths.resolve import resolve_config

    if preset_paths and n is not None:
        raise SynthgenError("give either --n (random presets) or --presets (preset files), not both")
    if not preset_paths and (around_presets is not None or spread is not None or as_authored):
        raise SynthgenError("--around-presets, --spread and --presets-as-authored need --presets (preset files or folders)")
    if spread is not None and around_presets is None:
        raise SynthgenError("--spread needs --around-presets K (random presets per human one)")
    if not preset_paths and n is None:
        raise SynthgenError("give --n (number of random presets) or --presets (preset files or folders)")
    config, plugin_path = resolve_config(synth, plugin)
    source = None
    if preset_paths:
        loaded = load_human_presets(preset_paths, config, as_authored)
        source = loaded.source(seed, around_presets, 0.1 if spread is None else spread)
        click.echo(loaded.summary())
    pitches = notes or (config.render.midi_pitch,)
    vels = velocities or (config.render.velocity,)
    path = render_dataset(
        config,
        out,
        n=n,
        seed=seed,
        jobs=jobs,
        source=source,
        notes=[(p, v) for p in pitches for v in vels],
        chunk_size=chunk_size,
        with_audio=audio,
        plugin=plugin_path,
        backend=backend,
        address=address,
        collect=collect,
        render_timeout_s=render_timeout_s,
        progress=progress_wanted(verbosity, logged=True),
    )
    click.echo(describe_dataset(path))


@click.command()
@synth_options
@click.option(
    "--write-config",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a starter config (.yaml) for this synth, with a search_budget timed on this machine.",
)
@click.option(
    "--probe",
    is_flag=True,
    help="Also render each learned parameter at both ends of its range, from a few random presets, and say how much it changes the sound.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random presets --probe and the timing render.")
def info(synth: str, plugin: str | None, write_config: Path | None, probe: bool, seed: int) -> None:
    """List a synth's parameters and what its config learns or fixes.

    \b
    Examples:
      synthgen info --synth amsynth --probe
      synthgen info --synth /usr/lib/vst/MySynth.so --write-config mysynth.yaml
    """
    from synthgen.synths.resolve import check_config_path, describe_synth, write_config_file
    from synthgen.uses.search import timed_search_budget

    if write_config is not None:
        check_config_path(write_config)
    text, config, instance = describe_synth(synth, plugin, probe, seed, progress_wanted(0))
    click.echo(text)
    if write_config is not None:
        budget, rate = timed_search_budget(instance, config, seed)
        click.echo(f"search_budget {budget}: {rate:.0f} renders a second here, each scored as a search does (about 1.5 s a resynth)")
        write_config_file(dataclasses.replace(config, search_budget=budget), write_config)
        click.echo(f"wrote {write_config}")


@click.group()
def dataset() -> None:
    """Inspect and check rendered datasets."""


@dataset.command("merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder of the merged dataset (new).")
def dataset_merge(sources: tuple[Path, ...], out: Path) -> None:
    """Join datasets of one synth config (e.g. uniform draws and variations around human presets) into one.

    No data is copied: the merged dataset refers to the sources' files, so keep them side by side,
    and merge again after a source changes (a render that grows it). Sources of another config are
    refused; sources with other columns merge, keeping only the columns every source has (audio
    only if every source was rendered with --audio): a line names each column left out.

    \b
    Example:
      synthgen dataset merge data/builtin_uniform data/builtin_factory --out data/builtin_all
    """
    from synthgen.dataset.merge import merge_datasets
    from synthgen.dataset.summary import describe_dataset

    click.echo(describe_dataset(merge_datasets(list(sources), out, lambda line: click.echo(line, err=True))))


@dataset.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--plot",
    type=click.Path(path_type=Path),
    default=None,
    help="Also draw the dataset at a glance into this .png (needs matplotlib): example spectrograms, a histogram of each "
    "learned parameter, the rows' levels and notes, from 2,000 random rows.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seeds the rows --plot draws.")
def dataset_info(path: Path, plot: Path | None, seed: int) -> None:
    """Print what a dataset holds: synth, rows, parameters, features, provenance.

    Example: synthgen dataset info data/builtin --plot builtin.png
    """
    from synthgen.dataset.summary import dataset_overview, describe_dataset

    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise click.BadParameter(f"{plot}: the figure's file name must end in .png", param_hint="--plot")
        from synthgen.plots import plot_dataset_overview  # without matplotlib: one line, before any output

        if plot.parent.exists() and not plot.parent.is_dir():
            raise click.BadParameter(f"{plot}: {plot.parent} is a file, not a folder", param_hint="--plot")
        plot.parent.mkdir(parents=True, exist_ok=True)
    click.echo(describe_dataset(path))
    if plot is None:
        return
    seen = dataset_overview(path, seed=seed)
    title = f"{path}: {seen.n_rows} rows of {seen.config.name}; {len(seen.labels)} random rows (seed {seed})"
    names = seen.config.space.names
    drawn = plot_dataset_overview(seen.examples, seen.labels, seen.unit, names, seen.peak_db, seen.midi_pitch, title, plot, seen.config)
    click.echo(f"wrote {drawn}")


@dataset.command("verify")
@click.argument("path", type=click.Path(path_type=Path))
def dataset_verify(path: Path) -> None:
    """Check every shard of a dataset against the size and SHA-256 recorded when it was written.

    A damaged or missing shard is named; running the render command that made the dataset
    again re-renders it.
    """
    from synthgen.dataset.verify import verify_dataset

    click.echo(verify_dataset(path))
