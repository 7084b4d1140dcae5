"""DawDreamer that is missing or cannot load (a system library it needs is absent) ends a command with one clear line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.errors import SynthgenError
from synthgen.synths.host import import_dawdreamer

REPO = Path(__file__).resolve().parents[1]


def test_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dawdreamer", None)
    with pytest.raises(SynthgenError, match="is not installed: pip install"):
        import_dawdreamer()


@pytest.mark.parametrize("args", [["info", "--synth", "builtin"], ["render", "--synth", "builtin", "--n", "2", "--out", "{tmp}/data"]])
def test_missing_system_library(tmp_path: Path, args: list[str]) -> None:
    # A dawdreamer that fails as the real one does on a machine without libGL, found before the real one.
    fake = tmp_path / "site" / "dawdreamer"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(REPO)])}
    command = [sys.executable, "-m", "synthgen", *(a.format(tmp=tmp_path) for a in args)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "cannot load: libGL.so.1" in lines[0] and "apt-get install libgl1" in lines[0]
