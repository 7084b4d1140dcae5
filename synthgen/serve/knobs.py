"""Macro knobs for the panel: the latent dimensions that change the sound most and most evenly."""

__all__ = ["Knob", "choose_knobs"]

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.errors import SynthgenError
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.uses.macro import rank_dimensions, walk_dimensions


@dataclass(frozen=True)
class Knob:
    """One macro knob: a latent dimension and the parameters it moves most.

    Arguments:
        dim: the latent dimension.
        moved: names of the parameters that move most along it, most first.
        score: its macro ranking score (``change * smoothness``).
    """

    dim: int
    moved: tuple[str, ...]
    score: float

    def to_dict(self) -> dict:
        return {"dim": self.dim, "moved": list(self.moved), "score": self.score}


def choose_knobs(
    model: LoadedModel,
    synth: Synth,
    count: int,
    dims: Sequence[int] = (),
    steps: int = 5,
    latent_range: float = 3.0,
) -> list[Knob]:
    """Rank latent dimensions as knobs (the ranking ``synthgen macro`` prints) and keep the best.

    Arguments:
        model: a model with a latent space.
        synth: the model's synth (renders ``steps`` sounds per dimension walked).
        count: how many knobs to keep when ``dims`` is empty.
        dims: latent dimensions to use, in this order (only these are walked); empty: rank all.
        steps: points per walk used for the ranking.
        latent_range: how far each walk goes on either side of the centre.

    Returns:
        The knobs, best first (or in the order of ``dims``).
    """
    n_dims = model.latent_dim
    if not dims and count > n_dims:
        raise SynthgenError(f"--knobs {count} is more than the {n_dims} latent dimensions of model {model.path}")
    walked = list(dims) or list(range(n_dims))
    walks = walk_dimensions(model, synth, walked, np.zeros(n_dims, dtype=np.float32), steps, latent_range)
    scores = {s.dim: s for s in rank_dimensions(walks, model.config.space.names)}
    order = list(dims) or list(scores)[:count]
    return [Knob(d, tuple(name for name, _ in scores[d].moved), scores[d].score) for d in order]
