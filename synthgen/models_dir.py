"""Where the pretrained models shipped with synthgen live."""

__all__ = ["DEFAULT_MODEL", "MODELS_DIR"]

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# The repository's models/ folder; a built wheel carries it inside the package.
MODELS_DIR = next((d for d in (_PACKAGE / "models", _PACKAGE.parent / "models") if d.is_dir()), _PACKAGE.parent / "models")
DEFAULT_MODEL = MODELS_DIR / "builtin_vae_flow_post" / "model.pt"
