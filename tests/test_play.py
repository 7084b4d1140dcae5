"""``synthgen play``: a preset file rendered at its own note, at others one after another, or as a chord, at its gain."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.config import load_config
from synthgen.presets.json_preset import write_preset
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_note
from synthgen.uses.pitch import detect_pitch
from synthgen.uses.play import play_preset


@pytest.fixture(scope="module")
def saw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A plain saw preset of the built-in synth (no detune, no LFO), written for A3 held 1 s at -6 dB."""
    config = load_config("builtin")
    values = {spec.name: (spec.low + spec.high) / 2 for spec in config.space.specs}
    values.update(osc1_shape=0.0, osc_mix=0.0, osc2_semitones=0, osc2_cents=0.0, lfo_to_pitch=0.0, lfo_to_cutoff=0.0, noise_level=0.0)
    values.update(sub_level=0.0, amp_attack_s=0.005, amp_sustain=1.0, amp_release_s=0.1, cutoff=110.0, filter_env_amount=0.0)
    unit = config.space.to_unit(np.array([[values[name] for name in config.space.names]]))[0]
    path = write_preset(
        tmp_path_factory.mktemp("presets") / "saw.json", config, unit, note=config.render.note(57, note_duration_s=1.0), output_gain_db=-6.0
    )
    return path, unit


def test_a_preset_plays_at_its_own_note_and_gain(saw: tuple[Path, np.ndarray]) -> None:
    path, unit = saw
    config = load_config("builtin")
    synth = load_synth(config)
    audio, own = play_preset(path, config, synth)
    assert (own.midi_pitch, own.note_duration_s) == (57, 1.0)
    release = config.render.render_duration_s - config.render.note_duration_s
    assert len(audio) / config.render.sample_rate == pytest.approx(1.0 + release, abs=0.01)  # held 1 s, then the release time
    expected = 10 ** (-6 / 20) * render_note(synth, config, unit[None], config.render.note(57, note_duration_s=1.0))[0]
    np.testing.assert_allclose(audio[: len(audio) - 1], expected[: len(audio) - 1], atol=1e-3)


def test_notes_play_one_after_another_or_together(saw: tuple[Path, np.ndarray]) -> None:
    path, _ = saw
    config = load_config("builtin")
    synth, rate = load_synth(config), config.render.sample_rate
    release = config.render.render_duration_s - config.render.note_duration_s
    melody, _ = play_preset(path, config, synth, [48, 55, 60], held_s=0.5)
    assert len(melody) / rate == pytest.approx(3 * 0.5 + release, abs=0.01)
    for k, pitch in enumerate([48, 55, 60]):
        part = melody[round((0.5 * k + 0.1) * rate) : round((0.5 * k + 0.45) * rate)]
        assert detect_pitch(part, rate, 256).midi_pitch == pitch
    chord, _ = play_preset(path, config, synth, [48, 55, 60], held_s=0.5, chord=True)
    assert len(chord) / rate == pytest.approx(0.5 + release, abs=0.01)
    single, _ = play_preset(path, config, synth, [48], held_s=0.5)
    assert np.abs(chord).max() > 1.5 * np.abs(single).max()  # three saws, not one


def test_cli_play(saw: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = saw
    runner = CliRunner()
    done = runner.invoke(main, ["play", str(path), "--note", "C3", "--note", "67", "--held", "0.4", "--out", str(tmp_path / "two.wav")])
    assert done.exit_code == 0, done.output
    assert "at C3 G4 one after another, gain -6.0 dB" in done.output and (tmp_path / "two.wav").is_file()
    assert runner.invoke(main, ["play", str(path), "--out", str(tmp_path / "new" / "one.wav")]).exit_code == 0
    assert (tmp_path / "new" / "one.wav").is_file()  # its folder made
    for args, message in (
        (["play", str(tmp_path / "two.wav")], "is not a synthgen preset"),
        (["play", str(path), "--held", "200"], "give a hold over 0 and under 120 s"),
        (["play", str(path), "--synth", "amsynth"], "is a preset for synth 'builtin', not for --synth 'amsynth'"),
        (["play", str(path), "--note", "H2"], "neither a MIDI note number nor a note name"),
        (["play", str(path), "--note", "127"], "MIDI note 127 is not one a 22050 Hz render can play"),
        (["play", str(path), "--out", str(tmp_path)], "is a folder: give the path of a .wav file"),
        (["play", str(path), "--out", str(tmp_path / "x.mp3")], "is not a .wav file"),
    ):
        refused = runner.invoke(main, args)
        assert refused.exit_code != 0 and message in refused.output and "Traceback" not in refused.output, refused.output
