"""A model file never chooses which native code runs: its plugin comes from the user's configs and flags."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.model import DEFAULT_MODEL, load_model
from synthgen.synths.loading import load_plugin

from .conftest import AMSYNTH

MARKER = "native_code_ran"
# A shared library that leaves a file behind the moment it is loaded.
MARKER_SOURCE = (
    f'#include <stdio.h>\n__attribute__((constructor)) static void mark(void) {{ FILE *f = fopen("{MARKER}", "w"); if (f) fclose(f); }}\n'
)

needs_compiler = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
needs_shipped_model = pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="no shipped model in models/")


def _marker_library(folder: Path, name: str) -> Path:
    source = folder / "marker.c"
    source.write_text(MARKER_SOURCE)
    library = folder / name
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def _model_naming_plugin(folder: Path, synth_name: str, plugin_file: str) -> Path:
    """The shipped model, re-saved with a synth config that names a plugin file next to the model."""
    payload = torch.load(DEFAULT_MODEL, weights_only=True)
    space = load_config("builtin").space
    learned = [
        {"name": s.name, "kind": s.kind, "steps": s.n_classes} if s.n_classes else {"name": s.name, "range": [0.0, 1.0]}
        for s in space.specs
    ]
    config = dict(payload["synth_config"], name=synth_name, backend="plugin", learned=learned, fixed={})
    config["plugin"] = {"file": plugin_file, "search_paths": ["."]}
    config.pop("dsp", None)
    path = folder / "model.pt"
    torch.save({**payload, "synth_config": config}, path)
    return path


def _sound(path: Path) -> Path:
    t = np.arange(22050 * 2) / 22050
    sf.write(path, 0.3 * np.sin(2 * np.pi * 220 * t), 22050)
    return path


@needs_compiler
def test_marker_library_runs_code_when_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture itself: loading the library as a plugin does run its code (so the tests below can fail)."""
    monkeypatch.chdir(tmp_path)
    library = _marker_library(tmp_path, "marker.so")
    with pytest.raises(SynthgenError):
        load_plugin(library)
    assert (tmp_path / MARKER).exists()


@needs_compiler
@needs_shipped_model
@pytest.mark.parametrize(
    "command",
    [
        ["resynth", "{sound}"],
        ["macro", "--dims", "0", "--steps", "2"],
        ["interpolate", "{sound}", "{sound}"],
        ["sketch", "{sound}"],
        ["explore", "--dims", "0", "1", "--steps", "2"],
        ["evaluate", "--audio-dir", "{sounds}"],
    ],
)
def test_model_naming_a_plugin_next_to_it_loads_nothing(command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    _marker_library(bundle, "evil.so")
    model = _model_naming_plugin(bundle, "evil", "evil.so")
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    sound = _sound(sounds / "a.wav")
    monkeypatch.chdir(bundle)
    args = [a.format(sound=sound, sounds=sounds) for a in command] + ["--model", str(model), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: synth 'evil' has no config here"), result.output
    assert not (bundle / MARKER).exists()


@needs_compiler
@needs_shipped_model
def test_model_naming_a_shipped_synth_gets_the_shipped_plugin_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that calls itself 'amsynth' and points at ./amsynth_vst.so gets the amsynth config's folders instead."""
    _marker_library(tmp_path, "amsynth_vst.so")
    model = load_model(_model_naming_plugin(tmp_path, "amsynth", "amsynth_vst.so"))
    assert model.config.search_paths == load_config("amsynth").search_paths
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["resynth", str(_sound(tmp_path / "a.wav")), "--model", str(tmp_path / "model.pt"), "--out", "o"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    # the real amsynth (when installed) refuses the model's parameter names; the file next to the model never loads
    expected = "unknown parameter" if AMSYNTH.exists() else "not found in"
    assert expected in result.output
    assert not (tmp_path / MARKER).exists()


@needs_compiler
@needs_shipped_model
def test_plugin_given_by_the_user_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--plugin is the user's choice: that file is what gets loaded."""
    library = _marker_library(tmp_path, "evil.so")
    model = _model_naming_plugin(tmp_path, "evil", "evil.so")
    monkeypatch.chdir(tmp_path)
    args = ["resynth", str(_sound(tmp_path / "a.wav")), "--model", str(model), "--plugin", str(library), "--out", "o"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "is not a VST2/VST3 plugin" in result.output
    assert (tmp_path / MARKER).exists()


@needs_shipped_model
def test_faust_model_with_foreign_functions_is_refused(tmp_path: Path) -> None:
    payload = torch.load(DEFAULT_MODEL, weights_only=True)
    config = dict(payload["synth_config"])
    config["dsp"] = config["dsp"] + '\nnothing = ffunction(int abort(), <stdlib.h>, "");\n'
    torch.save({**payload, "synth_config": config}, tmp_path / "model.pt")
    with pytest.raises(SynthgenError, match="foreign"):
        load_model(tmp_path / "model.pt")
    assert load_model(DEFAULT_MODEL).config.backend == "faust"  # a plain Faust model loads as before


@needs_compiler
@needs_shipped_model
def test_onnx_export_of_such_a_model_loads_nothing_either(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ONNX sidecar carries the synth config too: the same rule applies to it."""
    from synthgen.train.export import export_onnx

    _marker_library(tmp_path, "evil.so")
    model = _model_naming_plugin(tmp_path, "evil", "evil.so")
    export_onnx(model)
    loaded = load_model(model, backend="onnx")
    assert loaded.backend == "onnx" and loaded.config.search_paths == ()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["resynth", str(_sound(tmp_path / "a.wav")), "--model", str(model), "--out", "o"])
    assert result.exit_code != 0 and "synth 'evil' has no config here" in result.output
    assert not (tmp_path / MARKER).exists()
