"""A plugin that aborts, segfaults or hangs: the render names the preset, retries it, skips and records it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from synthgen.config import SynthConfig, load_config
from synthgen.dataset import open_dataset, render_dataset
from synthgen.dataset.chunks import MAX_ATTEMPTS
from synthgen.dataset.sampling import HumanPresets, UniformPresets
from synthgen.dataset.summary import describe_dataset
from synthgen.dataset.workers import MAX_PRESET_TRIES

from .conftest import requires_amsynth
from .test_vst3 import write_config

AMSYNTH_BANKS = Path("/usr/share/amsynth/banks")
# The test synth faults (when SYNTHGEN_TEST_FAULT is set) for Resonance above 0.855 of its 0..0.95 range.
FAULT_ABOVE = 0.9


def faulty_config(tmp_path: Path, plugin_path: Path) -> SynthConfig:
    return load_config(write_config(tmp_path, plugin_path, third="Resonance"))


def expected_failures(config: SynthConfig, n: int, seed: int) -> set[tuple[int, int]]:
    """The (row, draw) pairs that cross the fault threshold before a row gets a draw that does not."""
    source = UniformPresets(config.space, seed, n)
    k = config.space.names.index("Resonance")
    failing = set()
    for row in range(n):
        for attempt in range(MAX_ATTEMPTS + 1):
            if config.space.from_unit(source.items(np.array([row]), attempt)[0])[0, k] <= FAULT_ABOVE:
                break
            failing.add((row, attempt))
    return failing


def seed_with_faults(config: SynthConfig, n: int, count: int) -> int:
    """The first seed whose n rows hold exactly ``count`` faulting draws."""
    return next(s for s in range(100) if len(expected_failures(config, n, s)) == count)


def check_recorded(out: Path, config: SynthConfig, n: int, seed: int, reason: str) -> None:
    expected = expected_failures(config, n, seed)
    failed = json.loads((out / "failed_presets.json").read_text())
    assert {(f["row"], f["attempt"]) for f in failed} == expected
    assert all(reason in f["reason"] and f["params"]["Resonance"] > FAULT_ABOVE for f in failed)
    with open_dataset(out) as data:
        assert len(data) == n
        np.testing.assert_array_equal(np.sort(data.read("row_id")), np.arange(n))
        resonance = data.read("params_value")[:, config.space.names.index("Resonance")]
        assert resonance.max() <= FAULT_ABOVE
        assert data.metadata["counts"]["n_failed"] == len(expected)
    summary = describe_dataset(out)
    assert f"{len(expected)} failed" in summary and "crashed or hung the synth (listed in failed_presets.json)" in summary


@pytest.mark.parametrize(("fault", "jobs", "reason"), [("abort", 1, "SIGABRT"), ("segv", 2, "SIGSEGV")])
def test_crashing_preset_is_retried_then_skipped_and_recorded(
    fault: str, jobs: int, reason: str, plugin_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:
    monkeypatch.setenv("SYNTHGEN_TEST_FAULT", fault)
    config = faulty_config(tmp_path, plugin_path)
    seed = seed_with_faults(config, 12, 1)
    (row, attempt), *_ = expected_failures(config, 12, seed)
    render_dataset(config, tmp_path / "d", n=12, seed=seed, jobs=jobs, chunk_size=6, progress=False)
    check_recorded(tmp_path / "d", config, 12, seed, reason)
    err = capfd.readouterr().err
    assert f"preset row {row} (uniform random-{row}, draw {attempt}): " in err
    assert f"crashed ({reason}); trying it again (1 of {MAX_PRESET_TRIES})" in err
    assert f"it crashed ({reason}) {MAX_PRESET_TRIES} times; recorded in the dataset" in err


def test_hanging_preset_times_out_and_is_recorded(plugin_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    monkeypatch.setenv("SYNTHGEN_TEST_FAULT", "hang")
    config = faulty_config(tmp_path, plugin_path)
    seed = seed_with_faults(config, 8, 1)
    render_dataset(config, tmp_path / "d", n=8, seed=seed, chunk_size=4, progress=False, render_timeout_s=1.5)
    check_recorded(tmp_path / "d", config, 8, seed, "hung (no sound after 1.5 s)")
    assert "hung (no sound after 1.5 s); trying it again" in capfd.readouterr().err


def test_crash_on_the_command_line_is_a_message_not_an_exit_134(plugin_path: Path, tmp_path: Path) -> None:
    config_file = write_config(tmp_path, plugin_path, third="Resonance")
    seed = seed_with_faults(load_config(config_file), 6, 1)
    cmd = [sys.executable, "-m", "synthgen.cli", "render", "--synth", str(config_file), "--n", "6", "--seed", str(seed)]
    cmd += ["--jobs", "1", "--out", str(tmp_path / "d")]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "SYNTHGEN_TEST_FAULT": "abort"}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "crashed (SIGABRT); trying it again" in done.stderr
    assert "1 failed" in done.stdout and "failed_presets.json" in done.stdout


def _children(pid: int) -> set[int]:
    """Every process whose parent is ``pid``."""
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_render_leaves_no_worker(plugin_path: Path, tmp_path: Path) -> None:
    # The workers hang in the plugin, so only their parent's death can end them.
    config_file = write_config(tmp_path, plugin_path, third="Resonance")
    cmd = [sys.executable, "-m", "synthgen.cli", "render", "--synth", str(config_file), "--n", "400", "--jobs", "2"]
    cmd += ["--render-timeout-s", "600", "--out", str(tmp_path / "d")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "SYNTHGEN_TEST_FAULT": "hang"})
    deadline = time.time() + 120
    while len(_children(proc.pid)) < 2 and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)


def test_jobs_beyond_the_cpus_are_capped_with_a_notice(tmp_path: Path, capfd) -> None:
    render_dataset(load_config("builtin"), tmp_path / "d", n=2, jobs=1000, progress=False)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # two rows make one chunk: one worker renders it, however many CPUs there are
    assert f"--jobs 1000 is more than the {cpus} CPUs here: rendering with 1 worker\n" in capfd.readouterr().err
    with open_dataset(tmp_path / "d") as data:
        assert len(data) == 2


@requires_amsynth
def test_amsynth_nan_render_does_not_poison_the_next(amsynth_config: SynthConfig, tmp_path: Path) -> None:
    from synthgen.presets.human import load_human_presets
    from synthgen.synths.loading import load_synth
    from synthgen.synths.rendering import render_unit

    # A random preset near the factory preset MrTom2 that drives amsynth's filter to NaN.
    banks = load_human_presets([AMSYNTH_BANKS], amsynth_config)
    around = banks.source(0, 3, 0.1)
    item = 3 * next(i for i, (b, n) in enumerate(zip(banks.banks, banks.names, strict=True)) if "BriansBank03" in b and n == "MrTom2")
    nan_preset = around.items(np.array([item]), 0)[0]
    others = amsynth_config.space.sample(3, np.random.default_rng(0))
    audio = render_unit(load_synth(amsynth_config), amsynth_config, np.concatenate([nan_preset, others]))
    assert not np.isfinite(audio[0]).all()
    assert np.isfinite(audio[1:]).all()
    # In a dataset of human presets the NaN one is dropped as broken and the others are kept.
    source = HumanPresets(amsynth_config.space, 0, np.concatenate([nan_preset, others]), ("bank",) * 4, ("nan", "a", "b", "c"))
    render_dataset(amsynth_config, tmp_path / "d", source=source, progress=False)
    with open_dataset(tmp_path / "d") as data:
        assert data.read("source_preset").tolist() == ["a", "b", "c"]
        assert data.metadata["counts"]["n_broken"] == 1


@requires_amsynth
@pytest.mark.slow
def test_render_around_every_amsynth_bank_finishes(tmp_path: Path) -> None:
    # Some of these 10,446 presets render NaN; before the plugin was recreated, every later one did too.
    cmd = [sys.executable, "-m", "synthgen.cli", "render", "--synth", "amsynth", "--presets", str(AMSYNTH_BANKS)]
    cmd += ["--around-presets", "3", "--spread", "0.1", "--jobs", "2", "--out", str(tmp_path / "d")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-2000:]
    with open_dataset(tmp_path / "d") as data:
        assert len(data) == data.metadata["n_rows_planned"]
        assert data.metadata["counts"]["n_broken"] >= 1
