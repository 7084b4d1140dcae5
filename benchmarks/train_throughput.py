"""Training throughput: samples/s of one training epoch per model, and peak memory, on this machine.

Uses a rendered dataset (default: renders 512 built-in sounds into a temporary folder). Runs on a GPU
when one is present (``--device auto``), else the CPU.

Usage: python -m benchmarks.train_throughput [--data data/builtin] [--epochs 2] [--out train_throughput.json]
"""

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import in_fresh_process, report

SMALL = {"channels": 16, "hidden": 128}


def train_one(data: str, model: str, epochs: int, device: str) -> dict:
    import torch

    from synthgen.train import TrainSettings, train_model

    settings = TrainSettings(model=model, epochs=epochs, batch_size=64, device=device, model_settings={} if model == "mlp" else SMALL)
    with tempfile.TemporaryDirectory() as tmp:
        summary = train_model(data, Path(tmp) / "run", settings, progress=False)
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    return {"samples_per_s": summary["train_samples_per_s"], "device": summary["device"], "gpu_peak_mb": gpu_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("train_throughput.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from synthgen.config import load_config
            from synthgen.dataset import render_dataset

            data = Path(tmp) / "data"
            render_dataset(load_config("builtin"), data, n=512, jobs=2, progress=False)
        rows = []
        for model in ("mlp", "cnn", "vae", "wae", "vae_flow", "vae_flow_post"):
            res = in_fresh_process(train_one, str(data), model, args.epochs, args.device)
            rows.append({"model": model, **res})
    report("train_throughput", rows, args.out)


if __name__ == "__main__":
    main()
