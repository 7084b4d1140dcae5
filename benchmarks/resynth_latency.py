"""Resynthesis latency: imports and model load + inference + re-render in one process; the whole ``synthgen resynth`` call.

Targets: the CLI call with the model alone (``--budget 0`` where resynth has a search) <= 1.5 s of wall
time on an idle machine, in an install without torch: pass ``--python`` of a base venv (see
``benchmarks.install_size --keep``). CPU seconds (user + system) are printed too: on a busy machine
they show what the call costs when wall time does not.

Usage: python -m benchmarks.resynth_latency [--python .venv-base/bin/python] [--model models/builtin_vae_flow_post/model.pt] [--repeats 3]
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import in_fresh_process, report


def make_input(path: str) -> dict:
    import numpy as np

    from synthgen.audio_io import write_wav
    from synthgen.config import load_config
    from synthgen.synths.loading import load_synth
    from synthgen.synths.rendering import render_unit

    config = load_config("builtin")
    unit = config.space.sample(1, np.random.default_rng(5))
    write_wav(path, render_unit(load_synth(config), config, unit)[0], config.render.sample_rate)
    return {}


def in_process(model: str, audio: str) -> dict:
    """Imports, then model load + inference + synth build + re-render, timed apart."""
    start = time.perf_counter()
    from synthgen.model import load_model
    from synthgen.uses.resynth import resynthesize

    imported = time.perf_counter()
    loaded = load_model(model)
    resynthesize(loaded, audio)
    return {"import_s": imported - start, "seconds": time.perf_counter() - imported, "backend": loaded.backend}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_call(python: str, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``python -m synthgen *args``."""
    cpu, start = _children_cpu_s(), time.perf_counter()
    subprocess.run([python, "-m", "synthgen", *args], check=True, capture_output=True)
    return time.perf_counter() - start, _children_cpu_s() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="Interpreter whose synthgen CLI is timed (a base venv: no torch).")
    parser.add_argument("--model", type=Path, default=None, help="Default: the shipped model.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/resynth_latency.json"))
    args = parser.parse_args()
    has_torch = subprocess.run([args.python, "-c", "import torch"], capture_output=True).returncode == 0
    helps = subprocess.run([args.python, "-m", "synthgen", "resynth", "--help"], capture_output=True, text=True, check=True).stdout
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        audio = str(Path(tmp) / "input.wav")
        in_fresh_process(make_input, audio)
        model = ["--model", str(args.model)] if args.model else []
        for k in range(args.repeats):
            res = in_fresh_process(in_process, str(args.model) if args.model else _default_model(), audio)
            rows.append({"what": "imports (this python)", "run": k, "seconds": res["import_s"]})
            rows.append({"what": f"load + infer + render ({res['backend']})", "run": k, "seconds": res["seconds"]})
        budget = ["--budget", "0"] if "--budget" in helps else []
        for k in range(args.repeats):
            wall, cpu = cli_call(args.python, ["resynth", audio, "--out", str(Path(tmp) / "out"), *model, *budget])
            what = f"synthgen resynth CLI ({'with' if has_torch else 'no'} torch installed)"
            rows.append({"what": what, "run": k, "seconds": wall, "cpu_s": cpu, "target_s": 1.5})
    report("resynth_latency", rows, args.out)


def _default_model() -> str:
    from synthgen.model import DEFAULT_MODEL

    return str(DEFAULT_MODEL)


if __name__ == "__main__":
    main()
