"""Second stage for ``vae_flow_post``: refit the regression flow on the frozen encoder's latents."""

__all__ = ["refit_flow"]

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthgen.dataset import open_dataset
from synthgen.errors import SynthgenError
from synthgen.model import MelStats, load_trained_module
from synthgen.nn import SynthModel
from synthgen.train.checkpoint import save_checkpoint
from synthgen.train.data import MelBatches
from synthgen.train.export import export_onnx


def _encoder_latents(model: SynthModel, batches: MelBatches) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior-mean latents ``(N, D)`` and true unit parameters ``(N, P)`` of every row served."""
    latents, params = [], []
    with torch.no_grad():
        for mel, unit, pitch in batches:
            latents.append(model.encode(mel, pitch))
            params.append(unit)
    return torch.cat(latents), torch.cat(params)


def _flow_losses(model: SynthModel, z: torch.Tensor, params: torch.Tensor) -> dict[str, torch.Tensor]:
    outputs = {**model._params(z), "z_mean": z, "log_q": z.new_zeros(len(z))}
    total, parts = model._param_loss(outputs, params)
    return {"total": total, **parts}


def _scores(model: SynthModel, z: torch.Tensor, params: torch.Tensor) -> dict[str, float]:
    """Validation parameter MSE and median |z - f^-1(p)| / median |z|."""
    model.eval()
    with torch.no_grad():
        mse = float((model.params_from_latent(z) - params).square().mean())
        gap = (z - model.latent_from_params(params)).norm(dim=1).median() / z.norm(dim=1).median()
    return {"valid_param_mse": mse, "valid_consistency_ratio": float(gap)}


def refit_flow(
    run: str | Path,
    data_path: str | Path,
    consistency_weight: float = 30.0,
    epochs: int = 30,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> dict[str, Any]:
    """Retrain the latent -> parameter flow (and class heads) of a trained ``vae_flow_post`` run.

    The encoder is frozen; its posterior-mean latents of the run's training rows are computed once,
    and the flow is fitted to them in both directions: the Gaussian likelihood of the true
    parameters around ``f(z)`` with the flow's log-determinant, plus ``consistency_weight`` times
    half the squared distance between ``f^-1(p)`` and ``z``. A large weight makes the inverse of a
    preset land at its sound's latent (the starting point of latent walks) at some cost in the
    forward direction. ``model.pt`` is replaced by the epoch with the lowest validation parameter
    MSE among those whose consistency ratio is below 0.5 (else the lowest ratio), and re-exported
    to ONNX; ``refit.json`` records the settings and per-epoch scores.

    Arguments:
        run: a run folder of ``synthgen train --model vae_flow_post`` (``model.pt``, ``split.npz``).
        data_path: the dataset the run was trained on.

    Returns:
        The record written to ``refit.json``.
    """
    run = Path(run)
    payload, model = load_trained_module(run / "model.pt")
    if not model.is_invertible:
        raise SynthgenError(f"{run} holds a {payload['model']} model; only vae_flow_post has a flow to refit")
    split = np.load(run / "split.npz")
    stats = MelStats(**payload["mel_stats"])
    with open_dataset(data_path) as data:
        train_z, train_p = _encoder_latents(model, MelBatches(data, split["train"], stats, 512, shuffle=False))
        valid_z, valid_p = _encoder_latents(model, MelBatches(data, split["valid"], stats, 512, shuffle=False))
    model.config["consistency_weight"] = float(consistency_weight)
    heads = [*model.regression.parameters(), *(model.classifier.parameters() if model.classifier is not None else [])]
    optimizer = torch.optim.Adam(heads, lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    history, best, best_key = [], None, (True, float("inf"))
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_z), generator=generator)
        for start in range(0, len(order) - 1, batch_size):
            idx = order[start : start + batch_size]
            losses = _flow_losses(model, train_z[idx], train_p[idx])
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            torch.nn.utils.clip_grad_norm_(heads, 10.0)
            optimizer.step()
        row = {"epoch": epoch, **_scores(model, valid_z, valid_p)}
        history.append(row)
        consistent = row["valid_consistency_ratio"] < 0.5
        key = (not consistent, row["valid_param_mse"] if consistent else row["valid_consistency_ratio"])
        if key < best_key:
            best_key, best = key, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best)
    summary = {**payload.get("summary", {}), "refit": {"consistency_weight": consistency_weight, **_scores(model, valid_z, valid_p)}}
    save_checkpoint({**payload, "config": model.config, "state_dict": model.state_dict(), "summary": summary}, run / "model.pt")
    export_onnx(run / "model.pt")
    record = {"consistency_weight": consistency_weight, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate}
    record.update(seed=seed, chosen=summary["refit"], history=history)
    (run / "refit.json").write_text(json.dumps(record, indent=1))
    return record
