"""Every figure synthgen draws, in one place (matplotlib, written to PNG)."""

__all__ = ["plot_loss_curves"]

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_loss_curves(history: list[dict[str, float]], path: Path, title: str = "") -> None:
    """Training and validation losses per epoch, and the validation parameter MSE."""
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_param) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, style in (("train_total", "-"), ("valid_total", "--")):
        ax_loss.plot(epochs, [row.get(key, float("nan")) for row in history], style, label=key.replace("_", " "))
    ax_loss.set_yscale("symlog")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_param.plot(epochs, [row["valid_param_mse"] for row in history], color="C2")
    ax_param.set_xlabel("epoch")
    ax_param.set_ylabel("valid parameter MSE (unit space)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
