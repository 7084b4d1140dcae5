"""Neural networks that map synth sounds to parameters, through invertible latent maps."""

__all__ = ["MODEL_NAMES", "SynthModel", "build_model"]

from synthgen.nn.base import SynthModel
from synthgen.nn.models import MODEL_NAMES, build_model
