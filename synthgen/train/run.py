"""A training run's folder: its checks, split, summary, metrics files, checkpoints and resume state."""

__all__ = [
    "BEST",
    "ENCODER_REFIT",
    "FLOW_REFIT",
    "LAST",
    "REFIT_COMMANDS",
    "RUN_FORMAT",
    "RunFolder",
    "replaced_model",
    "run_folder",
    "run_split",
]

import csv
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthgen.dataset import DatasetFile
from synthgen.dataset.split import row_groups, split_rows
from synthgen.dataset.summary import data_fingerprint
from synthgen.errors import SynthgenError
from synthgen.model import load_checkpoint
from synthgen.train.checkpoint import save_checkpoint
from synthgen.versions import training_versions

#: the full state after every epoch, for resume
LAST = "checkpoint-last.pt"
#: ``format`` of ``run.json``
RUN_FORMAT = "synthgen-run-1"
#: the model of the best validation epoch
BEST = "model.pt"
#: the rows of each split, fixed at the run's start
SPLIT = "split.npz"
#: the refits that replace a run's model.pt, by the name of their record (``<name>.json``)
FLOW_REFIT, ENCODER_REFIT = "refit", "encoder_refit"
#: the command that makes each refit
REFIT_COMMANDS = {FLOW_REFIT: "refit-flow", ENCODER_REFIT: "refit-encoder"}


def run_folder(path: str | Path) -> Path:
    """The run folder that ``path`` names: the folder itself, or the folder of its ``model.pt``.

    Raises:
        SynthgenError: ``path`` is another file, or nothing.
    """
    path = Path(path)
    if path.is_file() and path.name == BEST:
        return path.parent
    if not path.is_dir():
        what = "is a file" if path.exists() else "does not exist"
        raise SynthgenError(f"{path} {what}: RUN is a run folder (the --out of `synthgen train`) or its {BEST}")
    return path


def replaced_model(run: Path, name: str) -> Path:
    """Where refit ``name`` keeps the ``model.pt`` it replaced: ``model.before-<command>.pt``."""
    return run / f"model.before-{REFIT_COMMANDS[name]}.pt"


@dataclass(frozen=True)
class RunFolder:
    """The folder ``out`` of one training run.

    It holds ``model.pt`` (:data:`BEST`), ``checkpoint-last.pt`` (:data:`LAST`), ``split.npz``,
    ``run.json``, ``metrics.csv``, ``metrics.json`` and ``loss_curve.png``.
    """

    out: Path

    @classmethod
    def open(cls, out: str | Path, resume: bool) -> "RunFolder":
        """Check that ``out`` can hold a new run (or holds one to resume) and create it."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise SynthgenError(f"--out {out} is a file; give a folder for the run")
        if refits := [command for name, command in REFIT_COMMANDS.items() if (out / f"{name}.json").exists()]:
            raise SynthgenError(
                f"{out / BEST} was refitted ({refits[0]}): training it again would discard the refit; train into a new --out"
            )
        if (out / LAST).exists() and not resume:
            raise SynthgenError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
        if resume and not (out / LAST).exists():
            raise SynthgenError(f"nothing to resume in {out}: no {LAST}")
        out.mkdir(parents=True, exist_ok=True)
        return cls(out)

    def resume_state(self, settings: Any, data: DatasetFile, device: Any) -> tuple[dict[str, Any], Any]:
        """The last epoch's state, after checking it was trained with ``settings`` (``epochs`` and ``device`` may differ) on
        ``data``, and ``settings`` with the automatic values the run resolved when it started (see ``TrainSettings.resolved``)."""
        state = load_checkpoint(self.out / LAST, device)
        recorded = type(settings)(**state["settings"]).resolved()
        settings = settings.resolved(recorded)
        difference = settings.difference_from(recorded)
        if difference is not None:
            raise SynthgenError(f"{self.out} was trained with other settings ({difference}): resume it with the same options")
        self._check_same_data(state["summary"], data)
        return state, settings

    def _check_same_data(self, recorded: dict[str, Any], data: DatasetFile) -> None:
        """Refuse to resume a run on another dataset than the one it started on, or on one changed since."""
        same_place = Path(recorded["data"]).resolve() == Path(data.path).resolve()
        if "data_fingerprint" in recorded:
            if recorded["data_fingerprint"] == data_fingerprint(data):
                return  # the same dataset, wherever it is now
        elif same_place:
            return  # a run from before fingerprints: the same path is all it can tell
        if same_place:
            raise SynthgenError(
                f"{data.path} has changed since {self.out} started training on it (rows added or rendered again): start a new run"
            )
        raise SynthgenError(f"{self.out} was trained on {recorded['data']}, not on {data.path}: resume it with --data {recorded['data']}")

    def split(self, data: DatasetFile, seed: int, resume: bool) -> dict[str, np.ndarray]:
        """The run's train / valid / test rows: made once (by bank and preset) and kept in ``split.npz``."""
        if resume:
            split = {k: v for k, v in np.load(self.out / SPLIT).items()}
        else:
            split = split_rows(len(data), seed, groups=row_groups(data.read("source_bank"), data.read("source_preset")))
            np.savez(self.out / SPLIT, **split)
        if len(split["train"]) < 2 or not len(split["valid"]):
            raise SynthgenError(
                f"{data.path} has {len(data)} rows, split into {len(split['train'])} to train on and {len(split['valid'])} to validate "
                "(two and one at the very least): render more, a few thousand for a useful model"
            )
        return split

    def describe(self, settings: Any, summary: dict[str, Any]) -> None:
        """Write ``run.json``: the settings (the seed among them), the run's summary and the versions that trained it."""
        versions = training_versions()
        record = {"format": RUN_FORMAT, "versions": versions, "settings": dataclasses.asdict(settings), **summary}
        (self.out / "run.json").write_text(json.dumps(record, indent=1))

    def save_best(self, payload: dict[str, Any]) -> None:
        """Write ``model.pt``."""
        save_checkpoint(payload, self.out / BEST)

    def save_last(self, payload: dict[str, Any]) -> None:
        """Write ``checkpoint-last.pt``."""
        save_checkpoint(payload, self.out / LAST)

    def write_metrics(self, history: list[dict[str, float]], summary: dict[str, Any]) -> None:
        """Write ``metrics.csv`` and ``metrics.json`` (every epoch)."""
        keys = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
        with open(self.out / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)
        (self.out / "metrics.json").write_text(json.dumps({**summary, "history": history}, indent=1))

    def plot_losses(self, history: list[dict[str, float]], summary: dict[str, Any]) -> None:
        """Draw ``loss_curve.png`` (once, when training ends)."""
        from synthgen.plots import plot_loss_curves

        if history:
            plot_loss_curves(
                history, self.out / "loss_curve.png", f"{summary['model']} on {summary['synth']}", summary["mean_preset_valid_mse"]
            )


def run_split(run: Path, data: DatasetFile) -> dict[str, np.ndarray]:
    """The train / valid / test rows of a trained run, checked against the dataset it is given."""
    if not (run / SPLIT).is_file():
        raise SynthgenError(f"{run} is not a training run folder (no {SPLIT}): give the folder `synthgen train --out` made")
    split = dict(np.load(run / SPLIT))
    n_rows = sum(len(rows) for rows in split.values())
    if len(data) != n_rows:
        raise SynthgenError(f"{data.path} has {len(data)} rows, but {run} was trained on {n_rows}: pass the dataset it was trained on")
    return split
