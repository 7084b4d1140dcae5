"""Synth configs: read and validate ``vst_configs/<synth>.yaml``; every error names the file and key."""

__all__ = [
    "Note",
    "CONFIG_DIR",
    "FeatureSettings",
    "RenderSettings",
    "SynthConfig",
    "config_names",
    "load_config",
    "parse_config",
]

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from synthgen.errors import SynthgenError
from synthgen.params import KINDS, SCALES, ParameterSpace, ParameterSpec

_PACKAGE = Path(__file__).resolve().parent
# Shipped configs live in the repository's vst_configs/; a built wheel carries them inside the package.
CONFIG_DIR = next(
    (d for d in (_PACKAGE / "vst_configs", _PACKAGE.parent / "vst_configs") if d.is_dir()),
    _PACKAGE.parent / "vst_configs",
)


@dataclass(frozen=True)
class Note:
    """One note to render: pitch, velocity, how long the key is held, how long the render is."""

    midi_pitch: int = 60
    velocity: int = 127
    note_duration_s: float = 3.0
    render_duration_s: float = 4.0


@dataclass(frozen=True)
class RenderSettings:
    """How each sound is rendered."""

    sample_rate: int = 22050
    midi_pitch: int = 60
    velocity: int = 127
    note_duration_s: float = 3.0
    render_duration_s: float = 4.0

    def note(self, midi_pitch: int | None = None, velocity: int | None = None) -> Note:
        """The note these settings describe, optionally at another pitch or velocity."""
        return Note(
            self.midi_pitch if midi_pitch is None else int(midi_pitch),
            self.velocity if velocity is None else int(velocity),
            self.note_duration_s,
            self.render_duration_s,
        )


@dataclass(frozen=True)
class FeatureSettings:
    """Log-mel spectrogram settings (stored with every dataset and model)."""

    n_fft: int = 2048
    hop_length: int = 1024
    n_mels: int = 64
    fmin: float = 30.0
    fmax: float = 11000.0
    n_frames: int = 80
    log_offset: float = 1e-3


@dataclass(frozen=True)
class SynthConfig:
    """Everything synthgen needs to know about one synth."""

    name: str
    backend: str
    space: ParameterSpace
    render: RenderSettings = field(default_factory=RenderSettings)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    plugin_file: str | None = None
    search_paths: tuple[str, ...] = ()
    dsp: str | None = None
    description: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-ready dict that :func:`parse_config` reads back."""
        out: dict[str, Any] = {"name": self.name, "backend": self.backend}
        if self.description:
            out["description"] = self.description
        if self.backend == "plugin":
            out["plugin"] = {"file": self.plugin_file, "search_paths": list(self.search_paths)}
        if self.dsp is not None:
            out["dsp"] = self.dsp
        out["render"] = dataclasses.asdict(self.render)
        out["features"] = dataclasses.asdict(self.features)
        out.update(self.space.to_dict())
        return out


def config_names() -> list[str]:
    """Names of the shipped configs."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str | Path) -> SynthConfig:
    """Load a shipped config by name (``builtin``, ``amsynth``, ...) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = CONFIG_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise SynthgenError(
                f"unknown synth config '{name_or_path}': choose one of {', '.join(config_names())} or give a path to a .yaml file"
            )
    if not path.is_file():
        raise SynthgenError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SynthgenError(f"{path}: invalid YAML{where}: {getattr(e, 'problem', e)}") from None
    return parse_config(data, source=str(path))


def _section(data: dict, key: str, cls: type, source: str) -> Any:
    values = data.get(key) or {}
    if not isinstance(values, dict):
        raise SynthgenError(f"{source}: '{key}' must be a mapping")
    known = {f.name: f.type for f in dataclasses.fields(cls)}
    for k in values:
        if k not in known:
            raise SynthgenError(f"{source}: unknown key '{key}.{k}' (known: {', '.join(known)})")
    defaults = cls()
    try:
        kwargs = {k: type(getattr(defaults, k))(v) for k, v in values.items()}
    except (TypeError, ValueError):
        raise SynthgenError(f"{source}: '{key}' has a value of the wrong type") from None
    return cls(**kwargs)


def _spec(entry: Any, i: int, source: str, unit_range: bool) -> ParameterSpec:
    where = f"{source}: learned[{i}]"
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise SynthgenError(f"{where} must be a parameter name or a mapping with 'name'")
    name = str(entry["name"])
    kind = entry.get("kind", "continuous")
    if kind not in KINDS:
        raise SynthgenError(f"{where} ({name}): kind '{kind}' is not one of {', '.join(KINDS)}")
    low, high = (float(v) for v in entry.get("range", (0.0, 1.0)))
    values = entry.get("values")
    if values is None and kind != "continuous":
        steps = int(entry.get("steps", 0))
        if steps < 2:
            raise SynthgenError(f"{where} ({name}): a {kind} parameter needs 'values' or 'steps' >= 2")
        values = [low + (high - low) * k / (steps - 1) for k in range(steps)]
    if values is not None:
        values = tuple(float(v) for v in values)
        low, high = min(values), max(values)
    if not low < high:
        raise SynthgenError(f"{where} ({name}): range must have low < high, got [{low}, {high}]")
    scale = entry.get("scale", "linear")
    if scale not in SCALES:
        raise SynthgenError(f"{where} ({name}): scale '{scale}' is not one of {', '.join(SCALES)}")
    if scale == "log" and (values is not None or low <= 0.0):
        raise SynthgenError(f"{where} ({name}): scale 'log' needs a continuous parameter with a range above 0, got [{low}, {high}]")
    if unit_range and (low < 0.0 or high > 1.0):
        raise SynthgenError(
            f"{where} ({name}): range [{low}, {high}] is outside 0..1; plugin parameters take normalized values between 0 and 1"
        )
    return ParameterSpec(name, kind, low, high, values, scale)


def parse_config(data: Any, source: str = "<config>") -> SynthConfig:
    """Validate a config dict (as read from YAML) and build a :class:`SynthConfig`."""
    if not isinstance(data, dict):
        raise SynthgenError(f"{source}: a config must be a YAML mapping")
    for key in ("name", "backend", "learned"):
        if key not in data:
            raise SynthgenError(f"{source}: missing key '{key}'")
    backend = data["backend"]
    if backend not in ("faust", "plugin"):
        raise SynthgenError(f"{source}: backend '{backend}' must be 'faust' or 'plugin'")
    plugin = data.get("plugin") or {}
    if backend == "plugin" and not plugin.get("file"):
        raise SynthgenError(f"{source}: a plugin config needs 'plugin.file'")
    if backend == "faust" and not data.get("dsp"):
        raise SynthgenError(f"{source}: a faust config needs 'dsp' (Faust source or a .dsp file name)")
    learned = data["learned"]
    if not isinstance(learned, list) or not learned:
        raise SynthgenError(f"{source}: 'learned' must be a non-empty list of parameters")
    specs = tuple(_spec(e, i, source, backend == "plugin") for i, e in enumerate(learned))
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SynthgenError(f"{source}: parameters listed twice in 'learned': {', '.join(dupes)}")
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise SynthgenError(f"{source}: 'fixed' must map parameter names to values")
    both = sorted(set(fixed) & set(names))
    if both:
        raise SynthgenError(f"{source}: parameters both learned and fixed: {', '.join(both)}")
    if backend == "plugin":
        bad = [k for k, v in fixed.items() if not 0.0 <= float(v) <= 1.0]
        if bad:
            raise SynthgenError(f"{source}: fixed value of '{bad[0]}' is outside 0..1 (plugins take 0..1)")
    dsp = data.get("dsp")
    if dsp is not None and str(dsp).endswith(".dsp") and "\n" not in str(dsp):
        dsp_path = (Path(source).parent / str(dsp)) if source != "<config>" else Path(str(dsp))
        if not dsp_path.is_file():
            raise SynthgenError(f"{source}: dsp file not found: {dsp_path}")
        dsp = dsp_path.read_text()
    return SynthConfig(
        name=str(data["name"]),
        backend=backend,
        space=ParameterSpace(specs, {str(k): float(v) for k, v in fixed.items()}),
        render=_section(data, "render", RenderSettings, source),
        features=_section(data, "features", FeatureSettings, source),
        plugin_file=plugin.get("file"),
        search_paths=tuple(str(p) for p in plugin.get("search_paths", ())),
        dsp=dsp,
        description=str(data.get("description", "")),
        source=source,
    )
