"""Resynthesis and evaluation end to end, and every bad input with its one-line error."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from synthgen.audio_io import LEVEL_BLOCK, clipping_note, read_audio, write_wav
from synthgen.cli import main
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.features import log_mel
from synthgen.model import DEFAULT_MODEL, load_model
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit
from synthgen.uses.evaluate import TRUE_PRESET, evaluate, targets_from_audio_dir, targets_from_dataset
from synthgen.uses.metrics import audio_metrics
from synthgen.uses.resynth import resynthesize

needs_shipped_model = pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="no shipped model in models/")


@pytest.fixture(scope="module")
def builtin():
    config = load_config("builtin")
    return config, load_synth(config)


@needs_shipped_model
def test_shipped_model_recovers_its_own_synth_sounds(builtin, tmp_path: Path) -> None:
    config, synth = builtin
    model = load_model(DEFAULT_MODEL)
    unit = config.space.sample(12, np.random.default_rng(123))
    targets = render_unit(synth, config, unit)
    resynth, random = [], []
    for k, audio in enumerate(targets):
        write_wav(tmp_path / f"t{k}.wav", audio, config.render.sample_rate)
        result = resynthesize(model, tmp_path / f"t{k}.wav", synth=synth)
        resynth.append(result.output_audio)
    random = render_unit(synth, config, config.space.sample(12, np.random.default_rng(7)))
    from synthgen.features import log_mel

    mel_t = log_mel(targets, config.render.sample_rate, config.features)

    def scores(estimate: np.ndarray) -> dict[str, np.ndarray]:
        return audio_metrics(targets, estimate, mel_t, log_mel(estimate, config.render.sample_rate, config.features), config.features)

    ours, chance = scores(np.stack(resynth)), scores(random)
    assert np.median(ours["spectral_convergence"]) < 0.7 * np.median(chance["spectral_convergence"])
    assert np.median(ours["log_mel_mse"]) < 0.5 * np.median(chance["log_mel_mse"])


def test_resynth_writes_audio_preset_and_figure(tiny_model: Path, builtin, tmp_path: Path) -> None:
    config, synth = builtin
    audio = render_unit(synth, config, config.space.sample(1, np.random.default_rng(0)))[0]
    stereo_44k = np.stack([audio, audio], axis=1).repeat(2, axis=0)[: 44100 * 2]
    sf.write(tmp_path / "in.wav", stereo_44k, 44100)
    result = resynthesize(load_model(tiny_model), tmp_path / "in.wav", tmp_path / "out", synth=synth, plot=True)
    assert any("mixed 2 channels" in c for c in result.changes)
    assert any("resampled 44100" in c for c in result.changes)
    assert any("padded 2.00 s to 4.00 s" in c for c in result.changes)
    out, rate = sf.read(result.files["audio"])
    assert rate == 22050 and len(out) == 4 * 22050 and np.abs(out).max() > 1e-3
    assert result.files["preset.json"].exists() and result.files["figure"].stat().st_size > 10_000


def test_evaluate_reports_models_and_baselines(tiny_model: Path, builtin_dataset: Path, builtin, tmp_path: Path) -> None:
    config, synth = builtin
    model = load_model(tiny_model)
    targets = targets_from_dataset(builtin_dataset, config, synth, max_rows=8)
    result = evaluate([model], targets, synth, train_data=builtin_dataset, progress=False)
    assert set(result.rows) == {"vae_flow_post", "nearest neighbour", "mean preset", "random preset", TRUE_PRESET}
    # the built-in synth plays a preset the same way every time: its own presets leave no distance
    np.testing.assert_allclose(result.rows[TRUE_PRESET]["spectral_convergence"], 0.0, atol=1e-4)
    assert result.summary()[TRUE_PRESET]["param_mse"]["mean"] < 1e-12
    # the targets are in the training set, so the nearest neighbour is the target itself
    np.testing.assert_allclose(result.rows["nearest neighbour"]["log_mel_mse"], 0.0, atol=1e-6)
    assert result.summary()["random preset"]["param_mse"]["mean"] > 0.05
    assert "| vae_flow_post |" in result.markdown()
    write_wav(tmp_path / "a.wav", targets.audio[0], 22050)
    real = targets_from_audio_dir(tmp_path, config)
    assert real.unit is None and len(real.mel) == 1


def test_evaluate_says_which_training_data_gave_the_baselines(tiny_model: Path, builtin_dataset: Path, builtin, tmp_path: Path) -> None:
    config, synth = builtin
    targets = targets_from_dataset(builtin_dataset, config, synth, max_rows=2)
    recorded = evaluate([load_model(tiny_model)], targets, synth, progress=False)
    assert recorded.train_data == str((builtin_dataset / "dataset.h5").resolve())
    assert f"training data {recorded.train_data} (recorded in the model)" in recorded.markdown()
    # the targets come from the model's own training set: the report says its scores are not held out
    assert "warning: vae_flow_post was trained on" in recorded.markdown()
    if DEFAULT_MODEL.exists():  # it records a relative path: never resolved against the current folder
        shipped = evaluate([load_model(DEFAULT_MODEL)], targets, synth, progress=False)
        assert shipped.train_data is None
        assert "relative to where it was trained" in shipped.markdown() and "--train-data" in shipped.markdown()
        # its index of training sounds gives the baselines instead
        assert "nearest neighbour" in shipped.rows and "from the index next to" in shipped.markdown()
        assert "warning" not in shipped.markdown()


@needs_shipped_model
def test_resynth_of_files_and_folders_skips_what_it_cannot_read(builtin, tmp_path: Path) -> None:
    config, synth = builtin
    folder = tmp_path / "sounds"
    folder.mkdir()
    audio = render_unit(synth, config, config.space.sample(3, np.random.default_rng(2)))
    for k, name in enumerate(("a.wav", "b.flac")):
        sf.write(folder / name, audio[k], config.render.sample_rate)
    (folder / "broken.wav").write_text("not audio")
    (folder / "readme.txt").write_text("not audio, and not named as audio")
    (folder / "more").mkdir()
    write_wav(tmp_path / "c.wav", audio[2], config.render.sample_rate)
    runner = CliRunner()
    result = runner.invoke(main, ["resynth", str(folder), str(tmp_path / "c.wav"), "--budget", "0", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "[4/4] " in result.output and "readme" not in result.output
    assert f"note: the folders in {folder} are not searched (more): give them as inputs too" in result.output
    assert f"skipped {folder / 'broken.wav'}: " in result.output and "is not an audio file" in result.output
    assert result.output.rstrip().endswith("1 of 4 sounds skipped (said above): broken.wav")
    assert sorted(p.name for p in (tmp_path / "out").glob("*.wav")) == ["a_resynth.wav", "b_resynth.wav", "c_resynth.wav"]
    write_wav(tmp_path / "a.wav", audio[2], config.render.sample_rate)
    clash = runner.invoke(main, ["resynth", str(folder), str(tmp_path / "a.wav"), "--out", str(tmp_path / "clash")])
    assert clash.exit_code == 1 and "two inputs are named 'a'" in clash.output and not (tmp_path / "clash").exists()


@pytest.mark.slow
def test_cli_resynth_and_evaluate(tiny_model: Path, builtin_dataset: Path, builtin, tmp_path: Path) -> None:
    config, synth = builtin
    write_wav(tmp_path / "x.wav", render_unit(synth, config, config.space.sample(1, np.random.default_rng(1)))[0], 22050)
    runner = CliRunner()
    res = runner.invoke(main, ["resynth", str(tmp_path / "x.wav"), "--model", str(tiny_model), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "wrote preset.json" in res.output and "cutoff" in res.output
    args = ["evaluate", "--model", str(tiny_model), "--data", str(builtin_dataset), "--max-rows", "6", "--out", str(tmp_path / "e")]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "e" / "results.md").exists() and (tmp_path / "e" / "examples.png").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("not audio"), "not an audio file"),
        (lambda p: sf.write(p, np.zeros((0,), dtype=np.float32), 22050), "holds no audio"),
        (lambda p: sf.write(p, np.zeros(22050, dtype=np.float32), 22050), "is silent"),
        (lambda p: None, "not found"),
        (lambda p: p.mkdir(), "is a folder, not an audio file"),
    ],
)
def test_bad_audio_inputs(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(SynthgenError, match=message):
        read_audio(path, 22050, 4.0)


def test_model_for_another_synth_and_bad_model_files(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(SynthgenError, match="trained for synth 'builtin', not 'amsynth'"):
        load_model(tiny_model, synth_config=load_config("amsynth"))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(SynthgenError, match="not a synthgen model"):
        load_model(tmp_path / "junk.pt")
    runner = CliRunner()
    res = runner.invoke(main, ["resynth", str(tmp_path / "none.wav"), "--model", str(tiny_model)])
    assert res.exit_code != 0 and "audio file not found" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["resynth", str(tmp_path / "none.wav"), "--model", str(tiny_model), "--synth", "amsynth"])
    assert res.exit_code != 0 and "not 'amsynth'" in res.output


def test_tiny_truncated_and_huge_wavs_are_read_with_a_note(tmp_path: Path) -> None:
    sf.write(tmp_path / "one.wav", np.array([0.5], dtype=np.float32), 22050)
    tone = (0.5 * np.sin(np.arange(44100) / 10)).astype(np.float32)
    sf.write(tmp_path / "full.wav", tone, 22050)
    whole = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) // 2])
    one = read_audio(tmp_path / "one.wav", 22050, 4.0)
    assert any(c.startswith("warning: one.wav holds only 1 samples") for c in one.changes)
    cut = read_audio(tmp_path / "cut.wav", 22050, 4.0)
    assert any(c.startswith("warning: cut.wav is truncated") for c in cut.changes)
    assert not any(c.startswith("warning") for c in read_audio(tmp_path / "full.wav", 22050, 4.0).changes)
    sf.write(tmp_path / "huge.wav", tone * 1e30, 22050, subtype="FLOAT")  # float files may hold any magnitude
    huge = read_audio(tmp_path / "huge.wav", 22050, 4.0)
    assert "scaled down to full scale (its peak was 5e+29)" in huge.changes
    assert np.isfinite(log_mel(huge.audio, 22050, load_config("builtin").features)).all()


def test_silence_before_the_sound_is_cut_and_said(tmp_path: Path) -> None:
    rate = 22050
    tone = (0.5 * np.sin(2 * np.pi * 220.0 * np.arange(rate) / rate)).astype(np.float32)
    hiss = 1e-4 * np.random.default_rng(0).standard_normal(rate // 2).astype(np.float32)  # 68 dB down
    sf.write(tmp_path / "late.wav", np.concatenate([hiss, tone]), rate)
    sf.write(tmp_path / "prompt.wav", np.concatenate([hiss[:200], tone]), rate)
    late = read_audio(tmp_path / "late.wav", rate, 4.0)
    assert any(c.startswith(("cut 0.49 s of silence", "cut 0.50 s of silence")) for c in late.changes)
    assert np.sqrt(np.mean(late.audio[2 * LEVEL_BLOCK : rate // 2] ** 2)) > 0.3  # the tone's RMS is 0.35: it plays by the third block
    prompt = read_audio(tmp_path / "prompt.wav", rate, 4.0)
    assert not any(c.startswith("cut") for c in prompt.changes)
    swell = tone * np.minimum(np.arange(rate) / (0.5 * rate), 1.0) ** 4  # 0.5 s from silence: 40 dB down for 0.16 s
    sf.write(tmp_path / "swell.wav", np.concatenate([np.zeros(rate // 2, np.float32), swell]), rate)
    (cut,) = [float(c.split()[1]) for c in read_audio(tmp_path / "swell.wav", rate, 4.0).changes if c.startswith("cut")]
    assert 0.49 <= cut <= 0.55  # the silence (and the swell's first 16-bit zeros), not the slow attack up to 0.66 s


def test_a_sound_that_would_clip_is_scaled_down_and_said_so(tmp_path: Path) -> None:
    loud = np.sin(np.linspace(0, 200 * np.pi, 22050)).astype(np.float32) * 2.0
    assert clipping_note(loud * 0.4) is None
    note = clipping_note(loud)
    assert note is not None and "+6.0 dBFS" in note
    written, _ = sf.read(write_wav(tmp_path / "loud.wav", loud, 22050))
    assert np.abs(written).max() == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(written, loud / 2.0, atol=1e-3)


def test_resynth_says_when_the_pitch_glides(tiny_model: Path, builtin, tmp_path: Path) -> None:
    config, synth = builtin
    t = np.arange(3 * config.render.sample_rate) / config.render.sample_rate
    glide = 0.3 * np.sin(2 * np.pi * 110.0 * (2 ** (t / 3) - 1) * 3 / np.log(2))  # an octave up over 3 s
    held = 0.3 * np.sin(2 * np.pi * 220.0 * t)
    for name, audio in (("glide", glide), ("held", held)):
        write_wav(tmp_path / f"{name}.wav", audio, config.render.sample_rate)
    gliding = resynthesize(load_model(tiny_model), tmp_path / "glide.wav", synth=synth, budget=0).notes
    steady = resynthesize(load_model(tiny_model), tmp_path / "held.wav", synth=synth, budget=0).notes
    assert any("with --split" in n for n in gliding) and not any("with --split" in n for n in steady)


def test_resynth_page_shows_each_input_over_its_resynthesis(tiny_model: Path, tmp_path: Path) -> None:
    import base64
    import io
    import re

    t = np.arange(22050) / 22050
    write_wav(tmp_path / "low.wav", 0.3 * np.sin(2 * np.pi * 110 * t), 22050)
    write_wav(
        tmp_path / "two.wav",
        np.concatenate([0.3 * np.sin(2 * np.pi * 220 * t[:11025]), np.zeros(6615), 0.3 * np.sin(2 * np.pi * 330 * t[:11025])]),
        22050,
    )
    runner = CliRunner()
    for args, listed in (
        ([str(tmp_path / "low.wav"), str(tmp_path / "two.wav")], "_preset.json"),
        ([str(tmp_path / "two.wav"), "--split"], "_notes.json"),
    ):
        out = tmp_path / f"page{len(args)}"
        done = runner.invoke(main, ["resynth", *args, "--model", str(tiny_model), "--budget", "0", "--page", "--out", str(out)])
        assert done.exit_code == 0, done.output
        page = (out / "resynth.html").read_text()
        assert f"wrote page         {out / 'resynth.html'}" in done.output
        sounds = [sf.read(io.BytesIO(base64.b64decode(b)))[0] for b in re.findall(r'src="data:audio/wav;base64,([^"]+)"', page)]
        names = re.findall(r"<b>([^<]+)</b>", page)
        assert names == [Path(a).name for a in args if a.endswith(".wav")] and len(sounds) == 2 * len(names)
        assert len(re.findall(r'src="data:image/png;base64,', page)) == 2 * len(names)
        assert f"{len(names)} sound{'s' * (len(names) > 1)} resynthesized by builtin" in page
        for name in names:
            assert f'href="{Path(name).stem}{listed}"' in page and (out / f"{Path(name).stem}{listed}").is_file()
        assert all(np.abs(sound).max() > 0.01 for sound in sounds)  # the inputs and the outputs, not silence
    assert "2 notes, each with a preset of its own: A3 E4" in page


def test_evaluate_writes_a_page_of_examples_to_listen_to(tiny_model: Path, builtin_dataset: Path, tmp_path: Path) -> None:
    import base64
    import io
    import re

    args = ["evaluate", "--model", str(tiny_model), "--data", str(builtin_dataset), "--max-rows", "5", "--out", str(tmp_path / "e")]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    page = (tmp_path / "e" / "examples.html").read_text()
    sources = re.findall(r"<th>([^<]+)</th>", page.split("</tr>", 1)[0])
    assert sources[0] == "target" and "random preset" in sources and "true preset (rendered again)" in sources
    rows = page.split("</tr>")[1:-1]
    assert len(rows) == 4  # EXAMPLES of the 5 targets
    for row in rows:
        sounds = [sf.read(io.BytesIO(base64.b64decode(b)))[0] for b in re.findall(r'src="data:audio/wav;base64,([^"]+)"', row)]
        assert len(sounds) == len(sources) == len(re.findall(r'src="data:image/png;base64,', row))
        target, again = sounds[0], sounds[sources.index("true preset (rendered again)")]
        np.testing.assert_allclose(again, target, atol=2e-3)  # the built-in synth plays a preset the same way each time, at its level
