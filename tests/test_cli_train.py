"""The train command's checks of what it is given, and what it says when interrupted or resumed with other options."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import synthgen.train.loop as loop
from synthgen.cli import main
from synthgen.errors import SynthgenError
from synthgen.model import load_checkpoint
from synthgen.train.run import LAST


def _train(data: Path, out: Path, *options: str) -> tuple[int, str, str]:
    args = ["train", "--data", str(data), "--out", str(out), "--model", "mlp", "--epochs", "1", "--batch-size", "16", "-q"]
    result = CliRunner().invoke(main, [*args, "--set", "hidden=32", *options])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("layers=3.5", "setting 'layers' of model 'mlp' must be a whole number (int) above 0 and at most 1e+12, got 3.5"),
        ("layers=true", "setting 'layers' of model 'mlp' must be a whole number (int) above 0 and at most 1e+12, got True"),
        ("dropout=NaN", "setting 'dropout' of model 'mlp' must be a number (float) from 0 to 1e+12, got nan"),
        ("dropout=Infinity", "setting 'dropout' of model 'mlp' must be a number (float) from 0 to 1e+12, got inf"),
        ('dropout="0.1"', "setting 'dropout' of model 'mlp' must be a number (float) from 0 to 1e+12, got '0.1'"),
        ("dropout=1e20", "setting 'dropout' of model 'mlp' must be a number (float) from 0 to 1e+12, got 1e+20"),
        ("hidden=64", "hidden is given twice (32, then 64): give each setting once"),
        (
            "layers=1" + "0" * 400,
            "setting 'layers' of model 'mlp' must be a whole number (int) above 0 and at most 1e+12, got 100000000000000000...",
        ),
    ],
)
def test_a_nonsense_model_setting_is_refused_before_the_run_folder_is_made(
    builtin_dataset: Path, tmp_path: Path, setting: str, message: str
) -> None:
    code, _, stderr = _train(builtin_dataset, tmp_path / "run", "--set", setting)
    assert code not in (0, None) and len(stderr.strip().splitlines()) == 1 and message in stderr, stderr
    assert not (tmp_path / "run").exists()


def test_train_help_lists_every_models_settings_with_their_defaults() -> None:
    from synthgen.nn.models import MODEL_NAMES, setting_defaults

    result = CliRunner().invoke(main, ["train", "--help"])
    assert result.exit_code == 0
    listing = " ".join(result.output.split("Model settings (--set KEY=VALUE) and their defaults:")[1].split())
    for name in MODEL_NAMES:
        assert f" {name} pitch_conditioning=1," in f" {listing}"
    assert "mmd_weight=100" in listing and setting_defaults("wae")["mmd_weight"] == 100
    assert "consistency_weight=4" in listing and setting_defaults("vae_flow_post")["consistency_weight"] == 4


def _interrupt_at_pass(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Ctrl-C at the ``n``-th pass over a split (each epoch makes two: training, validation)."""
    real, passes = loop._run_epoch, [0]

    def run_epoch(*args: object, **kwargs: object) -> dict[str, float]:
        passes[0] += 1
        if passes[0] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_run_epoch", run_epoch)


def test_ctrl_c_says_whether_there_is_an_epoch_to_resume(builtin_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _interrupt_at_pass(monkeypatch, 1)
    code, _, stderr = _train(builtin_dataset, tmp_path / "first", "--epochs", "2")
    assert code == 130 and stderr.strip() == "interrupted: no epoch finished: run the same command again, without --resume"
    assert not (tmp_path / "first" / LAST).exists()
    _interrupt_at_pass(monkeypatch, 3)
    code, _, stderr = _train(builtin_dataset, tmp_path / "first", "--epochs", "2")  # the same command again, as told
    assert code == 130 and "run the same command with --resume" in stderr
    assert load_checkpoint(tmp_path / "first" / LAST)["epoch"] == 0


def test_resuming_with_other_options_names_the_first_that_differs(builtin_dataset: Path, tmp_path: Path) -> None:
    assert _train(builtin_dataset, tmp_path)[0] == 0
    for options, difference in (
        (["--model", "cnn"], "--model was mlp, now cnn"),
        (["--set", "dropout=0.1"], "--set dropout was not given, now 0.1"),
        (["--lr", "0.01"], "--lr was 0.001, now 0.01"),
    ):
        code, _, stderr = _train(builtin_dataset, tmp_path, "--epochs", "2", "--resume", *options)
        assert code == 1 and f"was trained with other settings ({difference}): resume it with the same options" in stderr


def test_a_damaged_checkpoint_is_called_truncated_or_corrupt(tiny_model: Path, tmp_path: Path) -> None:
    whole = (tiny_model / "model.pt").read_bytes()
    for name, content in (("half.pt", whole[: len(whole) // 2]), ("empty.pt", b"")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(SynthgenError, match=rf"{name} is truncated or corrupt \({len(content)} bytes, .*\): copy it again"):
            load_checkpoint(tmp_path / name)
    (tmp_path / "notes.pt").write_text("not a model\n")
    with pytest.raises(SynthgenError, match="notes.pt is not a synthgen model checkpoint"):
        load_checkpoint(tmp_path / "notes.pt")
    np.savez(tmp_path / "arrays.npz", x=np.zeros(3))  # a whole zip archive, but not torch's: copying it again would not help
    with pytest.raises(SynthgenError, match="arrays.npz is not a synthgen model checkpoint"):
        load_checkpoint(tmp_path / "arrays.npz")


def test_evaluating_a_model_on_its_training_data_warns_on_stderr_even_when_quiet(
    tiny_model: Path, builtin_dataset: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    args = ["evaluate", "--model", str(tiny_model), "--data", str(builtin_dataset), "--max-rows", "4", "--out", str(tmp_path), "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: vae_flow_post was trained on {builtin_dataset / 'dataset.h5'}: its scores are not on held-out sounds"]


def test_a_run_resumed_for_more_epochs_keeps_the_schedule_it_started_with(
    builtin_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = ["--model", "vae", "--set", "channels=4", "--set", "conv_layers=2", "--set", "hidden=16"]
    base = ["train", "--data", str(builtin_dataset), "--out", str(tmp_path), "--batch-size", "32", "-q", *options]
    first = CliRunner().invoke(main, [*base, "--epochs", "4"])
    assert first.exit_code == 0 and "rows: a model needs thousands to be of use" in first.stderr, first.output
    _interrupt_at_pass(monkeypatch, 5)  # two more epochs of the forty asked for
    assert CliRunner().invoke(main, [*base, "--epochs", "40", "--resume"]).exit_code == 130
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    # warmed up on the 4-epoch run's schedule (beta over 4 // 4 = 1 epoch), not a 40-epoch one restarted (over 10)
    assert [float(r["beta"]) for r in rows[3:]] == [1.0, 1.0, 1.0]
    assert float(rows[5]["gamma"]) == pytest.approx(float(rows[3]["gamma"]))
    recorded = json.loads((tmp_path / "run.json").read_text())["settings"]
    assert recorded["beta_warmup_epochs"] == 1 and recorded["gamma_warmup_epochs"] == 1 and recorded["param_weight"] > 0
