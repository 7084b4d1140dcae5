"""Size of the base install: a fresh venv with ``pip install .`` (no extras), and whether any torch or CUDA package came with it.

Target: <= 800 MB on disk, with no torch, nvidia-* or triton package.

Usage: python -m benchmarks.install_size [--keep .venv-base] [--out benchmarks/results/install_size.json]
(``--keep`` leaves the venv there, e.g. for ``python -m benchmarks.resynth_latency --python .venv-base/bin/python``.)
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import report

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "nvidia", "triton")


def folder_mb(path: Path) -> float:
    """Bytes of the regular files under ``path`` (symlinks not followed), in MB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def build_venv(venv: Path) -> tuple[float, list[str]]:
    """Create ``venv``, install the base package; returns install seconds and the installed distribution names."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "-q", "--disable-pip-version-check", str(REPO)], check=True)
    seconds = time.perf_counter() - start
    listed = subprocess.run([*pip, "list", "--format", "json"], check=True, capture_output=True, text=True).stdout
    return seconds, sorted(p["name"].lower() for p in json.loads(listed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="Build the venv here and leave it.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/install_size.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        venv = args.keep or Path(tmp) / "venv"
        seconds, packages = build_venv(venv)
        size = folder_mb(venv)
        heavy = [p for p in packages if p.startswith(HEAVY)]
        site = next(venv.glob("lib/python*/site-packages"))
        largest = sorted(((folder_mb(d), d.name) for d in site.iterdir() if d.is_dir()), reverse=True)
    rows = [
        {"what": "base venv on disk (MB)", "value": size, "target": 800.0},
        {"what": "torch / CUDA packages", "value": len(heavy), "target": 0, "names": " ".join(heavy)},
        {"what": "distributions installed", "value": len(packages), "target": ""},
        {"what": "install seconds", "value": seconds, "target": ""},
    ]
    rows += [{"what": f"  {name} (MB)", "value": mb, "target": ""} for mb, name in largest[:8]]
    report("install_size", rows, args.out)


if __name__ == "__main__":
    main()
