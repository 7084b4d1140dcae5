"""Render throughput: bare synth renders/s vs the full pipeline (render + log-mel + HDF5) at 1 and 2 jobs.

Targets: pipeline >= 80 % of bare at one job; >= 1.8x that at two jobs; peak memory flat as N grows.

Usage: python -m benchmarks.render_throughput [--synth builtin --synth amsynth] [--n 512] [--out render_throughput.json]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import in_fresh_process, report


def bare(synth_name: str, n: int) -> dict:
    from synthgen.config import load_config
    from synthgen.synths.loading import load_synth
    from synthgen.synths.rendering import render_unit

    config = load_config(synth_name)
    synth = load_synth(config)
    unit = config.space.sample(n, np.random.default_rng(0))
    render_unit(synth, config, unit[:2])  # warm up (compile, first-render costs)
    start = time.perf_counter()
    render_unit(synth, config, unit)
    return {"seconds": time.perf_counter() - start}


def pipeline(synth_name: str, n: int, jobs: int) -> dict:
    from synthgen.config import load_config
    from synthgen.dataset import render_dataset

    config = load_config(synth_name)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        render_dataset(config, Path(tmp) / "d", n=n, jobs=jobs, progress=False)
        return {"seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", action="append", default=None)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--out", type=Path, default=Path("render_throughput.json"))
    args = parser.parse_args()
    rows = []
    for synth in args.synth or ["builtin", "amsynth"]:
        base = in_fresh_process(bare, synth, args.n)
        bare_rate = args.n / base["seconds"]
        rows.append(
            {
                "synth": synth,
                "mode": "bare synth",
                "jobs": 1,
                "n": args.n,
                "sounds_per_s": bare_rate,
                "vs_bare": 1.0,
                "peak_rss_mb": base["peak_rss_mb"],
            }
        )
        for jobs, n in ((1, args.n), (1, 2 * args.n), (2, 2 * args.n)):
            res = in_fresh_process(pipeline, synth, n, jobs)
            rate = n / res["seconds"]
            rows.append(
                {
                    "synth": synth,
                    "mode": "pipeline",
                    "jobs": jobs,
                    "n": n,
                    "sounds_per_s": rate,
                    "vs_bare": rate / bare_rate,
                    "peak_rss_mb": res["peak_rss_mb"],
                }
            )
    report("render_throughput", rows, args.out)


if __name__ == "__main__":
    main()
