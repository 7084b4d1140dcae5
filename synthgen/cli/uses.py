"""Commands that use trained models: ``resynth``, ``evaluate`` and ``play``."""

__all__ = ["evaluate", "play", "resynth"]

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from synthgen.cli.options import (
    MIDI_NOTE,
    budget_option,
    draws_figures,
    model_option,
    model_synth_options,
    progress_wanted,
    verbosity_options,
)
from synthgen.errors import SynthgenError

if TYPE_CHECKING:
    import numpy as np

    from synthgen.model import LoadedModel
    from synthgen.uses.html import HeardPair
    from synthgen.uses.phrase import PhraseResynthesis
    from synthgen.uses.resynth import Resynthesis
    from synthgen.uses.search import SearchResult


@click.command()
@click.argument("audio", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_option("A model.pt (or run folder) from `synthgen train`.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("resynth"), show_default=True, help="Output folder.")
@model_synth_options
@budget_option(
    "Renders the search may spend refining the model's answer; 0: the model alone. "
    "Default: the synth config's search_budget (built-in synth: 330 renders, amsynth: 170; "
    "either search takes about 1.5 s a sound in all on two cores).",
    default=None,
)
@click.option(
    "--note",
    "midi_pitch",
    type=MIDI_NOTE,
    default=None,
    help="Note to play the preset at, a MIDI number or a name: 60 or C4, 61 or C#4 "
    "(default: the input's tracked pitch, or the model's note when it has none).",
)
@click.option(
    "--held",
    "held_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds the key is held, at most 30 (default: until the input falls 25 dB below its peak, at most the model's "
    "note length for a sound that ends within the model's render length). The search holds it at most that render length; "
    "the output, the whole time.",
)
@click.option(
    "--split",
    is_flag=True,
    help="Cut the input into its notes (at its attacks, its silences and where a legato line moves to a new pitch) "
    "and resynthesize each with a preset of its own, at its own pitch and length, the --budget split among them: "
    "for a melody, speech or a run of hits. Writes the phrase, <name>_notes.json (each note's start, pitch, hold, "
    "gain and preset) and each note's preset and rendering.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seeds the search.")
@click.option("--plot", is_flag=True, help="Also write <name>_compare.png, the input and output spectrograms (needs matplotlib).")
@click.option(
    "--page",
    is_flag=True,
    help="Also write resynth.html in --out: every input over its resynthesis, spectrograms and sounds, to look at and "
    "listen to in a browser (needs matplotlib).",
)
@verbosity_options()
def resynth(
    audio: tuple[Path, ...],
    model_path: Path,
    out: Path,
    synth_name: str | None,
    plugin: Path | None,
    budget: int | None,
    midi_pitch: int | None,
    held_s: float | None,
    split: bool,
    seed: int,
    plot: bool,
    page: bool,
    verbosity: int,
) -> None:
    """Find the synth preset that sounds like each AUDIO file and render it.

    Reads any WAV/FLAC/OGG/AIFF/MP3 (any rate, mono or stereo, any length: it is resampled, mixed,
    stripped of the silence before the sound, and trimmed or padded as the model expects) and infers
    the parameters. A search then renders up to --budget presets near the model's answer (samples of
    its posterior, the nearest training sounds, the other classes of each categorical parameter,
    then CMA-ES) and keeps the one whose spectrum is nearest. The preset plays at the input's pitch,
    for as long as the input sounds (a sound longer than the model's is matched on its start, then
    played as long, up to 30 s), and at its level (its output gain is stored in the preset).
    Writes the audio and the preset (JSON, plus the plugin's own format where it has one); with
    --plot, a figure comparing the input and output spectrograms too; with --page, one HTML page of
    every input over its resynthesis, to look at and listen to.

    With --split, each note of the input (a melody, speech, a run of hits) gets a preset of its own,
    played at its pitch, for its length and at its level, where it starts.

    Give several files, or folders (their audio files), to resynthesize them one after the other
    with the model and synth loaded once; a file that cannot be read is skipped with one line.

    \b
    Examples:
      synthgen resynth my_sound.wav --out resynth/
      synthgen resynth samples/ --out resynth/
      synthgen resynth melody.wav --split --out resynth/
    """
    from synthgen.audio_io import audio_files_in
    from synthgen.model import load_model
    from synthgen.synths.loading import load_synth
    from synthgen.synths.resolve import resolve_config
    from synthgen.uses.index import model_index
    from synthgen.uses.resynth import resynthesize

    if split and (midi_pitch is not None or held_s is not None):
        raise SynthgenError("--split plays each note at its own pitch and length: give it without --note and --held")
    if plot or page:
        import synthgen.plots  # noqa: F401  (without matplotlib: its one-line hint now, before any search)
    for folder in (path for path in audio if path.is_dir()):
        if inner := sorted(p.name for p in folder.iterdir() if p.is_dir()):
            click.echo(f"note: the folders in {folder} are not searched ({', '.join(inner)}): give them as inputs too")
    sounds = [file for path in audio for file in (audio_files_in(path) if path.is_dir() else [path])]
    if clash := next((stem for stem, n in Counter(s.stem for s in sounds).items() if n > 1), None):
        raise SynthgenError(f"two inputs are named '{clash}': their results would overwrite each other in --out; resynthesize them apart")
    loaded = load_model(model_path, resolve_config(synth_name, plugin)[0] if synth_name else None)
    synth, index = load_synth(loaded.config, plugin), model_index(loaded)
    progress = progress_wanted(verbosity)
    skipped, heard = [], []
    for number, sound in enumerate(sounds, 1):
        if len(sounds) > 1:
            click.echo(("\n" if number > 1 else "") + f"[{number}/{len(sounds)}] {sound}")
        try:
            if split:
                from synthgen.uses.phrase import resynthesize_phrase  # librosa's onsets: imported only here

                phrase = resynthesize_phrase(loaded, sound, out, synth, budget=budget, index=index, seed=seed, progress=progress, plot=plot)
            else:
                result = resynthesize(
                    loaded,
                    sound,
                    out,
                    synth,
                    midi_pitch=midi_pitch,
                    budget=budget,
                    index=index,
                    seed=seed,
                    progress=progress,
                    plot=plot,
                    held_s=held_s,
                )
        except SynthgenError as error:
            if len(sounds) == 1:
                raise
            click.echo(f"skipped {sound}: {error}", err=True)
            skipped.append(sound.name)
            continue
        if split:
            _report_phrase(phrase, loaded)
        else:
            _report(result, loaded)
        if page:
            heard.append(_heard_phrase(phrase) if split else _heard(result))
    if page and heard:
        from synthgen.uses.html import write_resynth_page

        click.echo(f"wrote page         {write_resynth_page(heard, loaded, out)}")
    if skipped:
        raise SynthgenError(f"{len(skipped)} of {len(sounds)} sounds skipped (said above): {', '.join(skipped)}")


def _report_opening(changes: list[str], remarks: list[str], audio: "np.ndarray", kept: str) -> None:
    """The lines a resynthesis report opens with: what reading the input changed, the remarks, and how much the
    WAV written of ``audio`` is scaled down so it does not clip, if it is (``kept``: what keeps the fitted gain)."""
    from synthgen.audio_io import clipping_note

    for change in changes:
        click.echo(f"input: {change}")
    for remark in remarks:
        click.echo(f"note: {remark}")
    if (clipping := clipping_note(audio)) is not None:
        click.echo(f"note: {clipping} ({kept})")


def _search_line(found: "SearchResult") -> str:
    """How a search went, in one line."""
    return (
        f"{found.n_renders} renders in {found.seconds:.2f} s, spectral distance {found.model_distance:.3f} (model alone) "
        f"-> {found.distance:.3f} (from {found.origin}); output gain {found.gain_db:+.1f} dB"
    )


def _heard(result: "Resynthesis") -> "HeardPair":
    """One resynthesis as the page shows it."""
    from synthgen.uses.html import HeardPair

    caption = f"{result.note.message}; {result.held.message}; search: {_search_line(result.search)}"
    preset = result.files.get("preset.json")
    return HeardPair(result.source.name, result.input_audio, result.output_audio, caption, preset and preset.name)


def _heard_phrase(phrase: "PhraseResynthesis") -> "HeardPair":
    """One phrase, resynthesized note by note, as the page shows it."""
    from synthgen.uses.html import HeardPair
    from synthgen.uses.pitch import note_name

    played = " ".join(note_name(note.played.midi_pitch) for note in phrase.notes)
    caption = f"{len(phrase.notes)} note{'s' * (len(phrase.notes) != 1)}, each with a preset of its own: {played}"
    listed = phrase.files.get("notes")
    return HeardPair(phrase.source.name, phrase.input_audio, phrase.output_audio, caption, listed and listed.name)


def _report(result: "Resynthesis", loaded: "LoadedModel") -> None:
    """What ``resynth`` prints of one resynthesis: input changes, notes, the search, the preset and the files."""
    _report_opening(result.changes, result.notes, result.output_audio, "the preset keeps the fitted gain")
    click.echo(result.note.message)
    click.echo(result.held.message)
    click.echo(f"search: {_search_line(result.search)}")
    click.echo(f"resynthesized {result.source} with {loaded.config.name} ({loaded.name}):")
    for name, value in zip(loaded.config.space.names, loaded.config.space.from_unit(result.unit[None])[0], strict=True):
        click.echo(f"  {name:<24} {value:.4g}")
    for kind, path in result.files.items():
        click.echo(f"wrote {kind:<12} {path}")


def _report_phrase(phrase: "PhraseResynthesis", loaded: "LoadedModel") -> None:
    """What ``resynth --split`` prints: input changes, notes, a line per note found, and the files."""
    _report_opening(phrase.changes, phrase.remarks, phrase.output_audio, "each note's preset keeps its fitted gain")
    rate = phrase.sample_rate
    notes = f"{len(phrase.notes)} note" + "s" * (len(phrase.notes) != 1)
    click.echo(f"resynthesized {phrase.source} as {notes} with {loaded.config.name} ({loaded.name}):")
    for k, ((start, end), note) in enumerate(zip(phrase.spans, phrase.notes, strict=True), 1):
        found = note.search
        click.echo(
            f"  note {k} at {start / rate:.2f}-{end / rate:.2f} s: {note.note.message}; {note.held.message}; "
            f"{found.n_renders} renders, spectral distance {found.model_distance:.3f} -> {found.distance:.3f}, gain {found.gain_db:+.1f} dB"
        )
    shown = [kind for kind in ("audio", "notes", "figure") if kind in phrase.files]
    for kind in shown:
        click.echo(f"wrote {kind:<12} {phrase.files[kind]}")
    if each := len(phrase.files) - len(shown):
        click.echo(f"wrote {each} files of the notes beside them ({phrase.source.stem}_note01_preset.json, ...)")


@click.command()
@click.option(
    "--model",
    "models",
    type=click.Path(path_type=Path),
    multiple=True,
    required=True,
    help="A model.pt or run folder (repeat to compare models).",
)
@click.option("--data", type=click.Path(path_type=Path), default=None, help="A rendered test dataset (never seen in training).")
@click.option("--audio-dir", type=click.Path(path_type=Path), default=None, help="A folder of recordings (audio metrics only).")
@click.option(
    "--train-data",
    type=click.Path(path_type=Path),
    default=None,
    help="Training dataset for the nearest-neighbour and mean-preset baselines (default: the one the model recorded, if unchanged).",
)
@click.option("--max-rows", type=click.IntRange(min=1), default=200, show_default=True, help="Test sounds used from --data.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("evaluation"),
    show_default=True,
    help="Folder for results.md, results.json, examples.png and examples.html.",
)
@model_synth_options
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds the choice of rows, the random baseline and the searches.",
)
@budget_option(
    "Also score each model with a search of this many renders per sound (as resynth, whose default is the synth config's search_budget)."
)
@verbosity_options()
@draws_figures
def evaluate(
    models: tuple[Path, ...],
    data: Path | None,
    audio_dir: Path | None,
    train_data: Path | None,
    max_rows: int,
    out: Path,
    synth_name: str | None,
    plugin: Path | None,
    seed: int,
    budget: int,
    verbosity: int,
) -> None:
    """Score models by re-rendering what they infer, next to baselines (like the paper's Table 1).

    Metrics: parameter MSE (unit space, rendered test sets only), spectral convergence, log-spectral
    distance (dB), log-mel MSE and MFCC distance, each as mean ± std, as played (a search's presets
    at the output gain it fitted, as resynth writes them) and level-matched (after fitting each
    render's output gain), and seconds per sound. Every
    preset plays at its target's note (recordings: their tracked pitch). Baselines: nearest
    neighbour of the training set (by log-mel distance), the mean preset, and random presets; on a
    rendered test set also its own presets rendered again (the floor the synth's randomness leaves).
    Four example targets are shown next to each method's re-render in examples.png, and on
    examples.html to listen to as well.

    Example: synthgen evaluate --model runs/a --model runs/b --data data/test
    """
    from synthgen.audio_io import prepare_folder
    from synthgen.model import load_model
    from synthgen.synths.loading import load_synth
    from synthgen.synths.resolve import resolve_config
    from synthgen.uses.evaluate import SEARCHES_KEPT, targets_from_audio_dir, targets_from_dataset, write_report
    from synthgen.uses.evaluate import evaluate as run_evaluation
    from synthgen.uses.search_store import SearchStore

    if (data is None) == (audio_dir is None):
        raise click.UsageError("give exactly one of --data and --audio-dir")
    prepare_folder(out)  # refuse an unusable --out before the work
    user_config = resolve_config(synth_name, plugin)[0] if synth_name else None
    loaded = [load_model(m, user_config) for m in models]
    config = loaded[0].config
    instance = load_synth(config, plugin)
    if data is not None:
        targets = targets_from_dataset(data, config, instance, max_rows, seed)
    else:
        targets = targets_from_audio_dir(audio_dir, config)
    store = SearchStore(out / SEARCHES_KEPT)
    result = run_evaluation(loaded, targets, instance, train_data, seed, progress_wanted(verbosity, logged=True), budget, store)
    files = write_report(result, targets, config, out)
    store.clear()
    click.echo(result.markdown())
    for warning in (note for note in result.notes if note.startswith("warning:")):
        click.echo(warning, err=True)  # also where stdout goes to a file
    for kind, path in files.items():
        click.echo(f"wrote {kind:<9} {path}")


@click.command()
@click.argument("preset", type=click.Path(path_type=Path))
@click.option(
    "--note",
    "midi_pitches",
    type=MIDI_NOTE,
    multiple=True,
    help="A note to play, a MIDI number or a name: 48 or C3 (repeatable; default: the preset's own).",
)
@click.option(
    "--held",
    "held_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds each key is held (default: as the preset's own note).",
)
@click.option("--chord", is_flag=True, help="Play the notes together rather than one after another.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="The WAV to write (default: <preset name>_played.wav here).")
@click.option("--synth", "synth_name", default=None, help="Your config of the preset's synth (name or .yaml; default: the shipped one).")
@click.option("--plugin", type=click.Path(path_type=Path), default=None, help="The preset's plugin file, if its config does not find it.")
def play(
    preset: Path,
    midi_pitches: tuple[int, ...],
    held_s: float | None,
    chord: bool,
    out: Path | None,
    synth_name: str | None,
    plugin: Path | None,
) -> None:
    """Render a synthgen JSON PRESET (from resynth, sketch or serve) at its output gain: at its own note, or at the
    --note's given, one after another (each where the key before is released) or together with --chord.

    \b
    Examples:
      synthgen play resynth/cello_c3_preset.json
      synthgen play resynth/cello_c3_preset.json --note C3 --note E3 --note G3 --held 0.5
      synthgen play resynth/cello_c3_preset.json --note C3 --note E3 --note G3 --chord --out chord.wav
    """
    from synthgen.audio_io import prepare_wav_path, write_wav
    from synthgen.config import config_names, load_config
    from synthgen.presets.json_preset import fits_config, read_document
    from synthgen.synths.loading import load_synth
    from synthgen.synths.resolve import resolve_config
    from synthgen.uses.pitch import note_name
    from synthgen.uses.play import play_preset

    wav = prepare_wav_path(out or Path(f"{preset.stem}_played.wav"))
    stored = read_document(preset)
    if synth_name:
        config = resolve_config(synth_name, plugin)[0]
        if not fits_config(stored.synth, stored.backend, stored.values, config):
            raise SynthgenError(f"{preset} is a preset for synth '{stored.synth}', not for --synth '{config.name}'")
    elif stored.synth in config_names():
        config = load_config(stored.synth)
    else:
        raise SynthgenError(f"{preset} is a preset for synth '{stored.synth}', which synthgen does not ship: give its config with --synth")
    audio, own = play_preset(preset, config, load_synth(config, plugin), midi_pitches, held_s, chord)
    notes = " ".join(note_name(p) for p in midi_pitches or (own.midi_pitch,))
    path = write_wav(wav, audio, config.render.sample_rate)
    how = " together" if chord else " one after another" if len(midi_pitches) > 1 else ""
    seconds = len(audio) / config.render.sample_rate
    click.echo(f"played {preset.name} ({config.name}) at {notes}{how}, gain {stored.output_gain_db:+.1f} dB: wrote {path} ({seconds:.1f}s)")
