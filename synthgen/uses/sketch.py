"""Vocal sketching: a hummed, sung or played sound -> the preset that imitates it, played at its pitch."""

__all__ = [
    "HEARD_WITHIN_SEMITONES",
    "MAX_PITCH_CORRECTIONS",
    "PITCH_TOLERANCE_SEMITONES",
    "Sketch",
    "render_at_pitch",
    "sketch_sound",
    "write_sketch",
]

from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np

from synthgen.audio_io import prepare_folder, write_wav
from synthgen.config import FeatureSettings
from synthgen.features import log_mel
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.synths.rendering import render_note
from synthgen.uses.level import apply_gain_db
from synthgen.uses.metrics import level_gain_db
from synthgen.uses.note_length import hold_for, longer_note
from synthgen.uses.pitch import PitchEstimate, choose_note, detect_pitch, note_name
from synthgen.uses.resynth import Resynthesis, gliding_note, index_for_search, read_sound
from synthgen.uses.search import search_preset
from synthgen.uses.walk import Walk, render_walk

#: a recording longer than the model's sounds is cut with this fade-out
SKETCH_FADE_S = 1.0
#: a rendered pitch this far from the sketch's (semitones) moves the note sent to the synth
PITCH_TOLERANCE_SEMITONES = 0.5
#: how many times the note sent is corrected after listening to the rendering
MAX_PITCH_CORRECTIONS = 2
#: the rendering's pitch is looked for this many semitones around the sketch's: two oscillators a fifth or a
#: fourth apart repeat together one or two octaves below either, which is not the pitch anyone hears
HEARD_WITHIN_SEMITONES = 11


@dataclass
class Sketch(Resynthesis):
    """What one vocal sketch produced: a resynthesis played at the sketch's own note.

    Arguments (besides those of :class:`~synthgen.uses.resynth.Resynthesis`):
        pitch: the sketch's tracked pitch.
        midi_pitch: the MIDI note sent to the synth (the sketch's, moved so that the rendering
            sounds at the sketch's pitch; the model's when the sketch is unpitched).
        note_message: how that note was chosen, and the pitch the rendering has, in one line.
        rendered_pitch: the tracked pitch of the rendering.
    """

    pitch: PitchEstimate | None = None
    midi_pitch: int = 0
    note_message: str = ""
    rendered_pitch: PitchEstimate | None = None


def sketch_sound(
    model: LoadedModel,
    synth: Synth,
    audio_path: str | Path,
    midi_pitch: int | None = None,
    held_s: float | None = None,
    budget: int = 0,
    seed: int = 0,
    progress: bool = False,
) -> Sketch:
    """Infer the preset that imitates a sketch's timbre and envelope, and render it at the sketch's pitch and level.

    The model only ever heard one note, so the preset is inferred from the sketch as it is (at its
    tracked note) and then played at that note (without a clear pitch, at the model's note; or at
    ``midi_pitch``), the key held as long as the sketch sounds (see
    :func:`~synthgen.uses.note_length.hold_for`: a sketch that outlasts the model's sounds is played as
    long, up to 30 s; or ``held_s``). With a ``budget``, the model's answer is refined by a search of
    that many renders (:func:`~synthgen.uses.search.search_preset`, seeded by ``seed``) at the tracked note.
    """
    config = model.config
    loaded, mel = read_sound(model, audio_path, SKETCH_FADE_S)
    hop, own_note = config.features.hop_length, config.render.midi_pitch
    tracked = choose_note(loaded.audio, loaded.sample_rate, hop, own_note)
    choice = tracked if midi_pitch is None else choose_note(loaded.audio, loaded.sample_rate, hop, own_note, midi_pitch)
    held, heard_s = hold_for(loaded, config.render, held_s)
    pitch = tracked.pitch
    search, (index, remarks) = None, index_for_search(model, budget)
    if budget > 0:
        search = search_preset(model, synth, loaded.audio, mel, tracked.midi_pitch, budget, index, seed, progress, note_duration_s=heard_s)
        unit = search.unit[None]
    else:
        unit = model.infer(mel[None], tracked.midi_pitch)
    pitched = midi_pitch is not None or pitch.midi_pitch is not None
    rendered, midi_pitch, rendered_pitch, heard = render_at_pitch(model, synth, unit, choice.midi_pitch, pitched, heard_s)
    message = f"{choice.message}; {heard}; {held.message}"
    if search is not None:
        message += f"; search: {search.n_renders} renders, distance {search.distance:.3f} (from {search.origin})"
    gain_db = float(level_gain_db(loaded.audio[None], rendered.audio)[0])
    played = config.render.note(midi_pitch, note_duration_s=heard_s)
    if longer := held.seconds > heard_s:  # a sketch that outlasts the model's sounds: played as long
        played = longer_note(played, config.render, held.seconds)
    output = apply_gain_db(render_note(synth, config, unit, played) if longer else rendered.audio, gain_db)
    return Sketch(
        source=Path(audio_path),
        unit=unit[0],
        input_audio=loaded.audio,
        output_audio=output[0],
        input_mel=mel,
        output_mel=log_mel(output, loaded.sample_rate, config.features)[0],
        sample_rate=loaded.sample_rate,
        changes=loaded.changes,
        gain_db=gain_db,
        pitch=pitch,
        midi_pitch=midi_pitch,
        note_message=message,
        rendered_pitch=rendered_pitch,
        held=held,
        played=played,
        search=search,
        notes=([] if (gliding := gliding_note(pitch)) is None else [f"{gliding}: `synthgen resynth --split` plays each of its notes"])
        + remarks,
    )


def render_at_pitch(
    model: LoadedModel, synth: Synth, unit: np.ndarray, midi_pitch: int, pitched: bool, note_duration_s: float | None = None
) -> tuple[Walk, int, PitchEstimate, str]:
    """Render ``unit`` ``(1, P)`` so that it sounds at ``midi_pitch`` (the key held ``note_duration_s``, default
    the model's note length): a preset whose oscillators are
    detuned sounds away from the note it is sent, so the rendering's own pitch is tracked (within
    :data:`HEARD_WITHIN_SEMITONES` of ``midi_pitch``) and the note sent moved by the difference (at most
    :data:`MAX_PITCH_CORRECTIONS` times).

    Returns:
        The rendering, the note sent, the rendering's tracked pitch, and one line about it.
    """
    config = model.config
    sent = midi_pitch
    heard_range = librosa.midi_to_hz([midi_pitch - HEARD_WITHIN_SEMITONES, midi_pitch + HEARD_WITHIN_SEMITONES])
    kept = None  # the last rendering with a pitch: it, the note sent, its pitch and how far off it is
    for correction in range(MAX_PITCH_CORRECTIONS + 1):
        rendered = render_walk(model, synth, unit, midi_pitch=sent, note_duration_s=note_duration_s)
        heard = detect_pitch(rendered.audio[0], config.render.sample_rate, config.features.hop_length, *heard_range)
        if heard.median_hz is None:
            if kept is None:
                return rendered, sent, heard, "the preset's rendering has no clear pitch"
            break  # the moved note lost its pitch: the last rendering that had one stays
        off = float(librosa.hz_to_midi(heard.median_hz)) - midi_pitch
        kept = rendered, sent, heard, off
        if not pitched or abs(off) <= PITCH_TOLERANCE_SEMITONES or correction == MAX_PITCH_CORRECTIONS:
            break
        moved = int(np.clip(sent - round(off), 0, 127))
        if moved == sent:
            break
        sent = moved
    rendered, sent, heard, off = kept
    shifted = f"; note sent moved to MIDI {sent} so it sounds there" if sent != midi_pitch else ""
    return rendered, sent, heard, f"rendered at {heard.median_hz:.1f} Hz ({off:+.1f} semitones from the target){shifted}"


def _pitch_bands(f0_hz: np.ndarray, sample_rate: int, settings: FeatureSettings) -> np.ndarray:
    """f0 per frame -> fractional mel band index ``(n_frames,)`` of the log-mel settings, NaN where unvoiced."""
    centres_hz = librosa.mel_frequencies(settings.n_mels + 2, fmin=settings.fmin, fmax=min(settings.fmax, sample_rate / 2))[1:-1]
    bands = np.interp(f0_hz, centres_hz, np.arange(settings.n_mels), left=np.nan, right=np.nan)
    return np.pad(bands, (0, max(0, settings.n_frames - len(bands))), constant_values=np.nan)[: settings.n_frames]


def write_sketch(result: Sketch, model: LoadedModel, synth: Synth, out: str | Path) -> dict[str, Path]:
    """Write ``<name>_sketch.wav``, the preset (``<name>_preset.json`` plus native formats) and ``<name>_sketch.png``."""
    from synthgen.plots import plot_sketch
    from synthgen.presets.json_preset import write_native_preset

    out = prepare_folder(out)
    config = model.config
    stem = result.source.stem
    files = {"audio": write_wav(out / f"{stem}_sketch.wav", result.output_audio, result.sample_rate)}
    extra = {"sketch": str(result.source), "pitch": result.note_message}
    seed = None if result.search is None else result.search.seed
    presets = write_native_preset(synth, config, result.unit, out / f"{stem}_preset", extra, result.played, result.gain_db, seed)
    files.update({f"preset{path.suffix}": path for path in presets})
    files["figure"] = plot_sketch(
        result.input_mel,
        result.output_mel,
        _pitch_bands(result.pitch.f0_hz, result.sample_rate, config.features),
        [f"sketch: {result.source.name}", f"{config.name} ({model.name}) at {note_name(result.midi_pitch)}"],
        out / f"{stem}_sketch.png",
        config,
    )
    result.files = files
    return files
