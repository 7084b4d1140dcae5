"""The ``synthgen`` command: one click group; each module under ``synthgen.cli`` adds its commands."""

__all__ = ["main"]

import errno
import warnings
from collections.abc import Callable

import click

from synthgen.errors import SynthgenError, SynthgenWarning

# Optional packages and the extra that installs each.
_EXTRAS = {"torch": "train", "onnx": "train", "matplotlib": "plots", "fastapi": "serve", "uvicorn": "serve", "pythonosc": "serve"}
# Failures of the file system that a user can fix (permissions, full or read-only disk, missing folder).
_USER_OS_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOENT, errno.ENOTDIR, errno.EISDIR}

# What Ctrl-C leaves behind, for the commands that can go on from there or that leave things as they were.
_UNCHANGED = ": the run's model.pt is as it was (nothing is replaced until the command ends)"
_RESUME = {
    "render": ": finished shards are saved; run the same command again to resume",
    "train": ": finished epochs are saved; run the same command with --resume to continue",
    "refit-flow": _UNCHANGED,
    "refit-encoder": _UNCHANGED,
    "train-surrogate": ": nothing is written until the command ends; run it again",
    "evaluate": ": the searches that finished are kept in --out; run the same command again to go on from there",
}


class _Group(click.Group):
    """Turns user mistakes and missing optional packages into one line on stderr, and Ctrl-C into a
    note on how to resume."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in the order work flows through them (render, train, ... use), not alphabetically."""
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> object:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", SynthgenWarning)
                warnings.showwarning = _notes_as_lines(warnings.showwarning)
                return super().invoke(ctx)
        except SynthgenError as e:
            raise click.ClickException(str(e)) from None
        except ModuleNotFoundError as e:
            if e.name not in _EXTRAS:
                raise
            hint = f"pip install 'synthgen[{_EXTRAS[e.name]}]' (see README)"
            raise click.ClickException(f"this needs {e.name}, which is not installed: {hint}") from None
        except click.exceptions.NoArgsIsHelpError:
            raise  # a group named alone (`synthgen presets`): click prints its help
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else "synthgen"
            raise click.ClickException(f"{e.format_message()} (see {where} --help)") from None
        except OSError as e:
            if e.errno not in _USER_OS_ERRORS:
                raise
            target = f"cannot use {e.filename}: " if e.filename else ""
            raise click.ClickException(f"{target}{e.strerror or e}") from None
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted{_RESUME.get(ctx.invoked_subcommand or '', '')}", err=True)
            ctx.exit(130)


def _notes_as_lines(show: Callable[..., None]) -> Callable[..., None]:
    """``warnings.showwarning`` that prints a :class:`~synthgen.errors.SynthgenWarning` as ``note: <message>`` on
    stderr, and passes any other warning to ``show``."""

    def note(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
        if issubclass(category, SynthgenWarning):
            click.echo(f"note: {message}", err=True)
        else:
            show(message, category, *args, **kwargs)

    return note


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="synthgen")
def main() -> None:
    """Universal synthesizer control: render datasets of a synth's presets, learn a latent sound
    space with an invertible map to its parameters, and use it to find presets for sounds.

    \b
    A sound to a preset with the shipped model of the built-in synth:
      synthgen resynth input.wav
    Your own synth, from nothing (each command's --help says more):
      synthgen info --synth mysynth.vst3 --write-config mysynth.yaml
      synthgen render --synth mysynth.yaml --n 20000 --out data/mine --jobs 2
      synthgen train --data data/mine --out runs/mine
      synthgen index --model runs/mine --data data/mine
      synthgen resynth input.wav --model runs/mine --synth mysynth.yaml
    """


def _register() -> None:
    from synthgen.cli import data, explore, learning, presets, serve, uses

    commands = (
        data.render,
        data.info,
        data.dataset,
        learning.train,
        learning.export_onnx,
        learning.refit_flow,
        learning.refit_encoder,
        learning.train_surrogate,
        learning.index,
        uses.resynth,
        uses.evaluate,
        uses.play,
    )
    for command in (*commands, presets.presets, serve.serve, *explore.COMMANDS):
        main.add_command(command)


_register()
