"""The CLI starts light, and resynthesis with a shipped model runs without torch, matplotlib, librosa or scipy.signal."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

# Run the CLI in-process, then report which of the heavy modules it imported.
_PROBE = """
import sys
from synthgen.cli import main
heavy = ("torch", "matplotlib", "librosa", "scipy.signal", "numba", "h5py")
at_start = [m for m in heavy + ("dawdreamer", "onnxruntime") if m in sys.modules]
main(sys.argv[1:], standalone_mode=False)
print("start", *at_start)
print("after", *[m for m in heavy if m in sys.modules])
"""


def _probe(*args: str) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True)
    return {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line.split()[:1] in (["start"], ["after"])}


def test_resynth_without_a_figure_imports_no_heavy_module(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    sf.write(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 44100)
    seen = _probe("resynth", str(tmp_path / "tone.wav"), "--out", str(tmp_path / "out"), "--note", "57", "--budget", "0")
    assert seen == {"start": [], "after": []}
    assert (tmp_path / "out" / "tone_resynth.wav").is_file() and not (tmp_path / "out" / "tone_compare.png").exists()
    # the default: the pitch tracked (no --note) and a search with cma, still nothing heavy
    seen = _probe("resynth", str(tmp_path / "tone.wav"), "--out", str(tmp_path / "default"))
    assert seen == {"start": [], "after": []}
    assert (tmp_path / "default" / "tone_resynth.wav").is_file()


def test_help_imports_nothing_heavy() -> None:
    assert _probe("--help") == {"start": [], "after": []}


def test_without_optional_packages_shipped_models_run_and_commands_say_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = sys.modules['matplotlib'] = sys.modules['fastapi'] = None  # as if none were installed\n"
        "from click.testing import CliRunner\n"
        "from synthgen.cli import main\n"
        "from synthgen.model import DEFAULT_MODEL, load_model\n"
        "print(load_model(DEFAULT_MODEL).backend)\n"
        f"result = CliRunner().invoke(main, ['train', '--data', {str(tmp_path)!r}, '--out', {str(tmp_path / 'run')!r}])\n"
        "print(result.exit_code, result.output.strip())\n"
        f"result = CliRunner().invoke(main, ['evaluate', '--model', str(DEFAULT_MODEL), '--data', {str(tmp_path)!r}])\n"
        "print(result.exit_code, result.output.strip())\n"
        "result = CliRunner().invoke(main, ['serve'])\n"
        "print(result.exit_code, result.output.strip())\n"
        f"result = CliRunner().invoke(main, ['resynth', {str(tmp_path / 'nowhere.wav')!r}, '--page'])\n"
        "print(result.exit_code, result.output.strip())\n"
    )
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines[0] == "onnx"
    assert lines[1] == "1 Error: this needs torch, which is not installed: pip install 'synthgen[train]' (see README)"
    # a command that draws figures stops before its work (here: before finding that the dataset is empty)
    assert lines[2] == "1 Error: this needs matplotlib, which is not installed: pip install 'synthgen[plots]' (see README)"
    assert lines[3] == "1 Error: this needs fastapi, which is not installed: pip install 'synthgen[serve]' (see README)"
    assert lines[4] == lines[2]  # resynth --page says so before it searches
