"""Resynthesis: a recorded sound -> the synth preset that makes it -> the synth's rendering of it."""

__all__ = ["GLIDING_SEMITONES", "Resynthesis", "gliding_note", "read_sound", "resynthesize", "resynthesize_audio"]

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.audio_io import LoadedAudio, prepare_folder, read_audio, write_wav
from synthgen.config import Note
from synthgen.features import log_mel
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_note
from synthgen.uses.index import SoundIndex, model_index
from synthgen.uses.level import apply_gain_db
from synthgen.uses.note_length import HeldTime, hold_for, longer_note
from synthgen.uses.pitch import NoteChoice, PitchEstimate, choose_note, pitch_range_semitones
from synthgen.uses.search import SearchResult, search_preset

#: a voiced pitch that moves over more semitones than this is not one held note
GLIDING_SEMITONES = 4.0


@dataclass
class Resynthesis:
    """What one resynthesis produced.

    Arguments:
        source: the input file.
        unit: the preset ``(P,)`` in unit space (``config.space.synth_values`` gives what the synth is set to).
        input_audio: ``(n_samples,)`` as the model hears it (its render length).
        output_audio: ``(n_samples,)``, played at ``played`` with ``gain_db``: as long as the input
            sounds plus the model's release time, at least the model's render length.
        input_mel, output_mel: their log-mels ``(n_mels, n_frames)``.
        gain_db: the output gain (dB) that matches the input's level.
        note: the note the preset is played at, and why.
        held: how long its key is held, and why.
        played: the note the output plays (the search's, held longer for a longer input).
        search: the search that found the preset (its distance, renders).
        notes: remarks for the user (e.g. no index of training sounds next to the model).
    """

    source: Path
    unit: np.ndarray
    input_audio: np.ndarray
    output_audio: np.ndarray
    input_mel: np.ndarray
    output_mel: np.ndarray
    sample_rate: int
    changes: list[str]
    gain_db: float = 0.0
    note: NoteChoice | None = None
    held: HeldTime | None = None
    played: Note | None = None
    search: SearchResult | None = None
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def index_for_search(model: LoadedModel, budget: int, index: SoundIndex | None = None) -> tuple[SoundIndex | None, list[str]]:
    """The index of training sounds a search of ``budget`` renders starts from (``index``, else the one next to the
    model), and a remark for the user when there is none."""
    if budget == 0 or index is not None or (index := model_index(model)) is not None:
        return index, []
    return None, [f"no index of training sounds next to {model.path}: the search starts from the model alone (see synthgen index)"]


def gliding_note(pitch: PitchEstimate | None) -> str | None:
    """A remark when the tracked pitch moves over more than :data:`GLIDING_SEMITONES` (one held note cannot follow it)."""
    if pitch is None or (moves := pitch_range_semitones(pitch)) <= GLIDING_SEMITONES:
        return None
    return f"its pitch moves over {moves:.0f} semitones (a melody, a glide or speech), and one held note plays its median"


def read_sound(model: LoadedModel, path: str | Path, fade_s: float = 0.1) -> tuple[LoadedAudio, np.ndarray]:
    """Read a sound as the model hears it.

    Returns:
        The audio (mono, the model's rate and duration) and its log-mel ``(n_mels, n_frames)``.
    """
    config = model.config
    loaded = read_audio(path, config.render.sample_rate, config.render.render_duration_s, fade_s)
    return loaded, log_mel(loaded.audio, loaded.sample_rate, config.features)[0]


def resynthesize(
    model: LoadedModel,
    audio_path: str | Path,
    out: str | Path | None = None,
    synth: Synth | None = None,
    plugin: str | Path | None = None,
    midi_pitch: int | None = None,
    budget: int | None = None,
    index: SoundIndex | None = None,
    seed: int = 0,
    fade_s: float = 0.1,
    held_s: float | None = None,
    progress: bool = False,
    plot: bool = False,
) -> Resynthesis:
    """Infer the preset of a sound, search around it with the synth, and render it at the sound's pitch, length and level.

    Arguments:
        model: a loaded model.
        audio_path: any WAV/FLAC/OGG; mixed to mono, resampled, trimmed or padded as the model expects.
        out: folder for ``<name>_resynth.wav`` and ``<name>_preset.json`` (plus the synth's native
            preset where it has one); nothing is written when ``None``.
        synth: an already loaded synth (e.g. kept alive between calls); built from the model's
            config otherwise.
        plugin: plugin file overriding the config's search paths.
        midi_pitch: the note to play; default: the input's tracked pitch (the model's note when it has none).
        budget: renders the search may spend (0: the model's answer alone; default: the synth config's ``search_budget``).
        index: the model's training sounds (default: the ``index.npz`` next to the model, if any).
        seed: seeds the search.
        fade_s: fade-out of an input longer than the model's sounds.
        held_s: seconds the key is held; default: as long as the input sounds, at most the
            model's note length when it ends within the model's render length, else at most
            :data:`~synthgen.audio_io.WHOLE_SOUND_S`. The search holds it at most the render
            length; a longer hold renders the found preset again, held the whole time.
        progress: show the search's progress.
        plot: also write ``<name>_compare.png`` (input and output log-mels; needs matplotlib) to ``out``.
    """
    config = model.config
    loaded = read_audio(audio_path, config.render.sample_rate, config.render.render_duration_s, fade_s)
    synth = synth or load_synth(config, plugin)
    return resynthesize_audio(model, loaded, Path(audio_path), synth, out, midi_pitch, budget, index, seed, held_s, progress, plot)


def resynthesize_audio(
    model: LoadedModel,
    loaded: LoadedAudio,
    source: Path,
    synth: Synth,
    out: str | Path | None = None,
    midi_pitch: int | NoteChoice | None = None,
    budget: int | None = None,
    index: SoundIndex | None = None,
    seed: int = 0,
    held_s: float | None = None,
    progress: bool = False,
    plot: bool = False,
    stem: str | None = None,
) -> Resynthesis:
    """:func:`resynthesize` of audio already read (``loaded``: at the model's rate and length), from ``source``.

    ``midi_pitch`` may also be a note already chosen (and why; no remark on its pitch is added then);
    ``stem`` names the files written (default: the source's name without its suffix). The other
    arguments are :func:`resynthesize`'s.
    """
    config = model.config
    mel_in = log_mel(loaded.audio, loaded.sample_rate, config.features)[0]
    if isinstance(midi_pitch, NoteChoice):  # the caller tracked the pitch (a note of a phrase) and speaks of it
        note, gliding = midi_pitch, None
    else:
        note = choose_note(loaded.audio, loaded.sample_rate, config.features.hop_length, config.render.midi_pitch, midi_pitch)
        gliding = gliding_note(note.pitch)
    held, heard_s = hold_for(loaded, config.render, held_s)
    budget = config.search_budget if budget is None else budget
    index, remarks = index_for_search(model, budget, index)
    notes = ([] if gliding is None else [f"{gliding}: resynthesize each of its notes with --split"]) + remarks
    found = search_preset(model, synth, loaded.audio, mel_in, note.midi_pitch, budget, index, seed, progress, note_duration_s=heard_s)
    played, output = found.note, found.audio
    if held.seconds > heard_s:
        played = longer_note(found.note, config.render, held.seconds)
        output = apply_gain_db(render_note(synth, config, found.unit[None], played), found.gain_db)[0]
        held = dataclasses.replace(held, message=f"{held.message} (the search heard its first {heard_s:g} s)")
    if found.failed_renders:
        notes.append(
            f"{found.failed_renders} of the {found.n_renders} presets tried did not render "
            "(the synth crashed or played NaN): the search skipped them"
        )
    result = Resynthesis(
        source=source,
        unit=found.unit,
        input_audio=loaded.audio,
        output_audio=output,
        input_mel=mel_in,
        output_mel=log_mel(found.audio, loaded.sample_rate, config.features)[0],
        sample_rate=loaded.sample_rate,
        changes=loaded.changes,
        gain_db=found.gain_db,
        note=note,
        held=held,
        played=played,
        search=found,
        notes=notes,
    )
    if out is not None:
        result.files = _write_outputs(result, model, synth, Path(out), plot, stem or source.stem)
    return result


def _write_outputs(result: Resynthesis, model: LoadedModel, synth: Synth, out: Path, plot: bool, stem: str) -> dict[str, Path]:
    from synthgen.presets.json_preset import write_native_preset

    prepare_folder(out)
    files = {"audio": write_wav(out / f"{stem}_resynth.wav", result.output_audio, result.sample_rate)}
    extra = {
        "source": str(result.source),
        "model": str(model.path),
        "pitch": result.note.message,
        "held": result.held.message,
        "search": {
            "renders": result.search.n_renders,
            "distance": round(result.search.distance, 4),
            "from": result.search.origin,
        },
    }
    for preset in write_native_preset(
        synth, model.config, result.unit, out / f"{stem}_preset", extra, result.played, result.gain_db, result.search.seed
    ):
        files[f"preset{preset.suffix}"] = preset
    if not plot:
        return files
    from synthgen.plots import plot_mel_comparison

    files["figure"] = plot_mel_comparison(
        [result.input_mel, result.output_mel],
        [f"input: {result.source.name}", f"resynthesized by {model.config.name} ({model.name})"],
        out / f"{stem}_compare.png",
        model.config,
    )
    return files
