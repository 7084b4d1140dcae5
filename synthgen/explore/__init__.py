"""Use a latent model: macro knobs, interpolation, vocal sketching and a listening page over its space."""

__all__: list[str] = []
