"""Every artifact a command writes names its format, synth, seed and the versions that wrote it."""

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from synthgen.audio_io import write_wav
from synthgen.cli import main
from synthgen.model import load_checkpoint


def _opens_with_provenance(document: dict, format: str, seed: int | None) -> None:
    assert document["format"] == format and document["synth"] == "builtin" and document["seed"] == seed
    assert document["versions"]["synthgen"] and document["versions"]["numpy"] and document["versions"]["python"]


def test_what_the_commands_write_records_format_synth_seed_and_versions(tiny_model: Path, builtin_dataset: Path, tmp_path: Path) -> None:
    t = np.arange(22050 * 2) / 22050
    write_wav(tmp_path / "a.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 22050)
    write_wav(tmp_path / "b.wav", 0.3 * np.sign(np.sin(2 * np.pi * 330 * t)), 22050)
    runner, model, a, b = CliRunner(), ["--model", str(tiny_model)], str(tmp_path / "a.wav"), str(tmp_path / "b.wav")
    commands = {
        "resynth": ["resynth", a, *model, "--budget", "14", "--seed", "4", "--out", str(tmp_path / "r")],
        "macro": ["macro", *model, "--dims", "0", "--steps", "3", "--out", str(tmp_path / "m")],
        "interpolate": ["interpolate", a, b, *model, "--steps", "3", "--out", str(tmp_path / "i")],
        "evaluate": ["evaluate", *model, "--data", str(builtin_dataset), "--max-rows", "2", "--seed", "5", "--out", str(tmp_path / "e")],
    }
    for name, args in commands.items():
        done = runner.invoke(main, args)
        assert done.exit_code == 0, f"{name}: {done.output}"
    read = lambda path: json.loads(path.read_text())  # noqa: E731
    _opens_with_provenance(read(tmp_path / "r" / "a_preset.json"), "synthgen-preset-1", 4)
    _opens_with_provenance(read(tmp_path / "m" / "macro.json"), "synthgen-macro-1", None)
    _opens_with_provenance(read(tmp_path / "i" / "interpolation.json"), "synthgen-interpolation-1", None)
    _opens_with_provenance(read(tmp_path / "e" / "results.json"), "synthgen-evaluation-1", 5)
    checkpoint, run = load_checkpoint(tiny_model / "model.pt"), read(tiny_model / "run.json")
    assert checkpoint["format"] == "synthgen-checkpoint-1" and checkpoint["seed"] == 0 and checkpoint["versions"]["torch"]
    assert run["format"] == "synthgen-run-1" and run["settings"]["seed"] == 0 and run["versions"]["torch"]
    assert read(tiny_model / "model.onnx.json")["seed"] == 0
