"""Uses of a trained model: resynthesis, evaluation, metrics, macro knobs, interpolation, sketching, a grid page."""

__all__: list[str] = []
