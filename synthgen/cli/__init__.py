"""The ``synthgen`` command: one click group; each module under ``synthgen.cli`` adds its commands."""

__all__ = ["main"]

import click

from synthgen.errors import SynthgenError


class _Group(click.Group):
    """Turns user mistakes into one line on stderr, and Ctrl-C into a note on how to resume."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SynthgenError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("\ninterrupted: finished work is saved; run the same command again to resume (train: add --resume)", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="synthgen")
def main() -> None:
    """Universal synthesizer control: render datasets of a synth's presets, learn a latent sound
    space with an invertible map to its parameters, and use it to find presets for sounds."""


def _register() -> None:
    from synthgen.cli import data, explore, learning, presets, serve, uses

    for command in (
        data.render,
        data.info,
        data.dataset,
        learning.train,
        uses.resynth,
        uses.evaluate,
        presets.presets,
        serve.serve,
        *explore.COMMANDS,
    ):
        main.add_command(command)


_register()
