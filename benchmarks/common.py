"""Helpers shared by the benchmark scripts: run a function in a fresh process, print and save a table."""

__all__ = ["in_fresh_process", "report"]

import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _child(fn: Callable[..., dict], args: tuple, queue: mp.Queue) -> None:
    start = time.perf_counter()
    result = fn(*args)
    result.setdefault("seconds", time.perf_counter() - start)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_rss_mb"] = max(own, kids) / 1024
    queue.put(result)
    queue.close()
    queue.join_thread()
    # Leave at once: the result is sent, and the interpreter's teardown would only add to the timings.
    os._exit(0)


def in_fresh_process(fn: Callable[..., dict], *args: Any) -> dict:
    """Run ``fn(*args)`` in a new process; returns its dict plus seconds and peak RSS (MB)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def report(name: str, rows: list[dict], out: Path) -> None:
    """Print rows as an aligned table and write them, with the machine, as JSON."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[f"{row.get(k, ''):.3g}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print(" | ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for c in cells:
        print(" | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
    machine = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": mp.cpu_count()}
    out.write_text(json.dumps({"benchmark": name, "machine": machine, "rows": rows}, indent=1))
    print(f"wrote {out}")
