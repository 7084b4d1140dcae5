"""Model registry: build any synthgen model by name from its JSON-ready settings."""

__all__ = ["MODEL_NAMES", "build_model", "setting_defaults"]

from synthgen.errors import SynthgenError
from synthgen.nn.autoencoders import VAE, WAE, VAEFlow, VAEFlowPost
from synthgen.nn.base import SynthModel
from synthgen.nn.regressors import CNNRegressor, MLPRegressor

_MODELS: dict[str, type[SynthModel]] = {model.NAME: model for model in (MLPRegressor, CNNRegressor, VAE, WAE, VAEFlow, VAEFlowPost)}
MODEL_NAMES: tuple[str, ...] = tuple(_MODELS)


def build_model(name: str, **config: object) -> SynthModel:
    """A new model ``name`` (one of :data:`MODEL_NAMES`) with the given settings.

    Arguments:
        name: model name.
        config: ``n_classes`` (per learned parameter: 0 continuous, ``K`` classes), ``n_mels``,
            ``n_frames``, and any of the model's ``DEFAULTS``; ``model.config`` of a built model
            rebuilds it, so a checkpoint is ``name``, ``config`` and the state dict.

    Every model's ``loss(...)`` returns ``total`` and ``param`` (the gamma-weighted term; for
    ``mlp``/``cnn`` ``total`` = ``param`` and beta/gamma are ignored); autoencoders add ``recon``
    and ``kl`` (``mmd`` for ``wae``), the beta-weighted term. Further keys are parts of these.
    """
    if name not in _MODELS:
        raise SynthgenError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    missing = [key for key in ("n_classes", "n_mels", "n_frames") if key not in config]
    if missing:
        raise SynthgenError(f"model {name!r} needs the setting {missing[0]!r}")
    return _MODELS[name](**config)


def setting_defaults(name: str) -> dict[str, int | float]:
    """The settings model ``name`` takes (``synthgen train --set KEY=VALUE``), each with its default."""
    return _MODELS[name].setting_defaults()
