"""Options shared by several commands."""

__all__ = ["draws_figures", "synth_options"]

import functools
from collections.abc import Callable

import click


def draws_figures(f: Callable) -> Callable:
    """Mark a command that writes figures: without matplotlib (the ``[plots]`` extra) it stops before
    doing any work, with the one-line hint the CLI gives for a missing package."""

    @functools.wraps(f)
    def command(*args: object, **kwargs: object) -> object:
        import synthgen.plots  # noqa: F401  (raises ModuleNotFoundError for matplotlib)

        return f(*args, **kwargs)

    return command


def synth_options(f: Callable) -> Callable:
    """``--synth`` and ``--plugin``."""
    f = click.option(
        "--plugin",
        type=click.Path(dir_okay=True),
        default=None,
        help="Plugin file to load instead of searching the config's usual install folders.",
    )(f)
    return click.option(
        "--synth",
        default="builtin",
        show_default=True,
        help="A shipped config name (builtin, amsynth, diva, ...), a config .yaml, or a VST2/VST3 plugin file.",
    )(f)
