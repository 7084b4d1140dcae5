"""Options shared by several commands."""

__all__ = [
    "MIDI_NOTE",
    "budget_option",
    "draws_figures",
    "latent_range_option",
    "model_option",
    "model_synth_options",
    "progress_wanted",
    "synth_options",
    "verbosity_options",
]

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import click

from synthgen.model import DEFAULT_MODEL
from synthgen.uses.search import MAX_BUDGET

_PATH = click.Path(path_type=Path)


class MidiNote(click.ParamType):
    """A MIDI note, 0-127, given as its number (60) or its name (C4, F#3, Eb5; C4 is 60)."""

    name = "note"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        numeric = isinstance(value, int) or text.lstrip("-").isdigit()
        if numeric:
            number = int(text)
        else:
            import librosa

            try:
                number = int(librosa.note_to_midi(text))
            except librosa.ParameterError:
                self.fail(f"{value!r} is neither a MIDI note number nor a note name like C4, F#3 or Eb5", param, ctx)
        if not 0 <= number <= 127:
            said = f"MIDI note {number} is" if numeric else f"{text} is MIDI note {number},"
            self.fail(f"{said} outside 0-127", param, ctx)
        return number


#: ``type=`` of an option that takes a note
MIDI_NOTE = MidiNote()


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


def model_option(help: str = "Model file or run folder.") -> Callable[[Callable], Callable]:
    """``--model`` (one trained model, default: the shipped one), passed on as ``model_path``."""
    shipped = "the shipped models/builtin_vae_flow_post/model.pt"
    return click.option("--model", "model_path", type=_PATH, default=DEFAULT_MODEL, show_default=shipped, help=help)


def model_synth_options(f: Callable) -> Callable:
    """``--synth`` (passed on as ``synth_name``) and ``--plugin`` for commands that use trained models: where the models' synth is found."""
    f = click.option("--plugin", type=_PATH, default=None, help="Plugin file of the model's synth, if its config does not find it.")(f)
    return click.option(
        "--synth",
        "synth_name",
        default=None,
        help="Your config for the model's synth (name or .yaml): where its plugin is found (default: the shipped config of that name).",
    )(f)


def budget_option(help: str, default: int | None = 0) -> Callable[[Callable], Callable]:
    """``--budget``: renders a synth-in-the-loop search may spend (0 to :data:`~synthgen.uses.search.MAX_BUDGET`)."""
    kind = click.IntRange(min=0, max=MAX_BUDGET)
    return click.option("--budget", type=kind, default=default, show_default=default is not None, help=help)


def latent_range_option(help: str) -> Callable[[Callable], Callable]:
    """``--range``: how far from the centre a latent walk or knob goes, passed on as ``latent_range``."""
    return click.option("--range", "latent_range", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True, help=help)


def verbosity_options(verbose_help: str | None = None) -> Callable[[Callable], Callable]:
    """``-q/--quiet`` (and ``-v/--verbose`` when ``verbose_help`` says what it adds), passed on as ``verbosity`` (-1, 0 or 1)."""

    def decorate(f: Callable) -> Callable:
        if verbose_help is not None:
            f = click.option("-v", "--verbose", "verbosity", flag_value=1, help=verbose_help)(f)
        return click.option(
            "-q",
            "--quiet",
            "verbosity",
            flag_value=-1,
            default=0,
            help="No progress (bars, log lines): only the result and errors.",
        )(f)

    return decorate


def progress_wanted(verbosity: int, logged: bool = False) -> bool:
    """Progress is shown unless ``--quiet``: as bars on a terminal; into a log file or pipe only where ``logged``
    (long work: a line every :data:`~synthgen.progress.LOG_INTERVAL_S` seconds, see :func:`~synthgen.progress.progress_bar`)."""
    return verbosity >= 0 and (logged or (sys.stdout.isatty() and sys.stderr.isatty()))
