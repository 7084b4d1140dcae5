"""Training on a tiny rendered dataset: losses fall, checkpoints round-trip, resume is exact."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from synthgen.dataset import open_dataset
from synthgen.dataset.split import split_rows
from synthgen.errors import SynthgenError
from synthgen.model import load_model
from synthgen.nn import MODEL_NAMES
from synthgen.train import TrainSettings, train_model
from synthgen.train.refit import epoch_key
from synthgen.train.run import LAST

TINY = {"channels": 8, "conv_layers": 3, "hidden": 32}


def settings(model: str, epochs: int) -> TrainSettings:
    tiny = {"hidden": 32, "layers": 2} if model == "mlp" else TINY
    return TrainSettings(model=model, epochs=epochs, batch_size=16, learning_rate=2e-3, patience=50, model_settings=tiny)


# the two flow-heavy autoencoders take 20 s each on a loaded machine
SLOW_MODELS = ("wae", "vae_flow")


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow) if m in SLOW_MODELS else m for m in MODEL_NAMES])
def test_every_model_trains_and_its_loss_falls(model: str, builtin_dataset: Path, tmp_path: Path) -> None:
    train_model(builtin_dataset, tmp_path, settings(model, 4), progress=False)
    history = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(history) == 5
    rows = json.loads((tmp_path / "metrics.json").read_text())["history"]
    # with warm-ups the objective changes each epoch; compare the reconstruction/param parts that exist throughout
    key = "train_recon" if "train_recon" in rows[0] else "train_param"
    assert rows[-1][key] < rows[0][key]
    for name in ("model.pt", "model.onnx.json", LAST, "split.npz", "run.json", "loss_curve.png"):
        assert (tmp_path / name).exists()


def test_saved_model_gives_identical_outputs(builtin_dataset: Path, tmp_path: Path) -> None:
    train_model(builtin_dataset, tmp_path, settings("vae_flow_post", 1), progress=False)
    a, b = load_model(tmp_path, backend="torch"), load_model(tmp_path / "model.pt")
    assert b.backend == "onnx"  # training wrote the export
    with open_dataset(builtin_dataset) as data:
        mel = data.read("mel", np.arange(8))
    np.testing.assert_allclose(a.infer(mel), b.infer(mel), atol=1e-4)
    z = a.encode(mel)
    assert z.shape == (8, a.n_params)
    values = torch.as_tensor(z)
    with torch.no_grad():
        back = a.module.latent_from_params(a.module.params_from_latent(values, snap=False))
    np.testing.assert_allclose(back.numpy(), z, atol=1e-4)
    assert a.config.name == "builtin"


def test_resume_continues_exactly(builtin_dataset: Path, tmp_path: Path) -> None:
    train_model(builtin_dataset, tmp_path / "straight", settings("vae", 2), progress=False)
    train_model(builtin_dataset, tmp_path / "split", settings("vae", 1), progress=False)
    train_model(builtin_dataset, tmp_path / "split", settings("vae", 2), resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / LAST, weights_only=True)
    b = torch.load(tmp_path / "split" / LAST, weights_only=True)
    assert a["epoch"] == b["epoch"] == 1
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(value, b["state_dict"][key])


def test_run_folder_mistakes(builtin_dataset: Path, tmp_path: Path) -> None:
    train_model(builtin_dataset, tmp_path, settings("mlp", 1), progress=False)
    with pytest.raises(SynthgenError, match="--resume"):
        train_model(builtin_dataset, tmp_path, settings("mlp", 1), progress=False)
    with pytest.raises(SynthgenError, match="other settings"):
        train_model(builtin_dataset, tmp_path, settings("cnn", 2), resume=True, progress=False)
    with pytest.raises(SynthgenError, match="nothing to resume"):
        train_model(builtin_dataset, tmp_path / "new", settings("mlp", 1), resume=True, progress=False)
    with pytest.raises(SynthgenError, match="unknown model"):
        train_model(builtin_dataset, tmp_path / "x", settings("transformer", 1), progress=False)


def test_split_is_fixed_and_by_bank() -> None:
    a, b = split_rows(100, 0), split_rows(100, 0)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert sum(len(v) for v in a.values()) == 100 and len(a["train"]) == 80
    banks = np.repeat([f"bank{i}" for i in range(10)], 7)
    split = split_rows(len(banks), 1, groups=banks)
    seen = [set(banks[split[k]]) for k in ("train", "valid", "test")]
    assert all(s for s in seen)
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


def _consistency_ratio(run: Path, data_path: Path) -> float:
    model = load_model(run, backend="torch")
    rows = np.load(run / "split.npz")["valid"]
    with open_dataset(data_path) as data:
        z = model.encode(data.read("mel", rows), data.read("midi_pitch", rows))
        gap = np.linalg.norm(z - model.latent_from_params(data.read("params_unit", rows)), axis=1)
    return float(np.median(gap) / np.median(np.linalg.norm(z, axis=1)))


def test_refit_flow_brings_the_inverse_to_the_encoder(builtin_dataset: Path, tmp_path: Path) -> None:
    from synthgen.config import load_config
    from synthgen.dataset import render_dataset
    from synthgen.train.refit import refit_flow

    train_model(builtin_dataset, tmp_path, settings("vae_flow_post", 2), progress=False)
    before = _consistency_ratio(tmp_path, builtin_dataset)
    record = refit_flow(tmp_path, builtin_dataset, consistency_weight=100.0, epochs=20, batch_size=16, learning_rate=3e-3)
    after = _consistency_ratio(tmp_path, builtin_dataset)
    assert after < 0.8 * before
    assert abs(record["chosen"]["valid_consistency_ratio"] - after) < 0.05
    assert load_model(tmp_path).backend == "onnx"  # the export was renewed
    # a new, larger flow in place of the trained one
    record = refit_flow(tmp_path, builtin_dataset, 100.0, epochs=20, batch_size=16, learning_rate=3e-3, flow_size=(2, 24))
    model = load_model(tmp_path, backend="torch")
    assert (model.settings["regression_steps"], model.settings["regression_hidden"]) == (2, 24)  # trained with 4 steps of 64
    assert record["flow_size"] == {"steps": 2, "hidden": 24}
    assert _consistency_ratio(tmp_path, builtin_dataset) < 0.8 * before
    # a sound check re-renders validation rows after every epoch and picks the epoch kept
    record = refit_flow(tmp_path, builtin_dataset, 3000.0, epochs=4, batch_size=16, learning_rate=3e-3, sound_rows=6)
    assert record["sound_rows"] == 6 and all(h["valid_sound_log_mel_mse"] > 0 for h in record["history"])
    assert record["chosen"]["epoch"] == min(record["history"], key=epoch_key)["epoch"]
    other = tmp_path / "other"
    render_dataset(load_config("builtin"), other, n=8, seed=1, jobs=1, progress=False)
    with pytest.raises(SynthgenError, match="pass the dataset it was trained on"):
        refit_flow(tmp_path, other)
    train_model(builtin_dataset, tmp_path / "vae", settings("vae", 1), progress=False)
    with pytest.raises(SynthgenError, match="only vae_flow_post"):
        refit_flow(tmp_path / "vae", builtin_dataset)


def test_a_sound_check_counts_a_crashed_render_as_silence(builtin_dataset: Path) -> None:
    import torch

    from synthgen.nn import build_model
    from synthgen.train.refit import _SoundCheck

    with open_dataset(builtin_dataset) as data:
        feats = data.config.features
        model = build_model("vae_flow_post", n_classes=list(data.space.n_classes), n_mels=feats.n_mels, n_frames=feats.n_frames).eval()
        check = _SoundCheck(data, np.arange(6), torch.zeros(6, model.n_params))
    rendered = check(model)
    real = check.synth

    class Crashing:
        sample_rate = real.sample_rate

        def render(self, batch, note):
            return np.full((len(batch), real.n_samples(note, real.sample_rate)), np.nan, dtype=np.float32)

    check.synth = Crashing()
    silent = check(model)
    assert np.isfinite(rendered) and np.isfinite(silent) and silent > rendered


def test_refit_encoder_brings_the_encoder_to_the_frozen_flow(builtin_dataset: Path, tmp_path: Path) -> None:
    from synthgen.train.encoder_refit import refit_encoder

    train_model(builtin_dataset, tmp_path, settings("vae_flow_post", 2), progress=False)
    before = _consistency_ratio(tmp_path, builtin_dataset)
    trained = dict(load_model(tmp_path, backend="torch").module.named_parameters())
    flow = {k: v for k, v in trained.items() if k.startswith(("regression", "classifier"))}
    record = refit_encoder(tmp_path, builtin_dataset, consistency_weight=100.0, epochs=6, batch_size=16, learning_rate=2e-3)
    after = _consistency_ratio(tmp_path, builtin_dataset)
    assert after < 0.8 * before
    assert abs(record["chosen"]["valid_consistency_ratio"] - after) < 0.05
    assert record["chosen"]["epoch"] == min(record["history"], key=epoch_key)["epoch"]
    model = load_model(tmp_path)
    assert model.backend == "onnx" and model.summary["encoder_refit"]["consistency_weight"] == 100.0  # export renewed, refit recorded
    refitted = dict(load_model(tmp_path, backend="torch").module.named_parameters())
    assert all(torch.equal(refitted[k], v) for k, v in flow.items())  # the flow and the class heads did not move
    assert json.loads((tmp_path / "encoder_refit.json").read_text())["epochs"] == 6
    train_model(builtin_dataset, tmp_path / "vae", settings("vae", 1), progress=False)
    with pytest.raises(SynthgenError, match="only vae_flow_post"):
        refit_encoder(tmp_path / "vae", builtin_dataset)


def test_refit_keeps_the_consistent_epoch_that_sounds_closest() -> None:
    def epoch(n: int, param_mse: float, sound: float, ratio: float) -> dict[str, float]:
        return {"epoch": n, "valid_param_mse": param_mse, "valid_sound_log_mel_mse": sound, "valid_consistency_ratio": ratio}

    history = [epoch(0, 0.05, 1.0, 0.7), epoch(1, 0.06, 2.0, 0.45), epoch(2, 0.07, 1.5, 0.48), epoch(3, 0.05, 1.2, 0.52)]
    assert min(history, key=epoch_key)["epoch"] == 2  # not 1 (lower parameter MSE), not 0 or 3 (inconsistent)
    without_sound = [{k: v for k, v in h.items() if k != "valid_sound_log_mel_mse"} for h in history]
    assert min(without_sound, key=epoch_key)["epoch"] == 1
    assert min(history[::3], key=epoch_key)["epoch"] == 3  # none consistent: the lowest ratio


def _count_loss_calls(monkeypatch: pytest.MonkeyPatch, nan_after: int | None = None) -> dict[str, int]:
    """Count calls of the built model's loss; from call ``nan_after`` on, its total is NaN (a diverging run)."""
    import synthgen.train.loop as loop

    calls = {"n": 0}
    real_build = loop.build_model

    def build(*args: object, **kwargs: object) -> torch.nn.Module:
        model = real_build(*args, **kwargs)
        real_loss = model.loss

        def loss(*loss_args: object) -> dict[str, torch.Tensor]:
            out = real_loss(*loss_args)
            calls["n"] += 1
            if nan_after is not None and calls["n"] > nan_after:
                out = {**out, "total": out["total"] * float("nan")}
            return out

        model.loss = loss
        return model

    monkeypatch.setattr(loop, "build_model", build)
    return calls


def test_nan_loss_stops_in_one_line_and_keeps_the_last_good_model(
    builtin_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_epoch = _count_loss_calls(monkeypatch)
    train_model(builtin_dataset, tmp_path / "one", settings("mlp", 1), progress=False)
    _count_loss_calls(monkeypatch, nan_after=per_epoch["n"])
    with pytest.raises(SynthgenError, match=r"loss became nan at epoch 2, batch 1; .*model.pt keeps the model of epoch 1"):
        train_model(builtin_dataset, tmp_path / "run", settings("mlp", 3), progress=False)
    model = load_model(tmp_path / "run")
    assert model.summary["best_epoch"] == 1 and model.summary["epochs_done"] == 1


def test_rows_with_nan_are_named(builtin_dataset: Path, fresh_copy, tmp_path: Path) -> None:
    import h5py

    data = fresh_copy(builtin_dataset)
    shard = sorted(p for p in data.rglob("*.h5") if p.name != "dataset.h5")[0]
    with h5py.File(shard, "r+") as f:
        f["mel"][3, 0, 0] = np.nan
    with pytest.raises(SynthgenError, match="holds NaN or infinite values"):
        train_model(data, tmp_path / "run", settings("mlp", 1), progress=False)


def test_resume_when_validation_no_longer_improves_and_on_a_finished_run(
    builtin_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synthgen.train.loop as loop

    real_epoch = loop._run_epoch

    def worse_every_epoch(*args: object, **kwargs: object) -> dict[str, float]:
        out = real_epoch(*args, **kwargs)
        if args[5] is None:  # a validation pass: each worse than the one before
            worse_every_epoch.passes += 1
            out["param_mse"] = float(worse_every_epoch.passes)
        return out

    worse_every_epoch.passes = 0
    monkeypatch.setattr(loop, "_run_epoch", worse_every_epoch)
    train_model(builtin_dataset, tmp_path, settings("mlp", 1), progress=False)
    summary = train_model(builtin_dataset, tmp_path, settings("mlp", 3), resume=True, progress=False)
    assert summary["best_epoch"] == 1 and summary["best_valid_param_mse"] == 1.0 and summary["epochs_done"] == 3
    finished = train_model(builtin_dataset, tmp_path, settings("mlp", 3), resume=True, progress=False)
    assert finished["resumed_finished_run"] and finished["best_epoch"] == 1 and finished["stopped"] == "all 3 epochs done"


def test_resume_on_another_or_changed_dataset_is_refused(builtin_dataset: Path, tmp_path: Path) -> None:
    from synthgen.config import load_config
    from synthgen.dataset import render_dataset

    other = tmp_path / "other"
    render_dataset(load_config("builtin"), other, n=40, seed=1, jobs=1, chunk_size=40, progress=False)
    train_model(builtin_dataset, tmp_path / "run", settings("mlp", 1), progress=False)
    with pytest.raises(SynthgenError, match="was trained on .*resume it with --data"):
        train_model(other, tmp_path / "run", settings("mlp", 2), resume=True, progress=False)
    moved = shutil.copytree(builtin_dataset, tmp_path / "moved")  # the same rows elsewhere: fine
    assert train_model(moved, tmp_path / "run", settings("mlp", 2), resume=True, progress=False)["epochs_done"] == 2
    train_model(other, tmp_path / "run_on_other", settings("mlp", 1), progress=False)
    shutil.rmtree(other)  # rendered again in the same place, with other presets
    render_dataset(load_config("builtin"), other, n=40, seed=2, jobs=1, chunk_size=40, progress=False)
    with pytest.raises(SynthgenError, match="has changed since .* started training on it"):
        train_model(other, tmp_path / "run_on_other", settings("mlp", 2), resume=True, progress=False)


def test_cli_numbers_epochs_from_one_and_obeys_quiet_and_verbose(builtin_dataset: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from synthgen.cli import main

    common = ["train", "--data", str(builtin_dataset), "--model", "mlp", "--epochs", "2", "--batch-size", "16"]
    common += ["--set", "hidden=32", "--set", "layers=2"]
    verbose = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "v"), "-v"])
    assert verbose.exit_code == 0, verbose.output
    assert "epoch 1/2: train loss" in verbose.stdout and "epoch 2/2: train loss" in verbose.stdout
    assert "\r" not in verbose.output  # not a terminal: lines, no bar redrawn
    quiet = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "q"), "-q"])
    assert quiet.exit_code == 0 and "epoch 1/2:" not in quiet.output
    assert [line.split(",")[0] for line in (tmp_path / "q" / "metrics.csv").read_text().splitlines()[1:]] == ["1", "2"]
    again = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "q"), "--resume"])
    assert again.exit_code == 0 and "already finished (all 2 epochs done)" in again.output, again.output


def test_full_disk_keeps_the_last_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import synthgen.train.checkpoint as checkpoint

    path = tmp_path / "model.pt"
    checkpoint.save_checkpoint({"epoch": 1}, path)

    def full_disk(obj: object, f: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(SynthgenError, match="cannot write .*No space left on device; model.pt keeps its last complete version"):
        checkpoint.save_checkpoint({"epoch": 2}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert not (tmp_path / "model.pt.tmp").exists()


def test_a_dataset_too_small_to_split_is_refused_in_one_line(tmp_path: Path) -> None:
    from synthgen.config import load_config
    from synthgen.dataset import render_dataset

    render_dataset(load_config("builtin"), tmp_path / "three", n=3, seed=0, jobs=1, progress=False)
    with pytest.raises(SynthgenError, match="has 3 rows, split into 1 to train on and 1 to validate"):
        train_model(tmp_path / "three", tmp_path / "run", settings("mlp", 1), progress=False)


def _surrogate_error(run: Path, data_path: Path, rows: np.ndarray) -> float:
    """The run surrogate's log-mel MSE (standardized) between ``rows`` and the presets the run's flow gives for them."""
    from synthgen.model import MelStats, load_trained_module
    from synthgen.train.surrogate import SURROGATE_FILE, load_surrogate

    payload, model = load_trained_module(run / "model.pt")
    surrogate, _ = load_surrogate(run / SURROGATE_FILE, payload)
    stats = MelStats(**payload["mel_stats"])
    with open_dataset(data_path) as data:
        mel = torch.from_numpy(stats.standardize(data.read("mel", rows)))
        pitch = torch.from_numpy(data.read("midi_pitch", rows).astype(np.int64))
    with torch.no_grad():
        unit = model.params_from_latent(model.encode(mel, pitch))
        return float((surrogate(unit, pitch) - mel).square().mean())


def test_a_surrogate_learns_the_synth_and_a_spectral_refit_follows_it(builtin_dataset: Path, tmp_path: Path) -> None:
    from synthgen.train.refit import refit_flow
    from synthgen.train.surrogate import SURROGATE_FILE, load_surrogate, train_surrogate

    run = tmp_path / "run"
    train_model(builtin_dataset, run, settings("vae_flow_post", 2), progress=False)
    summary = train_surrogate(run, builtin_dataset, epochs=40, batch_size=16, learning_rate=3e-3, hidden=64, seed=3, progress=False)
    errors = [h["valid_log_mel_mse"] for h in summary["history"]]
    assert summary["best_valid_log_mel_mse"] == min(errors) < 0.7 * errors[0]
    saved = json.loads((run / "surrogate.json").read_text())
    assert saved["seed"] == 3 and saved["n_train"] + saved["n_valid"] < 96 and "torch" in saved["versions"]
    assert saved["data_fingerprint"] == load_model(run).summary["data_fingerprint"]
    # the same refit from the same flow, without and with the spectral term: the term brings the flow's presets nearer in sound
    twin = tmp_path / "twin"
    shutil.copytree(run, twin)
    train_rows = np.load(run / "split.npz")["train"]
    refit_flow(run, builtin_dataset, 30.0, epochs=10, batch_size=16, learning_rate=3e-3)
    record = refit_flow(twin, builtin_dataset, 30.0, epochs=10, batch_size=16, learning_rate=3e-3, spectral_weight=0.5)
    assert record["spectral_weight"] == 0.5 and all(h["valid_surrogate_log_mel_mse"] > 0 for h in record["history"])
    assert load_model(twin).summary["refit"]["surrogate"]["seed"] == 3  # the model records the proxy it was refitted with
    assert _surrogate_error(twin, builtin_dataset, train_rows) < 0.9 * _surrogate_error(run, builtin_dataset, train_rows)
    payload = torch.load(run / "model.pt", weights_only=True)
    with pytest.raises(SynthgenError, match="another synth, parameters or model"):
        load_surrogate(run / SURROGATE_FILE, {**payload, "mel_stats": {"mean": 0.0, "std": 1.0}})
    with pytest.raises(SynthgenError, match="not a sound surrogate"):
        load_surrogate(run / "model.pt", payload)


def test_cli_trains_a_surrogate_and_refits_with_it(builtin_dataset: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from synthgen.cli import main

    train_model(builtin_dataset, tmp_path, settings("vae_flow_post", 1), progress=False)
    data = str(builtin_dataset)
    result = CliRunner().invoke(main, ["train-surrogate", str(tmp_path), "--data", data, "--epochs", "2", "--hidden", "32", "-v"])
    assert result.exit_code == 0, result.output
    assert "epoch 2/2: validation log-mel MSE" in result.output and f"surrogate {tmp_path / 'surrogate.pt'}" in result.output
    args = ["refit-flow", str(tmp_path), "--data", data, "--epochs", "2", "--sound-rows", "0", "--spectral-weight", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "refit.json").read_text())["spectral_weight"] == 1.0


def test_a_surrogate_that_diverges_says_so_in_one_line(builtin_dataset: Path, tmp_path: Path) -> None:
    from synthgen.train.surrogate import SURROGATE_FILE, train_surrogate

    train_model(builtin_dataset, tmp_path, settings("vae_flow_post", 1), progress=False)
    with pytest.raises(SynthgenError, match="not finite in any epoch: try a lower --lr"):
        train_surrogate(tmp_path, builtin_dataset, epochs=2, batch_size=16, learning_rate=1e30, hidden=32, progress=False)
    assert not (tmp_path / SURROGATE_FILE).exists()
