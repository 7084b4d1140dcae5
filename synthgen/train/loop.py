"""The fit loop: warm-ups, validation, LR halving, early stopping and exact resume, over a :class:`RunFolder`."""

__all__ = ["TrainSettings", "check_fit_options", "resolve_device", "train_model"]

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from synthgen.dataset import DatasetFile, open_dataset
from synthgen.dataset.summary import data_fingerprint
from synthgen.errors import SynthgenError
from synthgen.model import MelStats
from synthgen.nn import MODEL_NAMES, SynthModel, build_model
from synthgen.progress import progress_bar
from synthgen.train.data import MelBatches, mel_stats
from synthgen.train.export import export_onnx
from synthgen.train.run import BEST, RunFolder
from synthgen.versions import training_versions

# The reconstruction term sums squared errors over every mel bin (thousands of nats) while the
# autoencoders' parameter term sums over P parameters, so their regression is weighted up, as the
# original work did; vae_flow_post's Gaussian likelihood (std 0.05) is already on that scale.
PARAM_WEIGHTS = {"vae": 200.0, "wae": 200.0, "vae_flow": 200.0}
# The option of `synthgen train` that sets a field of TrainSettings; the others are named as fields.
_OPTIONS = {"model": "--model", "batch_size": "--batch-size", "learning_rate": "--lr", "patience": "--patience", "seed": "--seed"}


def check_fit_options(epochs: int, batch_size: int, learning_rate: float, seed: int) -> None:
    """Refuse, in one line, an epoch count, batch size, learning rate or seed no fit of a model can use."""
    if epochs < 1:
        raise SynthgenError(f"--epochs must be at least 1, got {epochs}")
    if batch_size < 2:
        raise SynthgenError(f"--batch-size must be at least 2 (batch normalization needs two rows), got {batch_size}")
    if not (math.isfinite(learning_rate) and 0 < learning_rate <= 1):
        raise SynthgenError(f"--lr must be a number above 0 and at most 1 (usually 1e-4 to 1e-2), got {learning_rate}")
    if seed < 0:
        raise SynthgenError(f"--seed must be 0 or more, got {seed}")


@dataclass(frozen=True)
class TrainSettings:
    """How to train.

    KL/MMD weight ``beta`` rises linearly from 0 to 1 over ``beta_warmup_epochs``; the parameter
    weight ``gamma`` stays 0 until ``gamma_start_epoch`` and then rises to 1 over
    ``gamma_warmup_epochs`` (the paper's schedule, scaled to the run's length when left at -1), and
    is then multiplied by ``param_weight`` (-1: the model's default in :data:`PARAM_WEIGHTS`). A run
    records the values it used (:meth:`resolved`), and keeps them when resumed for more epochs.
    """

    model: str = "vae_flow_post"
    epochs: int = 100
    batch_size: int = 64
    learning_rate: float = 1e-3
    beta_warmup_epochs: int = -1
    gamma_start_epoch: int = -1
    gamma_warmup_epochs: int = -1
    patience: int = 20
    param_weight: float = -1.0
    seed: int = 0
    device: str = "auto"
    model_settings: dict[str, Any] = field(default_factory=dict)

    def resolved(self, recorded: "TrainSettings | None" = None) -> "TrainSettings":
        """These settings with each automatic schedule value (-1) made concrete: ``recorded``'s (a resumed run's
        own, so that a longer run goes on with the schedule it started with), else scaled to ``epochs``."""
        auto = recorded or self
        concrete = {
            "beta_warmup_epochs": auto.beta_warmup_epochs if auto.beta_warmup_epochs >= 0 else max(1, auto.epochs // 4),
            "gamma_start_epoch": max(auto.gamma_start_epoch, 0),
            "gamma_warmup_epochs": auto.gamma_warmup_epochs if auto.gamma_warmup_epochs >= 0 else max(1, auto.epochs // 5),
            "param_weight": auto.param_scale(),
        }
        return dataclasses.replace(self, **{k: v for k, v in concrete.items() if getattr(self, k) < 0})

    def schedule(self, epoch: int) -> tuple[float, float]:
        """``(beta, gamma)`` at ``epoch`` (0-based)."""
        s = self.resolved()
        beta = min(1.0, (epoch + 1) / max(s.beta_warmup_epochs, 1))
        start = s.gamma_start_epoch
        gamma = 0.0 if epoch < start else min(1.0, (epoch - start + 1) / max(s.gamma_warmup_epochs, 1))
        return beta, gamma * s.param_weight

    def param_scale(self) -> float:
        """The final weight of the parameter term."""
        return self.param_weight if self.param_weight >= 0 else PARAM_WEIGHTS.get(self.model, 1.0)

    def check(self) -> None:
        """Refuse settings no run can train with, in one line each."""
        if self.model not in MODEL_NAMES:
            raise SynthgenError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)}")
        check_fit_options(self.epochs, self.batch_size, self.learning_rate, self.seed)
        if self.patience < 0:
            raise SynthgenError(f"--patience must be 0 or more epochs, got {self.patience}")

    def difference_from(self, recorded: "TrainSettings") -> str | None:
        """The first setting, other than ``epochs`` and ``device``, in which these differ from ``recorded``
        (a run's, on resume), as ``--model was vae, now mlp``; None when they agree."""
        for name in (f.name for f in dataclasses.fields(self) if f.name not in ("epochs", "device")):
            was, now = getattr(recorded, name), getattr(self, name)
            if name == "model_settings" and was != now:
                key = next(k for k in sorted({*was, *now}) if was.get(k) != now.get(k))
                return f"--set {key} was {was.get(key, 'not given')}, now {now.get(key, 'not given')}"
            if was != now:
                return f"{_OPTIONS.get(name, name)} was {was}, now {now}"
        return None

    def warm_epochs(self) -> int:
        """Epochs before both weights reach their final values: early stopping waits for them."""
        final = (1.0, self.param_scale())
        return next((e for e in range(self.epochs) if self.schedule(e) == final), self.epochs)


def resolve_device(device: str) -> torch.device:
    """``auto`` picks a GPU when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise SynthgenError(f"--device {device!r} is not a torch device (try cpu, cuda, auto)") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise SynthgenError(f"--device {device}: this machine's torch sees no CUDA GPU; use --device cpu (or auto)")
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise SynthgenError(f"--device {device}: there are only {torch.cuda.device_count()} CUDA devices")
    if chosen.type not in ("cpu", "cuda"):
        raise SynthgenError(f"--device {device!r}: synthgen trains on cpu or cuda")
    return chosen


class _NonFinite(Exception):
    """The loss of a batch was NaN or infinite."""

    def __init__(self, value: float, batch: int) -> None:
        super().__init__(value, batch)
        self.value, self.batch = value, batch


def _run_epoch(
    model: SynthModel,
    batches: MelBatches,
    device: torch.device,
    beta: float,
    gamma: float,
    optimizer: torch.optim.Optimizer | None,
    desc: str,
    progress: bool,
) -> dict[str, float]:
    """One pass; trains when ``optimizer`` is given. Returns mean losses and the unit-parameter MSE.

    Raises:
        _NonFinite: a batch's loss is NaN or infinite (nothing of that batch is applied).
    """
    model.train(optimizer is not None)
    sums: dict[str, float] = {}
    n = 0
    with torch.set_grad_enabled(optimizer is not None):
        for i, (mel, params, pitch) in enumerate(progress_bar(batches, desc=desc, unit="batch", leave=False, disable=not progress)):
            mel, params, pitch = mel.to(device), params.to(device), pitch.to(device)
            outputs = model(mel, pitch)
            losses = model.loss(mel, params, outputs, beta, gamma)
            if not math.isfinite(total := float(losses["total"].detach())):
                raise _NonFinite(total, i)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                losses["total"].backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                optimizer.step()
            values = {k: float(v.detach()) for k, v in losses.items() if v.ndim == 0}
            if optimizer is None:
                values["param_mse"] = float((model.infer(mel, pitch) - params).square().mean())
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v * len(mel)
            n += len(mel)
    return {k: v / n for k, v in sums.items()}


def _model_payload(model: SynthModel, settings: TrainSettings, data: DatasetFile, stats: MelStats, summary: dict) -> dict:
    """What a checkpoint holds to be used: the model, its settings and weights, its data's mel statistics and
    synth config, the run's summary, the training seed and the versions that trained it."""
    return {
        "model": settings.model,
        "seed": settings.seed,
        "versions": training_versions(),
        "config": model.config,
        "state_dict": model.state_dict(),
        "mel_stats": stats.to_dict(),
        "synth_config": data.metadata["config"],
        "summary": summary,
    }


def train_model(
    data_path: str | Path,
    out: str | Path,
    settings: TrainSettings,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train a model on a dataset and write a run folder.

    The run folder holds ``model.pt`` (best validation parameter error) and, once training ends,
    its ONNX export (``model.*.onnx`` and ``model.onnx.json``, for inference without torch),
    ``checkpoint-last.pt`` (the full state after every epoch, for ``resume``), ``split.npz``,
    ``run.json``, ``metrics.csv``, ``metrics.json`` and ``loss_curve.png``. Epochs are numbered from 1,
    as the progress bar counts.

    Arguments:
        data_path: the dataset folder.
        out: the run folder.
        settings: what to train and how.
        resume: continue the run in ``out`` (same dataset and settings; ``epochs`` may grow).
        progress: show progress bars (epochs, and batches within each).
        log: called with one line per epoch (e.g. ``print``); None: silent.

    Returns:
        The run summary: best epoch, validation parameter MSE and the mean-preset baseline's, and
        ``stopped`` (why training ended).

    Raises:
        SynthgenError: bad settings or folders, another dataset on resume, or a loss that becomes
            NaN (``model.pt`` then keeps the best model of the epochs before).
    """
    settings.check()
    device = resolve_device(settings.device)
    data = open_dataset(data_path)
    feats = data.config.features
    torch.manual_seed(settings.seed)
    model = build_model(  # first, so that a bad model setting is refused before the run folder is touched
        settings.model,
        n_classes=list(data.space.n_classes),
        n_mels=feats.n_mels,
        n_frames=feats.n_frames,
        **settings.model_settings,
    ).to(device)
    run = RunFolder.open(out, resume)
    state, settings = run.resume_state(settings, data, device) if resume else ({}, settings.resolved())
    split = run.split(data, settings.seed, resume)
    stats = mel_stats(data, split["train"], seed=settings.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(1, settings.patience // 2))
    train_batches = MelBatches(data, split["train"], stats, settings.batch_size, shuffle=True, seed=settings.seed)
    valid_batches = MelBatches(data, split["valid"], stats, 256, shuffle=False)
    mean_preset = data.read("params_unit", split["train"]).mean(axis=0)
    baseline = float(((data.read("params_unit", split["valid"]) - mean_preset) ** 2).mean())
    history: list[dict[str, float]] = []
    best, best_epoch, start = float("inf"), -1, 0
    summary: dict[str, Any] = {}
    stopped = ""
    if resume:
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"].cpu())
        history, best, best_epoch, start = state["history"], state["best"], state["best_epoch"], state["epoch"] + 1
        summary = {k: state["summary"][k] for k in ("best_epoch", "best_valid_param_mse", "epochs_done") if k in state["summary"]}
        stopped = state["summary"].get("stopped", "")
    summary |= {
        "model": settings.model,
        "synth": data.config.name,
        "data": str(Path(data.path).resolve()),
        "data_fingerprint": data_fingerprint(data),
        "n_train": len(split["train"]),
        "n_valid": len(split["valid"]),
        "n_test": len(split["test"]),
        "mean_preset_valid_mse": baseline,
        "device": str(device),
    }
    run.describe(settings, summary)
    if stopped.startswith("early") or start >= settings.epochs:
        data.close()
        export_onnx(run.out / BEST)  # in case the finished run was stopped while exporting
        return {**summary, "stopped": stopped or f"all {start} epochs done", "resumed_finished_run": True}
    epochs = progress_bar(
        range(start, settings.epochs),
        desc=f"train {settings.model}",
        unit="epoch",
        disable=not progress,
        initial=start,
        total=settings.epochs,
    )
    for epoch in epochs:
        beta, gamma = settings.schedule(epoch)
        train_batches.epoch = epoch
        t0 = time.perf_counter()
        try:
            label = f"epoch {epoch + 1}/{settings.epochs}"
            train = _run_epoch(model, train_batches, device, beta, gamma, optimizer, label, progress)
            valid = _run_epoch(model, valid_batches, device, 1.0, 1.0, None, f"{label} valid", progress)
        except _NonFinite as e:
            data.close()
            run.plot_losses(history, summary)
            kept = f"{run.out / BEST} keeps the model of epoch {best_epoch + 1}" if best_epoch >= 0 else "no model.pt was written"
            raise SynthgenError(
                f"training diverged: the loss became {e.value} at epoch {epoch + 1}, batch {e.batch + 1}; {kept}; "
                f"start a new run with a lower --lr (this one: {settings.learning_rate:g})"
            ) from None
        seconds = time.perf_counter() - t0
        row = {"epoch": epoch + 1, "beta": beta, "gamma": gamma, "lr": optimizer.param_groups[0]["lr"], "seconds": seconds}
        row.update({f"train_{k}": v for k, v in train.items()})
        row.update({f"valid_{k}": v for k, v in valid.items()})
        history.append(row)
        if epoch >= settings.warm_epochs() - 1:
            scheduler.step(valid["param_mse"])
        summary.update(epochs_done=epoch + 1, train_samples_per_s=len(split["train"]) / seconds)
        if valid["param_mse"] < best:
            best, best_epoch = valid["param_mse"], epoch
            summary.update(best_epoch=best_epoch + 1, best_valid_param_mse=best)
            run.save_best(_model_payload(model, settings, data, stats, summary))
        if epoch >= settings.warm_epochs() + settings.patience and epoch - best_epoch > settings.patience:
            summary["stopped"] = f"early stop: no validation progress for {settings.patience} epochs"
        elif epoch + 1 == settings.epochs:
            summary["stopped"] = f"all {settings.epochs} epochs done"
        run.save_last(
            {
                **_model_payload(model, settings, data, stats, summary),
                "settings": dataclasses.asdict(settings),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "history": history,
                "best": best,
                "best_epoch": best_epoch,
                "epoch": epoch,
            }
        )
        run.write_metrics(history, summary)
        epochs.set_postfix(loss=f"{train['total']:.3g}", valid_param_mse=f"{valid['param_mse']:.4f}", best=f"{best:.4f}")
        if log is not None:
            line = (
                f"{label}: train loss {train['total']:.4g}, valid parameter MSE {valid['param_mse']:.4f} "
                f"(best {best:.4f} at epoch {best_epoch + 1}), lr {row['lr']:.3g}, {seconds:.1f} s"
            )
            # a line printed beside live bars goes through tqdm so the bars are redrawn below it
            tqdm.write(line) if progress else log(line)
        if summary.get("stopped", "").startswith("early"):
            break
    data.close()
    run.plot_losses(history, summary)
    export_onnx(run.out / BEST)
    return summary
