"""Commands that make and describe datasets: ``render``, ``info``, ``dataset info``."""

__all__ = ["dataset", "info", "render"]

from pathlib import Path

import click

from synthgen.cli.options import synth_options


@click.command()
@synth_options
@click.option("--n", "n", type=int, default=None, help="Number of random presets to render.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Dataset folder (created; resumed if it exists).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Parallel worker processes, each with its own synth.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option("--notes", type=int, multiple=True, help="MIDI pitches each preset is played at (repeatable; default: the config's).")
@click.option("--velocities", type=int, multiple=True, help="MIDI velocities each preset is played at (repeatable).")
@click.option("--audio/--no-audio", default=False, show_default=True, help="Also store the rendered audio.")
@click.option("--chunk-size", type=int, default=64, show_default=True, help="Rows per shard file (the unit of resumption).")
def render(
    synth: str,
    plugin: str | None,
    n: int | None,
    out: Path,
    jobs: int,
    seed: int,
    notes: tuple[int, ...],
    velocities: tuple[int, ...],
    audio: bool,
    chunk_size: int,
) -> None:
    """Render random presets of a synth into an HDF5 dataset of log-mel spectrograms and parameters.

    Interrupt it at any time and run the same command again: it resumes where it stopped.

    Example: synthgen render --synth builtin --n 10000 --out data/builtin --jobs 2
    """
    from synthgen.dataset import render_dataset
    from synthgen.dataset.summary import describe_dataset
    from synthgen.selection import resolve_config

    config, plugin_path = resolve_config(synth, plugin)
    pitches = notes or (config.render.midi_pitch,)
    vels = velocities or (config.render.velocity,)
    path = render_dataset(
        config,
        out,
        n=n,
        seed=seed,
        jobs=jobs,
        notes=[(p, v) for p in pitches for v in vels],
        chunk_size=chunk_size,
        with_audio=audio,
        plugin=plugin_path,
    )
    click.echo(describe_dataset(path))


@click.command()
@synth_options
@click.option("--write-config", type=click.Path(path_type=Path), default=None, help="Write a starter config (.yaml) for this synth.")
def info(synth: str, plugin: str | None, write_config: Path | None) -> None:
    """List a synth's parameters and what its config learns or fixes."""
    from synthgen.selection import describe_synth, write_config_file

    text, config = describe_synth(synth, plugin)
    click.echo(text)
    if write_config is not None:
        write_config_file(config, write_config)
        click.echo(f"wrote {write_config}")


@click.group()
def dataset() -> None:
    """Inspect rendered datasets."""


@dataset.command("info")
@click.argument("path", type=click.Path(path_type=Path))
def dataset_info(path: Path) -> None:
    """Print what a dataset holds: synth, rows, parameters, features, provenance."""
    from synthgen.dataset.summary import describe_dataset

    click.echo(describe_dataset(path))
