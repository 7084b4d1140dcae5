"""Parameter spaces: which synth parameters are learned, their kinds and ranges, and unit scaling."""

__all__ = ["KINDS", "SCALES", "ParameterSpec", "ParameterSpace"]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from synthgen.errors import SynthgenError

KINDS = ("continuous", "discrete", "categorical")
#: how a continuous parameter's unit value maps onto its range: evenly, or evenly in log (times, frequencies)
SCALES = ("linear", "log")


@dataclass(frozen=True)
class ParameterSpec:
    """One learned parameter.

    Arguments:
        name: the synth's own parameter name.
        kind: ``continuous`` (any value in ``[low, high]``), ``discrete`` (ordered steps) or
            ``categorical`` (unordered choices, e.g. a waveform switch).
        low, high: range in synth units (plugins: the 0..1 host value; Faust: the slider's units).
        values: the allowed synth values of a discrete/categorical parameter, in order.
        scale: ``linear`` or ``log`` (continuous only, ``low > 0``): unit 0..1 maps evenly onto
            ``log(low)..log(high)``, so uniform draws cover short times and low rates as densely
            as long and high ones.
    """

    name: str
    kind: str = "continuous"
    low: float = 0.0
    high: float = 1.0
    values: tuple[float, ...] | None = None
    scale: str = "linear"

    def to_unit(self, value: np.ndarray) -> np.ndarray:
        """Synth values ``(N,)`` of a continuous parameter -> unit values ``(N,)`` (unclipped)."""
        if self.scale == "log":
            log_value = np.log(np.maximum(value, self.low * 1e-6))
            return (log_value - np.log(self.low)) / (np.log(self.high) - np.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """Unit values ``(N,)`` of a continuous parameter -> synth values ``(N,)``."""
        if self.scale == "log":
            return self.low * (self.high / self.low) ** unit
        return self.low + unit * (self.high - self.low)

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for a continuous parameter)."""
        return 0 if self.values is None else len(self.values)

    def to_dict(self) -> dict:
        """A plain dict that :meth:`ParameterSpace.from_dict` reads back."""
        out: dict = {"name": self.name, "kind": self.kind, "range": [self.low, self.high]}
        if self.values is not None:
            out["values"] = list(self.values)
        if self.scale != "linear":
            out["scale"] = self.scale
        return out


@dataclass(frozen=True)
class ParameterSpace:
    """The learned parameters of a synth plus the fixed values of the others.

    Unit space is ``[0, 1]`` per parameter: continuous ``(x - low) / (high - low)`` (on a ``log``
    scale, the same on ``log x``); class ``k`` of ``K`` maps to ``k / (K - 1)``.
    """

    specs: tuple[ParameterSpec, ...]
    fixed: Mapping[str, float] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def size(self) -> int:
        return len(self.specs)

    @property
    def kinds(self) -> list[str]:
        return [s.kind for s in self.specs]

    @property
    def n_classes(self) -> tuple[int, ...]:
        return tuple(s.n_classes for s in self.specs)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.size:
            raise SynthgenError(f"expected {self.size} parameter values per row, got {x.shape[1]}")
        return x

    def to_unit(self, value: np.ndarray) -> np.ndarray:
        """Synth values ``(N, P)`` to unit values ``(N, P)`` in ``[0, 1]``."""
        value = self._check(value)
        unit = np.empty_like(value)
        for j, s in enumerate(self.specs):
            if s.values is None:
                unit[:, j] = s.to_unit(value[:, j])
            else:
                k = np.abs(value[:, j, None] - np.asarray(s.values)[None, :]).argmin(axis=1)
                unit[:, j] = k / max(len(s.values) - 1, 1)
        return np.clip(unit, 0.0, 1.0).astype(np.float32)

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """Unit values ``(N, P)`` to synth values ``(N, P)``; classes snap to the nearest one."""
        unit = np.clip(self._check(unit), 0.0, 1.0)
        value = np.empty_like(unit)
        for j, s in enumerate(self.specs):
            if s.values is None:
                value[:, j] = s.from_unit(unit[:, j])
            else:
                k = np.rint(unit[:, j] * (len(s.values) - 1)).astype(int)
                value[:, j] = np.asarray(s.values)[k]
        return value.astype(np.float32)

    def snap_unit(self, unit: np.ndarray) -> np.ndarray:
        """Unit values with discrete/categorical entries moved to their nearest class."""
        return self.to_unit(self.from_unit(unit))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform random presets in unit space ``(n, P)``; classes drawn uniformly."""
        unit = rng.random((n, self.size))
        return self.snap_unit(unit)

    def sample_around(self, centers_unit: np.ndarray, spread: float, rng: np.random.Generator) -> np.ndarray:
        """Gaussian perturbations of the given unit presets ``(N, P)``, clipped and snapped.

        A discrete/categorical parameter changes class with probability ``spread``.
        """
        centers = self._check(centers_unit)
        unit = np.clip(centers + rng.normal(0.0, spread, centers.shape), 0.0, 1.0)
        for j, s in enumerate(self.specs):
            if s.values is not None:
                switch = rng.random(len(unit)) < spread
                unit[switch, j] = rng.integers(0, len(s.values), switch.sum()) / max(len(s.values) - 1, 1)
                unit[~switch, j] = centers[~switch, j]
        return self.snap_unit(unit)

    def class_alternatives(self, unit_row: np.ndarray) -> np.ndarray:
        """Every preset ``(M, P)`` that differs from ``unit_row`` ``(P,)`` in the class of one categorical
        parameter: each other class of each, in parameter order (none without categorical parameters)."""
        row = self.snap_unit(unit_row)[0]
        out = []
        for j, s in enumerate(self.specs):
            if s.kind == "categorical":
                n = s.n_classes
                for k in np.flatnonzero(np.arange(n) != round(row[j] * (n - 1))):
                    out.append(row.copy())
                    out[-1][j] = k / (n - 1)
        return np.asarray(out, dtype=np.float32).reshape(-1, self.size)

    def synth_values(self, unit_row: Sequence[float]) -> dict[str, float]:
        """Everything to set on the synth for one unit preset ``(P,)``: fixed values, then the learned ones' values."""
        out = {k: float(v) for k, v in self.fixed.items()}
        value_row = self.from_unit(np.asarray(unit_row, dtype=np.float64)[None])[0]
        out.update({s.name: float(v) for s, v in zip(self.specs, value_row, strict=True)})
        return out

    def to_dict(self) -> dict:
        """A JSON-ready description, stored with datasets and models."""
        return {"learned": [s.to_dict() for s in self.specs], "fixed": dict(self.fixed)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "ParameterSpace":
        """Inverse of :meth:`to_dict`."""
        specs = []
        for p in d["learned"]:
            low, high = p.get("range", (0.0, 1.0))
            values = tuple(float(v) for v in p["values"]) if p.get("values") is not None else None
            specs.append(ParameterSpec(p["name"], p.get("kind", "continuous"), float(low), float(high), values, p.get("scale", "linear")))
        return cls(tuple(specs), {k: float(v) for k, v in d.get("fixed", {}).items()})
