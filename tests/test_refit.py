"""Refits of a trained run: arguments checked before anything is written, the replaced model kept, results reported."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.errors import SynthgenError
from synthgen.model import load_model
from synthgen.train import TrainSettings, train_model
from synthgen.train.encoder_refit import refit_encoder
from synthgen.train.refit import refit_flow


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run(tiny_model: Path, tmp_path: Path) -> Path:
    """A copy of the one-epoch vae_flow_post run, free to refit."""
    return shutil.copytree(tiny_model, tmp_path / "run")


def _invoke(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--consistency-weight", "-10"], "-10.0 is not in the range x>=0"),
        (
            ["--consistency-weight", "nan"],
            "setting 'consistency_weight' of model 'vae_flow_post' must be a number (float) from 0 to 1e+12, got nan",
        ),
        (["--epochs", "0"], "0 is not in the range x>=1"),
        (["--lr", "-1"], "-1.0 is not in the range 0<x<=1"),
        (["--lr", "nan"], "--lr must be a number above 0"),
        (["--seed", "-1"], "-1 is not in the range x>=0"),
        (["--new-flow", "2", "1"], "1 is not in the range x>=2"),
    ],
)
def test_a_refused_refit_flow_is_one_line_and_leaves_the_run_as_it_was(
    run: Path, builtin_dataset: Path, options: list[str], message: str
) -> None:
    before = sorted(p.name for p in run.iterdir()), _digest(run / "model.pt")
    code, _, stderr = _invoke("refit-flow", run, "--data", builtin_dataset, "--sound-rows", "0", *options)
    assert code not in (0, None) and len(stderr.strip().splitlines()) == 1 and message in stderr, stderr
    assert (sorted(p.name for p in run.iterdir()), _digest(run / "model.pt")) == before
    load_model(run, backend="torch")


def test_refits_called_from_python_check_their_arguments_first(run: Path, builtin_dataset: Path) -> None:
    digest = _digest(run / "model.pt")
    refusals = [
        (lambda: refit_flow(run, builtin_dataset, consistency_weight=-10.0, epochs=1), "'consistency_weight'.* from 0 to .*, got -10.0"),
        (lambda: refit_flow(run, builtin_dataset, epochs=0), "--epochs must be at least 1, got 0"),
        (lambda: refit_flow(run, builtin_dataset, epochs=1, flow_size=(2, 2.5)), "'regression_hidden'.* whole number .*got 2.5"),
        (lambda: refit_flow(run, builtin_dataset, epochs=1, spectral_weight=float("inf")), "--spectral-weight"),
        (lambda: refit_encoder(run, builtin_dataset, consistency_weight=float("inf"), epochs=1), "'consistency_weight'.*got inf"),
        (lambda: refit_encoder(run, builtin_dataset, epochs=1, learning_rate=-1.0), "--lr must be a number above 0"),
    ]
    for refit, message in refusals:
        with pytest.raises(SynthgenError, match=message):
            refit()
    assert _digest(run / "model.pt") == digest and not (run / "refit.json").exists()


def test_a_refit_that_fails_while_exporting_leaves_the_run_as_it_was(
    run: Path, builtin_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sorted(p.name for p in run.iterdir()), _digest(run / "model.pt"), _digest(run / "model.onnx.json")

    def disk_trouble(*args: object, **kwargs: object) -> None:
        raise OSError("simulated write failure")

    monkeypatch.setattr(torch.onnx, "export", disk_trouble)
    with pytest.raises(OSError, match="simulated"):
        refit_flow(run, builtin_dataset, epochs=1, batch_size=16)
    assert (sorted(p.name for p in run.iterdir()), _digest(run / "model.pt"), _digest(run / "model.onnx.json")) == before


def test_refit_flow_keeps_the_replaced_model_and_reports_before_and_after(run: Path, builtin_dataset: Path) -> None:
    old = (run / "model.pt").read_bytes()
    # RUN may be the run's model.pt; one epoch without the consistency term leaves the directions apart
    code, stdout, stderr = _invoke(
        "refit-flow", run / "model.pt", "--data", builtin_dataset, "--epochs", "1", "--sound-rows", "0", "--consistency-weight", "0"
    )
    assert code == 0, stderr
    kept = run / "model.before-refit-flow.pt"
    assert kept.read_bytes() == old
    assert f"refit {run / 'model.pt'} (epoch 1 of 1); validation parameter MSE " in stdout
    assert " -> " in stdout and f"the model from before the first such refit is kept as {kept}" in stdout
    record = json.loads((run / "refit.json").read_text())
    assert record["before"]["valid_param_mse"] > 0 and record["replaced"] == str(kept)
    ratio = record["chosen"]["valid_consistency_ratio"]
    *progress, warning = stderr.splitlines()  # not a terminal: progress comes as plain lines
    assert ratio >= 0.5 and warning == (
        "warning: no epoch brought median |latent - f^-1(preset)| / median |latent| under 0.5: "
        f"kept epoch 1, the one with the lowest ({ratio:.2f})"
    )
    assert progress and all(line.startswith("refit flow: ") for line in progress) and "1/1" in progress[-1]
    assert load_model(run).backend == "onnx"  # the new export matches the new checkpoint
    assert load_model(kept, backend="torch").summary.get("refit") is None
    again = _invoke("refit-flow", run, "--data", builtin_dataset, "--epochs", "1", "--sound-rows", "0")
    assert again[0] == 0 and kept.read_bytes() == old  # a second refit keeps the model from before the first


def test_refit_encoder_keeps_the_replaced_model_and_warns_even_when_quiet(run: Path, builtin_dataset: Path) -> None:
    old = (run / "model.pt").read_bytes()
    code, stdout, stderr = _invoke(
        "refit-encoder", run, "--data", builtin_dataset, "--epochs", "1", "--batch-size", "16", "--consistency-weight", "0", "-q"
    )
    assert code == 0, stderr
    assert (run / "model.before-refit-encoder.pt").read_bytes() == old and stdout == ""
    assert json.loads((run / "encoder_refit.json").read_text())["chosen"]["valid_consistency_ratio"] >= 0.5
    assert stderr.startswith("warning: no epoch brought") and len(stderr.splitlines()) == 1


def test_run_must_be_a_run_folder_or_its_model(tmp_path: Path, builtin_dataset: Path) -> None:
    (tmp_path / "x.pt").write_bytes(b"")
    for command in ("refit-flow", "refit-encoder", "train-surrogate"):
        for path, what in ((tmp_path / "x.pt", "is a file"), (tmp_path / "none", "does not exist")):
            code, _, stderr = _invoke(command, path, "--data", builtin_dataset)
            assert code == 1 and f"{path} {what}: RUN is a run folder (the --out of `synthgen train`) or its model.pt" in stderr


def test_training_a_refitted_run_again_is_refused(run: Path, builtin_dataset: Path) -> None:
    refit_flow(run, builtin_dataset, epochs=1, batch_size=16)
    refitted = _digest(run / "model.pt")
    tiny = {"channels": 8, "conv_layers": 3, "hidden": 32}
    settings = TrainSettings(model="vae_flow_post", epochs=2, batch_size=16, model_settings=tiny)
    for resume in (True, False):  # with --resume or without, one answer
        with pytest.raises(
            SynthgenError, match=r"model.pt was refitted \(refit-flow\): training it again would discard the refit; train into"
        ):
            train_model(builtin_dataset, run, settings, resume=resume, progress=False)
    assert _digest(run / "model.pt") == refitted
