"""Dataset rendering with the real amsynth plugin: contents, determinism, resume after kill -9, errors."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from synthgen.dataset import open_dataset, render_dataset
from synthgen.dataset.chunks import check_renders
from synthgen.dataset.storage import shard_path
from synthgen.errors import SynthgenError

from .conftest import requires_amsynth


@pytest.fixture(scope="module")
def amsynth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthgen.config import load_config

    out = tmp_path_factory.mktemp("am") / "data"
    render_dataset(load_config("amsynth"), out, n=40, seed=3, jobs=2, chunk_size=8, with_audio=True, progress=False)
    return out


@requires_amsynth
def test_rows_have_sound_params_and_metadata(amsynth_data: Path) -> None:
    with open_dataset(amsynth_data) as data:
        assert len(data) == 40
        audio = data.read("audio")
        assert audio.shape == (40, 4 * 22050)
        rms = np.sqrt((audio**2).mean(axis=1))
        assert (rms > 1e-3).all()
        assert data.read("mel").shape == (40, 64, 80)
        unit = data.read("params_unit")
        assert unit.min() >= 0 and unit.max() <= 1 and unit.std() > 0.2
        np.testing.assert_allclose(data.space.from_unit(unit), data.read("params_value"), atol=1e-6)
        np.testing.assert_array_equal(np.sort(data.read("row_id")), np.arange(40))
        meta = data.metadata
        assert meta["seed"] == 3 and meta["format_version"] == 2 and data.config.name == "amsynth"
        assert meta["versions"]["dawdreamer"] and data.config.features.n_mels == 64
        # the config is stored once, not copied into other keys
        assert meta["config"]["name"] == "amsynth" and not {"space", "features", "render", "synth"} & set(meta)


@requires_amsynth
def test_same_seed_same_rows_whatever_jobs(amsynth_data: Path, tmp_path: Path, amsynth_config) -> None:
    render_dataset(amsynth_config, tmp_path / "one", n=40, seed=3, jobs=1, chunk_size=8, progress=False)
    with open_dataset(amsynth_data) as a, open_dataset(tmp_path / "one") as b:
        np.testing.assert_array_equal(a.read("params_unit"), b.read("params_unit"))
        # amsynth's LFOs and noise run free, so audio repeats closely but not bit for bit
        mel_a, mel_b = a.read("mel"), b.read("mel")
        same = np.abs(mel_a - mel_b).mean(axis=(1, 2))
        other = np.abs(mel_a - np.roll(mel_b, 1, axis=0)).mean(axis=(1, 2))
        assert np.median(same) < 0.25 * np.median(other)
    render_dataset(amsynth_config, tmp_path / "other", n=40, seed=4, jobs=1, chunk_size=8, progress=False)
    with open_dataset(amsynth_data) as a, open_dataset(tmp_path / "other") as c:
        assert not np.array_equal(a.read("params_unit"), c.read("params_unit"))


@requires_amsynth
def test_kill_9_then_resume_gives_exactly_n_rows(tmp_path: Path, amsynth_data: Path) -> None:
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "synthgen.cli", "render", "--synth", "amsynth", "--n", "40", "--seed", "3"]
    cmd += ["--chunk-size", "8", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not shard_path(out, 1).exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "dataset.h5").exists()
    done = sorted(p.name for p in (out / "shards").glob("chunk-*.h5"))
    assert 0 < len(done) < 5
    with pytest.raises(SynthgenError, match=rf"incomplete \({len(done)} of 5 shards rendered\); run the same"):
        open_dataset(out)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open_dataset(out) as data, open_dataset(amsynth_data) as ref:
        ids = data.read("row_id")
        assert len(ids) == 40 and len(set(ids)) == 40
        np.testing.assert_array_equal(data.read("params_unit"), ref.read("params_unit"))


@requires_amsynth
def test_a_change_that_does_not_touch_the_sound_keeps_the_folder(amsynth_data: Path, amsynth_config, fresh_copy) -> None:
    # the volume control and the search budget change no rendered sound: a render resumes (here: finds it done)
    folder = fresh_copy(amsynth_data)
    other = dataclasses.replace(amsynth_config, volume=None, search_budget=amsynth_config.search_budget + 7)
    render_dataset(other, folder, n=40, seed=3, jobs=2, chunk_size=8, with_audio=True, progress=False)
    with open_dataset(folder) as data:
        assert len(data.read("row_id")) == 40
    assert json.loads((folder / "manifest.json").read_text())["settings"]["config"] == other.rendering_dict()


@requires_amsynth
def test_other_settings_in_same_folder_are_refused(amsynth_data: Path, amsynth_config, fresh_copy) -> None:
    folder = fresh_copy(amsynth_data)
    with pytest.raises(SynthgenError, match="other settings .*seed"):
        render_dataset(amsynth_config, folder, n=40, seed=5, chunk_size=8, progress=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["settings"]["seed"] == 3


@requires_amsynth
def test_bad_outputs_and_counts(tmp_path: Path, amsynth_config) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(SynthgenError, match="is a file"):
        render_dataset(amsynth_config, file, n=4, progress=False)
    with pytest.raises(SynthgenError, match="at least 1"):
        render_dataset(amsynth_config, tmp_path / "d", n=0, progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(SynthgenError, match="not empty"):
        render_dataset(amsynth_config, tmp_path / "busy", n=4, progress=False)


def test_silent_and_broken_renders_are_flagged() -> None:
    audio = np.zeros((4, 1000), dtype=np.float32)
    audio[1] = 0.1
    audio[2, 3] = np.nan
    audio[3] = 1e4
    silent, broken = check_renders(audio)
    assert silent.tolist() == [True, False, False, False]
    assert broken.tolist() == [False, False, True, True]


def test_missing_and_empty_datasets(tmp_path: Path) -> None:
    with pytest.raises(SynthgenError, match="no dataset"):
        open_dataset(tmp_path / "nothing")
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(SynthgenError, match="not a synthgen dataset"):
        open_dataset(tmp_path / "junk.h5")


def test_a_render_into_a_folder_another_render_holds_is_refused(tmp_path: Path) -> None:
    import fcntl

    from synthgen.config import load_config
    from synthgen.dataset.manifest import LOCK_FILE

    config, out = load_config("builtin"), tmp_path / "d"
    render_dataset(config, out, n=8, chunk_size=4, progress=False)
    with (out / LOCK_FILE).open("a") as held:  # as a render running in another process holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SynthgenError, match="another render is writing to"):
            render_dataset(config, out, n=16, chunk_size=4, progress=False)
    render_dataset(config, out, n=16, chunk_size=4, progress=False)  # released, as when that process ends
    with open_dataset(out) as data:
        assert len(data) == 16
