"""Commands on preset files: ``presets list`` and ``presets export``."""

__all__ = ["presets"]

from pathlib import Path

import click


@click.group()
def presets() -> None:
    """List and convert preset files (amsynth .bank, synthgen .json)."""


@presets.command("list")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def list_presets(paths: tuple[Path, ...]) -> None:
    """Print the presets in preset files or folders: bank, index in its file, synth, name (default: amsynth's installed banks).

    Example: synthgen presets list /usr/share/amsynth/banks
    """
    from synthgen.presets.human import read_preset_files

    found = read_preset_files(paths)
    width = max((len(p.bank) for p in found), default=0)
    synth_width = max((len(p.synth) for p in found), default=0)
    for preset in found:
        click.echo(f"{preset.bank:<{width}}  {preset.index:>3}  {preset.synth:<{synth_width}}  {preset.name}")
    n_banks = len({p.bank for p in found})
    click.echo(f"{len(found)} preset{'s' * (len(found) != 1)} in {n_banks} bank{'s' * (n_banks != 1)}", err=True)


@presets.command("export")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The amsynth bank to write (.bank, at most 128 presets).")
@click.option("--force", is_flag=True, help="Replace --out if it exists (without it, an existing file is refused).")
def export(inputs: tuple[Path, ...], out: Path, force: bool) -> None:
    """Write synthgen JSON presets of amsynth as one bank file that amsynth opens.

    The JSON presets may come from resynth or any other synthgen command. A JSON preset is named
    after its file; parameters it does not set take amsynth's defaults; its output gain goes into
    amsynth's master volume (found by rendering, so the plugin must be installed for it). Banks are
    accepted too, so banks and JSON presets can be merged into one bank.

    Example: synthgen presets export out/*.json --out mine.bank
    """
    from functools import cache

    from synthgen.config import load_config
    from synthgen.errors import SynthgenError
    from synthgen.presets.human import export_amsynth_bank
    from synthgen.synths.base import Synth
    from synthgen.synths.loading import load_synth

    config = load_config("amsynth")

    @cache
    def amsynth() -> Synth | None:
        try:
            return load_synth(config)
        except SynthgenError as e:
            click.echo(f"note: {e}; output gains stay in the JSON presets only", err=True)
            return None

    written = export_amsynth_bank(inputs, out, amsynth, config, replace=force)
    click.echo(f"wrote {out}: {len(written)} presets")
