"""Flow consistency: does the regression flow's inverse of a true preset land at the encoder's latent of its sound?

For every sound of a test set: ``z_enc`` = encoder latent of the log-mel (at the sound's note),
``z_inv`` = flow inverse of the true unit preset. Target: median ``|z_enc - z_inv|`` below half
the median ``|z_enc|``.

Usage: python -m benchmarks.flow_consistency [--model M ...] [--data DATASET] [--n 300] [--notes 60 ...]
(without --data, renders ``--n`` uniform presets of the model's synth with seed 1).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import report

TARGET_RATIO = 0.5


def consistency(model_path: Path, data_path: Path) -> dict:
    """Latent distances of one invertible model on one dataset (all rows)."""
    from synthgen.dataset import open_dataset
    from synthgen.model import load_model

    model = load_model(model_path)
    with open_dataset(data_path) as data:
        mel, unit, pitch = data.read("mel"), data.read("params_unit"), data.read("midi_pitch")
    z_enc = np.concatenate([model.encode(mel[i : i + 256], pitch[i : i + 256]) for i in range(0, len(mel), 256)])
    z_inv = model.latent_from_params(unit)
    distance = np.linalg.norm(z_enc - z_inv, axis=1)
    norm = np.linalg.norm(z_enc, axis=1)
    ratio = float(np.median(distance) / np.median(norm))
    return {
        "model": str(model_path),
        "data": data_path.name,
        "n": len(mel),
        "median_latent_norm": float(np.median(norm)),
        "median_distance": float(np.median(distance)),
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "max_inverse_norm": float(np.linalg.norm(z_inv, axis=1).max()),
        "pass": ratio < TARGET_RATIO,
    }


def main() -> None:
    from synthgen.dataset import render_dataset
    from synthgen.model import DEFAULT_MODEL, load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", help="model.pt of an invertible model (repeatable; default: shipped)")
    parser.add_argument("--data", type=Path, default=None, help="test dataset folder (default: render --n uniform presets)")
    parser.add_argument("--n", type=int, default=300, help="presets to render when --data is not given")
    parser.add_argument("--notes", type=int, action="append", help="MIDI pitches to render them at (default: the config's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/flow_consistency.json"))
    args = parser.parse_args()
    models = args.model or [DEFAULT_MODEL]
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            config = load_model(models[0]).config  # the model's own ranges and scales
            notes = [(p, config.render.velocity) for p in args.notes] if args.notes else None
            data = Path(tmp) / f"{config.name}_uniform_seed1"
            render_dataset(config, data, n=args.n, seed=1, jobs=2, notes=notes, progress=False)
        rows = [consistency(m, data) for m in models]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report("flow_consistency", rows, args.out)


if __name__ == "__main__":
    main()
