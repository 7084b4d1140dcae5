"""synthgen: universal synthesizer control.

Synth configs -> parameter spaces -> rendered datasets -> models with an invertible latent <-> parameter
map -> uses (resynthesis, evaluation, macro knobs, interpolation, vocal sketching).

Names are imported on first use (declared in ``__init__.pyi`` for editors and type checkers), so that
``import synthgen`` stays fast and pulls neither DawDreamer nor torch.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
