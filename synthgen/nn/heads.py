"""Parameter outputs: sigmoid values for continuous parameters, class logits for the others."""

__all__ = ["ParamLayout", "ParameterHead"]

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from synthgen.errors import SynthgenError


class ParamLayout:
    """Where each learned parameter lives in a model's outputs.

    Arguments:
        n_classes: per parameter, 0 for continuous or ``K`` for a discrete/categorical parameter
            with ``K`` classes, whose unit value for class ``k`` is ``k / (K - 1)``.

    Class parameters get ``K`` logits each, concatenated in parameter order into one
    ``(B, n_logits)`` tensor.
    """

    def __init__(self, n_classes: Sequence[int]) -> None:
        self.n_classes = tuple(int(k) for k in n_classes)
        if not self.n_classes or min(self.n_classes) < 0:
            raise SynthgenError(f"n_classes must list one count >= 0 per learned parameter, got {list(n_classes)}")
        self.size = len(self.n_classes)
        self.continuous = [j for j, k in enumerate(self.n_classes) if k == 0]
        self.classes = [j for j, k in enumerate(self.n_classes) if k > 0]
        counts = [self.n_classes[j] for j in self.classes]
        self.n_logits = sum(counts)
        self._slices = [slice(sum(counts[:i]), sum(counts[: i + 1])) for i in range(len(counts))]
        self._inverse_order = [0] * self.size
        for position, j in enumerate(self.continuous + self.classes):
            self._inverse_order[j] = position

    def check(self, params_unit: Tensor) -> None:
        """Raises unless ``params_unit`` is ``(B, P)`` for this layout."""
        if params_unit.ndim != 2 or params_unit.shape[1] != self.size:
            raise SynthgenError(f"expected parameters of shape (batch, {self.size}), got {tuple(params_unit.shape)}")

    def _class_grid(self, n: int, like: Tensor) -> Tensor:
        return torch.arange(n, dtype=like.dtype, device=like.device) / max(n - 1, 1)

    def assemble(self, continuous: Tensor, classes: Tensor) -> Tensor:
        """``(B, n_continuous)`` and ``(B, n_class_params)`` columns -> ``(B, P)`` in parameter order."""
        stacked = torch.cat([continuous, classes], dim=1)
        return stacked[:, torch.as_tensor(self._inverse_order, device=stacked.device)]

    def expected_values(self, logits: Tensor) -> Tensor:
        """Softmax-expected unit value per class parameter ``(B, n_class_params)``."""
        columns = [F.softmax(logits[:, s], dim=1) @ self._class_grid(s.stop - s.start, logits) for s in self._slices]
        return torch.stack(columns, dim=1) if columns else logits.new_zeros(len(logits), 0)

    def argmax_values(self, logits: Tensor) -> Tensor:
        """Unit value of the most likely class per class parameter ``(B, n_class_params)``."""
        columns = [logits[:, s].argmax(dim=1).to(logits.dtype) / max(s.stop - s.start - 1, 1) for s in self._slices]
        return torch.stack(columns, dim=1) if columns else logits.new_zeros(len(logits), 0)

    def cross_entropy(self, logits: Tensor, params_unit: Tensor) -> Tensor:
        """Cross-entropy summed over class parameters, per row ``(B,)``; targets from unit values."""
        total = logits.new_zeros(len(logits))
        for j, s in zip(self.classes, self._slices, strict=True):
            target = torch.round(params_unit[:, j] * max(s.stop - s.start - 1, 1)).long()
            total = total + F.cross_entropy(logits[:, s], target, reduction="none")
        return total

    def unit(self, values: Tensor, logits: Tensor) -> Tensor:
        """Unit parameters ``(B, P)`` in [0, 1]: continuous values clipped, classes by argmax."""
        continuous = values[:, self.continuous].clamp(0.0, 1.0)
        return self.assemble(continuous, self.argmax_values(logits))


class ParameterHead(nn.Module):
    """Features ``(B, in_features)`` -> ``param_values`` (B, P) and ``param_logits`` (B, n_logits).

    ``param_values`` holds the sigmoid output for continuous parameters and the softmax-expected
    class value for class parameters.
    """

    def __init__(self, in_features: int, layout: ParamLayout) -> None:
        super().__init__()
        self.layout = layout
        self.linear = nn.Linear(in_features, len(layout.continuous) + layout.n_logits)

    def forward(self, features: Tensor) -> dict[str, Tensor]:
        raw = self.linear(features)
        n_continuous = len(self.layout.continuous)
        logits = raw[:, n_continuous:]
        values = self.layout.assemble(torch.sigmoid(raw[:, :n_continuous]), self.layout.expected_values(logits))
        return {"param_values": values, "param_logits": logits}

    def loss(self, outputs: dict[str, Tensor], params_unit: Tensor) -> dict[str, Tensor]:
        """Batch means of per-row sums: ``param_sse`` (squared errors of continuous parameters) and
        ``param_ce`` (cross-entropies of class parameters)."""
        columns = self.layout.continuous
        error = outputs["param_values"][:, columns] - params_unit[:, columns]
        return {
            "param_sse": error.square().sum(1).mean(),
            "param_ce": self.layout.cross_entropy(outputs["param_logits"], params_unit).mean(),
        }
