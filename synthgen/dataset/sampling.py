"""Where a dataset's presets come from: uniform random, human presets, or random presets near them."""

__all__ = ["AroundPresets", "HumanPresets", "PresetSource", "UniformPresets"]

import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from synthgen.params import ParameterSpace

Items = tuple[np.ndarray, list[str], list[str]]


@dataclass(frozen=True)
class PresetSource:
    """A numbered list of presets; item ``i`` is a pure function of the seed, so any worker makes it."""

    space: ParameterSpace
    seed: int

    #: whether a rejected (silent or broken) render may be replaced by a new draw
    retry_rejected: ClassVar[bool] = True

    @property
    def n_items(self) -> int:
        raise NotImplementedError

    def items(self, ids: np.ndarray, attempt: int) -> Items:
        """Unit presets ``(n, P)`` for item ids, with their bank and preset names.

        ``attempt`` > 0 asks for replacements of items whose render was rejected.
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What identifies this source in a dataset's metadata."""
        return {"kind": type(self).__name__, "n_items": self.n_items}

    def authored(self, ids: np.ndarray) -> list[dict[str, float]] | None:
        """Per item, the values its author gave the parameters the config does not learn (None: the config's fixed values)."""
        return None

    def _rng(self, item: int, attempt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(item), attempt])


@dataclass(frozen=True)
class UniformPresets(PresetSource):
    """``n`` presets drawn uniformly over the parameter space."""

    n: int = 0

    @property
    def n_items(self) -> int:
        return self.n

    def items(self, ids: np.ndarray, attempt: int) -> Items:
        unit = np.concatenate([self.space.sample(1, self._rng(i, attempt)) for i in ids])
        return unit, ["uniform"] * len(ids), [f"random-{i}" for i in ids]


@dataclass(frozen=True)
class HumanPresets(PresetSource):
    """Presets made by people ``(M, P)`` in unit space, rendered as they are.

    A rejected render is dropped, not replaced: there is no other preset to put in its place.
    """

    unit: np.ndarray | None = None
    banks: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    #: per preset, its own values of the parameters the config does not learn; None: the config's fixed values
    own_values: tuple[dict[str, float], ...] | None = None

    retry_rejected: ClassVar[bool] = False

    @property
    def n_items(self) -> int:
        return 0 if self.unit is None else len(self.unit)

    def items(self, ids: np.ndarray, attempt: int) -> Items:
        return self.unit[ids], [self.banks[i] for i in ids], [self.names[i] for i in ids]

    def _preset_of(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(ids)

    def authored(self, ids: np.ndarray) -> list[dict[str, float]] | None:
        return None if self.own_values is None else [self.own_values[i] for i in self._preset_of(ids)]

    def fingerprint(self) -> str:
        """SHA-256 of the presets as rendered (unit values, banks, names, own values): changes when any preset does."""
        digest = hashlib.sha256(np.ascontiguousarray(self.unit, dtype=np.float32).tobytes())
        digest.update("\n".join(f"{b}\t{n}" for b, n in zip(self.banks, self.names, strict=True)).encode())
        digest.update(json.dumps(self.own_values, sort_keys=True).encode())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "banks": sorted(set(self.banks)),
            "as_authored": self.own_values is not None,
            "presets_sha256": self.fingerprint(),
        }


@dataclass(frozen=True)
class AroundPresets(HumanPresets):
    """``per_preset`` random presets in a Gaussian cloud (``spread`` in unit space) around each human one."""

    per_preset: int = 1
    spread: float = 0.1

    retry_rejected: ClassVar[bool] = True

    @property
    def n_items(self) -> int:
        return super().n_items * self.per_preset

    def _preset_of(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(ids) // self.per_preset

    def items(self, ids: np.ndarray, attempt: int) -> Items:
        centers = np.asarray(ids) // self.per_preset
        unit = np.concatenate(
            [self.space.sample_around(self.unit[c : c + 1], self.spread, self._rng(i, attempt)) for i, c in zip(ids, centers, strict=True)]
        )
        names = [f"{self.names[c]}~{i % self.per_preset}" for i, c in zip(ids, centers, strict=True)]
        return unit, [self.banks[c] for c in centers], names

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "per_preset": self.per_preset, "spread": self.spread}
