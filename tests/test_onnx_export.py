"""ONNX export: every model family runs on onnxruntime with the torch model's results."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.model import INFERENCE_PATHS, load_model, onnx_sidecar_path
from synthgen.nn import MODEL_NAMES, build_model
from synthgen.train.checkpoint import save_checkpoint
from synthgen.train.export import export_onnx

N_MELS, N_FRAMES = 16, 20
CONV = {"channels": 4, "conv_layers": 2, "hidden": 16, "regressor_hidden": 8, "regressor_layers": 1}
SETTINGS = {
    "mlp": {"hidden": 16, "layers": 2},
    "cnn": {"channels": 4, "conv_layers": 2, "hidden": 16, "mlp_layers": 1},
    "vae": CONV,
    "wae": CONV,
    "vae_flow": {**CONV, "iaf_steps": 2, "iaf_hidden": 8},
    "vae_flow_post": {**CONV, "iaf_steps": 2, "iaf_hidden": 8, "regression_steps": 2, "regression_hidden": 8},
}
MEL_STATS = {"mean": -4.0, "std": 3.0}


def _checkpoint(name: str, folder: Path) -> Path:
    """A tiny model of family ``name`` for the built-in synth, with batch-norm and ActNorm statistics set by a few batches."""
    config = load_config("builtin")
    torch.manual_seed(0)
    model = build_model(name, n_classes=list(config.space.n_classes), n_mels=N_MELS, n_frames=N_FRAMES, **SETTINGS[name])
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, N_MELS, N_FRAMES))
    payload = {
        "model": name,
        "config": model.config,
        "state_dict": model.state_dict(),
        "mel_stats": MEL_STATS,
        "synth_config": config.to_dict(),
        "summary": {},
    }
    path = folder / "model.pt"
    save_checkpoint(payload, path)
    return path


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_onnx_matches_torch_on_every_path(name: str, tmp_path: Path) -> None:
    checkpoint = _checkpoint(name, tmp_path)
    files = export_onnx(checkpoint)
    assert all(f.is_file() for f in files) and files[-1] == onnx_sidecar_path(checkpoint)
    with_torch, with_onnx = load_model(checkpoint, backend="torch"), load_model(tmp_path, backend="onnx")
    assert (with_torch.backend, with_onnx.backend) == ("torch", "onnx")
    assert with_onnx.config.space.names == with_torch.config.space.names and with_onnx.stats == with_torch.stats
    rng = np.random.default_rng(0)
    mel = (MEL_STATS["mean"] + MEL_STATS["std"] * rng.standard_normal((5, N_MELS, N_FRAMES))).astype(np.float32)
    outputs = {"infer": (mel,)}
    if with_torch.has_latent:
        z = rng.standard_normal((5, with_torch.latent_dim)).astype(np.float32)
        outputs |= {"encode": (mel,), "params_from_latent": (z,), "decode": (z,)}
    if with_torch.is_invertible:
        outputs["latent_from_params"] = (rng.uniform(0.05, 0.95, (5, with_torch.n_params)).astype(np.float32),)
    for path, args in outputs.items():
        expected, got = getattr(with_torch, path)(*args), getattr(with_onnx, path)(*args)
        assert got.shape == expected.shape, path
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4, err_msg=path)
    assert set(outputs) <= set(INFERENCE_PATHS)


def test_auto_backend_prefers_a_current_export_and_skips_a_stale_one(tmp_path: Path) -> None:
    checkpoint = _checkpoint("vae_flow_post", tmp_path)
    assert load_model(checkpoint).backend == "torch"  # nothing exported yet
    with pytest.raises(SynthgenError, match="export-onnx"):
        load_model(checkpoint, backend="onnx")
    export_onnx(tmp_path)
    assert load_model(checkpoint).backend == "onnx"
    _checkpoint("vae", tmp_path)  # a new checkpoint in the same place makes the export stale
    assert load_model(checkpoint).backend == "torch"
    with pytest.raises(SynthgenError, match="no current ONNX export"):
        load_model(checkpoint, backend="onnx")


def test_onnx_model_refuses_wrong_inputs_in_one_line_and_pickles(tmp_path: Path) -> None:
    export_onnx(_checkpoint("mlp", tmp_path))
    model = load_model(tmp_path, backend="onnx")
    with pytest.raises(SynthgenError, match=r"log-mels of shape \(batch, 16, 20\)"):
        model.infer(np.zeros((1, 16, 21), np.float32))
    with pytest.raises(SynthgenError, match="no latent space"):
        model.encode(np.zeros((1, 16, 20), np.float32))
    with pytest.raises(SynthgenError, match="torch module"):
        _ = model.module
    mel = np.zeros((2, 16, 20), np.float32)
    model.infer(mel)  # opens a session
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).infer(mel), model.infer(mel))


def test_export_onnx_command(tmp_path: Path) -> None:
    _checkpoint("cnn", tmp_path)
    result = CliRunner().invoke(main, ["export-onnx", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"wrote {tmp_path / 'model.infer.onnx'}", f"wrote {tmp_path / 'model.onnx.json'}"]
    assert load_model(tmp_path).backend == "onnx"
