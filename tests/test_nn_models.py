"""Tests of the six models: shapes, losses, learning, checkpoints, classes and latent maps."""

import json

import pytest
import torch

from synthgen.errors import SynthgenError
from synthgen.nn import MODEL_NAMES, SynthModel, build_model

N_CLASSES = (0, 0, 3, 0)
CLASS_COLUMN = 2
N_MELS, N_FRAMES = 16, 20
CONV = {"channels": 8, "conv_layers": 2, "hidden": 32, "regressor_hidden": 16, "regressor_layers": 1}
SETTINGS = {
    "mlp": {"hidden": 32, "layers": 2, "dropout": 0.1},
    "cnn": {"channels": 8, "conv_layers": 2, "hidden": 32, "mlp_layers": 1, "dropout": 0.1},
    "vae": CONV,
    "wae": CONV,
    "vae_flow": {**CONV, "iaf_steps": 2, "iaf_hidden": 16},
    "vae_flow_post": {
        **CONV,
        "iaf_steps": 2,
        "iaf_hidden": 16,
        "regression_steps": 2,
        "regression_hidden": 16,
    },
}
TRAIN_STEPS = 40


def _build(name: str, **overrides) -> SynthModel:
    torch.manual_seed(0)
    settings = {**SETTINGS[name], **overrides}
    return build_model(name, n_classes=list(N_CLASSES), n_mels=N_MELS, n_frames=N_FRAMES, **settings)


def _batch(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Learnable synthetic data: each parameter scales a fixed random mel pattern."""
    generator = torch.Generator().manual_seed(seed)
    params = torch.rand(n, len(N_CLASSES), generator=generator)
    params[:, CLASS_COLUMN] = torch.randint(0, 3, (n,), generator=generator) / 2
    patterns = torch.randn(len(N_CLASSES), N_MELS, N_FRAMES, generator=torch.Generator().manual_seed(99))
    noise = 0.05 * torch.randn(n, N_MELS, N_FRAMES, generator=generator)
    return torch.einsum("bp,pmf->bmf", params, patterns) + noise, params


@pytest.fixture(scope="module", params=MODEL_NAMES)
def trained(request) -> tuple[str, SynthModel, list[dict[str, float]]]:
    """A model after a few dozen Adam steps on the synthetic batch, with its loss history."""
    name = request.param
    model = _build(name)
    mel, params = _batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    model.train()
    for _ in range(TRAIN_STEPS):
        losses = model.loss(mel, params, model(mel), beta=1.0, gamma=1.0)
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
        history.append({key: value.item() for key, value in losses.items()})
    return name, model.eval(), history


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_outputs_and_losses(name: str) -> None:
    model = _build(name)
    mel, params = _batch(8)
    outputs = model(mel)
    assert outputs["param_values"].shape == (8, len(N_CLASSES))
    assert outputs["param_logits"].shape == (8, 3)
    losses = model.loss(mel, params, outputs, beta=0.5, gamma=0.5)
    assert {"total", "param"} <= set(losses)
    assert all(value.ndim == 0 and torch.isfinite(value) for value in losses.values())
    if model.has_latent:
        assert outputs["mel"].shape == mel.shape
        assert outputs["z"].shape == (8, model.latent_dim)
        assert "recon" in losses
        assert ("mmd" if name == "wae" else "kl") in losses


def test_training_lowers_the_loss(trained) -> None:
    name, _, history = trained
    for key in ("total", "param"):
        first = sum(step[key] for step in history[:5]) / 5
        last = sum(step[key] for step in history[-5:]) / 5
        assert last < first, (name, key, first, last)


def test_checkpoint_round_trip(trained) -> None:
    name, model, _ = trained
    mel, _ = _batch(8, seed=1)
    config = json.loads(json.dumps(model.config))
    rebuilt = build_model(name, **config)
    rebuilt.load_state_dict(model.state_dict())
    rebuilt.eval()
    with torch.no_grad():
        expected, actual = model(mel), rebuilt(mel)
        assert expected.keys() == actual.keys()
        for key in expected:
            torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0)
        torch.testing.assert_close(rebuilt.infer(mel), model.infer(mel), rtol=0, atol=0)


def test_infer_gives_unit_values_and_valid_classes(trained) -> None:
    _, model, _ = trained
    mel, _ = _batch(16, seed=2)
    with torch.no_grad():
        params = model.infer(mel)
    assert params.shape == (16, len(N_CLASSES))
    assert ((params >= 0) & (params <= 1)).all()
    assert set(params[:, CLASS_COLUMN].tolist()) <= {0.0, 0.5, 1.0}


def test_latent_api(trained) -> None:
    _, model, _ = trained
    mel, params = _batch(8, seed=3)
    if not model.has_latent:
        with pytest.raises(SynthgenError):
            model.encode(mel)
        with pytest.raises(SynthgenError):
            model.params_from_latent(torch.zeros(8, len(N_CLASSES)))
        return
    with torch.no_grad():
        z = model.encode(mel)
        assert z.shape == (8, model.latent_dim)
        assert model.decode(z).shape == mel.shape
        torch.testing.assert_close(model.params_from_latent(z), model.infer(mel))
    if not model.is_invertible:
        with pytest.raises(SynthgenError):
            model.latent_from_params(params)
        return
    z = torch.randn(64, len(N_CLASSES), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        values = model.params_from_latent(z, snap=False)
        torch.testing.assert_close(model.latent_from_params(values), z, atol=1e-3, rtol=1e-3)
        corners = torch.tensor([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
        assert torch.isfinite(model.latent_from_params(corners)).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_default_settings_on_the_reference_mel_size(name: str) -> None:
    model = build_model(name, n_classes=[0] * 5 + [4], n_mels=64, n_frames=80).eval()
    mel = torch.randn(2, 64, 80)
    with torch.no_grad():
        outputs = model(mel)
    assert model.infer(mel).shape == (2, 6)
    if model.has_latent:
        assert outputs["mel"].shape == mel.shape
        assert model.latent_dim == 6


@pytest.mark.parametrize(("n_mels", "n_frames"), [(37, 23), (64, 80)])
def test_paper_like_conv_settings_on_other_sizes(n_mels: int, n_frames: int) -> None:
    settings = {"channels": 4, "conv_layers": 5, "kernel_size": 7, "dilation_growth": 2, "hidden": 16}
    model = build_model("vae", n_classes=[0, 0], n_mels=n_mels, n_frames=n_frames, **settings).eval()
    mel = torch.randn(2, n_mels, n_frames)
    with torch.no_grad():
        assert model(mel)["mel"].shape == mel.shape


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("transformer", {}),
        ("vae", {"latent_size": 4}),
        ("vae", {"conv_layers": -1}),
        ("cnn", {"dropout": "lots"}),
        ("vae_flow_post", {"latent_dim": 8}),
        ("cnn", {"kernel_size": 2, "conv_layers": 5}),
    ],
)
def test_bad_settings_raise(name: str, settings: dict) -> None:
    with pytest.raises(SynthgenError):
        build_model(name, n_classes=[0, 3], n_mels=N_MELS, n_frames=N_FRAMES, **settings)


def test_bad_inputs_raise() -> None:
    model = _build("vae")
    mel, params = _batch(4)
    with pytest.raises(SynthgenError):
        model(mel[:, :, :-1])
    with pytest.raises(SynthgenError):
        model.loss(mel, params[:, :2], model(mel))
    with pytest.raises(SynthgenError):
        build_model("mlp", n_mels=N_MELS, n_frames=N_FRAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_pitch_is_an_input(name: str) -> None:
    """The note changes what a conditioned model infers; None means note 60; an unconditioned model ignores it."""
    mel, _ = _batch(4, seed=5)
    model = _build(name).eval()
    low, high = torch.full((4,), 36.0), torch.full((4,), 84.0)
    with torch.no_grad():
        assert not torch.allclose(model(mel, low)["param_values"], model(mel, high)["param_values"])
        torch.testing.assert_close(model(mel)["param_values"], model(mel, torch.full((4,), 60.0))["param_values"])
        torch.testing.assert_close(model.infer(mel, 72), model.infer(mel, torch.full((4,), 72.0)))
        plain = _build(name, pitch_conditioning=0).eval()
        torch.testing.assert_close(plain(mel, low)["param_values"], plain(mel, high)["param_values"])
        if model.has_latent:
            z = model.encode(mel, low)
            assert not torch.allclose(model.decode(z, low), model.decode(z, high))


def _inverse_gap(consistency_weight: float) -> float:
    """Median |encoder latent - flow inverse of the true parameters| / median |encoder latent| after training."""
    model = _build("vae_flow_post", consistency_weight=consistency_weight)
    mel, params = _batch(64)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(2 * TRAIN_STEPS):
        losses = model.loss(mel, params, model(mel), beta=1.0, gamma=1.0)
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        z = model.encode(mel)
        gap = (z - model.latent_from_params(params)).norm(dim=1)
    return float(gap.median() / z.norm(dim=1).median())


def test_consistency_term_brings_the_two_directions_together() -> None:
    # a weight whose effect (about half the gap) stands well above how the gap moves with the number of threads (10 %)
    assert _inverse_gap(30.0) < 0.7 * _inverse_gap(0.0)
