"""The key is held as long as the input sounds: the measure, the renders and the preset that record it."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from synthgen.audio_io import LEVEL_BLOCK, LoadedAudio, write_wav
from synthgen.cli import main
from synthgen.config import load_config
from synthgen.model import DEFAULT_MODEL, load_model
from synthgen.presets.json_preset import read_document
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_at_pitches, render_unit
from synthgen.uses.note_length import MIN_HELD_S, held_time, hold_for
from synthgen.uses.resynth import resynthesize

SAMPLE_RATE = 22050


@pytest.fixture(scope="module")
def builtin():
    config = load_config("builtin")
    return config, load_synth(config)


def _tone(seconds: float, total_s: float = 4.0) -> np.ndarray:
    t = np.arange(int(total_s * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 220.0 * t) * (t < seconds)).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.4, 1.2, 2.5])
def test_a_tone_is_held_as_long_as_it_sounds(seconds: float) -> None:
    assert held_time(_tone(seconds), SAMPLE_RATE, 3.0).seconds == pytest.approx(seconds, abs=LEVEL_BLOCK / SAMPLE_RATE)


def test_long_silent_and_given_holds() -> None:
    assert held_time(_tone(3.8), SAMPLE_RATE, 3.0).seconds == 3.0
    assert held_time(np.zeros(4 * SAMPLE_RATE, np.float32), SAMPLE_RATE, 3.0).seconds == 3.0
    assert held_time(_tone(0.01), SAMPLE_RATE, 3.0).seconds == MIN_HELD_S
    given = held_time(_tone(1.0), SAMPLE_RATE, 3.0, held_s=2.0)
    assert given.seconds == 2.0 and "as asked" in given.message


def test_a_quiet_tail_is_part_of_the_sound_and_a_faint_one_is_not() -> None:
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    decay = 0.3 * np.sin(2 * np.pi * 220.0 * t) * np.exp(-t / 0.5)  # 8.7 dB per 0.5 s: 25 dB down at 1.44 s
    assert held_time(decay.astype(np.float32), SAMPLE_RATE, 3.0).seconds == pytest.approx(1.44, abs=0.05)


@pytest.mark.parametrize(("sounds_s", "held_s", "heard_s"), [(2.0, 2.0, 2.0), (3.5, 3.0, 3.0), (7.0, 7.0, 4.0)])
def test_a_sound_is_held_as_the_models_notes_are_unless_it_outlasts_them(sounds_s: float, held_s: float, heard_s: float) -> None:
    render = load_config("builtin").render  # a 3 s key in a 4 s render
    whole = _tone(sounds_s, 8.0)
    loaded = LoadedAudio(whole[: 4 * SAMPLE_RATE], SAMPLE_RATE, whole)
    held, heard = hold_for(loaded, render)
    assert held.seconds == pytest.approx(held_s, abs=0.02) and heard == pytest.approx(heard_s, abs=0.02)


def test_renders_release_the_key_when_asked(builtin) -> None:
    config, synth = builtin
    values = dict(zip(config.space.names, config.space.from_unit(np.full((1, config.space.size), 0.5))[0], strict=True))
    values.update(amp_attack_s=0.005, amp_sustain=1.0, amp_release_s=0.05, lfo_to_pitch=0.0, lfo_to_cutoff=0.0)
    unit = config.space.to_unit(np.array([[values[n] for n in config.space.names]]))
    short, default = render_unit(synth, config, unit, note_duration_s=0.5)[0], render_unit(synth, config, unit)[0]
    after = slice(SAMPLE_RATE, 2 * SAMPLE_RATE)  # 1-2 s: the short note has ended, the default one still plays
    assert np.sqrt(np.mean(short[after] ** 2)) < 0.01 * np.sqrt(np.mean(default[after] ** 2))
    both = render_at_pitches(synth, config, np.repeat(unit, 2, axis=0), np.array([60, 60]), np.array([0.5, 3.0]))
    np.testing.assert_allclose(both, np.stack([short, default]), atol=1e-4)


def test_resynth_holds_the_key_as_long_as_the_input_and_records_it(builtin, tmp_path: Path) -> None:
    _, synth = builtin
    write_wav(tmp_path / "short.wav", _tone(1.0), SAMPLE_RATE)
    result = resynthesize(load_model(DEFAULT_MODEL), tmp_path / "short.wav", tmp_path / "out", synth=synth, budget=24)
    assert result.held.seconds == pytest.approx(1.0, abs=0.05)
    note = read_document(result.files["preset.json"]).note
    assert note["note_duration_s"] == pytest.approx(result.held.seconds)
    late = result.output_audio[int(2.5 * SAMPLE_RATE) :]
    assert np.sqrt(np.mean(late**2)) < 0.1 * np.sqrt(np.mean(result.output_audio[:SAMPLE_RATE] ** 2))


def test_a_longer_input_is_resynthesized_as_long(builtin, tmp_path: Path) -> None:
    _, synth = builtin
    write_wav(tmp_path / "long.wav", _tone(7.0, 8.0), SAMPLE_RATE)
    result = resynthesize(load_model(DEFAULT_MODEL), tmp_path / "long.wav", tmp_path / "out", synth=synth, budget=24)
    assert result.held.seconds == pytest.approx(7.0, abs=0.05) and "the search heard its first 4 s" in result.held.message
    assert result.search.note.note_duration_s == 4.0 and len(result.input_audio) == 4 * SAMPLE_RATE  # key down all the 4 s
    release_s = 1.0  # the model's render is 1 s longer than its note
    assert len(result.output_audio) == pytest.approx((result.held.seconds + release_s) * SAMPLE_RATE, abs=1)
    note = read_document(result.files["preset.json"]).note
    assert note["note_duration_s"] == pytest.approx(result.held.seconds) and note["render_duration_s"] == pytest.approx(
        note["note_duration_s"] + 1
    )
    # the same preset at the same gain: until the search's key is released, the longer note plays what the search heard
    held_by_both = slice(0, 4 * SAMPLE_RATE)
    peak = np.abs(result.search.audio).max()
    np.testing.assert_allclose(result.output_audio[held_by_both], result.search.audio[held_by_both], atol=1e-3 * peak)


def test_cli_resynth_takes_a_hold_and_refuses_one_longer_than_a_resynthesis(tmp_path: Path) -> None:
    write_wav(tmp_path / "tone.wav", _tone(2.0), SAMPLE_RATE)
    args = ["resynth", str(tmp_path / "tone.wav"), "--model", str(DEFAULT_MODEL), "--out", str(tmp_path / "out"), "--budget", "0"]
    given = CliRunner().invoke(main, [*args, "--held", "0.5"])
    assert given.exit_code == 0, given.output
    assert "key held 0.5 s as asked" in given.output
    assert read_document(tmp_path / "out" / "tone_preset.json").note["note_duration_s"] == pytest.approx(0.5)
    longer = CliRunner().invoke(main, [*args, "--held", "9"])
    assert longer.exit_code == 0, longer.output
    assert read_document(tmp_path / "out" / "tone_preset.json").note["note_duration_s"] == pytest.approx(9.0)
    assert sf.info(tmp_path / "out" / "tone_resynth.wav").duration == pytest.approx(10.0, abs=0.01)
    too_long = CliRunner().invoke(main, [*args, "--held", "31"])
    assert too_long.exit_code != 0 and "cannot be held 31 s" in too_long.output and "Traceback" not in too_long.output
