"""Resynthesis latency: imports; model load + inference + re-render of one 3 s sound in-process; the whole CLI call.

Targets: under 1 s in-process; under 3 s for ``synthgen resynth`` end to end.

Usage: python -m benchmarks.resynth_latency [--model models/builtin_vae_flow_post/model.pt] [--repeats 3]
"""

import argparse
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
    import librosa.core
    import librosa.filters  # noqa: F401  (librosa loads its submodules on first use)

    from synthgen.model import load_model
    from synthgen.uses.resynth import resynthesize

    imported = time.perf_counter()
    resynthesize(load_model(model), audio)
    return {"import_s": imported - start, "seconds": time.perf_counter() - imported}


def main() -> None:
    from synthgen.model import DEFAULT_MODEL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("resynth_latency.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        audio = str(Path(tmp) / "input.wav")
        in_fresh_process(make_input, audio)
        for k in range(args.repeats):
            res = in_fresh_process(in_process, str(args.model), audio)
            rows.append({"what": "imports (fresh process)", "run": k, "seconds": res["import_s"], "target_s": float("nan")})
            rows.append({"what": "load + infer + render (in process)", "run": k, "seconds": res["seconds"], "target_s": 1.0})
        for k in range(args.repeats):
            start = time.perf_counter()
            cmd = [sys.executable, "-m", "synthgen", "resynth", audio, "--model", str(args.model), "--out", str(Path(tmp) / "out")]
            subprocess.run(cmd, check=True, capture_output=True)
            rows.append({"what": "synthgen resynth CLI", "run": k, "seconds": time.perf_counter() - start, "target_s": 3.0})
    report("resynth_latency", rows, args.out)


if __name__ == "__main__":
    main()
