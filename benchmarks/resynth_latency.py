"""Resynthesis latency: imports and model load + inference + re-render in one process; the whole ``synthgen resynth`` call.

Targets, for the cello example: the CLI call with the model alone (``--budget 0``) <= 1.5 s of wall time
on an idle machine, in an install without torch (pass ``--python`` of a base venv, see
``benchmarks.install_size --keep``); with the default search budget, the call costs <= 0.7 s more than
the search. CPU seconds (user + system) are printed too: on a busy machine they show what the call
costs when wall time does not. And in a warm process (model and synth loaded, the plugin's render
processes started), each example resynthesized at the default budget by each shipped model <= 2 s.
The examples resynthesized in one call (``synthgen resynth examples/``) show what a sound costs
when the imports and loads are paid once.

Usage: python -m benchmarks.resynth_latency [--python .venv-base/bin/python] [--model models/builtin_vae_flow_post/model.pt] [--repeats 3]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import in_fresh_process, report

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
INPUT = EXAMPLES / "cello_c3.flac"

# The CLI in a fresh interpreter, its search timed apart (wall and CPU), printed as JSON on the last line.
_TIMED_CLI = """
import json, sys, time
import synthgen.uses.resynth as resynth
spent = {"search_s": 0.0, "search_cpu_s": 0.0}
search = resynth.search_preset
def timed(*args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        return search(*args, **kwargs)
    finally:
        spent["search_s"] += time.perf_counter() - wall
        spent["search_cpu_s"] += time.process_time() - cpu
resynth.search_preset = timed
from synthgen.cli import main
main(sys.argv[1:], standalone_mode=False)
print(json.dumps(spent))
"""


def in_process(model: str, audio: str) -> dict:
    """Imports, then model load + inference + synth build + re-render (no search), timed apart."""
    start = time.perf_counter()
    from synthgen.model import load_model
    from synthgen.uses.resynth import resynthesize

    imported = time.perf_counter()
    loaded = load_model(model)
    resynthesize(loaded, audio, budget=0)
    return {"import_s": imported - start, "seconds": time.perf_counter() - imported, "backend": loaded.backend}


def warm_process(model: str, inputs: list[str], repeats: int) -> dict:
    """Wall seconds of each ``resynthesize`` call at the default budget, after one call that warms the process up."""
    from synthgen.model import load_model
    from synthgen.synths.loading import load_synth
    from synthgen.uses.resynth import resynthesize

    loaded = load_model(model)
    synth = load_synth(loaded.config)
    resynthesize(loaded, inputs[0], synth=synth)
    calls = []
    for path in inputs * repeats:
        start = time.perf_counter()
        found = resynthesize(loaded, path, synth=synth).search
        calls.append({"input": Path(path).name, "seconds": time.perf_counter() - start, "renders": found.n_renders})
    return {"synth": loaded.config.name, "calls": calls}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_call(python: str, args: list[str]) -> dict:
    """Wall and CPU seconds of the CLI call ``synthgen *args``, and of its search."""
    cpu, start = _children_cpu_s(), time.perf_counter()
    done = subprocess.run([python, "-c", _TIMED_CLI, *args], check=True, capture_output=True, text=True)
    return {"seconds": time.perf_counter() - start, "cpu_s": _children_cpu_s() - cpu, **json.loads(done.stdout.splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="Interpreter whose synthgen CLI is timed (a base venv: no torch).")
    parser.add_argument("--model", type=Path, default=None, help="Default: the shipped model.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--warm-model", type=Path, action="append", help="Model timed in a warm process (repeatable; default: every shipped model)."
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/resynth_latency.json"))
    args = parser.parse_args()
    has_torch = subprocess.run([args.python, "-c", "import torch"], capture_output=True).returncode == 0
    torch = f"{'with' if has_torch else 'no'} torch installed"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = ["--model", str(args.model)] if args.model else []
        for k in range(args.repeats):
            res = in_fresh_process(in_process, str(args.model) if args.model else _default_model(), str(INPUT))
            rows.append({"what": "imports (this python)", "run": k, "seconds": res["import_s"]})
            rows.append({"what": f"load + infer + render ({res['backend']})", "run": k, "seconds": res["seconds"]})
        for k in range(args.repeats):
            call = cli_call(args.python, ["resynth", str(INPUT), "--out", str(Path(tmp) / "out"), *model, "--budget", "0"])
            rows.append({"what": f"resynth --budget 0: whole CLI call ({torch})", "run": k, **call, "target_s": 1.5})
        for k in range(args.repeats):
            call = cli_call(args.python, ["resynth", str(INPUT), "--out", str(Path(tmp) / "out"), *model])
            rows.append({"what": "resynth (default budget): whole CLI call", "run": k, **call})
            over = {"seconds": call["seconds"] - call["search_s"], "cpu_s": call["cpu_s"] - call["search_cpu_s"]}
            rows.append({"what": "resynth (default budget): call minus search", "run": k, **over, "target_s": 0.7})
        examples = [str(p) for p in sorted(EXAMPLES.glob("*.flac"))]
        for k in range(args.repeats):
            call = cli_call(args.python, ["resynth", str(EXAMPLES), "--out", str(Path(tmp) / "out"), *model])
            per_sound = {key: value / len(examples) for key, value in call.items()}
            rows.append({"what": f"resynth of the {len(examples)} examples in one CLI call, per sound", "run": k, **per_sound})
    for warm_model in args.warm_model or _shipped_models():
        res = in_fresh_process(warm_process, str(warm_model), examples, args.repeats)
        for call in res["calls"]:
            rows.append({"what": f"resynth in a warm process ({res['synth']}, default budget)", **call, "target_s": 2.0})
    report("resynth_latency", rows, args.out)


def _shipped_models() -> list[Path]:
    from synthgen.model import MODELS_DIR

    return sorted(MODELS_DIR.glob("*/model.pt"))


def _default_model() -> str:
    from synthgen.model import DEFAULT_MODEL

    return str(DEFAULT_MODEL)


if __name__ == "__main__":
    main()
