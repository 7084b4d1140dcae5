"""Train a run's render-free proxy (:class:`~synthgen.nn.surrogate.SoundSurrogate`) on the run's own split, and load it back."""

__all__ = ["SURROGATE_FILE", "load_surrogate", "train_surrogate"]

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from synthgen.dataset import open_dataset
from synthgen.dataset.summary import data_fingerprint
from synthgen.errors import SynthgenError
from synthgen.model import MelStats, load_checkpoint
from synthgen.nn.surrogate import SURROGATE_DEFAULTS, SoundSurrogate
from synthgen.progress import progress_bar
from synthgen.train.checkpoint import save_checkpoint
from synthgen.train.data import MelBatches
from synthgen.train.loop import resolve_device
from synthgen.train.run import BEST, run_folder, run_split
from synthgen.versions import training_versions

#: the proxy's file in a run folder
SURROGATE_FILE = "surrogate.pt"
_KIND = "sound-surrogate"


def _valid_error(surrogate: SoundSurrogate, batches: MelBatches, device: torch.device) -> float:
    """Mean squared error of the standardized log-mels over the rows served."""
    surrogate.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for mel, unit, pitch in batches:
            total += float((surrogate(unit.to(device), pitch.to(device)) - mel.to(device)).square().sum())
            count += mel.numel()
    return total / count


def train_surrogate(
    run: str | Path,
    data_path: str | Path,
    epochs: int = 25,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    hidden: int = SURROGATE_DEFAULTS["hidden"],
    layers: int = SURROGATE_DEFAULTS["layers"],
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit a proxy from presets to log-mels on the training rows of a trained run; write ``RUN/surrogate.pt``.

    It learns from the rows the run trained on (its ``split.npz``), in the run's log-mel
    standardization, and keeps the epoch with the lowest validation error; the checkpoint records
    the settings, seed, data fingerprint, per-epoch errors and package versions.

    Returns:
        The checkpoint's summary (``best_valid_log_mel_mse`` is in the dataset's log-mel units).
    """
    run = run_folder(run)
    payload = load_checkpoint(run / BEST)
    stats = MelStats(**payload["mel_stats"])
    device_ = resolve_device(device)
    torch.manual_seed(seed)
    with open_dataset(data_path) as data:
        split = run_split(run, data)
        feats = data.config.features
        surrogate = SoundSurrogate(len(data.space.names), feats.n_mels, feats.n_frames, hidden, layers).to(device_)
        train_batches = MelBatches(data, split["train"], stats, batch_size, shuffle=True, seed=seed)
        valid_batches = MelBatches(data, split["valid"], stats, 1024, shuffle=False)
        summary: dict[str, Any] = {
            "seed": seed,
            "data": str(Path(data.path).resolve()),
            "data_fingerprint": data_fingerprint(data),
            "n_train": len(split["train"]),
            "n_valid": len(split["valid"]),
            "settings": {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, **surrogate.config},
            "device": str(device_),
            "versions": training_versions(),
        }
        optimizer = torch.optim.Adam(surrogate.parameters(), lr=learning_rate)
        history: list[dict[str, float]] = []
        best, best_epoch, best_state = float("inf"), -1, None
        for epoch in progress_bar(range(epochs), desc="train surrogate", unit="epoch", disable=not progress):
            surrogate.train()
            train_batches.epoch, start = epoch, time.perf_counter()
            for mel, unit, pitch in train_batches:
                loss = (surrogate(unit.to(device_), pitch.to(device_)) - mel.to(device_)).square().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            error = _valid_error(surrogate, valid_batches, device_) * stats.std**2
            history.append({"epoch": epoch + 1, "valid_log_mel_mse": error, "seconds": time.perf_counter() - start})
            if log is not None:
                log(f"epoch {epoch + 1}/{epochs}: validation log-mel MSE {error:.3f} ({history[-1]['seconds']:.0f} s)")
            if error < best:
                best, best_epoch, best_state = error, epoch + 1, {k: v.detach().cpu().clone() for k, v in surrogate.state_dict().items()}
    if best_state is None:
        raise SynthgenError(f"the surrogate's validation error was not finite in any epoch: try a lower --lr (now {learning_rate})")
    summary |= {"best_epoch": best_epoch, "best_valid_log_mel_mse": best, "history": history}
    save_checkpoint(
        {
            "kind": _KIND,
            "config": surrogate.config,
            "state_dict": best_state,
            "mel_stats": payload["mel_stats"],
            "synth_config": payload["synth_config"],
            "summary": summary,
        },
        run / SURROGATE_FILE,
    )
    (run / "surrogate.json").write_text(json.dumps(summary, indent=1))
    return summary


def load_surrogate(path: Path, model_payload: dict[str, Any]) -> tuple[SoundSurrogate, dict[str, Any]]:
    """The proxy in ``path``, checked to serve the model in ``model_payload`` (same synth, parameters
    and log-mel standardization), and what it records of its training (settings, seed, data, error)."""
    if not path.is_file():
        raise SynthgenError(f"no render-free proxy at {path}: train one first with `synthgen train-surrogate {path.parent} --data ...`")
    record = load_checkpoint(path)
    if record.get("kind") != _KIND:
        raise SynthgenError(f"{path} is not a sound surrogate made by `synthgen train-surrogate`")
    ours, theirs = record["synth_config"], model_payload["synth_config"]
    if ours["name"] != theirs["name"] or ours["learned"] != theirs["learned"] or record["mel_stats"] != model_payload["mel_stats"]:
        raise SynthgenError(f"{path} was trained for another synth, parameters or model: train it again for this run")
    surrogate = SoundSurrogate(**record["config"])
    surrogate.load_state_dict(record["state_dict"])
    kept = ("seed", "data_fingerprint", "settings", "best_epoch", "best_valid_log_mel_mse", "versions")
    return surrogate.eval(), {key: record["summary"][key] for key in kept}
