"""Commands that learn from datasets and package what they learned: ``train``, ``refit-flow``, ``refit-encoder``,
``train-surrogate``, ``export-onnx`` and ``index``."""

__all__ = ["export_onnx", "index", "refit_encoder", "refit_flow", "train", "train_surrogate"]

import json
from pathlib import Path
from typing import Any

import click

from synthgen.cli.options import progress_wanted, verbosity_options

MODEL_CHOICES = ("mlp", "cnn", "vae", "wae", "vae_flow", "vae_flow_post")
#: fewer training rows than this get a note that the model will be of little use
FEW_TRAINING_ROWS = 1000


def _settings(pairs: tuple[str, ...]) -> dict[str, object]:
    """``--set KEY=VALUE`` pairs as a dict of JSON values (the model checks their kinds), each key once."""
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        if key in out:
            raise click.BadParameter(f"{key} is given twice ({out[key]!r}, then {value}): give each setting once", param_hint="--set")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            raise click.BadParameter(f"{key}={value}: {value!r} is not a number", param_hint="--set") from None
    return out


#: ``type=`` of the options that take a learning rate (the fit refuses one that is not finite, or above 1)
_LEARNING_RATE = click.FloatRange(min=0, min_open=True, max=1)


class _TrainCommand(click.Command):
    """``train``, whose help ends with every model's settings and their defaults (where torch is installed)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The epilog, then one row per model: the settings ``--set`` takes, with their defaults."""
        super().format_epilog(ctx, formatter)
        try:
            from synthgen.nn.models import setting_defaults
        except ImportError:  # the light install: no torch, no training
            return
        rows = [(name, ", ".join(f"{k}={v:g}" for k, v in setting_defaults(name).items())) for name in MODEL_CHOICES]
        with formatter.section("Model settings (--set KEY=VALUE) and their defaults"):
            formatter.write_dl(rows)


@click.command(cls=_TrainCommand)
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Dataset folder made by `synthgen render`.")
@click.option("--model", type=click.Choice(MODEL_CHOICES), default="vae_flow_post", show_default=True, help="Model family.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run folder: model.pt, checkpoints, metrics, curves.")
@click.option("--epochs", type=int, default=100, show_default=True, help="Maximum epochs.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Rows per training batch (at least 2).")
@click.option("--lr", "learning_rate", type=float, default=1e-3, show_default=True, help="Adam learning rate (halved on plateaus).")
@click.option("--patience", type=int, default=20, show_default=True, help="Epochs without validation progress before stopping.")
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seeds the split, the initialization and the batch order."
)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto (a GPU when there is one).")
@click.option(
    "--set",
    "model_settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Model setting, e.g. --set channels=64 (repeatable; every model's are listed below).",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last epoch (same --data and options; --epochs may grow).")
@verbosity_options("Also print one line per epoch: losses, validation error, learning rate, time.")
def train(
    data: Path,
    model: str,
    out: Path,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    seed: int,
    device: str,
    model_settings: tuple[str, ...],
    resume: bool,
    verbosity: int,
) -> None:
    """Train a model that maps log-mel spectrograms to synth parameters.

    Models: mlp and cnn regress parameters directly; vae and wae learn a latent sound space with an
    MLP to parameters; vae_flow refines the posterior with an inverse autoregressive flow;
    vae_flow_post maps latents to parameters with an invertible regression flow.

    Example: synthgen train --data data/builtin --model vae_flow_post --out runs/builtin
    """
    from synthgen.train import TrainSettings, train_model
    from synthgen.train.run import LAST

    settings = TrainSettings(
        model=model,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        patience=patience,
        seed=seed,
        device=device,
        model_settings=_settings(model_settings),
    )
    try:
        summary = train_model(
            data, out, settings, resume=resume, progress=progress_wanted(verbosity, logged=True), log=click.echo if verbosity > 0 else None
        )
    except KeyboardInterrupt:
        if (out / LAST).exists():
            raise  # the CLI says to continue with --resume
        click.echo("\ninterrupted: no epoch finished: run the same command again, without --resume", err=True)
        click.get_current_context().exit(130)
    if summary.get("resumed_finished_run"):
        click.echo(f"{out} was already finished ({summary['stopped']}): nothing to train")
    click.echo(
        f"{model}: best validation parameter MSE {summary['best_valid_param_mse']:.4f} at epoch {summary['best_epoch']} "
        f"(mean preset: {summary['mean_preset_valid_mse']:.4f}); model in {out / 'model.pt'}"
        + (f"; {summary['stopped']}" if summary.get("stopped") and not summary.get("resumed_finished_run") else "")
    )
    if summary["n_train"] < FEW_TRAINING_ROWS:
        click.echo(
            f"note: it learned from {summary['n_train']} rows: a model needs thousands to be of use (render more: --n 10000)", err=True
        )


@click.command("export-onnx")
@click.argument("model", type=click.Path(path_type=Path))
def export_onnx(model: Path) -> None:
    """Write the ONNX export of a trained MODEL (a model.pt or run folder) beside it.

    One graph per inference path (model.encode.onnx, ...) and model.onnx.json with the settings,
    mel statistics and synth config: with them, resynth and the other uses run on onnxruntime,
    without torch. `synthgen train` writes them itself; this command needs torch.

    Example: synthgen export-onnx runs/builtin
    """
    from synthgen.train.export import export_onnx as export

    for path in export(model):
        click.echo(f"wrote {path}")


@click.command("refit-flow")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), required=True, help="The dataset the run was trained on.")
@click.option("--consistency-weight", type=click.FloatRange(min=0), default=30.0, show_default=True, help="Weight of |f^-1(p) - z|^2 / 2.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True, help="Passes over the run's training latents.")
@click.option("--lr", "learning_rate", type=_LEARNING_RATE, default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seeds the batch order (and a new flow's weights).")
@click.option(
    "--new-flow",
    type=(click.IntRange(min=1), click.IntRange(min=2)),
    default=None,
    metavar="STEPS HIDDEN",
    help="Start from a new flow of STEPS coupling steps with HIDDEN units instead of the trained one.",
)
@click.option(
    "--sound-rows",
    type=click.IntRange(min=0),
    default=256,
    show_default=True,
    help="Validation rows re-rendered after each epoch to keep the epoch whose presets sound closest (0: keep the lowest parameter MSE).",
)
@click.option(
    "--spectral-weight",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Weight of the distance between each sound and the RUN/surrogate.pt proxy's log-mel of the flow's preset (0: none).",
)
@verbosity_options()
def refit_flow(
    run: Path,
    data: Path,
    consistency_weight: float,
    epochs: int,
    learning_rate: float,
    seed: int,
    new_flow: tuple[int, int] | None,
    sound_rows: int,
    spectral_weight: float,
    verbosity: int,
) -> None:
    """Refit the latent <-> parameter flow of a trained vae_flow_post RUN on its frozen encoder.

    RUN is the run folder (the --out of `synthgen train`) or its model.pt. Makes the flow's inverse
    of a preset land at the encoder's latent of its sound. Keeps the epoch whose presets sound
    closest (the lowest validation parameter MSE with --sound-rows 0) among those where the two
    directions agree: median |latent - f^-1(preset)| / median |latent| under 0.5; if no epoch gets
    there, the one with the lowest ratio, with a warning. Replaces RUN/model.pt (and its ONNX
    export), keeping the model from before the first refit-flow as RUN/model.before-refit-flow.pt, and writes RUN/refit.json.
    With --spectral-weight it also learns presets that sound like each training sound, through the
    render-free proxy that `synthgen train-surrogate RUN` made.

    Example (the shipped built-in model's refit, 5-7 minutes on one core):
    synthgen refit-flow runs/builtin --data data/builtin --consistency-weight 1500 --epochs 40 --lr 3e-3 --new-flow 6 256
    """
    from synthgen.train.refit import refit_flow as refit

    record = refit(
        run,
        data,
        consistency_weight,
        epochs,
        learning_rate=learning_rate,
        seed=seed,
        flow_size=new_flow,
        sound_rows=sound_rows,
        spectral_weight=spectral_weight,
        progress=progress_wanted(verbosity, logged=True),
    )
    _report_refit("refit", record, quiet=verbosity < 0)


@click.command("refit-encoder")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), required=True, help="The dataset the run was trained on.")
@click.option("--consistency-weight", type=click.FloatRange(min=0), default=300.0, show_default=True, help="Weight of |f^-1(p) - z|^2 / 2.")
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True, help="Passes over the run's training rows.")
@click.option("--batch-size", type=click.IntRange(min=2), default=256, show_default=True, help="Rows per batch.")
@click.option("--lr", "learning_rate", type=_LEARNING_RATE, default=3e-4, show_default=True, help="Adam learning rate.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seeds the batch order and the posterior samples.")
@verbosity_options()
def refit_encoder(
    run: Path, data: Path, consistency_weight: float, epochs: int, batch_size: int, learning_rate: float, seed: int, verbosity: int
) -> None:
    """Refit the encoder and decoder of a trained vae_flow_post RUN to its frozen flow.

    RUN is the run folder (the --out of `synthgen train`) or its model.pt. Trains them on the run's
    training rows with the model's own loss, the consistency term at --consistency-weight, so that
    the encoder puts each sound where the flow's inverse puts its preset (the start of a macro walk
    from a preset). Best after `synthgen refit-flow`: the flow
    adapts to the encoder there, the encoder to the flow here. Keeps the epoch with the lowest
    validation parameter MSE among those whose median |latent - f^-1(preset)| / median |latent| is
    under 0.5 (if none is, the one with the lowest ratio, with a warning); replaces RUN/model.pt (and
    its ONNX export), keeping the model from before the first refit-encoder as RUN/model.before-refit-encoder.pt, and writes
    RUN/encoder_refit.json.
    About 100 s per epoch of 70,000 rows on two CPU cores.

    Example: synthgen refit-encoder runs/amsynth --data data/amsynth --consistency-weight 300 --epochs 3
    """
    from synthgen.train.encoder_refit import refit_encoder as refit

    record = refit(run, data, consistency_weight, epochs, batch_size, learning_rate, seed, progress=progress_wanted(verbosity, logged=True))
    _report_refit("refit the encoder of", record, quiet=verbosity < 0)


# The validation scores a refit reports, before and after, with their labels and formats.
_REFIT_SCORES = (
    ("valid_param_mse", "parameter MSE", ".4f"),
    ("valid_consistency_ratio", "median |latent - f^-1(preset)| / median |latent|", ".2f"),
    ("valid_surrogate_log_mel_mse", "proxy log-mel MSE", ".3f"),
    ("valid_sound_log_mel_mse", "log-mel MSE of its renders", ".3f"),
)


def _report_refit(did: str, record: dict[str, Any], quiet: bool = False) -> None:
    """The epoch a refit kept, its validation scores before -> after and where the replaced model is
    (unless ``quiet``); a warning on stderr when no epoch brought the consistency ratio under its bound."""
    from synthgen.train.refit import CONSISTENT_RATIO

    chosen, before = record["chosen"], record["before"]
    model = Path(record["replaced"]).with_name("model.pt")
    if not quiet:
        scores = ", ".join(f"{label} {before[k]:{f}} -> {chosen[k]:{f}}" for k, label, f in _REFIT_SCORES if k in chosen)
        click.echo(f"{did} {model} (epoch {chosen['epoch']} of {len(record['history'])}); validation {scores}")
        click.echo(f"the model from before the first such refit is kept as {record['replaced']}")
    if chosen["valid_consistency_ratio"] >= CONSISTENT_RATIO:
        click.echo(
            f"warning: no epoch brought median |latent - f^-1(preset)| / median |latent| under {CONSISTENT_RATIO}: "
            f"kept epoch {chosen['epoch']}, the one with the lowest ({chosen['valid_consistency_ratio']:.2f})",
            err=True,
        )


@click.command("train-surrogate")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), required=True, help="The dataset the run was trained on.")
@click.option("--epochs", type=click.IntRange(min=1), default=25, show_default=True, help="Passes over the run's training rows.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True, help="Rows per batch.")
@click.option("--lr", "learning_rate", type=_LEARNING_RATE, default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--hidden", type=click.IntRange(min=1), default=1024, show_default=True, help="Width of the hidden layers.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seeds the initialization and the batch order.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, or auto (a GPU when there is one).")
@verbosity_options("Also print one line per epoch: validation error and time.")
def train_surrogate(
    run: Path, data: Path, epochs: int, batch_size: int, learning_rate: float, hidden: int, seed: int, device: str, verbosity: int
) -> None:
    """Learn a render-free proxy of the synth for a trained RUN: preset and note in, log-mel out.

    It trains on the run's own training rows and writes RUN/surrogate.pt (and surrogate.json, its
    record); `synthgen refit-flow RUN --spectral-weight W` then teaches the model's flow presets
    that sound like its sounds. About 20 s per epoch of 70,000 rows on two CPU cores.

    Example: synthgen train-surrogate runs/amsynth --data data/amsynth
    """
    from synthgen.train.surrogate import SURROGATE_FILE
    from synthgen.train.surrogate import train_surrogate as fit

    summary = fit(
        run,
        data,
        epochs,
        batch_size,
        learning_rate,
        hidden=hidden,
        seed=seed,
        device=device,
        progress=progress_wanted(verbosity, logged=True),
        log=click.echo if verbosity > 0 else None,
    )
    click.echo(
        f"surrogate {run / SURROGATE_FILE}: validation log-mel MSE {summary['best_valid_log_mel_mse']:.3f} "
        f"at epoch {summary['best_epoch']} of {epochs}"
    )


@click.command()
@click.option("--model", type=click.Path(path_type=Path), required=True, help="A model.pt (or run folder); the index is saved next to it.")
@click.option(
    "--data", type=click.Path(path_type=Path), default=None, help="The model's training dataset (default: the one its training recorded)."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seeds the rows the PCA basis is fitted on.")
def index(model: Path, data: Path | None, seed: int) -> None:
    """Index a model's training sounds (PCA-reduced log-mels and their presets) for resynthesis search.

    Writes index.npz next to the model (replacing one there); `synthgen resynth` then starts its
    search from the training sounds nearest to the input as well as from the model's answer. Other
    sounds of the synth may be indexed too (a larger set): it says so.

    Example: synthgen index --model runs/a --data data/builtin
    """
    from synthgen.model import load_model
    from synthgen.uses.index import index_model

    done = index_model(load_model(model), data, seed, progress=progress_wanted(0, logged=True))
    for note in done.notes:
        click.echo(f"note: {note}")
    replaced = "" if done.replaced_bytes is None else f" (replacing the index of {done.replaced_bytes / 1e6:.1f} MB there)"
    size_mb = done.path.stat().st_size / 1e6
    click.echo(f"wrote {done.path}{replaced}: {len(done.index)} sounds, {done.index.metadata['n_components']} components, {size_mb:.1f} MB")
