"""Resynthesis of a phrase (a melody, speech, a run of hits): its notes found, each resynthesized at its own
pitch, length and level, and played where it starts."""

__all__ = ["MIN_NOTE_S", "NOTES_FORMAT", "ONSET_DELTA", "QUIET_DB", "PhraseResynthesis", "note_spans", "resynthesize_phrase"]

import json
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import numpy as np

from synthgen.audio_io import LoadedAudio, fit_length, prepare_folder, read_audio, write_wav
from synthgen.features import side_by_side_log_mels
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.synths.loading import load_synth
from synthgen.uses.index import SoundIndex, model_index
from synthgen.uses.pitch import PitchEstimate, choose_note_within, detect_pitch, note_name, pitch_changes
from synthgen.uses.resynth import Resynthesis, resynthesize_audio
from synthgen.versions import provenance

# References:
#     Böck & Widmer, "Maximum filter vibrato suppression for onset detection" (DAFx 2013): SuperFlux.

#: a note shorter than this (seconds) is part of the one before
MIN_NOTE_S = 0.1
#: stretches more than this (dB) below the sound's peak are silence between notes
QUIET_DB = 35.0
#: an onset is where the onset strength (SuperFlux, its peak 1) tops its neighbourhood's mean by this:
#: a note's attack, not the wobble of a vibrato or of a voice within a vowel
ONSET_DELTA = 0.3
#: format of the ``<name>_notes.json`` list of a phrase's notes
NOTES_FORMAT = "synthgen-notes-1"


@dataclass
class PhraseResynthesis:
    """What the resynthesis of a phrase produced.

    Arguments:
        source: the input file.
        input_audio: the input as read (mono, the model's rate, from its sound's start) ``(n_samples,)``.
        spans: where each note starts and ends in the input (samples, from the sound's start).
        notes: each note's resynthesis (its preset, pitch, hold, level and search), in order.
        output_audio: the notes' outputs mixed, each from where its note starts ``(n_samples,)``.
        sample_rate: Hz.
        changes: what reading the input changed (resampled, mixed to mono, ...).
        remarks: remarks for the user, once each.
        files: what was written.
    """

    source: Path
    input_audio: np.ndarray
    spans: list[tuple[int, int]]
    notes: list[Resynthesis]
    output_audio: np.ndarray
    sample_rate: int
    changes: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def note_spans(audio: np.ndarray, sample_rate: int, hop_length: int, track: PitchEstimate | None = None) -> list[tuple[int, int]]:
    """Where the notes of a sound start and end ``[(start, end), ...]`` (samples).

    The sound's stretches louder than :data:`QUIET_DB` below its peak are cut at its onsets and where
    its pitch moves to a new note without an attack (:func:`~synthgen.uses.pitch.pitch_changes` of
    ``track``, the sound's pitch, tracked here when not given). Onsets are peaks of SuperFlux (the
    spectral flux two frames apart against a maximum over neighbouring bands, so that a vibrato is
    no onset) :data:`ONSET_DELTA` over their surroundings, each moved back to the lowest flux just
    before it. A cut that would leave a piece shorter than :data:`MIN_NOTE_S` is not made, and a
    stretch shorter than that is left out; a sound with no note that long is one note.
    """
    shortest = round(MIN_NOTE_S * sample_rate)
    if len(audio) < 2 * shortest:  # too short to hold two notes
        return [(0, len(audio))]
    strength = librosa.onset.onset_strength(y=audio, sr=sample_rate, hop_length=hop_length, lag=2, max_size=3)
    onsets = librosa.onset.onset_detect(onset_envelope=strength, sr=sample_rate, hop_length=hop_length, delta=ONSET_DELTA)
    if len(onsets):
        onsets = librosa.frames_to_samples(librosa.onset.onset_backtrack(onsets, strength), hop_length=hop_length)
    track = detect_pitch(audio, sample_rate, hop_length) if track is None else track
    onsets = np.unique(np.concatenate([onsets, pitch_changes(track, hop_length, sample_rate)]))
    spans = []
    for start, end in librosa.effects.split(audio, top_db=QUIET_DB, frame_length=2 * hop_length, hop_length=hop_length):
        if end - start < shortest:
            continue
        cuts = [int(start)]
        for onset in onsets:
            if onset - cuts[-1] >= shortest and end - onset >= shortest:
                cuts.append(int(onset))
        spans += list(zip(cuts, [*cuts[1:], int(end)], strict=True))
    return spans or [(0, len(audio))]


def resynthesize_phrase(
    model: LoadedModel,
    audio_path: str | Path,
    out: str | Path | None = None,
    synth: Synth | None = None,
    plugin: str | Path | None = None,
    budget: int | None = None,
    index: SoundIndex | None = None,
    seed: int = 0,
    fade_s: float = 0.1,
    progress: bool = False,
    plot: bool = False,
) -> PhraseResynthesis:
    """Resynthesize each note of a sound (see :func:`note_spans`) with a preset of its own, and play them where they start.

    Each note is resynthesized as :func:`~synthgen.uses.resynth.resynthesize` does a whole sound:
    at its pitch (see :func:`~synthgen.uses.pitch.choose_note_within`), held as long as it sounds,
    at its level, found by a search of its share of ``budget`` (split evenly among the notes). The
    output mixes the notes' renderings, each from its note's start, so a note's release rings on
    under the next.

    Arguments:
        model, synth, plugin, index, seed, fade_s, progress: as in :func:`~synthgen.uses.resynth.resynthesize`.
        audio_path: any WAV/FLAC/OGG/AIFF/MP3, up to :data:`~synthgen.audio_io.WHOLE_SOUND_S` long.
        out: folder for ``<name>_resynth.wav`` (the phrase), ``<name>_notes.json`` (each note's start,
            pitch, hold, gain and preset file) and each note's ``<name>_noteNN_preset.json`` and
            ``<name>_noteNN_resynth.wav``; nothing is written when ``None``.
        budget: renders for the whole phrase (default: the synth config's ``search_budget``); 0: each
            note gets the model's answer alone.
        plot: also write ``<name>_compare.png`` (the input's and output's log-mels over the phrase,
            each note's start marked; needs matplotlib) and each note's ``<name>_noteNN_compare.png``.
    """
    config = model.config
    rate, length = config.render.sample_rate, config.render.render_duration_s
    read = read_audio(audio_path, rate, None, fade_s)
    hop = config.features.hop_length
    track = detect_pitch(read.whole, rate, hop)
    spans = note_spans(read.whole, rate, hop, track)
    phrase_note = config.render.midi_pitch if track.midi_pitch is None else track.midi_pitch
    synth = synth or load_synth(config, plugin)
    budget = config.search_budget if budget is None else budget
    share = max(budget // len(spans), 1) if budget else 0
    index = model_index(model) if index is None and share else index
    source, n_samples = Path(audio_path), round(length * rate)
    notes = [
        resynthesize_audio(
            model,
            LoadedAudio(fit_length(read.whole[start:end], n_samples, fade_s, rate), rate, read.whole[start:end]),
            source,
            synth,
            out,
            choose_note_within(track, start, end, hop, rate, phrase_note),
            budget=share,
            index=index,
            seed=seed,
            progress=progress,
            plot=plot,
            stem=f"{source.stem}_note{k:02d}",
        )
        for k, (start, end) in enumerate(spans, 1)
    ]
    mix = np.zeros(max(start + len(note.output_audio) for (start, _), note in zip(spans, notes, strict=True)), dtype=np.float32)
    for (start, _), note in zip(spans, notes, strict=True):
        mix[start : start + len(note.output_audio)] += note.output_audio
    remarks = list(dict.fromkeys(remark for note in notes for remark in note.notes))
    result = PhraseResynthesis(source, read.whole, spans, notes, mix, rate, read.changes, remarks)
    if out is not None:
        result.files = _write_phrase(result, model, Path(out), budget, seed, plot)
    return result


def _write_phrase(result: PhraseResynthesis, model: LoadedModel, out: Path, budget: int, seed: int, plot: bool) -> dict[str, Path]:
    """Write the phrase's audio, its list of notes and (``plot``) its figure; returns them, each note's own files included."""
    prepare_folder(out)
    stem, rate = result.source.stem, result.sample_rate
    files = {"audio": write_wav(out / f"{stem}_resynth.wav", result.output_audio, rate)}
    document = {
        **provenance(NOTES_FORMAT, model.config.name, seed, "librosa"),
        "source": str(result.source),
        "model": str(model.path),
        "budget": budget,
        "notes": [
            {
                "start_s": round(start / rate, 4),
                "midi_pitch": note.played.midi_pitch,
                "held_s": round(note.played.note_duration_s, 4),
                "output_gain_db": round(note.gain_db, 3),
                "distance": round(note.search.distance, 4),
                "renders": note.search.n_renders,
                "preset": note.files["preset.json"].name,
            }
            for (start, _), note in zip(result.spans, result.notes, strict=True)
        ],
    }
    files["notes"] = out / f"{stem}_notes.json"
    files["notes"].write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    if plot:
        files["figure"] = _plot_phrase(result, model, out / f"{stem}_compare.png")
    for k, note in enumerate(result.notes, 1):
        files.update({f"note {k:02d} {kind}": path for kind, path in note.files.items()})
    return files


def _plot_phrase(result: PhraseResynthesis, model: LoadedModel, path: Path) -> Path:
    """The input's and the output's log-mels over the whole phrase, each note's start marked with its note."""
    from synthgen.plots import plot_phrase

    config, rate = model.config, result.sample_rate
    mels = list(side_by_side_log_mels(result.input_audio, result.output_audio, rate, config.features))
    titles = [f"input: {result.source.name}", f"resynthesized note by note by {config.name} ({model.name})"]
    starts = [start / rate for start, _ in result.spans]
    return plot_phrase(mels, titles, starts, [note_name(note.played.midi_pitch) for note in result.notes], path, config)
