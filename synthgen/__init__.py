"""synthgen: universal synthesizer control.

Synth configs -> parameter spaces -> rendered datasets -> models with an invertible latent <-> parameter
map -> uses (resynthesis, evaluation, macro knobs, interpolation, vocal sketching).

Names are imported on first use so that ``import synthgen`` stays fast and pulls neither DawDreamer
nor torch.
"""

__all__ = [
    "ParameterSpace",
    "SynthConfig",
    "SynthgenError",
    "load_config",
    "load_model",
    "load_synth",
    "open_dataset",
    "render_dataset",
]

from importlib import import_module
from typing import Any

_WHERE = {
    "ParameterSpace": "synthgen.params",
    "SynthConfig": "synthgen.config",
    "SynthgenError": "synthgen.errors",
    "load_config": "synthgen.config",
    "load_model": "synthgen.model",
    "load_synth": "synthgen.synths.loading",
    "open_dataset": "synthgen.dataset",
    "render_dataset": "synthgen.dataset",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'synthgen' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
