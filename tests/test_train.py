"""Training on a tiny rendered dataset: losses fall, checkpoints round-trip, resume is exact."""

import json
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
from synthgen.train.loop import LAST

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
    from synthgen.train.refit import refit_flow

    train_model(builtin_dataset, tmp_path, settings("vae_flow_post", 2), progress=False)
    before = _consistency_ratio(tmp_path, builtin_dataset)
    record = refit_flow(tmp_path, builtin_dataset, consistency_weight=100.0, epochs=20, batch_size=16, learning_rate=3e-3)
    after = _consistency_ratio(tmp_path, builtin_dataset)
    assert after < 0.8 * before
    assert abs(record["chosen"]["valid_consistency_ratio"] - after) < 0.05
    assert load_model(tmp_path).backend == "onnx"  # the export was renewed
    with pytest.raises(SynthgenError, match="only vae_flow_post"):
        train_model(builtin_dataset, tmp_path / "vae", settings("vae", 1), progress=False)
        refit_flow(tmp_path / "vae", builtin_dataset)
