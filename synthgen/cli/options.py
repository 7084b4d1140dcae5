"""Options shared by several commands."""

__all__ = ["draws_figures", "progress_wanted", "synth_options", "verbosity_options"]

import functools
import sys
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


def verbosity_options(verbose_help: str | None = None) -> Callable[[Callable], Callable]:
    """``-q/--quiet`` (and ``-v/--verbose`` when ``verbose_help`` says what it adds), passed on as ``verbosity`` (-1, 0 or 1)."""

    def decorate(f: Callable) -> Callable:
        if verbose_help is not None:
            f = click.option("-v", "--verbose", "verbosity", flag_value=1, help=verbose_help)(f)
        return click.option(
            "-q", "--quiet", "verbosity", flag_value=-1, default=0, help="No progress bars: print only the result and errors."
        )(f)

    return decorate


def progress_wanted(verbosity: int) -> bool:
    """Progress bars are drawn unless ``--quiet``, and only on a terminal (not into a log file or pipe)."""
    return verbosity >= 0 and sys.stdout.isatty() and sys.stderr.isatty()
