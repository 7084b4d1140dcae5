"""Second stage for ``vae_flow_post``: refit the regression flow on the frozen encoder's latents."""

__all__ = [
    "CONSISTENT_RATIO",
    "BestEpoch",
    "encoder_rows",
    "epoch_key",
    "flow_scores",
    "load_invertible_run",
    "refit_flow",
    "save_refit",
]

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthgen.dataset import DatasetFile, open_dataset
from synthgen.errors import SynthgenError
from synthgen.features import log_mel
from synthgen.model import MelStats, load_trained_module
from synthgen.nn import SynthModel
from synthgen.nn.surrogate import SoundSurrogate
from synthgen.progress import progress_bar
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_at_pitches
from synthgen.train.checkpoint import save_checkpoint
from synthgen.train.data import MelBatches
from synthgen.train.export import export_onnx
from synthgen.train.loop import check_fit_options
from synthgen.train.run import BEST, FLOW_REFIT, replaced_model, run_folder, run_split
from synthgen.train.surrogate import SURROGATE_FILE, load_surrogate
from synthgen.versions import training_versions

#: an epoch whose median |latent - f^-1(preset)| / median |latent| on validation rows is under this has both directions agree
CONSISTENT_RATIO = 0.5


def encoder_rows(model: SynthModel, batches: MelBatches, keep_mel: bool) -> dict[str, torch.Tensor]:
    """Of every row served: posterior-mean latents ``z`` ``(N, D)``, true unit parameters ``params``
    ``(N, P)``, MIDI pitches ``pitch`` ``(N,)`` and, with ``keep_mel``, the standardized log-mels
    ``mel`` (half precision: a spectral term needs every row's, and they are the bulk of memory)."""
    parts: dict[str, list[torch.Tensor]] = {"z": [], "params": [], "pitch": [], **({"mel": []} if keep_mel else {})}
    with torch.no_grad():
        for mel, unit, pitch in batches:
            parts["z"].append(model.encode(mel, pitch))
            parts["params"].append(unit)
            parts["pitch"].append(pitch)
            if keep_mel:
                parts["mel"].append(mel.half())
    return {name: torch.cat(values) for name, values in parts.items()}


def _flow_losses(
    model: SynthModel, rows: dict[str, torch.Tensor], surrogate: SoundSurrogate | None, weight: float
) -> dict[str, torch.Tensor]:
    """The flow's loss on a batch of rows; with a surrogate, plus ``weight`` times its ``spectral`` term."""
    z = rows["z"]
    outputs = {**model._params(z), "z_mean": z, "log_q": z.new_zeros(len(z))}
    total, parts = model._param_loss(outputs, rows["params"])
    if surrogate is not None:
        parts["spectral"] = _spectral_term(model, outputs, rows, surrogate)
        total = total + weight * parts["spectral"]
    return {"total": total, **parts}


def _spectral_term(
    model: SynthModel, outputs: dict[str, torch.Tensor], rows: dict[str, torch.Tensor], surrogate: SoundSurrogate
) -> torch.Tensor:
    """Half the squared distance, summed over bins (as the VAE's reconstruction), between the rows'
    log-mels and the surrogate's log-mels of the presets the flow gives for them.

    Continuous parameters pass their gradient; the classes the heads pick go in as values, without one.
    """
    snapped = model.unit_params(outputs).detach()
    continuous = torch.tensor([n == 0 for n in model.layout.n_classes], device=snapped.device)
    unit = torch.where(continuous, outputs["param_values"].clamp(0.0, 1.0), snapped)
    return 0.5 * (surrogate(unit, rows["pitch"]) - rows["mel"].float()).square().sum((1, 2)).mean()


def flow_scores(
    model: SynthModel, rows: dict[str, torch.Tensor], surrogate: SoundSurrogate | None = None, mel_std: float = 1.0
) -> dict[str, float]:
    """Validation parameter MSE, median |z - f^-1(p)| / median |z| and, with a surrogate, its log-mel
    MSE (the dataset's units) between the rows and the presets the flow gives for them."""
    model.eval()
    z, params = rows["z"], rows["params"]
    with torch.no_grad():
        scores = {
            "valid_param_mse": float((model.params_from_latent(z) - params).square().mean()),
            "valid_consistency_ratio": float((z - model.latent_from_params(params)).norm(dim=1).median() / z.norm(dim=1).median()),
        }
        if surrogate is not None:
            bins = rows["mel"][0].numel()
            spectral = _spectral_term(model, model._params(z), rows, surrogate)
            scores["valid_surrogate_log_mel_mse"] = float(spectral) * 2 / bins * mel_std**2
    return scores


class _SoundCheck:
    """Re-renders the flow's answers for some validation rows and scores them against the rows' log-mels.

    A plugin renders in a process of its own (a preset that crashes it ends only that process), and
    a render that crashed or came out NaN counts as silence.
    """

    def __init__(self, data: DatasetFile, rows: np.ndarray, latents: torch.Tensor) -> None:
        self.config, self.latents = data.config, latents
        self.mel, self.pitch = data.read("mel", rows), data.read("midi_pitch", rows)
        self.synth = load_synth(self.config).copies(1)[0]

    def __call__(self, model: SynthModel) -> float:
        """Mean log-mel MSE between the rows' sounds and the renders of the presets ``f(z)`` gives for them."""
        model.eval()
        with torch.no_grad():
            unit = model.params_from_latent(self.latents).numpy()
        audio = render_at_pitches(self.synth, self.config, unit, self.pitch)
        return float(((log_mel(audio, self.config.render.sample_rate, self.config.features) - self.mel) ** 2).mean())


def load_invertible_run(run: str | Path, what: str) -> tuple[Path, dict[str, Any], SynthModel]:
    """The run folder ``run`` names (see :func:`~synthgen.train.run.run_folder`), and the checkpoint payload
    and module of its ``model.pt``, which must be a ``vae_flow_post`` (``what`` it has that the others
    lack, for the error)."""
    folder = run_folder(run)
    payload, model = load_trained_module(folder / BEST)
    if not model.is_invertible:
        raise SynthgenError(f"{folder} holds a {payload['model']} model; only vae_flow_post has {what}")
    return folder, payload, model


def epoch_key(scores: dict[str, float]) -> tuple[bool, float]:
    """Orders epochs, best first: those with a consistency ratio under :data:`CONSISTENT_RATIO` by how
    their presets sound (by parameter MSE without a sound check), then the others by their ratio."""
    consistent = scores["valid_consistency_ratio"] < CONSISTENT_RATIO
    error = scores.get("valid_sound_log_mel_mse", scores["valid_param_mse"])
    return not consistent, error if consistent else scores["valid_consistency_ratio"]


class BestEpoch:
    """The weights and scores of the best epoch offered so far, by :func:`epoch_key`."""

    def __init__(self) -> None:
        self.key: tuple[bool, float] = (True, float("inf"))
        self.scores: dict[str, float] = {}
        self.state: dict[str, torch.Tensor] = {}

    def offer(self, model: SynthModel, scores: dict[str, float]) -> None:
        """Keep a copy of ``model``'s weights when ``scores`` beat the best so far."""
        if (key := epoch_key(scores)) < self.key:
            self.key, self.scores, self.state = key, scores, {k: v.clone() for k, v in model.state_dict().items()}

    def restore(self, model: SynthModel) -> dict[str, float]:
        """Load the best epoch's weights into ``model``; returns its scores."""
        model.load_state_dict(self.state)
        return self.scores


def refit_flow(
    run: str | Path,
    data_path: str | Path,
    consistency_weight: float = 30.0,
    epochs: int = 30,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    seed: int = 0,
    flow_size: tuple[int, int] | None = None,
    sound_rows: int = 0,
    spectral_weight: float = 0.0,
    progress: bool = False,
) -> dict[str, Any]:
    """Retrain the latent -> parameter flow (and class heads) of a trained ``vae_flow_post`` run.

    The encoder is frozen; its posterior-mean latents of the run's training rows are computed once,
    and the flow is fitted to them in both directions: the Gaussian likelihood of the true
    parameters around ``f(z)`` with the flow's log-determinant, plus ``consistency_weight`` times
    half the squared distance between ``f^-1(p)`` and ``z``. A large weight makes the inverse of a
    preset land at its sound's latent (the starting point of latent walks) at some cost in the
    forward direction. With ``spectral_weight``, the run's render-free proxy (``RUN/surrogate.pt``,
    :func:`~synthgen.train.surrogate.train_surrogate`) adds that weight times half the squared
    distance between each row's log-mel and the proxy's log-mel of the preset ``f(z)``: the flow
    learns presets that sound like the row, not only parameters near its own (several presets can
    make one sound, and their average rarely does). ``model.pt`` is replaced by the best epoch among
    those whose consistency ratio is below 0.5 (else the one with the lowest ratio), and re-exported
    to ONNX; the model from before the first flow refit is kept as ``model.before-refit-flow.pt``, and ``refit.json`` records the
    settings, the scores before the refit and per epoch. Every argument is checked before any work, and
    nothing is written unless the refit completes. The best epoch has the lowest
    validation parameter MSE, or with ``sound_rows``, the lowest log-mel MSE between validation sounds
    and the renders of the presets the flow gives for them: parameter error is a poor guide to how a
    preset sounds.

    Arguments:
        run: a run folder of ``synthgen train --model vae_flow_post`` (``model.pt``, ``split.npz``), or its ``model.pt``.
        data_path: the dataset the run was trained on.
        flow_size: ``(steps, hidden)``: start from a new flow of that many coupling steps and
            hidden units instead of the trained one (a larger flow bends more to fit both directions).
        sound_rows: validation rows (spread over the split) re-rendered with the dataset's synth
            after every epoch to choose the epoch kept; 0: choose by parameter MSE.
        spectral_weight: weight of the proxy's spectral term; 0: none (no proxy needed).
        progress: show a progress bar over the epochs (their consistency ratio and parameter MSE).

    Returns:
        The record written to ``refit.json``.
    """
    check_fit_options(epochs, batch_size, learning_rate, seed)
    if not (math.isfinite(spectral_weight) and spectral_weight >= 0) or sound_rows < 0:
        raise SynthgenError(f"--spectral-weight and --sound-rows must be 0 or more, got {spectral_weight} and {sound_rows}")
    run, payload, model = load_invertible_run(run, "a flow to refit")
    flow = {} if flow_size is None else {"regression_steps": flow_size[0], "regression_hidden": flow_size[1]}
    new_settings = model.checked_settings({"consistency_weight": consistency_weight, **flow})
    surrogate, surrogate_record = load_surrogate(run / SURROGATE_FILE, payload) if spectral_weight > 0 else (None, None)
    stats = MelStats(**payload["mel_stats"])
    with open_dataset(data_path) as data:
        split = run_split(run, data)
        train = encoder_rows(model, MelBatches(data, split["train"], stats, 512, shuffle=False), surrogate is not None)
        valid = encoder_rows(model, MelBatches(data, split["valid"], stats, 512, shuffle=False), surrogate is not None)
        picks = np.unique(np.linspace(0, len(valid["z"]) - 1, min(sound_rows, len(valid["z"]))).astype(int))
        sound_check = _SoundCheck(data, split["valid"][picks], valid["z"][picks]) if sound_rows > 0 else None
    before = _epoch_scores(model, valid, surrogate, stats.std, sound_check)
    model.config.update(new_settings)
    if flow_size is not None:
        torch.manual_seed(seed)
        model._build_param_map()
    heads = [*model.regression.parameters(), *(model.classifier.parameters() if model.classifier is not None else [])]
    optimizer = torch.optim.Adam(heads, lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    history, kept = [], BestEpoch()
    bar = progress_bar(total=epochs, desc="refit flow", unit="epoch", disable=not progress)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train["z"]), generator=generator)
        for start in range(0, len(order) - 1, batch_size):
            idx = order[start : start + batch_size]
            losses = _flow_losses(model, {name: values[idx] for name, values in train.items()}, surrogate, spectral_weight)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            torch.nn.utils.clip_grad_norm_(heads, 10.0)
            optimizer.step()
        row = {"epoch": epoch + 1, **_epoch_scores(model, valid, surrogate, stats.std, sound_check)}
        history.append(row)
        kept.offer(model, row)
        bar.set_postfix(consistency=f"{row['valid_consistency_ratio']:.2f}", param_mse=f"{row['valid_param_mse']:.4f}", refresh=False)
        bar.update()
    bar.close()
    chosen = {"consistency_weight": consistency_weight, "spectral_weight": spectral_weight, **kept.restore(model)}
    if surrogate_record is not None:
        chosen["surrogate"] = surrogate_record
    record = {"consistency_weight": consistency_weight, "spectral_weight": spectral_weight, "epochs": epochs}
    record.update(batch_size=batch_size, learning_rate=learning_rate)
    record["flow_size"] = None if flow_size is None else {"steps": flow_size[0], "hidden": flow_size[1]}
    record.update(seed=seed, sound_rows=len(picks) if sound_check else 0, before=before, chosen=chosen, history=history)
    return save_refit(run, payload, model, FLOW_REFIT, record)


def _epoch_scores(
    model: SynthModel, valid: dict[str, torch.Tensor], surrogate: SoundSurrogate | None, mel_std: float, sound_check: "_SoundCheck | None"
) -> dict[str, float]:
    """:func:`flow_scores` on the validation rows, and with a sound check, the log-mel MSE of its renders."""
    scores = flow_scores(model, valid, surrogate, mel_std)
    if sound_check is not None:
        scores["valid_sound_log_mel_mse"] = sound_check(model)
    return scores


def save_refit(run: Path, payload: dict[str, Any], model: SynthModel, name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Replace ``RUN/model.pt`` by ``model`` (its summary keeping ``record["chosen"]`` under ``name``) and
    its ONNX export, keep the model from before the first refit of this kind as :func:`~synthgen.train.run.replaced_model`, and write
    ``record`` to ``RUN/<name>.json``; returns ``record``.

    The new checkpoint and its export are written to a folder of their own first and moved in only
    once both are complete, so a failure leaves ``model.pt`` as it was.
    """
    staging = run / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        summary = {**payload.get("summary", {}), name: record["chosen"]}
        new = {**payload, "config": model.config, "state_dict": model.state_dict(), "summary": summary}
        save_checkpoint(new, staging / BEST)
        exported = export_onnx(staging / BEST)
        backup = replaced_model(run, name)
        if not backup.exists():  # a refit run again keeps the model from before the first
            shutil.copyfile(run / BEST, backup)
        for file in reversed(exported):  # the sidecar first: it names the new checkpoint, so the old one runs on torch meanwhile
            os.replace(file, run / file.name)
        os.replace(staging / BEST, run / BEST)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record.update(replaced=str(backup), versions=training_versions())
    (run / f"{name}.json").write_text(json.dumps(record, indent=1))
    return record
