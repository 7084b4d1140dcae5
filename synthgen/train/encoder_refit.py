"""Last stage for ``vae_flow_post``: refit the encoder and decoder to the frozen flow, so that both directions agree."""

__all__ = ["ENCODER_REFIT", "refit_encoder"]

from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthgen.dataset import open_dataset
from synthgen.model import MelStats
from synthgen.progress import progress_bar
from synthgen.train.data import MelBatches
from synthgen.train.loop import check_fit_options
from synthgen.train.refit import BestEpoch, encoder_rows, flow_scores, load_invertible_run, save_refit
from synthgen.train.run import ENCODER_REFIT, run_split


def refit_encoder(
    run: str | Path,
    data_path: str | Path,
    consistency_weight: float = 300.0,
    epochs: int = 3,
    batch_size: int = 256,
    learning_rate: float = 3e-4,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Retrain the encoder and decoder of a trained ``vae_flow_post`` run with its flow frozen.

    The training loss is the model's own (reconstruction, KL, the parameters' likelihood through
    the flow) at full weight, with ``consistency_weight`` times half the squared distance between
    the encoder's latent of each sound and the flow's inverse of its preset. The flow does not
    move, so the encoder cannot meet it by shrinking its latents (as it can when both train):
    it learns to put each sound where the flow's inverse puts its preset, which is what a macro
    walk started from a preset needs. The class heads keep their weights, but their batch-norm
    statistics follow the encoder's new latents (else they describe latents it no longer makes,
    and pick classes worse). ``model.pt`` is replaced by the best epoch (by
    :func:`~synthgen.train.refit.epoch_key`: among those whose median |latent - f^-1(preset)| /
    median |latent| on validation rows is below 0.5, the lowest parameter MSE; if none is, the
    lowest ratio) and re-exported to ONNX; the model from before the first encoder refit is kept as ``model.before-refit-encoder.pt``,
    and ``encoder_refit.json`` records the settings, the scores before the refit and every epoch's.
    Every argument is checked before any work, and nothing is written unless the refit completes.

    Arguments:
        run: a run folder of ``synthgen train --model vae_flow_post`` (``model.pt``, ``split.npz``), or its ``model.pt``.
        data_path: the dataset the run was trained on.

    Returns:
        The record written to ``encoder_refit.json``.
    """
    check_fit_options(epochs, batch_size, learning_rate, seed)
    run, payload, model = load_invertible_run(run, "a flow to refit the encoder to")
    new_settings = model.checked_settings({"consistency_weight": consistency_weight})
    torch.manual_seed(seed)
    frozen = [model.regression, *([model.classifier] if model.classifier is not None else [])]
    for part in frozen:
        part.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    model.config.update(new_settings)
    optimizer = torch.optim.Adam(trained, lr=learning_rate)
    stats = MelStats(**payload["mel_stats"])
    history, kept = [], BestEpoch()
    with open_dataset(data_path) as data:
        split = run_split(run, data)
        train = MelBatches(data, split["train"], stats, batch_size, shuffle=True, seed=seed)
        valid = MelBatches(data, split["valid"], stats, 512, shuffle=False)
        before = flow_scores(model, encoder_rows(model, valid, False))
        for epoch in range(epochs):
            model.train()  # the classifier's batch-norm statistics follow the new latents; its weights stay
            train.epoch = epoch
            losses = []
            for mel, unit, pitch in progress_bar(train, desc=f"refit encoder, epoch {epoch + 1}/{epochs}", disable=not progress):
                loss = model.loss(mel, unit, model(mel, pitch))["total"]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trained, 10.0)
                optimizer.step()
                losses.append(float(loss.detach()))
            model.eval()
            row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), **flow_scores(model, encoder_rows(model, valid, False))}
            history.append(row)
            kept.offer(model, row)
    record = {"consistency_weight": consistency_weight, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate}
    record.update(seed=seed, before=before, chosen={"consistency_weight": consistency_weight, **kept.restore(model)}, history=history)
    return save_refit(run, payload, model, ENCODER_REFIT, record)
