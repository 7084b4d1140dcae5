"""Shared fixtures: the real amsynth plugin and small rendered datasets."""

import shutil
from pathlib import Path

import pytest
import torch

# Tiny models gain nothing from threads, and oversubscribed threads make them many times slower.
torch.set_num_threads(1)

AMSYNTH = Path("/usr/lib/vst/amsynth_vst.so")

requires_amsynth = pytest.mark.skipif(not AMSYNTH.exists(), reason="Debian package amsynth is not installed")


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


@pytest.fixture
def fresh_copy(tmp_path: Path):
    """Copy a dataset folder so a test may damage it."""

    def copy(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        return dst

    return copy
