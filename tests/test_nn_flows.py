"""Contract tests for the flow layers: shapes, exact inverse, log-determinant, gradients."""

import pytest
import torch
from torch.autograd.functional import jacobian

from synthgen.nn.flows import (
    ActNorm,
    AffineCoupling,
    FlowLayer,
    IAFStep,
    Reverse,
    Sigmoid,
    iaf_flow,
    regression_flow,
)

BATCH = 6

# (id, factory, dim, context_dim)
CASES = [
    ("iaf", lambda: IAFStep(5, 16), 5, 0),
    ("iaf_context", lambda: IAFStep(5, 16, context_dim=3), 5, 3),
    ("iaf_dim1", lambda: IAFStep(1, 8, context_dim=2), 1, 2),
    ("coupling_even", lambda: AffineCoupling(5, 16, parity=0), 5, 0),
    ("coupling_odd_context", lambda: AffineCoupling(5, 16, parity=1, context_dim=3), 5, 3),
    ("actnorm", lambda: ActNorm(5), 5, 0),
    ("reverse", Reverse, 5, 0),
    ("sigmoid", lambda: Sigmoid(-0.05, 1.05), 5, 0),
    ("iaf_flow", lambda: iaf_flow(5, 2, 16, context_dim=3), 5, 3),
    ("regression_flow", lambda: regression_flow(5, 3, 16, -0.05, 1.05), 5, 0),
    ("regression_flow_dim1", lambda: regression_flow(1, 2, 8, 0.0, 1.0), 1, 0),
]


def _setup(factory, dim: int, context_dim: int) -> tuple[FlowLayer, torch.Tensor, torch.Tensor | None]:
    """A float64 layer with random (non-identity) parameters in eval mode, inputs and context."""
    torch.manual_seed(0)
    layer = factory().double().eval()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.normal_(0.0, 0.3)
    x = torch.randn(BATCH, dim, dtype=torch.float64)
    context = torch.randn(BATCH, context_dim, dtype=torch.float64) if context_dim else None
    return layer, x, context


@pytest.mark.parametrize(("factory", "dim", "context_dim"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_flow_contract(factory, dim: int, context_dim: int) -> None:
    layer, x, context = _setup(factory, dim, context_dim)
    y, log_det = layer(x, context)
    assert y.shape == x.shape
    assert log_det.shape == (BATCH,)
    torch.testing.assert_close(layer.inverse(y, context), x, atol=1e-9, rtol=1e-9)

    for i in range(3):
        row_context = None if context is None else context[i : i + 1]
        jac = jacobian(lambda row, c=row_context: layer(row[None], c)[0][0], x[i])
        torch.testing.assert_close(torch.linalg.slogdet(jac).logabsdet, log_det[i], atol=1e-9, rtol=1e-9)

    if context is None and not list(layer.parameters()):
        return
    if context is not None:
        context.requires_grad_(True)
    y, log_det = layer(x, context)
    (y.square().sum() + log_det.sum()).backward()
    for name, parameter in layer.named_parameters():
        if dim == 1 and name == "made.hidden.weight":
            continue  # nothing precedes the only input, so its input weights are all masked
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    if context is not None:
        assert context.grad.abs().sum() > 0


@pytest.mark.parametrize("context_dim", [0, 3])
def test_iaf_is_autoregressive(context_dim: int) -> None:
    layer, x, context = _setup(lambda: IAFStep(5, 16, context_dim), 5, context_dim)
    row_context = None if context is None else context[:1]
    jac = jacobian(lambda row: layer(row[None], row_context)[0][0], x[0])
    assert torch.count_nonzero(torch.triu(jac, diagonal=1)) == 0


def test_actnorm_initializes_from_first_training_batch() -> None:
    layer = ActNorm(4).double()
    x = torch.randn(256, 4, dtype=torch.float64) * 3.0 + 2.0
    y, _ = layer(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(y.std(0), torch.ones(4, dtype=torch.float64), atol=1e-5, rtol=0)
    assert bool(layer.initialized)
    before = layer.bias.detach().clone()
    layer(x * 5.0)
    torch.testing.assert_close(layer.bias.detach(), before)


def test_sigmoid_inverse_is_finite_at_the_ends() -> None:
    layer = Sigmoid()
    x = layer.inverse(torch.tensor([[0.0, 1.0, -0.5, 1.5]]))
    assert torch.isfinite(x).all()
