"""Bare built-in synth speed per core under Faust compiler settings, and whether each keeps the audio bit for bit.

Target: the chosen settings (``synthgen.synths.faust.COMPILE_FLAGS`` / ``OPT_LEVEL``, denormals flushed)
render >= 1.5x the sounds per CPU-second of the default scalar build without flushing, with the same audio. Times are CPU seconds of the
rendering process (best of ``--repeats``), so a busy machine inflates them less than wall time.

Usage: python -m benchmarks.faust_speed [--n 64] [--repeats 3] [--out benchmarks/results/faust_speed.json]
"""

import argparse
import time
from pathlib import Path

from benchmarks.common import in_fresh_process, report

# (label, compile flags, LLVM optimization level, flush denormals); each is timed against the default
# (scalar, no flushing) in the same process.
CANDIDATES = [
    ("default", (), -1, False),
    ("default, denormals flushed", (), -1, True),
    ("-vec -vs 32", ("-vec", "-vs", "32"), -1, False),
    ("-vec -vs 32, denormals flushed", ("-vec", "-vs", "32"), -1, True),
    ("-vec -vs 16", ("-vec", "-vs", "16"), -1, False),
    ("-ftz 2", ("-ftz", "2"), -1, False),
    ("default, opt 1", (), 1, False),
]


def measure(flags: tuple[str, ...], opt_level: int, flush: bool, n: int, repeats: int) -> dict:
    """Compile and render ``n`` random presets with these settings and with the defaults; compare."""
    import numpy as np

    from synthgen.config import load_config
    from synthgen.synths.faust import FaustSynth
    from synthgen.synths.rendering import render_unit

    config = load_config("builtin")
    unit = config.space.sample(n, np.random.default_rng(0))
    start = time.perf_counter()
    synth = FaustSynth(str(config.dsp), config.render.sample_rate, compile_flags=flags, opt_level=opt_level, flush_denormals=flush)
    compile_s = time.perf_counter() - start
    default = FaustSynth(str(config.dsp), config.render.sample_rate, flush_denormals=False)
    # These settings and the default take turns (each going first in turn), so that other load on
    # the machine slows both alike; 32 sounds at a time, as a render's chunks, so the audio fits in memory.
    turns = [("these", synth), ("default", default)]
    cpu_s: dict[str, list[float]] = {"these": [], "default": []}
    audio = {}
    for repeat in range(repeats):
        for name, which in turns[:: 1 if repeat % 2 == 0 else -1]:
            start = time.process_time()
            audio[name] = np.concatenate([render_unit(which, config, block) for block in np.array_split(unit, -(-n // 32))])
            cpu_s[name].append(time.process_time() - start)
    diff = np.abs(audio["these"] - audio["default"]).max(axis=1)
    return {
        "compile_s": compile_s,
        "sounds_per_cpu_s": n / min(cpu_s["these"]),
        "vs_default": min(cpu_s["default"]) / min(cpu_s["these"]),
        "bit_identical": bool(np.array_equal(audio["these"], audio["default"])),
        "max_abs_diff": float(diff.max()),
        "sounds_differing_over_1e-3": int((diff > 1e-3).sum()),
    }


def main() -> None:
    from synthgen.synths.faust import COMPILE_FLAGS, OPT_LEVEL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/faust_speed.json"))
    args = parser.parse_args()
    rows = []
    for label, flags, opt_level, flush in CANDIDATES:
        res = in_fresh_process(measure, flags, opt_level, flush, args.n, args.repeats)
        chosen = (flags, opt_level, flush) == (COMPILE_FLAGS, OPT_LEVEL, True)
        rows.append({"settings": label + (" (chosen)" if chosen else ""), **{k: v for k, v in res.items() if k != "seconds"}})
    for row in rows:
        row["target"] = 1.5 if "(chosen)" in row["settings"] else float("nan")
    report("faust_speed", rows, args.out)


if __name__ == "__main__":
    main()
