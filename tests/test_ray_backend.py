"""Rendering on Ray (a local two-CPU instance): same rows as the local backend, worker and driver kills, errors."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from synthgen.dataset import open_dataset, render_dataset
from synthgen.dataset.storage import SHARD_DIR
from synthgen.errors import SynthgenError

N, CHUNK, SEED = 96, 8, 7


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in synth rendered by the local backend."""
    from synthgen.config import load_config

    out = tmp_path_factory.mktemp("local") / "data"
    render_dataset(load_config("builtin"), out, n=N, seed=SEED, jobs=1, chunk_size=CHUNK, progress=False)
    return out


@pytest.fixture(scope="module")
def local_ray():
    """A two-CPU Ray instance in this process, shut down after the module's tests."""
    import logging

    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def _assert_same_rows(path: Path, reference: Path, n_rows: int = N) -> None:
    """``path`` holds rows 0 .. n_rows - 1 once each, and its first N rows are the reference's."""
    with open_dataset(path) as data, open_dataset(reference) as ref:
        ids = data.read("row_id")
        np.testing.assert_array_equal(np.sort(ids), np.arange(n_rows))
        order, ref_order = np.argsort(ids)[:N], np.argsort(ref.read("row_id"))
        np.testing.assert_array_equal(data.read("params_unit")[order], ref.read("params_unit")[ref_order])
        np.testing.assert_allclose(data.read("mel")[order], ref.read("mel")[ref_order], atol=1e-3)


def _descendants(root: int) -> list[tuple[int, str]]:
    """Every process below ``root``, as (pid, command line)."""
    listing = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,args="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[tuple[int, str]]] = {}
    for line in listing.splitlines():
        pid, ppid, *args = line.split(None, 2)
        children.setdefault(int(ppid), []).append((int(pid), args[0] if args else ""))
    found, stack = [], [root]
    while stack:
        for pid, args in children.get(stack.pop(), []):
            found.append((pid, args))
            stack.append(pid)
    return found


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# first: it starts Ray in a subprocess, before this process starts its own
@pytest.mark.slow
def test_kill_the_ray_driver_then_resume_gives_the_same_rows(reference: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "data"
    cmd = [sys.executable, "-m", "synthgen.cli", "render", "--synth", "builtin", "--n", str(N), "--seed", str(SEED)]
    cmd += ["--chunk-size", str(CHUNK), "--out", str(out), "--backend", "ray", "--jobs", "1"]
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 180
        while len(list((out / SHARD_DIR).glob("chunk-*.h5"))) < 2 and time.time() < deadline:
            time.sleep(0.02)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        # the Ray processes the killed driver started: end them as a cluster's nodes would
        os.killpg(driver.pid, signal.SIGKILL)
    assert not (out / "dataset.h5").exists()
    done = len(list((out / SHARD_DIR).glob("chunk-*.h5")))
    assert 2 <= done < N // CHUNK
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _assert_same_rows(out, reference)


def test_ray_renders_the_same_rows_as_the_local_backend(local_ray, reference: Path, tmp_path: Path) -> None:
    from synthgen.config import load_config

    config = load_config("builtin")
    for collect in (False, True):
        out = tmp_path / f"collect-{collect}"
        render_dataset(config, out, n=N, seed=SEED, chunk_size=CHUNK, progress=False, backend="ray", collect=collect)
        _assert_same_rows(out, reference)
        with open_dataset(out) as data:
            assert data.metadata["render_run"]["backend"] == "ray" and data.metadata["render_run"]["chunks_retried"] == 0
            assert data.metadata["render_run"]["ray"]
    assert local_ray.is_initialized()


@pytest.mark.slow
def test_kill_9_a_ray_worker_mid_render_still_gives_n_rows(local_ray, reference: Path, tmp_path: Path) -> None:
    from synthgen.config import load_config

    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        """Once a first shard is written (the workers are up), kill -9 a worker that has spent 0.1 s of CPU
        on its chunk since it was first seen busy with it: it is rendering, so it has reported its start
        (a worker killed before that leaves no trace of the attempt, by design, however long it waited)."""
        busy_from: dict[int, float] = {}
        deadline = time.time() + 120
        while not any((out / SHARD_DIR).glob("chunk-*.h5")) and time.time() < deadline:
            time.sleep(0.01)
        while not killed and time.time() < deadline:
            busy = {pid for pid, args in _descendants(os.getpid()) if args.startswith("ray::_render_task")}
            busy_from = {pid: busy_from[pid] if pid in busy_from else _cpu_s(pid) for pid in busy}
            for pid, cpu in busy_from.items():
                if _cpu_s(pid) - cpu > 0.1:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.01)

    out = tmp_path / "data"
    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    # long chunks, and many, so that a worker is caught busy with one
    render_dataset(load_config("builtin"), out, n=2 * N, seed=SEED, chunk_size=4 * CHUNK, progress=False, backend="ray")
    killer.join()
    assert killed
    _assert_same_rows(out, reference, 2 * N)
    with open_dataset(out) as data:
        assert data.metadata["render_run"]["chunks_retried"] >= 1


def test_ray_options_need_the_ray_backend(tmp_path: Path) -> None:
    from synthgen.config import load_config

    with pytest.raises(SynthgenError, match="need --backend ray"):
        render_dataset(load_config("builtin"), tmp_path / "d", n=4, collect=True, progress=False)
    with pytest.raises(SynthgenError, match="unknown render backend 'dask'"):
        render_dataset(load_config("builtin"), tmp_path / "d", n=4, backend="dask", progress=False)


def test_missing_ray_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthgen.config import load_config

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SynthgenError, match=r"pip install synthgen\[ray\]"):
        render_dataset(load_config("builtin"), tmp_path / "d", n=4, backend="ray", progress=False)


def test_an_address_where_nothing_listens_fails_at_once(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "synthgen", "render", "--n", "4", "--out", str(tmp_path / "d"), "--backend", "ray"]
    start = time.monotonic()
    done = subprocess.run([*cmd, "--address", f"ray://127.0.0.1:{port}"], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < 60  # Ray's own retries take minutes
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"nothing answers at --address ray://127.0.0.1:{port}" in done.stderr
    assert not (tmp_path / "d").exists()
