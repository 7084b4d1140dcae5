"""Every figure synthgen draws, in one place (matplotlib, written to PNG)."""

__all__ = [
    "plot_dataset_overview",
    "plot_examples",
    "plot_latent_walk",
    "plot_loss_curves",
    "plot_mel_comparison",
    "plot_sketch",
    "plot_walk_comparison",
    "save_mel_thumbnail",
    "show_mel",
]

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import matplotlib
import numpy as np

from synthgen.config import SynthConfig

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def plot_loss_curves(history: list[dict[str, float]], path: Path, title: str = "", baseline: float | None = None) -> None:
    """Training and validation losses per epoch, and the validation parameter MSE (against ``baseline``)."""
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_param) = plt.subplots(1, 2, figsize=(10, 3.8))
    losses = {key: [row.get(key, float("nan")) for row in history] for key in ("train_total", "valid_total")}
    for (key, values), style in zip(losses.items(), ("-", "--"), strict=True):
        ax_loss.plot(epochs, values, style, label=key.replace("_", " "))
    magnitudes = np.abs([v for values in losses.values() for v in values if np.isfinite(v)])
    # a log-like scale only where the losses span decades: within one it would label no tick
    if magnitudes.size and magnitudes.max() > 100 * max(magnitudes.min(), 1e-12):
        ax_loss.set_yscale("symlog")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_param.plot(epochs, [row["valid_param_mse"] for row in history], color="C2", label="model")
    if baseline is not None:
        ax_param.axhline(baseline, color="gray", linestyle=":", label="mean preset")
        ax_param.legend()
    ax_param.set_xlabel("epoch")
    ax_param.set_ylabel("valid parameter MSE (unit space)")
    for ax in (ax_loss, ax_param):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    _save(fig, path)


def show_mel(
    ax: plt.Axes, mel: np.ndarray, config: SynthConfig, title: str = "", vmin: float | None = None, vmax: float | None = None
) -> None:
    """Draw one log-mel ``(n_mels, n_frames)`` with time in seconds and mel band numbers."""
    feats, render = config.features, config.render
    seconds = mel.shape[1] * feats.hop_length / render.sample_rate
    ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, mel.shape[0]), vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"mel band ({feats.fmin:g}-{feats.fmax:g} Hz)")


def _mels_side_by_side(
    mels: Sequence[np.ndarray], titles: Sequence[str], config: SynthConfig, panel_width: float, height: float
) -> tuple[plt.Figure, list[plt.Axes]]:
    """A figure of log-mels ``(n_mels, n_frames)`` in one row, on one colour scale."""
    vmin = min(float(m.min()) for m in mels)
    vmax = max(float(m.max()) for m in mels)
    fig, axes = plt.subplots(1, len(mels), figsize=(panel_width * len(mels), height), squeeze=False)
    for ax, mel, title in zip(axes[0], mels, titles, strict=True):
        show_mel(ax, mel, config, title, vmin, vmax)
    return fig, list(axes[0])


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_mel_comparison(mels: Sequence[np.ndarray], titles: Sequence[str], path: Path, config: SynthConfig) -> Path:
    """Log-mels side by side on one colour scale (e.g. input vs resynthesis)."""
    return _save(_mels_side_by_side(mels, titles, config, 4.2, 3.4)[0], path)


def plot_phrase(
    mels: Sequence[np.ndarray], titles: Sequence[str], starts_s: Sequence[float], labels: Sequence[str], path: Path, config: SynthConfig
) -> Path:
    """Log-mels of a phrase one above the other, on one time axis and colour scale, each note's start marked and named."""
    vmin = min(float(m.min()) for m in mels)
    vmax = max(float(m.max()) for m in mels)
    seconds = max(m.shape[1] for m in mels) * config.features.hop_length / config.render.sample_rate
    fig, axes = plt.subplots(len(mels), 1, figsize=(min(max(6.0, 1.5 * seconds), 24.0), 2.8 * len(mels)), sharex=True, squeeze=False)
    for ax, mel, title in zip(axes[:, 0], mels, titles, strict=True):
        show_mel(ax, mel, config, title, vmin, vmax)
        for start, label in zip(starts_s, labels, strict=True):
            ax.axvline(start, color="white", linewidth=0.8, linestyle="--")
            ax.text(start, 0.97 * mel.shape[0], f" {label}", color="white", fontsize=7, va="top")
    return _save(fig, path)


def plot_examples(columns: dict[str, np.ndarray], labels: Sequence[str], path: Path, config: SynthConfig) -> Path:
    """A grid of log-mels: one row per example, one column per source (target, each method)."""
    n_rows, n_cols = len(labels), len(columns)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 2.2 * n_rows + 0.4), squeeze=False)
    for r, label in enumerate(labels):
        vmin, vmax = float(columns["target"][r].min()), float(columns["target"][r].max())
        for c, (name, mels) in enumerate(columns.items()):
            show_mel(axes[r, c], mels[r], config, name if r == 0 else "", vmin, vmax)
            axes[r, c].set_xlabel("time (s)" if r == n_rows - 1 else "", fontsize=7)
            axes[r, c].set_ylabel(f"{label[:18]}\nmel band" if c == 0 else "", fontsize=7)
            axes[r, c].tick_params(labelsize=6)
    fig.suptitle("log-mel of each target and of each method's re-render (colours scaled per row to the target)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def _mel_row(axes: Sequence[plt.Axes], mels: np.ndarray, titles: Sequence[str], config: SynthConfig, vmin: float, vmax: float) -> None:
    """Log-mels ``(S, n_mels, n_frames)`` in a row of small panels, axis labels on the first only."""
    for k, (ax, mel, title) in enumerate(zip(axes, mels, titles, strict=True)):
        show_mel(ax, mel, config, title, vmin, vmax)
        ax.tick_params(labelsize=6)
        if k:
            ax.set_ylabel("")
            ax.set_yticklabels([])
        ax.set_xlabel("time (s)" if k == 0 else "", fontsize=7)
        ax.yaxis.label.set_size(7)


def plot_latent_walk(
    mels: np.ndarray,
    values: np.ndarray,
    unit: np.ndarray,
    names: Sequence[str],
    descriptors: dict[str, np.ndarray],
    path: Path,
    config: SynthConfig,
    title: str,
) -> Path:
    """The traversal figure of one latent knob: spectrograms along the walk, every parameter, audio descriptors.

    Arguments:
        mels: log-mels of the steps ``(S, n_mels, n_frames)``.
        values: the knob's value at each step ``(S,)``.
        unit: the presets of the steps ``(S, P)`` in unit space.
        names: the ``P`` parameter names.
        descriptors: descriptor name -> values ``(S,)``; drawn rescaled to 0..1, their ranges in the legend.
        path: the PNG to write.
        config: feature and render settings (for the axes).
        title: the figure title.
    """
    n_steps, n_params = unit.shape
    fig = plt.figure(figsize=(max(12.0, 1.5 * n_steps), 3.0 + max(3.5, 0.17 * n_params)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.6, max(3.5, 0.17 * n_params)])
    _mel_row(top.subplots(1, n_steps), mels, [f"at {v:+.2f}" for v in values], config, float(mels.min()), float(mels.max()))
    top.suptitle(title, fontsize=10)
    ax_params, ax_desc = bottom.subplots(1, 2, width_ratios=[3, 2])
    half = (values[-1] - values[0]) / (2 * (n_steps - 1))
    image = ax_params.imshow(
        unit.T, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest",
        extent=(values[0] - half, values[-1] + half, n_params - 0.5, -0.5),
    )  # fmt: skip
    ax_params.set_yticks(range(n_params), names, fontsize=max(4, min(8, 500 // n_params)))
    ax_params.set_xlabel("latent value")
    ax_params.set_title("parameters along the walk (unit value)", fontsize=9)
    bottom.colorbar(image, ax=ax_params, fraction=0.04)
    for name, series in descriptors.items():
        low, high = float(series.min()), float(series.max())
        scaled = (series - low) / (high - low) if high > low else np.zeros_like(series)
        ax_desc.plot(values, scaled, marker="o", markersize=3, label=f"{name} {low:.3g}..{high:.3g}")
    ax_desc.set_xlabel("latent value")
    ax_desc.set_ylabel("rescaled to its range along the walk")
    ax_desc.set_title("audio descriptors", fontsize=9)
    ax_desc.legend(fontsize=7)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def plot_walk_comparison(
    walks: dict[str, np.ndarray], distances: dict[str, np.ndarray], path: Path, config: SynthConfig, title: str
) -> Path:
    """Several walks between the same endpoints: one row of spectrograms each, and their step sizes.

    Arguments:
        walks: walk name -> log-mels ``(S, n_mels, n_frames)`` (same ``S`` for all).
        distances: walk name -> log-mel distance of each step ``(S - 1,)``.
        path: the PNG to write.
        config: feature and render settings.
        title: the figure title.
    """
    n_steps = len(next(iter(walks.values())))
    vmin = min(float(m.min()) for m in walks.values())
    vmax = max(float(m.max()) for m in walks.values())
    fig = plt.figure(figsize=(max(12.0, 1.5 * n_steps), 2.3 * len(walks) + 2.8), layout="constrained")
    rows = fig.subfigures(len(walks) + 1, 1, height_ratios=[2.3] * len(walks) + [2.8])
    for row, (name, mels) in zip(rows, walks.items(), strict=False):
        _mel_row(row.subplots(1, n_steps), mels, [f"{name}, step {k}" for k in range(n_steps)], config, vmin, vmax)
    ax = rows[-1].subplots()
    for name, steps in distances.items():
        ax.plot(np.arange(1, n_steps), steps, marker="o", label=name)
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("log-mel distance to previous step")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def plot_sketch(
    input_mel: np.ndarray, output_mel: np.ndarray, pitch_band: np.ndarray, titles: Sequence[str], path: Path, config: SynthConfig
) -> Path:
    """A vocal sketch and its rendering, with the tracked pitch drawn over the sketch.

    Arguments:
        input_mel: the sketch's log-mel ``(n_mels, n_frames)``.
        output_mel: the rendering's log-mel ``(n_mels, n_frames)``.
        pitch_band: the tracked pitch per log-mel frame ``(n_frames,)`` as a fractional mel band; NaN where unvoiced.
        titles: the two panel titles.
        path: the PNG to write.
        config: feature and render settings.
    """
    fig, (ax_in, _) = _mels_side_by_side([input_mel, output_mel], titles, config, 4.5, 3.6)
    frame_s = config.features.hop_length / config.render.sample_rate
    ax_in.plot((np.arange(len(pitch_band)) + 0.5) * frame_s, pitch_band + 0.5, color="cyan", linewidth=1.5, label="tracked pitch")
    ax_in.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def save_mel_thumbnail(mel: np.ndarray, file: BinaryIO, vmin: float, vmax: float) -> None:
    """Write a log-mel ``(n_mels, n_frames)`` as a bare PNG image, one pixel per bin (low bands at the bottom)."""
    plt.imsave(file, mel, origin="lower", cmap="magma", vmin=vmin, vmax=vmax, format="png")


#: histogram panels per row in :func:`plot_dataset_overview`
_HISTOGRAMS_PER_ROW = 6


def plot_dataset_overview(
    examples: np.ndarray,
    labels: Sequence[str],
    unit: np.ndarray,
    names: Sequence[str],
    peak_db: np.ndarray,
    midi_pitch: np.ndarray,
    title: str,
    path: Path,
    config: SynthConfig,
) -> Path:
    """A dataset at a glance: example log-mels ``(E, n_mels, n_frames)`` (one colour scale), a histogram of each
    learned parameter's unit values ``unit`` ``(S, P)``, the rows' peak levels (dB) and how many play each note."""
    n_examples, n_params = len(examples), unit.shape[1]
    example_rows = -(-n_examples // 4)
    histogram_rows = -(-n_params // _HISTOGRAMS_PER_ROW)
    fig = plt.figure(figsize=(14, 2.6 * example_rows + 1.6 * histogram_rows + 2.8), layout="constrained")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[2.6 * example_rows, 1.6 * histogram_rows, 2.8])
    vmin, vmax = float(examples.min()), float(examples.max())
    for k, ax in enumerate(top.subplots(example_rows, 4, squeeze=False).flat):
        if k >= n_examples:
            ax.axis("off")
            continue
        show_mel(ax, examples[k], config, labels[k][:40], vmin, vmax)
        ax.tick_params(labelsize=6)
        ax.xaxis.label.set_size(7)
        ax.yaxis.label.set_size(7)
        ax.title.set_size(8)
    top.suptitle(title, fontsize=10)
    for k, ax in enumerate(middle.subplots(histogram_rows, _HISTOGRAMS_PER_ROW, squeeze=False).flat):
        if k >= n_params:
            ax.axis("off")
            continue
        ax.hist(unit[:, k], bins=20, range=(0.0, 1.0), color="tab:blue")
        ax.set_title(names[k], fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    middle.suptitle(f"learned parameters over {len(unit)} rows (unit values, 0 to 1)", fontsize=9)
    level, notes = bottom.subplots(1, 2)
    level.hist(peak_db - peak_db.max(), bins=40, color="tab:orange")
    level.set_xlabel("peak log-mel level (dB below the loudest row)", fontsize=8)
    level.set_ylabel("rows", fontsize=8)
    pitches, counts = np.unique(midi_pitch, return_counts=True)
    notes.bar([str(p) for p in pitches], counts, color="tab:green")
    notes.set_xlabel("MIDI note", fontsize=8)
    notes.set_ylabel("rows", fontsize=8)
    for ax in (level, notes):
        ax.tick_params(labelsize=7)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)
