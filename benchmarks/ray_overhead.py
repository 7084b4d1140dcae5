"""Ray overhead: sounds/s of a dataset render with ``--backend ray`` vs ``--backend local`` on the same CPUs.

Target: Ray >= 90 % of the local backend's sounds/s (overhead <= 10 %), with Ray already started (a cluster is
started once, not per render; worker start-up and synth loading are timed for both). The rate with
Ray's own start-up included, one core's rate and the stored bytes per row are shown beside it.

Usage: python -m benchmarks.ray_overhead [--synth builtin --synth amsynth] [--n 1024] [--jobs 2]
       [--out benchmarks/results/ray_overhead.json]
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import in_fresh_process, report

TARGET = 0.9


def render(synth_name: str, n: int, jobs: int, backend: str, collect: bool = False, start_ray_first: bool = False) -> dict:
    """Time one render into a new folder; returns seconds, Ray start-up seconds and stored bytes per row."""
    from synthgen.config import load_config
    from synthgen.dataset import render_dataset
    from synthgen.dataset.storage import SHARD_DIR

    config = load_config(synth_name)
    ray_start_s = 0.0
    if start_ray_first:
        import logging

        import ray

        start = time.perf_counter()
        ray.init(address="local", num_cpus=jobs, include_dashboard=False, logging_level=logging.WARNING)
        ray_start_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "d"
        start = time.perf_counter()
        render_dataset(config, out, n=n, jobs=jobs, backend=backend, collect=collect, progress=False)
        seconds = time.perf_counter() - start
        stored = sum(p.stat().st_size for p in (out / SHARD_DIR).glob("*.h5"))
    if start_ray_first:
        ray.shutdown()
    return {"seconds": seconds, "ray_start_s": ray_start_s, "bytes_per_row": stored / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", action="append", default=None)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each compared mode (median kept)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ray_overhead.json"))
    args = parser.parse_args()
    # (mode, jobs, backend, collect, Ray started before the timed render, repeated)
    runs = [
        ("local, one core", 1, "local", False, False, False),
        ("local", args.jobs, "local", False, False, True),
        ("ray (started)", args.jobs, "ray", False, True, True),
        ("ray --collect (started)", args.jobs, "ray", True, True, True),
        ("ray incl. its start-up", args.jobs, "ray", False, False, False),
    ]
    rows = []
    for synth in args.synth or ["builtin", "amsynth"]:
        results: dict[str, list[dict]] = {mode: [] for mode, *_ in runs}
        for repeat in range(args.repeats):
            for mode, jobs, backend, collect, start_first, repeated in runs:
                if repeat == 0 or repeated:
                    results[mode].append(in_fresh_process(render, synth, args.n, jobs, backend, collect, start_first))
        local_rate = args.n / statistics.median(r["seconds"] for r in results["local"])
        for mode, jobs, backend, _, start_first, _ in runs:
            done = results[mode]
            rate = args.n / statistics.median(r["seconds"] for r in done)
            row = {"synth": synth, "mode": mode, "jobs": jobs, "n": args.n, "runs": len(done), "sounds_per_s": rate}
            row["per_core"] = rate / jobs
            row["vs_local"] = rate / local_rate if backend == "ray" else ""
            row["target"] = f">= {TARGET:.2f}" if start_first else ""
            row["ray_start_s"] = statistics.median(r["ray_start_s"] for r in done) if backend == "ray" else ""
            row["bytes_per_row"] = done[0]["bytes_per_row"]
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report("ray_overhead", rows, args.out)
    print(f"load average during the runs (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
