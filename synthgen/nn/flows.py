"""Invertible flow layers: IAF, affine coupling, ActNorm, reversal, sigmoid, and their composition."""

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "Flow",
    "FlowLayer",
    "IAFStep",
    "MADE",
    "Reverse",
    "Sigmoid",
    "iaf_flow",
    "regression_flow",
]

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

# Written by hand rather than taken from a flow library: the models need an inverse
# autoregressive flow amortized on encoder features (context) for the posterior and a coupling
# flow that is cheap to invert both ways for the latent <-> parameter map; each layer is a few
# dozen lines of torch and keeps the package free of extra dependencies.


class FlowLayer(nn.Module, ABC):
    """A bijection ``y = f(x)`` on ``(B, D)`` with the log-determinant of its Jacobian.

    ``context`` is an optional ``(B, C)`` conditioning tensor; layers that do not use it ignore it.
    """

    @abstractmethod
    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Returns ``y`` (B, D) and ``log |det df/dx|`` (B,)."""

    @abstractmethod
    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        """Returns ``x`` (B, D) with ``f(x) = y``."""


class MADE(nn.Module):
    """Masked autoencoder: output ``i`` of each of ``n_outputs`` blocks sees only inputs ``< i``.

    The context enters the hidden layer without a mask. Hidden units of degree 0 see no input,
    only the context, and feed every output (for ``dim`` 1 they are the whole network).
    """

    def __init__(self, dim: int, hidden: int, n_outputs: int, context_dim: int = 0) -> None:
        super().__init__()
        in_degree = torch.arange(1, dim + 1)
        hidden_degree = torch.arange(hidden) % dim
        out_degree = in_degree.repeat(n_outputs)
        self.register_buffer("in_mask", (hidden_degree[:, None] >= in_degree[None, :]).float())
        self.register_buffer("out_mask", (out_degree[:, None] > hidden_degree[None, :]).float())
        self.hidden = nn.Linear(dim, hidden)
        self.output = nn.Linear(hidden, dim * n_outputs)
        self.context = nn.Linear(context_dim, hidden, bias=False) if context_dim else None

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """``x`` (B, D) -> ``(B, n_outputs * D)``, block ``k`` at ``[:, k*D:(k+1)*D]``."""
        h = F.linear(x, self.hidden.weight * self.in_mask, self.hidden.bias)
        if self.context is not None:
            h = h + self.context(context)
        return F.linear(F.elu(h), self.output.weight * self.out_mask, self.output.bias)


class IAFStep(FlowLayer):
    """Inverse autoregressive step with a gated update (Kingma et al. 2016).

    ``y = g * x + (1 - g) * m`` where ``m`` and ``g = sigmoid(s)`` come from a MADE over ``x``
    (and the context). The forward pass (sampling) is one network call; the inverse needs ``D``.
    """

    def __init__(self, dim: int, hidden: int, context_dim: int = 0) -> None:
        super().__init__()
        self.dim = dim
        self.made = MADE(dim, hidden, 2, context_dim)
        with torch.no_grad():
            # Gate bias > 0 starts each step close to the identity.
            self.made.output.bias[dim:].fill_(2.0)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        shift, gate_logit = self.made(x, context).chunk(2, dim=-1)
        gate = torch.sigmoid(gate_logit)
        return gate * x + (1 - gate) * shift, F.logsigmoid(gate_logit).sum(-1)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        x = torch.zeros_like(y)
        for _ in range(self.dim):
            shift, gate_logit = self.made(x, context).chunk(2, dim=-1)
            gate = torch.sigmoid(gate_logit)
            x = (y - (1 - gate) * shift) / gate
        return x


class AffineCoupling(FlowLayer):
    """RealNVP affine coupling: entries with ``index % 2 == parity`` condition the others.

    ``y_b = x_b * exp(s) + t`` with ``(s, t)`` from an MLP of the kept entries (and the context);
    ``s`` is bounded by ``scale * tanh``. Exact inverse in one network call.
    """

    def __init__(self, dim: int, hidden: int, parity: int, context_dim: int = 0) -> None:
        super().__init__()
        self.register_buffer("mask", (torch.arange(dim) % 2 == parity).float())
        self.net = nn.Sequential(
            nn.Linear(dim + context_dim, hidden),
            nn.ELU(),
            nn.Linear(hidden, hidden),
            nn.ELU(),
            nn.Linear(hidden, 2 * dim),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(torch.ones(dim))

    def _log_scale_shift(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        inputs = x * self.mask if context is None else torch.cat([x * self.mask, context], -1)
        raw_scale, shift = self.net(inputs).chunk(2, dim=-1)
        free = 1 - self.mask
        return self.scale * torch.tanh(raw_scale) * free, shift * free

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        log_scale, shift = self._log_scale_shift(x, context)
        return x * torch.exp(log_scale) + shift, log_scale.sum(-1)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        log_scale, shift = self._log_scale_shift(y, context)
        return (y - shift) * torch.exp(-log_scale)


class ActNorm(FlowLayer):
    """Per-dimension affine ``y = (x + b) * exp(s)``; ``b, s`` set from the first training batch.

    The data-dependent initialization gives zero mean and unit variance per dimension on that
    batch; the ``initialized`` buffer is saved with the state dict so a loaded model keeps its
    values.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.training and not self.initialized and x.shape[0] > 1:
            with torch.no_grad():
                self.bias.copy_(-x.mean(0))
                self.log_scale.copy_(-torch.log(x.std(0) + 1e-6))
                self.initialized.fill_(True)
        y = (x + self.bias) * torch.exp(self.log_scale)
        return y, self.log_scale.sum().expand(x.shape[0])

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


class Reverse(FlowLayer):
    """Reverses the order of the dimensions (volume preserving)."""

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return x.flip(-1), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        return y.flip(-1)


class Sigmoid(FlowLayer):
    """``y = low + (high - low) * sigmoid(x)``; the inverse clamps into the open range first.

    Arguments:
        low, high: output range; a range slightly wider than [0, 1] keeps targets at exactly
            0 or 1 at finite pre-images.
        eps: relative clamp margin of the inverse, so values at or past the ends stay finite.
    """

    def __init__(self, low: float = 0.0, high: float = 1.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.low, self.high, self.eps = low, high, eps

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        width = self.high - self.low
        log_det = (math.log(width) - F.softplus(-x) - F.softplus(x)).sum(-1)
        return self.low + width * torch.sigmoid(x), log_det

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        unit = ((y - self.low) / (self.high - self.low)).clamp(self.eps, 1 - self.eps)
        return torch.logit(unit)


class Flow(FlowLayer):
    """A sequence of flow layers; log-determinants add up, the inverse runs backwards."""

    def __init__(self, layers: Sequence[FlowLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        log_det = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, step_log_det = layer(x, context)
            log_det = log_det + step_log_det
        return x, log_det

    def inverse(self, y: Tensor, context: Tensor | None = None) -> Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y, context)
        return y


def iaf_flow(dim: int, n_steps: int, hidden: int, context_dim: int) -> Flow:
    """Posterior flow: ``n_steps`` of (IAF step, ActNorm, Reverse), amortized on a context."""
    layers: list[FlowLayer] = []
    for _ in range(n_steps):
        layers += [IAFStep(dim, hidden, context_dim), ActNorm(dim), Reverse()]
    return Flow(layers)


def regression_flow(dim: int, n_steps: int, hidden: int, low: float, high: float) -> Flow:
    """Latent -> parameter flow: ``n_steps`` of (ActNorm, coupling) then a sigmoid to ``(low, high)``.

    Couplings alternate which half of the entries they transform; for ``dim`` 1 the flow is
    one ActNorm and the sigmoid.
    """
    if dim == 1:  # a coupling has nothing to condition on: one learned affine map
        return Flow([ActNorm(1), Sigmoid(low, high)])
    layers: list[FlowLayer] = []
    for step in range(n_steps):
        layers += [ActNorm(dim), AffineCoupling(dim, hidden, parity=step % 2)]
    return Flow([*layers, Sigmoid(low, high)])
