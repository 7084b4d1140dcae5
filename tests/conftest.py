"""Shared fixtures: the real amsynth plugin and small rendered datasets."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

# Tiny models gain nothing from threads, and oversubscribed threads make them many times slower.
torch.set_num_threads(1)

AMSYNTH = Path("/usr/lib/vst/amsynth_vst.so")

requires_amsynth = pytest.mark.skipif(not AMSYNTH.exists(), reason="Debian package amsynth is not installed")

BUILD_SCRIPT = Path(__file__).parent / "fixtures" / "build_vst3.sh"
DPF_PATH = Path(os.environ.get("DPF_PATH", "/usr/share/dpf"))
PLUGIN_NAME = "SynthgenTestSynth.vst3"


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test VST3 synth of tests/fixtures/vst3_synth, compiled once per session."""
    if not (DPF_PATH / "distrho" / "DistrhoPluginMain.cpp").is_file():
        pytest.skip(f"the DISTRHO Plugin Framework is not in {DPF_PATH} (Debian package dpf-source)")
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        pytest.skip("no C++ compiler (g++) to build the test VST3 synth")
    out = tmp_path_factory.mktemp("vst3")
    build = subprocess.run(["sh", str(BUILD_SCRIPT), str(out)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    return out / PLUGIN_NAME


@pytest.fixture(scope="session")
def amsynth_config():
    from synthgen.config import load_config

    return load_config("amsynth")


@pytest.fixture(scope="session")
def builtin_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """96 uniform presets of the built-in synth, rendered once per test session."""
    from synthgen.config import load_config
    from synthgen.dataset import render_dataset

    out = tmp_path_factory.mktemp("data") / "builtin"
    render_dataset(load_config("builtin"), out, n=96, seed=0, jobs=1, chunk_size=32, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model(builtin_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch ``vae_flow_post`` run on the small built-in dataset (its run folder)."""
    from synthgen.train import TrainSettings, train_model

    run = tmp_path_factory.mktemp("run")
    settings = TrainSettings(model="vae_flow_post", epochs=1, batch_size=16, model_settings={"channels": 8, "conv_layers": 3, "hidden": 32})
    train_model(builtin_dataset, run, settings, progress=False)
    return run


@pytest.fixture
def fresh_copy(tmp_path: Path):
    """Copy a dataset folder so a test may damage it."""

    def copy(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        return dst

    return copy


# The serve tests: the shipped model, three of its knobs, and fresh instruments on them.
SERVE_KNOB_DIMS = (19, 20, 11)


@pytest.fixture(scope="session")
def serve_model():
    from synthgen.model import DEFAULT_MODEL, load_model

    return load_model(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def serve_knobs(serve_model):
    from synthgen.serve import choose_knobs
    from synthgen.synths.loading import load_synth

    return choose_knobs(serve_model, load_synth(serve_model.config), 3, SERVE_KNOB_DIMS)


@pytest.fixture
def make_instrument(serve_model, serve_knobs, tmp_path: Path):
    """Build instruments on the shipped model (closed after the test); keyword arguments go to Instrument."""
    from synthgen.serve import Instrument
    from synthgen.synths.loading import load_synth

    made = []

    def make(**kwargs):
        config = serve_model.config
        instrument = Instrument(serve_model, load_synth(config), serve_knobs, tmp_path / "presets", **kwargs)
        made.append(instrument)
        return instrument

    yield make
    for instrument in made:
        instrument.close()


def run_apart(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    """``synthgen ARGS`` in a process of its own, for commands that load a plugin: a plugin loaded in
    the test process stays loaded, and the Faust compiler aborts the process after some of them."""
    return subprocess.run([sys.executable, "-m", "synthgen", *args], capture_output=True, text=True, timeout=timeout_s)
