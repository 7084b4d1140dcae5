"""Every command of the README's pipeline table, run in order as a user would (smaller sizes)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from synthgen.presets.amsynth_bank import SHIPPED_BANK_DIR

from .conftest import AMSYNTH

ROOT = Path(__file__).resolve().parent.parent
# README sizes -> test sizes; commands that train get a tiny network.
SMALLER = [
    (r"--n 10000", "--n 48"),
    (r"--n 300", "--n 12"),
    (r"--jobs 2", "--jobs 1"),
    (r"--steps \d+", "--steps 3"),
    (r"^(synthgen train .*)$", r"\1 --epochs 1 --batch-size 16 --set channels=8 --set conv_layers=3 --set hidden=32"),
    (r"^(synthgen explore .*)$", r"\1 --steps 2"),
    (r"^(synthgen evaluate .*)$", r"\1 --max-rows 4"),
]


def readme_commands() -> list[str]:
    """The command of each row of the pipeline table, in order."""
    table = (ROOT / "README.md").read_text().split("## The pipeline", 1)[1].split("\n\n", 2)[1]
    return [m.group(1) for row in table.splitlines()[2:] if (m := re.search(r"`(synthgen [^`]+)`", row))]


def test_the_table_lists_every_step() -> None:
    commands = readme_commands()
    for name in (
        "info",
        "render",
        "dataset info",
        "train",
        "resynth",
        "play",
        "evaluate",
        "macro",
        "interpolate",
        "sketch",
        "explore",
        "presets",
    ):
        assert any(c.startswith(f"synthgen {name}") for c in commands), name


def _serve_answers_then_stops(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Start ``synthgen serve``, wait for its page to answer, then stop it with Ctrl-C as a user would."""
    server = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.communicate()[1][-2000:]
            try:
                with urllib.request.urlopen("http://127.0.0.1:8000/", timeout=5) as page:
                    assert page.status == 200 and b"synthgen" in page.read()
                break
            except OSError:
                assert time.monotonic() < deadline, "synthgen serve did not answer within 180 s"
                time.sleep(1)
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr[-2000:]


@pytest.mark.slow
@pytest.mark.skipif(not AMSYNTH.exists() or not SHIPPED_BANK_DIR.is_dir(), reason="Debian package amsynth is not installed")
def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    banks = tmp_path / "banks"
    banks.mkdir()
    shutil.copy(SHIPPED_BANK_DIR / "amsynth_factory.bank", banks)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in readme_commands():
        for pattern, replacement in SMALLER:
            command = re.sub(pattern, replacement, command)
        command = command.replace(str(SHIPPED_BANK_DIR), str(banks))
        args = [sys.executable, "-m", "synthgen", *command.split()[1:]]
        if command.startswith("synthgen serve"):
            _serve_answers_then_stops(args, tmp_path, env)
            continue
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr
    for written in (
        "data/builtin/dataset.h5",
        "builtin.png",
        "runs/vfp/model.pt",
        "out",
        "cello_c3_preset_played.wav",
        "evaluation/results.md",
        "macro",
        "interpolate",
        "sketch",
        "explore",
    ):
        assert (tmp_path / written).exists(), written
