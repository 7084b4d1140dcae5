"""Options shared by several commands."""

__all__ = ["synth_options"]

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
