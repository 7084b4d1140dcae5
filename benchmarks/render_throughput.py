"""Render throughput: the bare synth against the whole pipeline (workers, log-mel, HDF5) at 1 and 2 jobs.

Targets: the pipeline renders >= 90 % of the bare synth's sounds/s at one job and >= 1.85x at two
(N >= 2,000, start-up excluded: rows over the time from the first shard written to the last); a 2,000-sound render
on two jobs is >= 1.7x faster than on one, start-up included; peak memory flat in N (2N within 10 %
of N). The bare synth is measured in the same run, since the machine may be shared, and also as two
processes at once: what two cores give the synth alone, against which the 2-job pipeline also pays
for the log-mels.

Usage: python -m benchmarks.render_throughput [--synth builtin --synth amsynth] [--n 2000]
       [--out benchmarks/results/render_throughput.json]
"""

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.common import in_fresh_process, report

TARGETS = {"pipeline vs bare, 1 job": 0.90, "pipeline vs bare, 2 jobs": 1.85, "speed-up 2 jobs vs 1, with start-up": 1.7}
JOBS = {1: "1 job", 2: "2 jobs"}
#: sounds per chunk, the pipeline's default
CHUNK = 64
#: peak memory at 2N over peak memory at N
MEMORY_GROWTH_MAX = 1.10


def bare(synth_name: str, n: int) -> dict:
    from synthgen.config import load_config
    from synthgen.synths.loading import load_synth
    from synthgen.synths.rendering import render_unit

    config = load_config(synth_name)
    synth = load_synth(config)
    unit = config.space.sample(n, np.random.default_rng(0))
    render_unit(synth, config, unit[:2])  # warm up (compile, first-render costs)
    start, cpu = time.perf_counter(), cpu_seconds()
    for block in np.array_split(unit, -(-n // CHUNK)):  # as the pipeline's chunks, so the audio fits in memory
        render_unit(synth, config, block)
    return {"seconds": time.perf_counter() - start, "cpu_s": cpu_seconds()[0] - cpu[0]}


def cpu_seconds() -> tuple[float, float]:
    """CPU time (user and system) of this process and of its ended children (the render's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def pipeline(synth_name: str, n: int, jobs: int) -> dict:
    from synthgen.config import load_config
    from synthgen.dataset import render_dataset
    from synthgen.dataset.storage import SHARD_DIR

    config = load_config(synth_name)
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), cpu_seconds()
        render_dataset(config, Path(tmp) / "d", n=n, jobs=jobs, chunk_size=CHUNK, progress=False)
        seconds = time.perf_counter() - start
        main_s, workers_s = (after - before for after, before in zip(cpu_seconds(), cpu, strict=True))
        # Steady rate: the rows of every shard but the first written, over the time between the first and the last.
        written = sorted(p.stat().st_mtime_ns for p in (Path(tmp) / "d" / SHARD_DIR).glob("*.h5"))
        return {
            "seconds": seconds,
            "main_cpu_s": main_s,
            "workers_cpu_s": workers_s,
            "steady_rate": (n - CHUNK) / ((written[-1] - written[0]) / 1e9),
        }


def side_by_side(synth_name: str, n: int) -> float:
    """Sounds/s of two bare synths rendering ``n`` sounds each at once, each in a process of its own: what
    two cores give when nothing but the synth runs (each process times its own renders, after its warm-up)."""
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: in_fresh_process(bare, synth_name, n), range(2)))
    return 2 * n / max(run["seconds"] for run in runs)


def fastest(repeat: int, fn: Callable[..., dict], *args: object) -> dict:
    """The quickest of ``repeat`` runs in fresh processes (other load on the machine only slows runs down)."""
    return min((in_fresh_process(fn, *args) for _ in range(repeat)), key=lambda run: run["seconds"])


def measure(synth: str, n: int, repeat: int) -> list[dict]:
    """Every figure for one synth, each next to its target."""
    load_before = os.getloadavg()[0]
    bare_run = fastest(repeat, bare, synth, n)
    bare_rate = n / bare_run["seconds"]
    pair_rate = side_by_side(synth, n)
    runs = {(jobs, m): fastest(repeat, pipeline, synth, m, jobs) for jobs in (1, 2) for m in (n, 2 * n)}
    rate = {jobs: runs[jobs, n]["steady_rate"] for jobs in (1, 2)}
    rows = [
        {"synth": synth, "figure": "load average before / after", "n": n, "value": load_before, "unit": f"/ {os.getloadavg()[0]:.1f}"},
        {"synth": synth, "figure": "bare synth, 1 job", "n": n, "value": bare_rate, "unit": "sounds/s"},
        {"synth": synth, "figure": "bare synth, 2 processes at once vs 1", "n": n, "value": pair_rate / bare_rate, "unit": "x"},
    ]
    for jobs in (1, 2):
        rows.append({"synth": synth, "figure": f"pipeline, {JOBS[jobs]}", "n": n, "value": rate[jobs], "unit": "sounds/s"})
    for jobs in (1, 2):
        name = f"pipeline vs bare, {JOBS[jobs]}"
        rows.append({"synth": synth, "figure": name, "n": n, "value": rate[jobs] / bare_rate, "unit": "x", "target": TARGETS[name]})
    # CPU per sound barely depends on other load. The pipeline's, from the N to the 2N render (no
    # start-up): the workers' and the main process's (shards; the log-mels too at one job, when it
    # has a CPU of its own). On idle CPUs the workers bound one job, and the sum of both two jobs on two cores.
    bare_ms = 1e3 * bare_run["cpu_s"] / n
    rows.append({"synth": synth, "figure": "CPU per sound, bare synth", "n": n, "value": bare_ms, "unit": "ms"})
    for jobs in (1, 2):
        steady = {part: 1e3 * (runs[jobs, 2 * n][f"{part}_cpu_s"] - runs[jobs, n][f"{part}_cpu_s"]) / n for part in ("workers", "main")}
        for part, ms in steady.items():
            rows.append({"synth": synth, "figure": f"CPU per sound, pipeline {part}, {JOBS[jobs]}", "n": n, "value": ms, "unit": "ms"})
        bound = bare_ms / max(steady.values()) if jobs == 1 else 2 * bare_ms / sum(steady.values())
        rows.append({"synth": synth, "figure": f"idle-CPU bound vs bare, {JOBS[jobs]}", "n": n, "value": bound, "unit": "x"})
    for jobs in (1, 2):
        seconds = runs[jobs, n]["seconds"]
        rows.append({"synth": synth, "figure": f"{n} sounds with start-up, {JOBS[jobs]}", "n": n, "value": seconds, "unit": "s"})
    name = "speed-up 2 jobs vs 1, with start-up"
    speedup = runs[1, n]["seconds"] / runs[2, n]["seconds"]
    rows.append({"synth": synth, "figure": name, "n": n, "value": speedup, "unit": "x", "target": TARGETS[name]})
    for jobs in (1, 2):
        growth = runs[jobs, 2 * n]["peak_rss_mb"] / runs[jobs, n]["peak_rss_mb"]
        rows.append(
            {
                "synth": synth,
                "figure": f"peak memory {2 * n} / {n} sounds, {JOBS[jobs]}",
                "n": n,
                "value": growth,
                "unit": f"x of {runs[jobs, n]['peak_rss_mb']:.0f} MB",
                "target": MEMORY_GROWTH_MAX,
            }
        )
    for row in rows:
        if "target" in row:
            memory = row["figure"].startswith("peak memory")
            row["met"] = row["value"] <= row["target"] if memory else row["value"] >= row["target"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", action="append", default=None, help="synth config name (repeatable; default builtin and amsynth)")
    parser.add_argument("--n", type=int, default=2000, help="sounds per render (the targets are for N >= 2,000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the fastest counts")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/render_throughput.json"))
    args = parser.parse_args()
    rows = [row for synth in args.synth or ["builtin", "amsynth"] for row in measure(synth, args.n, args.repeat)]
    report("render_throughput", rows, args.out)


if __name__ == "__main__":
    main()
