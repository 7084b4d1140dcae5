"""Latent models: VAE, WAE, VAE with an IAF posterior, and VAE with a regression flow to parameters."""

__all__ = ["VAE", "VAEFlow", "VAEFlowPost", "WAE", "log_normal", "rbf_mmd"]

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from synthgen.errors import SynthgenError
from synthgen.nn.base import CONV_DEFAULTS, SynthModel
from synthgen.nn.encoders import mlp
from synthgen.nn.flows import iaf_flow, regression_flow
from synthgen.nn.heads import ParameterHead

_LOG_2PI = math.log(2 * math.pi)
# RBF bandwidths of the MMD, as multiples of 2 * latent_dim (the prior's mean squared distance).
_MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def log_normal(x: Tensor, mean: Tensor | float = 0.0, log_var: Tensor | float = 0.0) -> Tensor:
    """Log-density of a diagonal Gaussian at ``x`` (B, D), summed over dimensions: ``(B,)``."""
    log_var = torch.as_tensor(log_var, dtype=x.dtype, device=x.device)
    return -0.5 * (_LOG_2PI + log_var + (x - mean).square() * torch.exp(-log_var)).sum(-1)


def rbf_mmd(x: Tensor, y: Tensor) -> Tensor:
    """Squared maximum mean discrepancy (biased estimate) between samples ``x`` and ``y`` (N, D).

    The kernel is the mean of RBF kernels at the bandwidths in ``_MMD_SCALES``, so the value lies
    in [0, 2].
    """
    samples = torch.cat([x, y])
    norms = samples.square().sum(1)
    sq_dist = (norms[:, None] + norms[None, :] - 2 * samples @ samples.T).clamp(min=0.0)
    kernel = sum(torch.exp(-sq_dist / (2 * x.shape[1] * scale)) for scale in _MMD_SCALES) / len(_MMD_SCALES)
    n = len(x)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


class VAE(SynthModel):
    """Conv VAE on log-mels plus an MLP from the latent to the parameters.

    Posterior ``N(mu, exp(logvar))``, prior ``N(0, I)``; the decoder gives the mean of a
    unit-variance Gaussian over the standardized log-mel. ``latent_dim`` 0 means one latent
    dimension per learned parameter (the paper's choice).

    With pitch conditioning, the encoder's features and the decoder's input carry the pitch
    feature, and the map from the latent to the parameters does not: the latent holds the timbre.

    Outputs: ``mel`` (B, n_mels, n_frames), ``z`` (B, D) (a posterior sample in training mode,
    the mean in eval mode), ``mu``, ``logvar``, ``log_q`` (B,) (posterior log-density at ``z``),
    ``param_values`` (B, P), ``param_logits`` (B, n_logits).
    Loss: ``recon`` + beta * ``kl`` + gamma * ``param``; ``param`` = ``param_sse`` + ``param_ce``.
    """

    NAME = "vae"
    DEFAULTS: ClassVar[dict[str, int | float]] = {
        **CONV_DEFAULTS,
        "latent_dim": 0,
        "regressor_hidden": 64,
        "regressor_layers": 2,
    }
    has_latent = True
    _stochastic = True

    def __init__(self, n_classes: Sequence[int], n_mels: int, n_frames: int, **settings: int | float) -> None:
        super().__init__(n_classes, n_mels, n_frames, **settings)
        c = self.config
        c["latent_dim"] = c["latent_dim"] or self.n_params
        self.latent_dim = c["latent_dim"]
        self.encoder = self._conv_encoder()
        self.to_latent = nn.Linear(c["hidden"] + self.n_conditions, self.latent_dim * (2 if self._stochastic else 1))
        self.decoder = self._conv_decoder(self.latent_dim + self.n_conditions)
        self._build_param_map()

    def _build_param_map(self) -> None:
        c = self.config
        self.regressor = nn.Sequential(
            mlp(self.latent_dim, c["regressor_hidden"], c["regressor_layers"]),
            ParameterHead(c["regressor_hidden"], self.layout),
        )

    def _params(self, z: Tensor) -> dict[str, Tensor]:
        return self.regressor(z)

    def _posterior(self, features: Tensor, sample: bool) -> dict[str, Tensor]:
        mu, logvar = self.to_latent(features).chunk(2, dim=-1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu
        return {"z": z, "mu": mu, "logvar": logvar, "log_q": log_normal(z, mu, logvar)}

    def _latent_loss(self, outputs: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        mu, logvar = outputs["mu"], outputs["logvar"]
        kl = 0.5 * (mu.square() + torch.exp(logvar) - 1 - logvar).sum(-1).mean()
        return kl, {"kl": kl}

    def _param_loss(self, outputs: dict[str, Tensor], params_unit: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        parts = self.regressor[-1].loss(outputs, params_unit)
        return parts["param_sse"] + parts["param_ce"], parts

    def _features(self, mel: Tensor, midi_pitch: Tensor | None) -> Tensor:
        self.check_mel(mel)
        return self.condition(self.encoder(mel), midi_pitch)

    def forward(self, mel: Tensor, midi_pitch: Tensor | None = None) -> dict[str, Tensor]:
        outputs = self._posterior(self._features(mel, midi_pitch), sample=self.training)
        outputs["mel"] = self.decode(outputs["z"], midi_pitch)
        return {**outputs, **self._params(outputs["z"])}

    def loss(
        self,
        mel: Tensor,
        params_unit: Tensor,
        outputs: dict[str, Tensor],
        beta: float = 1.0,
        gamma: float = 1.0,
    ) -> dict[str, Tensor]:
        """Batch means of per-example sums; ``recon`` is half the squared error over all bins."""
        self.layout.check(params_unit)
        recon = 0.5 * (outputs["mel"] - mel).square().sum((1, 2)).mean()
        latent, latent_parts = self._latent_loss(outputs)
        param, param_parts = self._param_loss(outputs, params_unit)
        total = recon + beta * latent + gamma * param
        return {"total": total, "recon": recon, **latent_parts, "param": param, **param_parts}

    def encode(self, mel: Tensor, midi_pitch: Tensor | None = None) -> Tensor:
        return self._posterior(self._features(mel, midi_pitch), sample=False)["z"]

    def decode(self, z: Tensor, midi_pitch: Tensor | None = None) -> Tensor:
        return self.decoder(self.condition(z, midi_pitch))

    def params_from_latent(self, z: Tensor, snap: bool = True) -> Tensor:
        """Latents -> unit parameters ``(B, P)``; ``snap=False`` keeps ``param_values`` as is."""
        outputs = self._params(z)
        return self.unit_params(outputs) if snap else outputs["param_values"]

    def infer(self, mel: Tensor, midi_pitch: Tensor | None = None) -> Tensor:
        return self.params_from_latent(self.encode(mel, midi_pitch))


class WAE(VAE):
    """Wasserstein autoencoder: deterministic encoder, RBF-kernel MMD to ``N(0, I)`` instead of a KL.

    Outputs as :class:`VAE` without ``mu``, ``logvar``, ``log_q``. Loss: ``recon`` +
    beta * ``mmd`` + gamma * ``param``, where ``mmd`` is ``mmd_weight`` times the squared MMD
    between the batch latents and as many prior draws (``mmd_weight`` puts it on the scale of a
    KL in nats).
    """

    NAME = "wae"
    DEFAULTS: ClassVar[dict[str, int | float]] = {**VAE.DEFAULTS, "mmd_weight": 100.0}
    _stochastic = False

    def _posterior(self, features: Tensor, sample: bool) -> dict[str, Tensor]:
        return {"z": self.to_latent(features)}

    def _latent_loss(self, outputs: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        z = outputs["z"]
        mmd = self.config["mmd_weight"] * rbf_mmd(z, torch.randn_like(z))
        return mmd, {"mmd": mmd}


class VAEFlow(VAE):
    """VAE whose Gaussian posterior sample ``z0`` is refined by ``iaf_steps`` IAF steps.

    The flow is amortized: each step also sees the encoder features. ``kl`` is the one-sample
    estimate ``log q(z|x) - log p(z)`` with ``log q(z|x) = log N(z0; mu, sigma) - logdet``.
    Outputs as :class:`VAE` plus ``z0`` and ``logdet`` (B,); loss parts add ``logdet``
    (already inside ``kl``).
    """

    NAME = "vae_flow"
    DEFAULTS: ClassVar[dict[str, int | float]] = {**VAE.DEFAULTS, "iaf_steps": 4, "iaf_hidden": 64}

    def __init__(self, n_classes: Sequence[int], n_mels: int, n_frames: int, **settings: int | float) -> None:
        super().__init__(n_classes, n_mels, n_frames, **settings)
        c = self.config
        self.posterior_flow = iaf_flow(self.latent_dim, c["iaf_steps"], c["iaf_hidden"], c["hidden"] + self.n_conditions)

    def _posterior(self, features: Tensor, sample: bool) -> dict[str, Tensor]:
        outputs = super()._posterior(features, sample)
        z, log_det = self.posterior_flow(outputs["z"], features)
        log_q = outputs["log_q"] - log_det
        return {**outputs, "z0": outputs["z"], "z": z, "logdet": log_det, "log_q": log_q}

    def _latent_loss(self, outputs: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        kl = (outputs["log_q"] - log_normal(outputs["z"])).mean()
        return kl, {"kl": kl, "logdet": outputs["logdet"].mean()}


class VAEFlowPost(VAEFlow):
    """IAF-posterior VAE whose latent maps to the parameters through an invertible regression flow.

    ``latent_dim`` equals the number of learned parameters P, so the flow ``f`` (ActNorm and
    affine couplings, then a sigmoid onto ``(-param_margin, 1 + param_margin)``) is a bijection
    between latents and parameter vectors; the margin keeps targets at exactly 0 or 1 at finite
    latents. Class parameters are regressed by the flow like the others (their unit values),
    and a small classifier from ``z`` picks their class when snapping.

    The regression term is the KL between the parameter distribution the model predicts, ``q(z|x)``
    pushed through ``f``, and ``N(p, param_std^2)`` around the true parameters, estimated from the
    same sample ``z``: the paper's Gaussian likelihood of ``p`` around ``f(z)`` plus the flow's
    log-determinant, plus ``log q(z|x)``, which keeps the term bounded below so that ``gamma``
    may exceed ``beta`` without the posterior collapsing.

    Both directions of the map are trained: ``param_consistency`` is half the squared distance
    between ``f^-1(p)`` of the true parameters and the posterior mean latent of the sound (the
    encoder's latent), a unit-variance Gaussian likelihood of the preset's latent around the
    sound's, so that a preset walked from in latent space starts where the encoder puts its
    sound. Loss: ``recon`` + beta * ``kl`` + gamma * ``param`` with ``param`` = ``param_nll`` -
    ``param_logdet`` + ``param_log_q`` + ``param_ce`` + ``consistency_weight`` *
    ``param_consistency``. Outputs as :class:`VAEFlow` plus ``z_mean`` (B, D) (the posterior
    mean latent) and ``param_logdet`` (B,); ``param_values`` is
    ``f(z)``, and ``params_from_latent(z, snap=False)`` returns it: the exact inverse of
    :meth:`latent_from_params` (values may pass 0 or 1 by up to ``param_margin``).
    """

    NAME = "vae_flow_post"
    DEFAULTS: ClassVar[dict[str, int | float]] = {
        **VAEFlow.DEFAULTS,
        "regression_steps": 4,
        "regression_hidden": 64,
        "param_std": 0.05,
        "param_margin": 0.05,
        "consistency_weight": 4.0,
    }
    is_invertible = True

    def __init__(self, n_classes: Sequence[int], n_mels: int, n_frames: int, **settings: int | float) -> None:
        latent_dim = settings.get("latent_dim", 0)
        if latent_dim not in (0, len(n_classes)):
            raise SynthgenError(
                f"vae_flow_post needs latent_dim equal to the number of learned parameters ({len(n_classes)}) or 0, got {latent_dim}"
            )
        super().__init__(n_classes, n_mels, n_frames, **settings)

    def _build_param_map(self) -> None:
        c = self.config
        margin = c["param_margin"]
        self.regression = regression_flow(self.n_params, c["regression_steps"], c["regression_hidden"], -margin, 1 + margin)
        self.classifier = (
            nn.Sequential(
                mlp(self.n_params, c["regressor_hidden"], c["regressor_layers"]),
                nn.Linear(c["regressor_hidden"], self.layout.n_logits),
            )
            if self.layout.n_logits
            else None
        )

    def _posterior(self, features: Tensor, sample: bool) -> dict[str, Tensor]:
        outputs = super()._posterior(features, sample)
        outputs["z_mean"] = self.posterior_flow(outputs["mu"], features)[0] if sample else outputs["z"]
        return outputs

    def _params(self, z: Tensor) -> dict[str, Tensor]:
        values, log_det = self.regression(z)
        logits = z.new_zeros(len(z), 0) if self.classifier is None else self.classifier(z)
        return {"param_values": values, "param_logits": logits, "param_logdet": log_det}

    def _param_loss(self, outputs: dict[str, Tensor], params_unit: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        log_var = 2 * math.log(self.config["param_std"])
        parts = {
            "param_nll": -log_normal(params_unit, outputs["param_values"], log_var).mean(),
            "param_logdet": outputs["param_logdet"].mean(),
            "param_log_q": outputs["log_q"].mean(),
            "param_ce": self.layout.cross_entropy(outputs["param_logits"], params_unit).mean(),
            "param_consistency": 0.5 * (self.regression.inverse(params_unit) - outputs["z_mean"]).square().sum(-1).mean(),
        }
        param = parts["param_nll"] - parts["param_logdet"] + parts["param_log_q"] + parts["param_ce"]
        return param + self.config["consistency_weight"] * parts["param_consistency"], parts

    def latent_from_params(self, params_unit: Tensor) -> Tensor:
        self.layout.check(params_unit)
        return self.regression.inverse(params_unit)
