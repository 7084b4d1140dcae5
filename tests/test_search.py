"""Resynthesis that matches level and pitch, and searches with the synth in the loop: gain fit, note
choice, posterior samples, the index of training sounds, the search and its CLI."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthgen.audio_io import write_wav
from synthgen.cli import main
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.features import log_mel
from synthgen.model import DEFAULT_MODEL, MODELS_DIR, load_model
from synthgen.presets.json_preset import read_document, write_preset
from synthgen.synths.base import Synth
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit
from synthgen.uses.evaluate import targets_from_dataset
from synthgen.uses.index import build_index, load_index
from synthgen.uses.level import QUIETER_AT_MOST_DB, apply_gain_db, fit_gain
from synthgen.uses.metrics import audio_metrics, level_gain_db, magnitude_spectrogram
from synthgen.uses.pitch import choose_note
from synthgen.uses.search import (
    CMA_POPSIZE,
    N_NEAREST,
    SearchResult,
    SpectralDistance,
    posterior_samples,
    search_preset,
    start_candidates,
    timed_search_budget,
)

from .synth_helpers import BrokenSounds

needs_shipped_model = pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="no shipped model in models/")
SAMPLE_RATE = 22050


@pytest.fixture(scope="module")
def builtin():
    config = load_config("builtin")
    return config, load_synth(config)


@pytest.fixture(scope="module")
def shipped():
    return load_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def target(builtin) -> tuple[np.ndarray, np.ndarray]:
    """One rendered sound of a random preset at C3, and its log-mel."""
    config, synth = builtin
    audio = render_unit(synth, config, config.space.sample(1, np.random.default_rng(11)), [(48, 127)])[0]
    return audio, log_mel(audio, SAMPLE_RATE, config.features)[0]


def _sawtooth(frequency_hz: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * (2 * ((t * frequency_hz) % 1.0) - 1)).astype(np.float32)


def test_level_fit_matches_a_half_level_copy(builtin, target) -> None:
    config, _ = builtin
    audio, mel = target
    half = 0.5 * audio[None]
    gain_db = level_gain_db(half, audio[None])
    np.testing.assert_allclose(gain_db, 20 * np.log10(0.5), atol=1e-3)
    np.testing.assert_allclose(apply_gain_db(audio[None], gain_db), half, atol=1e-5)
    metrics = audio_metrics(half, audio[None], log_mel(half, SAMPLE_RATE, config.features), mel[None], config.features)
    assert metrics["spectral_convergence"][0] == pytest.approx(1.0, abs=1e-3)
    assert metrics["spectral_convergence_level_matched"][0] < 1e-3
    assert metrics["log_mel_mse_level_matched"][0] < 1e-4 < metrics["log_mel_mse"][0]
    # a silent estimate keeps its level instead of dividing by zero
    assert fit_gain(np.ones((1, 4, 4)), np.zeros((1, 4, 4)))[0] == 0.0


def test_a_rendering_at_another_pitch_is_left_at_most_a_little_quieter() -> None:
    target, elsewhere = _sawtooth(440.0)[None], _sawtooth(277.2)[None]
    energies_db = 20 * np.log10(np.linalg.norm(target) / np.linalg.norm(elsewhere))
    least_squares = fit_gain(magnitude_spectrogram(target), magnitude_spectrogram(elsewhere))[0]
    assert least_squares < energies_db - 2 * QUIETER_AT_MOST_DB  # the spectra barely overlap: near silence
    assert level_gain_db(target, elsewhere)[0] == pytest.approx(energies_db - QUIETER_AT_MOST_DB, abs=0.5)
    # a good match keeps its least-squares gain, below the energy match by less than the floor
    close = _sawtooth(441.0)[None]
    assert level_gain_db(target, close)[0] == pytest.approx(fit_gain(magnitude_spectrogram(target), magnitude_spectrogram(close))[0])


def test_note_follows_the_pitch_of_tones_unless_given() -> None:
    for frequency_hz, midi_pitch in ((130.81, 48), (261.63, 60), (392.0, 67)):
        assert choose_note(_sawtooth(frequency_hz), SAMPLE_RATE, 1024, 60).midi_pitch == midi_pitch
    given = choose_note(_sawtooth(392.0), SAMPLE_RATE, 1024, 60, midi_pitch=50)
    assert given.midi_pitch == 50 and "as asked" in given.message
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 2 * SAMPLE_RATE).astype(np.float32)
    unpitched = choose_note(noise, SAMPLE_RATE, 1024, 60)
    assert unpitched.midi_pitch == 60 and "no clear pitch" in unpitched.message


@needs_shipped_model
def test_posterior_sampling_is_seeded(shipped, target) -> None:
    _, mel = target
    first, again, other = (posterior_samples(shipped, mel, 4, seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first[1:] - other[1:]).max() > 1e-3
    np.testing.assert_allclose(first[0], shipped.infer(mel[None])[0], atol=1e-5)
    assert first.shape == (5, shipped.config.space.size) and first.min() >= 0 and first.max() <= 1


@needs_shipped_model
def test_budget_zero_is_the_model_alone(shipped, builtin, target) -> None:
    _, synth = builtin
    audio, mel = target
    found = search_preset(shipped, synth, audio, mel, 48, budget=0)
    np.testing.assert_allclose(found.unit, shipped.infer(mel[None], 48)[0], atol=1e-6)
    assert found.n_renders == 1 and found.origin == "model answer" and found.distance == pytest.approx(found.model_distance)


@needs_shipped_model
def test_search_never_returns_worse_than_its_best_candidate(shipped, builtin, target, builtin_dataset: Path) -> None:
    config, synth = builtin
    audio, mel = target
    index = build_index(builtin_dataset, config)
    units, labels = start_candidates(shipped, mel, index, seed=0, midi_pitch=48)
    assert labels[0] == "model answer" and sum(label.startswith("nearest") for label in labels) == N_NEAREST
    distance = SpectralDistance(audio, SAMPLE_RATE, config.features)
    candidates = distance(render_unit(synth, config, units, [(48, 127)]))[0]
    found = search_preset(shipped, synth, audio, mel, 48, budget=len(units) + 24, index=index, seed=0)
    assert found.n_renders <= len(units) + 24
    assert found.distance <= candidates.min() + 1e-6
    assert found.model_distance == pytest.approx(candidates[0], rel=1e-4)
    # the returned preset and gain reproduce the distance reported
    again = apply_gain_db(render_unit(synth, config, found.unit[None], [(48, 127)]), found.gain_db)
    np.testing.assert_allclose(again[0], found.audio, atol=1e-5)
    assert distance(again)[0][0] == pytest.approx(found.distance, rel=1e-3)
    assert found.history == sorted(found.history, reverse=True)


@needs_shipped_model
def test_a_timed_budget_follows_how_fast_the_synth_renders() -> None:
    config = load_config("builtin")
    budgets = {}
    for seconds in (1.0, 12.0):  # the same voice, renders 12 times as long
        longer = dataclasses.replace(
            config, render=dataclasses.replace(config.render, render_duration_s=seconds, note_duration_s=seconds / 2)
        )
        budgets[seconds], rate = timed_search_budget(load_synth(longer), longer)
        assert rate > 0 and 40 <= budgets[seconds] <= 2000 and budgets[seconds] % 10 == 0
    assert budgets[12.0] < budgets[1.0] / 2


def test_the_default_budget_is_the_synth_configs(shipped, builtin, target) -> None:
    # a model takes the budget of the user's (here: the shipped) config of its synth, not the one it stored
    assert shipped.config.search_budget == load_config("builtin").search_budget > 0
    _, synth = builtin
    audio, mel = target
    small = dataclasses.replace(shipped, config=dataclasses.replace(shipped.config, search_budget=30))
    found = search_preset(small, synth, audio, mel, 48)
    assert found.n_renders == 29  # 5 starting points, then two CMA-ES generations of 12
    assert search_preset(small, synth, audio, mel, 48, budget=0).n_renders == 1


def unreliable(synth: Synth, limit: float) -> BrokenSounds:
    """The built-in synth, but NaN for every preset whose cutoff is above ``limit`` (a crash, as the search sees it)."""
    return BrokenSounds(synth, lambda batch: [values["cutoff"] > limit for values in batch])


@needs_shipped_model
def test_a_search_skips_presets_that_do_not_render(shipped, builtin, target) -> None:
    _, synth = builtin
    audio, mel = target
    found = search_preset(shipped, unreliable(synth, 100.0), audio, mel, 48, budget=53, seed=1)
    assert 0 < found.failed_renders < found.n_renders
    assert np.isfinite(found.audio).all() and np.isfinite(found.distance)
    with pytest.raises(SynthgenError, match="every one of the 53 presets tried"):
        search_preset(shipped, unreliable(synth, -1.0), audio, mel, 48, budget=53, seed=1)


@needs_shipped_model
def test_a_search_on_two_synth_instances_finds_what_one_finds(shipped, builtin, target) -> None:
    _, synth = builtin
    audio, mel = target
    one = search_preset(shipped, synth, audio, mel, 48, budget=37, seed=3, threads=1)
    two = search_preset(shipped, synth, audio, mel, 48, budget=37, seed=3, threads=2)
    np.testing.assert_allclose(two.unit, one.unit, atol=1e-6)
    assert two.n_renders == one.n_renders and two.history == pytest.approx(one.history, rel=1e-5)
    assert two.distance == pytest.approx(one.distance, rel=1e-5)


def test_index_round_trip(builtin, builtin_dataset: Path, tmp_path: Path) -> None:
    config, _ = builtin
    built = build_index(builtin_dataset, config, n_components=16, seed=2)
    path = built.save(tmp_path / "index.npz")
    loaded = load_index(path, config)
    for name in ("mean", "components", "codes", "unit"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(built, name))
    assert loaded.metadata == built.metadata and loaded.metadata["seed"] == 2 and len(loaded) == 96
    from synthgen.dataset import open_dataset

    with open_dataset(builtin_dataset) as data:
        mel, unit = data.read("mel", np.arange(5)), data.read("params_unit", np.arange(5))
    rows, presets = loaded.nearest(mel, 3)
    assert rows[:, 0].tolist() == list(range(5))
    np.testing.assert_allclose(presets[:, 0], unit, atol=1e-6)
    with pytest.raises(SynthgenError, match="not the model's 'amsynth'"):
        load_index(path, load_config("amsynth"))
    (tmp_path / "junk.npz").write_text("junk")
    with pytest.raises(SynthgenError, match="not a synthgen index"):
        load_index(tmp_path / "junk.npz", config)


@pytest.mark.parametrize("name", ["builtin_vae_flow_post", "amsynth_vae_flow_post"])
def test_shipped_index_fits_its_model_and_names_its_data_as_its_card_does(name: str) -> None:
    model = load_model(MODELS_DIR / name / "model.pt")
    index = load_index(MODELS_DIR / name / "index.npz", model.config)
    assert len(index) == index.metadata["rows"] and index.unit.shape[1] == len(model.config.space.names)
    # the training data as the card's commands name it, not a folder of the machine that built it
    data = Path(index.metadata["data"])
    assert not data.is_absolute() and data.parts[0] == "data"
    assert f"--data {data.parent}" in (MODELS_DIR / name / "README.md").read_text()


def test_output_gain_is_stored_in_the_json_preset(builtin, tmp_path: Path) -> None:
    config, _ = builtin
    unit = config.space.sample(1, np.random.default_rng(0))[0]
    path = write_preset(tmp_path / "p.json", config, unit, output_gain_db=-7.25)
    assert read_document(path).output_gain_db == pytest.approx(-7.25)
    document = json.loads(path.read_text())
    document["output_gain_db"] = "loud"
    path.write_text(json.dumps(document))
    with pytest.raises(SynthgenError, match="output_gain_db must be a finite number"):
        read_document(path)


def test_cli_index_finds_the_training_data_its_model_recorded(tiny_model: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_model, run)
    runner = CliRunner()
    for replacing in (False, True):
        res = runner.invoke(main, ["index", "--model", str(run)])
        assert res.exit_code == 0 and "96 sounds" in res.output and "note:" not in res.output, res.output
        assert ("(replacing the index of" in res.output) == replacing


@needs_shipped_model
def test_cli_index_then_resynth_with_a_budget(builtin, builtin_dataset: Path, tmp_path: Path) -> None:
    config, synth = builtin
    shutil.copy(DEFAULT_MODEL, tmp_path / "model.pt")
    runner = CliRunner()
    unknown = runner.invoke(main, ["index", "--model", str(tmp_path / "model.pt")])  # its training data is elsewhere
    assert unknown.exit_code == 1 and "give --data" in unknown.output and not (tmp_path / "index.npz").exists()
    res = runner.invoke(main, ["index", "--model", str(tmp_path / "model.pt"), "--data", str(builtin_dataset)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "index.npz").is_file() and "96 sounds" in res.output
    assert f"note: {builtin_dataset} is not the dataset" in res.output and "replacing" not in res.output
    quiet = 0.1 * render_unit(synth, config, config.space.sample(1, np.random.default_rng(3)), [(55, 127)])[0]
    write_wav(tmp_path / "x.wav", quiet, SAMPLE_RATE)
    args = ["resynth", str(tmp_path / "x.wav"), "--model", str(tmp_path / "model.pt"), "--out", str(tmp_path / "o"), "--budget", "40"]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    renders = 21 + (40 - 21) // CMA_POPSIZE * CMA_POPSIZE  # 21 starting points, then whole CMA-ES generations
    assert f"search: {renders} renders" in res.output and "output gain" in res.output
    preset = json.loads((tmp_path / "o" / "x_preset.json").read_text())
    assert preset["output_gain_db"] < -6 and preset["extra"]["search"]["renders"] == renders
    for note in ("62", "D4"):
        res = runner.invoke(main, [*args, "--note", note, "--budget", "0"])
        assert res.exit_code == 0, res.output
        assert json.loads((tmp_path / "o" / "x_preset.json").read_text())["note"]["midi_pitch"] == 62


@needs_shipped_model
def test_evaluate_scores_the_search_next_to_the_model(shipped, builtin, builtin_dataset: Path) -> None:
    from synthgen.uses.evaluate import evaluate, targets_from_dataset

    _, synth = builtin
    targets = targets_from_dataset(builtin_dataset, shipped.config, synth, max_rows=2, seed=5)
    result = evaluate([shipped], targets, synth, train_data=builtin_dataset, progress=False, budget=13)
    searched = result.rows["vae_flow_post + search (13 renders)"]
    alone = result.rows["vae_flow_post"]
    # the search starts from the model's answer and keeps the best render, level-matched
    assert (searched["spectral_convergence_level_matched"] <= alone["spectral_convergence_level_matched"] + 0.05).all()
    assert result.seconds["vae_flow_post + search (13 renders)"] > result.seconds["vae_flow_post"]
    assert "seconds_per_sound" in result.markdown() and "log_mel_mse_level_matched" in result.markdown()


def test_a_kept_search_reads_back_whole_and_a_damaged_one_not_at_all(tmp_path: Path) -> None:
    from synthgen.config import Note
    from synthgen.uses.search_store import SearchStore

    rng = np.random.default_rng(0)
    found = SearchResult(
        unit=rng.random(5, dtype=np.float32), gain_db=np.float32(-3.5), audio=rng.standard_normal(100).astype(np.float32),
        note=Note(50, 100, 1.5, 2.5), distance=0.4, model_distance=0.9, origin="nearest training sound 2 + CMA-ES",
        n_renders=np.int64(96), seed=3, seconds=1.25, history=[0.9, 0.5, 0.4], failed_renders=1,
    )  # fmt: skip
    store = SearchStore(tmp_path / "kept")
    key = SearchStore.key("model", found.audio, 330, 3)
    assert store.get(key) is None and key != SearchStore.key("model", found.audio, 330, 4)
    store.put(key, found)
    back = store.get(key)
    assert back is not None and back.note == found.note and back.history == found.history and back.n_renders == 96
    assert (back.origin, back.seed, back.failed_renders) == (found.origin, 3, 1) and back.gain_db == pytest.approx(-3.5)
    np.testing.assert_array_equal(back.audio, found.audio)  # stored bytes, not a computation
    np.testing.assert_array_equal(back.unit, found.unit)
    (store.folder / f"{key}.npz").write_bytes(b"cut short")
    assert store.get(key) is None  # searched again rather than read wrong


@needs_shipped_model
def test_an_interrupted_evaluation_goes_on_with_the_searches_that_finished(
    shipped, builtin, builtin_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synthgen.uses.evaluate as evaluation
    from synthgen.uses.search_store import SearchStore

    _, synth = builtin
    targets = targets_from_dataset(builtin_dataset, shipped.config, synth, max_rows=3, seed=5)
    store, real, calls = SearchStore(tmp_path / "kept"), evaluation.search_preset, []

    def counted(*args: object, **kwargs: object) -> SearchResult:
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "search_preset", counted)
    stop_at = 3  # Ctrl-C during the third search
    with pytest.raises(KeyboardInterrupt):
        evaluation.evaluate([shipped], targets, synth, progress=False, budget=13, store=store)
    assert len(list(store.folder.glob("*.npz"))) == 2  # the two that finished, whole
    calls.clear()
    stop_at = 0
    again = evaluation.evaluate([shipped], targets, synth, progress=False, budget=13, store=store)
    method = "vae_flow_post + search (13 renders)"
    assert len(calls) == 1 and any(note.startswith(f"{method}: 2 of 3 searches were kept") for note in again.notes)
    fresh = evaluation.evaluate([shipped], targets, synth, progress=False, budget=13)  # no store: all three searched again
    np.testing.assert_allclose(again.estimates[method], fresh.estimates[method], atol=1e-6)
    np.testing.assert_allclose(again.gains_db[method], fresh.gains_db[method], atol=1e-4)
    other_seed = evaluation.evaluate([shipped], targets, synth, seed=1, progress=False, budget=13, store=store)
    assert not any("were kept" in note for note in other_seed.notes)  # another seed is another search
    rows = [0, 0]
    picked = {name: getattr(targets, name)[rows] for name in ("audio", "mel", "midi_pitch", "unit")}
    twice = dataclasses.replace(targets, **picked, labels=[targets.labels[0]] * 2)
    calls.clear()
    again = evaluation.evaluate([shipped], twice, synth, seed=2, progress=False, budget=13, store=store)
    assert len(calls) == 2 and not any("were kept" in note for note in again.notes)  # one sound twice: searched (and timed) twice
    store.clear()
    assert not store.folder.exists()


@needs_shipped_model
def test_evaluate_plays_the_search_at_its_fitted_level(shipped, builtin, builtin_dataset: Path) -> None:
    from synthgen.features import log_mel
    from synthgen.uses.evaluate import evaluate, targets_from_dataset

    _, synth = builtin
    loud = targets_from_dataset(builtin_dataset, shipped.config, synth, max_rows=2, seed=5)
    quiet_audio = loud.audio * 0.05  # -26 dB: far quieter than anything the synth plays
    quiet_mel = log_mel(quiet_audio, shipped.config.render.sample_rate, shipped.config.features)
    quiet = dataclasses.replace(loud, audio=quiet_audio, mel=quiet_mel)
    result = evaluate([shipped], quiet, synth, train_data=builtin_dataset, progress=False, budget=13)
    method = "vae_flow_post + search (13 renders)"
    assert (result.gains_db[method] < -3).all()
    played, alone = result.rows[method], result.rows["vae_flow_post"]
    # as played (what resynth writes), the search's level is already the best one
    assert played["spectral_convergence"] == pytest.approx(played["spectral_convergence_level_matched"], rel=1e-3)
    assert (played["spectral_convergence"] < 1).all()
    assert (alone["spectral_convergence"] > alone["spectral_convergence_level_matched"] + 0.1).all()


@needs_shipped_model
def test_walks_play_at_the_level_of_their_sources(shipped, builtin, tmp_path: Path) -> None:
    from synthgen.uses.walk import render_walk, source_gain_db

    config, synth = builtin
    unit = config.space.sample(1, np.random.default_rng(4))
    write_wav(tmp_path / "quiet.wav", 0.5 * render_unit(synth, config, unit)[0], SAMPLE_RATE)
    assert source_gain_db(shipped, synth, tmp_path / "quiet.wav", unit[0]) == pytest.approx(20 * np.log10(0.5), abs=0.1)
    preset = write_preset(tmp_path / "p.json", config, unit[0], output_gain_db=-12.0)
    assert source_gain_db(shipped, synth, preset, unit[0]) == pytest.approx(-12.0)
    walk = render_walk(shipped, synth, np.repeat(unit, 2, axis=0), gain_db=np.array([0.0, -12.0]))
    np.testing.assert_allclose(walk.audio[1], walk.audio[0] * 10 ** (-12 / 20), atol=1e-6)


@needs_shipped_model
def test_the_search_keeps_the_best_class_switch_of_its_start(shipped, builtin, target, monkeypatch: pytest.MonkeyPatch) -> None:
    # the built-in synth read as if its osc2 interval were a categorical switch; the model's answer the only start
    config, synth = builtin
    specs = tuple(dataclasses.replace(s, kind="categorical") if s.name == "osc2_semitones" else s for s in config.space.specs)
    model = dataclasses.replace(shipped, config=dataclasses.replace(config, space=dataclasses.replace(config.space, specs=specs)))
    monkeypatch.setattr("synthgen.uses.search.N_POSTERIOR", 0)
    audio, mel = target
    switches = model.config.space.class_alternatives(model.infer(mel[None], 48)[0])
    assert len(switches) == 24  # every other interval of -12..+12
    scores = SpectralDistance(audio, SAMPLE_RATE, config.features)(render_unit(synth, config, switches, [(48, 127)]))[0]
    found = search_preset(model, synth, audio, mel, 48, budget=1 + len(switches) + CMA_POPSIZE, seed=0)
    assert scores.min() < found.model_distance  # a switch helps this sound: it is the one kept, then refined
    assert found.n_renders == 1 + len(switches) + CMA_POPSIZE and found.origin.startswith("model answer + class switch")
    assert found.history[1] == pytest.approx(scores.min(), rel=1e-4)
    assert found.distance <= found.history[1]
