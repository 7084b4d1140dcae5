"""A phrase cut into its notes, each resynthesized at its own pitch, length and level."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthgen.audio_io import write_wav
from synthgen.cli import main
from synthgen.config import load_config
from synthgen.model import load_model
from synthgen.synths.loading import load_synth
from synthgen.uses.phrase import note_spans, resynthesize_phrase
from synthgen.uses.pitch import choose_note_within, detect_pitch

RATE, HOP = 22050, 256


def tone(hz: float, seconds: float, vibrato_semitones: float = 0.0) -> np.ndarray:
    """A plucked-like tone: 5 ms attack, exponential decay, optionally a 6 Hz vibrato."""
    t = np.arange(round(seconds * RATE)) / RATE
    f = hz * 2 ** (vibrato_semitones * np.sin(2 * np.pi * 6 * t) / 12)
    phase = 2 * np.pi * np.cumsum(f) / RATE
    envelope = np.minimum(t / 0.005, 1) * np.exp(-2 * t)
    return (0.4 * envelope * (np.sin(phase) + 0.5 * np.sin(2 * phase))).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


#: a note, a pause, two notes back to back, a long note with vibrato: four notes starting here (s)
PHRASE_STARTS = (0.0, 0.7, 1.1, 1.5)


def phrase() -> np.ndarray:
    return np.concatenate([tone(220, 0.5), silence(0.2), tone(330, 0.4), tone(440, 0.4), tone(262, 1.2, vibrato_semitones=0.5)])


def test_notes_are_cut_at_attacks_and_silences_not_within_a_vibrato() -> None:
    spans = note_spans(phrase(), RATE, HOP)
    assert len(spans) == len(PHRASE_STARTS)
    assert np.allclose([start / RATE for start, _ in spans], PHRASE_STARTS, atol=0.04)
    assert all(end > start for start, end in spans)
    assert spans[0][1] / RATE == pytest.approx(0.5, abs=0.1)  # the pause is no note's


def test_a_legato_melody_is_cut_where_its_pitch_settles_on_a_new_note() -> None:
    # one bow stroke: constant level, the pitch gliding over 0.15 s from A3 to E4 and to C4 (that one with a
    # vibrato), no attack and no flux peak to find: the cuts come from the pitch alone
    t = np.arange(round(1.8 * RATE)) / RATE
    glide = [np.clip((t - start) / 0.15, 0, 1) for start in (0.6, 1.1)]
    midi = 57 + 7 * glide[0] - 4 * glide[1] + 0.5 * np.sin(2 * np.pi * 6 * t) * (t >= 1.3)
    phase = 2 * np.pi * np.cumsum(440 * 2 ** ((midi - 69) / 12)) / RATE
    legato = (0.3 * np.minimum(t / 0.05, 1) * (np.sin(phase) + 0.3 * np.sin(2 * phase))).astype(np.float32)
    spans = note_spans(legato, RATE, HOP)
    assert len(spans) == 3
    assert np.allclose([start / RATE for start, _ in spans], (0.0, 0.75, 1.25), atol=0.06)


def test_a_sound_without_notes_long_enough_is_one_note() -> None:
    click = np.concatenate([tone(440, 0.03), silence(0.5)])
    assert note_spans(click, RATE, HOP) == [(0, len(click))]
    short = tone(440, 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library warning about a window longer than the sound
        assert note_spans(short, RATE, HOP) == [(0, len(short))]


def test_each_note_gets_the_pitch_tracked_within_it_and_a_noise_the_phrase_note() -> None:
    noise = np.random.default_rng(0).standard_normal(RATE // 2).astype(np.float32) * 0.2
    audio = np.concatenate([tone(220, 0.5), tone(330, 0.5), noise])
    track = detect_pitch(audio, RATE, HOP)
    half = RATE // 2
    notes = [choose_note_within(track, k * half, (k + 1) * half, HOP, RATE, 50) for k in range(3)]
    assert [n.midi_pitch for n in notes[:2]] == [57, 64]
    assert notes[2].midi_pitch == 50 and "the phrase's note" in notes[2].message


def test_a_phrase_is_resynthesized_note_by_note_within_its_budget(tiny_model: Path, tmp_path: Path) -> None:
    audio = np.concatenate([tone(220, 0.5), silence(0.2), tone(330, 0.4), tone(440, 0.4)])
    write_wav(tmp_path / "melody.wav", audio, RATE)
    config = load_config("builtin")
    result = resynthesize_phrase(
        load_model(tiny_model), tmp_path / "melody.wav", tmp_path / "out", load_synth(config), budget=30, plot=True
    )
    assert [note.played.midi_pitch for note in result.notes] == [57, 64, 69]
    assert sum(note.search.n_renders for note in result.notes) <= 30
    assert all(note.played.note_duration_s < 0.6 for note in result.notes)  # each held as long as its note
    # each note's rendering is mixed in from where its note starts
    assert len(result.output_audio) >= len(audio)
    start = result.spans[1][0]
    assert np.abs(result.output_audio[start : start + RATE // 10]).max() > 0
    assert result.files["figure"].stat().st_size > 10_000 and result.files["note 03 figure"].exists()
    notes = json.loads(result.files["notes"].read_text())
    assert notes["format"] == "synthgen-notes-1" and notes["budget"] == 30 and notes["synth"] == "builtin"
    assert [n["midi_pitch"] for n in notes["notes"]] == [57, 64, 69]
    assert np.allclose([n["start_s"] for n in notes["notes"]], [0.0, 0.7, 1.1], atol=0.04)
    for n in notes["notes"]:
        preset = json.loads((tmp_path / "out" / n["preset"]).read_text())
        assert preset["note"]["midi_pitch"] == n["midi_pitch"] and preset["output_gain_db"] == pytest.approx(n["output_gain_db"], abs=1e-3)


def test_cli_resynth_split(tiny_model: Path, tmp_path: Path) -> None:
    write_wav(tmp_path / "two.wav", np.concatenate([tone(220, 0.5), silence(0.3), tone(330, 0.5)]), RATE)
    runner, given = CliRunner(), ["resynth", str(tmp_path / "two.wav"), "--model", str(tiny_model), "--split"]
    done = runner.invoke(main, [*given, "--budget", "0", "--out", str(tmp_path / "o")])
    assert done.exit_code == 0, done.output
    assert "as 2 notes" in done.output and (tmp_path / "o" / "two_notes.json").exists()
    assert (tmp_path / "o" / "two_note02_preset.json").exists()
    clash = runner.invoke(main, [*given, "--note", "60"])
    assert clash.exit_code != 0 and "--split plays each note at its own pitch" in clash.output and "Traceback" not in clash.output


def test_cli_says_once_when_the_written_sound_is_scaled_down(tiny_model: Path, tmp_path: Path) -> None:
    t = np.arange(RATE) / RATE
    write_wav(tmp_path / "square.wav", np.sign(np.sin(2 * np.pi * 220 * t)).astype(np.float32), RATE)  # no headroom at all
    runner, given = CliRunner(), ["resynth", str(tmp_path / "square.wav"), "--model", str(tiny_model), "--budget", "0"]
    for extra, kept in (([], "(the preset keeps the fitted gain)"), (["--split"], "(each note's preset keeps its fitted gain)")):
        done = runner.invoke(main, [*given, *extra, "--out", str(tmp_path / f"o{len(extra)}")])
        assert done.exit_code == 0, done.output
        assert done.output.count("so it does not clip") == 1 and kept in done.output
    assert "as 1 note with" in done.output
