"""Macro knobs, interpolation, vocal sketching and the listening page, on a tiny model trained here."""

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from synthgen.audio_io import write_wav
from synthgen.cli import main
from synthgen.config import load_config
from synthgen.model import DEFAULT_MODEL, LoadedModel
from synthgen.presets.json_preset import write_preset
from synthgen.synths.base import Synth
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit
from synthgen.train import TrainSettings, train_model
from synthgen.uses.interpolate import interpolate_sounds
from synthgen.uses.macro import rank_dimensions, ranking_table, walk_dimensions
from synthgen.uses.pitch import detect_pitch
from synthgen.uses.resynth import read_sound
from synthgen.uses.sketch import sketch_sound
from synthgen.uses.walk import latent_origin, open_model, render_walk

from .synth_helpers import BrokenSounds

SAMPLE_RATE = 22050
TINY = {"channels": 8, "conv_layers": 3, "hidden": 32}


def _train(data: Path, out: Path, model: str, settings: dict) -> Path:
    train_settings = TrainSettings(model=model, epochs=2, batch_size=16, learning_rate=2e-3, model_settings=settings)
    train_model(data, out, train_settings, progress=False)
    return out / "model.pt"


@pytest.fixture(scope="module")
def tiny_path(builtin_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(builtin_dataset, tmp_path_factory.mktemp("vae_flow_post"), "vae_flow_post", TINY)


@pytest.fixture(scope="module")
def mlp_path(builtin_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(builtin_dataset, tmp_path_factory.mktemp("mlp"), "mlp", {"hidden": 32, "layers": 2})


@pytest.fixture(scope="module")
def tiny(tiny_path: Path) -> LoadedModel:
    return open_model(tiny_path, "tests")


@pytest.fixture(scope="module")
def synth() -> Synth:
    return load_synth(load_config("builtin"))


@pytest.fixture(scope="module")
def two_sounds(synth: Synth, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two random presets of the built-in synth, rendered to WAV files."""
    config = load_config("builtin")
    audio = render_unit(synth, config, config.space.sample(2, np.random.default_rng(1)))
    folder = tmp_path_factory.mktemp("sounds")
    return write_wav(folder / "a.wav", audio[0], SAMPLE_RATE), write_wav(folder / "b.wav", audio[1], SAMPLE_RATE)


def _sawtooth(path: Path, frequency_hz: float, duration_s: float = 3.0) -> Path:
    t = np.arange(round(duration_s * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(path, 0.3 * (2 * (t * frequency_hz % 1.0) - 1), SAMPLE_RATE)
    return path


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_ranking_finds_a_knob_and_describes_every_step(tiny: LoadedModel, synth: Synth) -> None:
    origin = latent_origin(tiny)
    walks = walk_dimensions(tiny, synth, list(range(len(origin))), origin, steps=4, latent_range=3.0)
    scores = rank_dimensions(walks, tiny.config.space.names)
    assert sorted(s.dim for s in scores) == list(range(len(origin)))
    assert [s.score for s in scores] == sorted((s.score for s in scores), reverse=True)
    assert scores[0].change > 0 and 0 <= scores[0].smoothness <= 1
    best = walks[scores[0].dim]
    np.testing.assert_allclose(best.walk.z[:, best.dim], [-3, -1, 1, 3])
    assert np.count_nonzero(best.walk.z[0]) == 1
    for values in best.descriptors.values():
        assert values.shape == (4,) and np.isfinite(values).all()
    assert len(ranking_table(scores).splitlines()) == len(origin) + 1


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="the shipped model is not there")
def test_best_knob_of_shipped_model_drives_a_descriptor_monotonically() -> None:
    model = open_model(DEFAULT_MODEL, "tests")
    synth = load_synth(model.config)
    origin = latent_origin(model)
    walks = walk_dimensions(model, synth, list(range(len(origin))), origin, steps=9, latent_range=3.0)
    best = walks[rank_dimensions(walks, model.config.space.names)[0].dim]
    assert max(abs(rho) for rho in best.trends.values()) > 0.8, best.trends


def test_macro_command_writes_walks(tiny_path: Path, tmp_path: Path) -> None:
    code, output = _run("macro", "--model", tiny_path, "--dims", 2, 5, "--steps", 3, "--out", tmp_path)
    assert code == 0, output
    summary = json.loads((tmp_path / "macro.json").read_text())
    assert [w["dim"] for w in summary["walks"]] == [2, 5]
    assert len(summary["walks"][0]["descriptors"]["centroid_hz"]) == 3
    for name in ("walk.wav", "walk_02.wav", "walk.png"):
        assert (tmp_path / "dim05" / name).is_file()
    assert sf.info(tmp_path / "dim02" / "walk.wav").duration == pytest.approx(3 * 4.0)


def test_walks_play_at_a_presets_own_note_or_the_note_asked(tiny_path: Path, tmp_path: Path) -> None:
    config = load_config("builtin")
    values = {spec.name: (spec.low + spec.high) / 2 for spec in config.space.specs}
    values.update(osc1_shape=0.0, osc_mix=0.0, osc2_semitones=0, osc2_cents=0.0, lfo_to_pitch=0.0, noise_level=0.0, sub_level=0.0)
    values.update(amp_attack_s=0.005, amp_sustain=1.0, cutoff=110.0, filter_env_amount=0.0)
    unit = config.space.to_unit(np.array([[values[name] for name in config.space.names]]))[0]
    preset = write_preset(tmp_path / "saw.json", config, unit, note=config.render.note(48))
    code, output = _run(
        "macro", "--model", tiny_path, "--from", preset, "--dims", 2, "--steps", 2, "--range", 0.05, "--out", tmp_path / "m"
    )
    assert code == 0, output
    assert json.loads((tmp_path / "m" / "macro.json").read_text())["midi_pitch"] == 48
    audio, rate = sf.read(tmp_path / "m" / "dim02" / "walk_00.wav", dtype="float32")
    assert detect_pitch(audio[: rate * 2], rate, 256).midi_pitch == 48
    darker = write_preset(
        tmp_path / "dark.json", config, config.space.to_unit(np.array([[{**values, "cutoff": 90.0}[n] for n in config.space.names]]))[0]
    )
    code, output = _run("interpolate", preset, darker, "--model", tiny_path, "--note", "C5", "--steps", 2, "--out", tmp_path / "i")
    assert code == 0 and json.loads((tmp_path / "i" / "interpolation.json").read_text())["midi_pitch"] == 72, output
    audio, rate = sf.read(tmp_path / "i" / "params_walk_00.wav", dtype="float32")  # the walk's start: the saw preset itself
    assert detect_pitch(audio[: rate * 2], rate, 256).midi_pitch == 72
    code, output = _run(
        "macro", "--model", tiny_path, "--from", preset, "--dims", 2, "--steps", 2, "--note", "C5", "--out", tmp_path / "m5"
    )
    assert code == 0 and json.loads((tmp_path / "m5" / "macro.json").read_text())["midi_pitch"] == 72, output


def test_interpolation_starts_and_ends_at_the_inferred_presets(tiny: LoadedModel, synth: Synth, two_sounds: tuple[Path, Path]) -> None:
    result = interpolate_sounds(tiny, synth, *two_sounds, steps=4)
    inferred = tiny.infer(np.stack([read_sound(tiny, path)[1] for path in two_sounds]))
    for walk in result.walks.values():
        assert walk.unit.shape == (4, tiny.config.space.size)
        np.testing.assert_allclose(walk.unit[[0, -1]], inferred, atol=1e-5)
    for smoothness in result.smoothness.values():
        assert smoothness["max_step"] >= smoothness["mean_step"] > 0
        assert smoothness["path_length"] == pytest.approx(3 * smoothness["mean_step"])


def test_a_preset_enters_the_latent_space_through_the_flow_inverse(tiny: LoadedModel, synth: Synth, tmp_path: Path) -> None:
    config = tiny.config
    units = config.space.sample(2, np.random.default_rng(3))
    presets = [write_preset(tmp_path / f"p{k}.json", config, unit) for k, unit in enumerate(units)]
    origin = latent_origin(tiny, presets[0])
    np.testing.assert_allclose(origin, tiny.latent_from_params(units[:1])[0], atol=1e-5)
    # the flow maps that latent back to the preset itself (its continuous parameters; classes come from softmax heads)
    continuous = [j for j, kind in enumerate(config.space.kinds) if kind == "continuous"]
    np.testing.assert_allclose(tiny.params_from_latent(origin[None])[0, continuous], units[0, continuous], atol=1e-3)
    result = interpolate_sounds(tiny, synth, *presets, steps=3)
    np.testing.assert_allclose(result.params.unit[[0, -1]], units, atol=1e-5)
    np.testing.assert_allclose(result.latent.z[[0, -1]], tiny.latent_from_params(units), atol=1e-5)


def test_macro_from_a_preset_needs_an_invertible_model(mlp_path: Path, tmp_path: Path) -> None:
    config = load_config("builtin")
    preset = write_preset(tmp_path / "p.json", config, config.space.sample(1, np.random.default_rng(0))[0])
    code, output = _run("interpolate", preset, preset, "--model", mlp_path, "--out", tmp_path / "out")
    assert code != 0 and "Traceback" not in output


def test_interpolate_command_reports_smoothness(tiny_path: Path, two_sounds: tuple[Path, Path], tmp_path: Path) -> None:
    code, output = _run("interpolate", *two_sounds, "--model", tiny_path, "--steps", 3, "--out", tmp_path)
    assert code == 0, output
    assert "smoother" in output
    summary = json.loads((tmp_path / "interpolation.json").read_text())
    assert set(summary["smoothness"]) == {"latent", "params"} and summary["midi_pitch"] == 60
    for name in ("latent_walk.wav", "params_walk_02.wav", "interpolation.png"):
        assert (tmp_path / name).is_file()


def test_sketch_plays_the_preset_at_the_pitch_of_the_sketch_for_as_long(tiny_path: Path, tmp_path: Path) -> None:
    saw = _sawtooth(tmp_path / "saw220.wav", 220.0, duration_s=1.2)
    code, output = _run("sketch", saw, "--model", tiny_path, "--out", tmp_path / "out")
    assert code == 0, output
    assert "MIDI 57 (A3)" in output
    # the note sent is moved when the preset sounds away from it; the rendering is checked
    assert "rendered at" in output or "no clear pitch" in output
    preset = json.loads((tmp_path / "out" / "saw220_preset.json").read_text())
    assert 57 - 24 <= preset["note"]["midi_pitch"] <= 57 + 24
    assert preset["note"]["note_duration_s"] == pytest.approx(1.2, abs=0.05) and "key held 1.2" in output
    assert (tmp_path / "out" / "saw220_sketch.wav").is_file() and (tmp_path / "out" / "saw220_sketch.png").is_file()
    assert "--split" not in output


def test_a_sketch_with_a_budget_is_refined_by_a_seeded_search(tiny: LoadedModel, synth: Synth, tmp_path: Path) -> None:
    saw = _sawtooth(tmp_path / "saw220.wav", 220.0, duration_s=1.2)
    alone = sketch_sound(tiny, synth, saw)
    found = [sketch_sound(tiny, synth, saw, budget=24, seed=3) for _ in range(2)]
    assert alone.search is None and "search:" not in alone.note_message and not alone.notes
    assert any(note.startswith("no index of training sounds next to") for note in found[0].notes)  # tiny has none
    search = found[0].search
    assert search is not None and search.seed == 3 and 0 < search.n_renders <= 24
    assert search.distance <= search.model_distance  # never worse than the model's own answer
    assert f"search: {search.n_renders} renders" in found[0].note_message
    assert np.array_equal(found[0].unit, found[1].unit)  # the same seed, the same preset
    assert found[0].midi_pitch == alone.midi_pitch or "rendered at" in found[0].note_message


def test_sketch_plays_at_the_note_and_for_the_hold_asked(tiny_path: Path, tmp_path: Path) -> None:
    saw = _sawtooth(tmp_path / "saw220.wav", 220.0, duration_s=1.2)
    code, output = _run("sketch", saw, "--model", tiny_path, "--note", "C5", "--held", "0.5", "--out", tmp_path / "out")
    assert code == 0, output
    assert "note 72 (C5) as asked" in output and "key held 0.5 s as asked" in output
    note = json.loads((tmp_path / "out" / "saw220_preset.json").read_text())["note"]
    assert 72 - 24 <= note["midi_pitch"] <= 72 + 24 and note["note_duration_s"] == pytest.approx(0.5)
    code, output = _run("sketch", saw, "--model", tiny_path, "--held", "31", "--out", tmp_path / "long")
    assert code != 0 and "cannot be held 31 s" in output and "Traceback" not in output


def test_a_sketched_melody_is_told_that_resynth_split_plays_its_notes(tiny_path: Path, tmp_path: Path) -> None:
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    frequency = np.where(t < 1.0, 220.0, 294.0)  # A3 then D4: five semitones
    sf.write(tmp_path / "tune.wav", 0.3 * np.sin(2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE), SAMPLE_RATE)
    code, output = _run("sketch", tmp_path / "tune.wav", "--model", tiny_path, "--out", tmp_path / "out")
    assert code == 0, output
    assert "note: its pitch moves over 5 semitones" in output and "synthgen resynth --split" in output


def test_a_sketch_longer_than_the_models_sounds_is_played_as_long(tiny_path: Path, tmp_path: Path) -> None:
    saw = _sawtooth(tmp_path / "long.wav", 220.0, duration_s=6.0)
    code, output = _run("sketch", saw, "--model", tiny_path, "--out", tmp_path / "out")
    assert code == 0, output
    note = json.loads((tmp_path / "out" / "long_preset.json").read_text())["note"]
    assert note["note_duration_s"] == pytest.approx(6.0, abs=0.05)
    assert note["render_duration_s"] == pytest.approx(note["note_duration_s"] + 1)  # the model's release time after it
    assert sf.info(tmp_path / "out" / "long_sketch.wav").duration == pytest.approx(note["render_duration_s"], abs=0.01)


def test_pitch_tracking_and_its_fallback(tmp_path: Path) -> None:
    for frequency_hz, midi_pitch in ((110.0, 45), (440.0, 69), (523.25, 72)):
        audio = sf.read(_sawtooth(tmp_path / "saw.wav", frequency_hz, 1.0))[0]
        assert detect_pitch(audio, SAMPLE_RATE, 512).midi_pitch == midi_pitch
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, SAMPLE_RATE)
    assert detect_pitch(noise, SAMPLE_RATE, 512).midi_pitch is None


def test_explore_page_is_self_contained(tiny_path: Path, tmp_path: Path) -> None:
    code, output = _run("explore", "--model", tiny_path, "--steps", 2, "--out", tmp_path)
    assert code == 0, output
    page = (tmp_path / "explore.html").read_text()
    assert page.count('<audio controls preload="none" src="data:audio/wav;base64,') == 4
    assert page.count('src="data:image/png;base64,') == 4
    assert "http" not in page and "ranked as knobs" in page


def _eight_down(space) -> np.ndarray:
    """The unit preset of a built-in voice playing only its second oscillator, 8 semitones down."""
    raw = dict(zip(space.names, space.from_unit(np.full((1, space.size), 0.5))[0], strict=True))
    raw |= {"osc_mix": 1.0, "osc2_semitones": -8.0, "osc2_cents": 0.0, "sub_level": 0.0, "noise_level": 0.0, "lfo_to_pitch": 0.0}
    raw |= {"amp_attack_s": 0.01, "amp_sustain": 1.0, "cutoff": 120.0, "resonance": 0.0, "highpass": 0.0, "drive": 0.0}
    return space.to_unit(np.array([[raw[name] for name in space.names]]))


def test_sketch_moves_the_note_so_a_detuned_preset_sounds_at_the_sketch_pitch(tiny: LoadedModel, synth: Synth) -> None:
    """A preset playing only its second oscillator 8 semitones down is sent a note 8 semitones up."""
    from synthgen.uses.sketch import render_at_pitch

    _, sent, heard, message = render_at_pitch(tiny, synth, _eight_down(tiny.config.space), 57, pitched=True)
    assert sent == 65, message
    assert abs(float(librosa.hz_to_midi(heard.median_hz)) - 57) < 0.5
    assert "note sent moved to MIDI 65" in message


class _SilentWhenMoved(BrokenSounds):
    """``synth``, but NaN (silence in a walk) at any note but 57."""

    def render(self, batch, note):
        audio = self.synth.render(batch, note)
        audio[:] = np.nan if note.midi_pitch != 57 else audio
        return audio


def test_a_moved_note_that_loses_its_pitch_keeps_the_note_that_had_one(tiny: LoadedModel, synth: Synth) -> None:
    from synthgen.uses.sketch import render_at_pitch

    rendered, sent, heard, message = render_at_pitch(
        tiny, _SilentWhenMoved(synth, lambda batch: []), _eight_down(tiny.config.space), 57, pitched=True
    )
    assert sent == 57 and np.abs(rendered.audio).max() > 1e-3, message
    assert abs(float(librosa.hz_to_midi(heard.median_hz)) - 49) < 0.5
    assert "-8.0 semitones from the target" in message and "moved" not in message


def test_a_sound_the_synth_renders_as_nan_is_silent_in_a_walk(tiny: LoadedModel, synth: Synth) -> None:
    origin = latent_origin(tiny)
    walks = walk_dimensions(tiny, BrokenSounds(synth, lambda batch: [0]), [0], origin, steps=3, latent_range=2.0)
    walk = walks[0].walk
    assert not walk.audio[0].any() and np.isfinite(walk.mel).all()
    clean = render_walk(tiny, synth, walk.unit)
    np.testing.assert_allclose(walk.audio[1:], clean.audio[1:], atol=1e-4)
    assert np.abs(walk.audio[1:]).max() > 1e-3
    for values in walks[0].descriptors.values():
        assert np.isfinite(values).all()


def test_a_preset_with_its_oscillators_a_fifth_apart_is_heard_at_the_note_it_is_sent(tiny_path: Path) -> None:
    from synthgen.uses.sketch import render_at_pitch

    model = open_model(tiny_path, None, None, None)
    space = model.config.space
    values = {spec.name: (spec.low + spec.high) / 2 for spec in space.specs}
    values.update(osc1_shape=0.0, osc2_shape=0.0, osc2_semitones=7, osc2_cents=0.0, osc_mix=0.5, lfo_to_pitch=0.0, noise_level=0.0)
    values.update(sub_level=0.0, cutoff=120.0, filter_env_amount=0.0, amp_sustain=1.0, amp_attack_s=0.005)
    unit = space.to_unit(np.array([[values[name] for name in space.names]]))
    # the two saws repeat together an octave below the lower one (3:2), which is not the pitch heard
    assert detect_pitch(render_walk(model, load_synth(model.config), unit, midi_pitch=57).audio[0], 22050, 256).midi_pitch == 45
    _, sent, heard, message = render_at_pitch(model, load_synth(model.config), unit, 57, pitched=True)
    assert sent == 57 and heard.midi_pitch in (None, 57), message  # not moved an octave up
