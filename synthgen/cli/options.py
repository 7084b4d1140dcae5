"""Options shared by several commands."""

__all__ = ["progress_wanted", "synth_options", "verbosity_options"]

import sys
from collections.abc import Callable

import click


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


def verbosity_options(f: Callable) -> Callable:
    """``-q/--quiet`` and ``-v/--verbose``, passed on as ``verbosity`` (-1, 0 or 1)."""
    f = click.option("-v", "--verbose", "verbosity", flag_value=1, help="Also print one line per step (e.g. per epoch).")(f)
    return click.option("-q", "--quiet", "verbosity", flag_value=-1, default=0, help="No progress bars: print only the result and errors.")(
        f
    )


def progress_wanted(verbosity: int) -> bool:
    """Progress bars are drawn unless ``--quiet``, and only on a terminal (not into a log file or pipe)."""
    return verbosity >= 0 and sys.stdout.isatty() and sys.stderr.isatty()
