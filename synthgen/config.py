"""Synth configs: read and validate ``vst_configs/<synth>.yaml``; every error names the file and key."""

__all__ = [
    "Note",
    "CONFIG_DIR",
    "FeatureSettings",
    "RenderSettings",
    "SynthConfig",
    "VolumeControl",
    "config_names",
    "load_config",
    "parse_config",
]

import dataclasses
import math
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


#: render settings a config may ask for
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 192000
MAX_RENDER_S = 60.0
#: renders a resynthesis search spends by default, where a config does not say (``search_budget``)
DEFAULT_SEARCH_BUDGET = 200


@dataclass(frozen=True)
class Note:
    """One note to render: pitch, velocity, how long the key is held, how long the render is."""

    midi_pitch: int = 60
    velocity: int = 127
    note_duration_s: float = 3.0
    render_duration_s: float = 4.0


@dataclass(frozen=True)
class RenderSettings(Note):
    """How each sound is rendered: the config's note, and the sample rate."""

    sample_rate: int = 22050

    def note(self, midi_pitch: int | None = None, velocity: int | None = None, note_duration_s: float | None = None) -> Note:
        """The note these settings describe, optionally at another pitch or velocity, or held for another time."""
        return Note(
            self.midi_pitch if midi_pitch is None else int(midi_pitch),
            self.velocity if velocity is None else int(velocity),
            self.note_duration_s if note_duration_s is None else float(note_duration_s),
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
class VolumeControl:
    """The synth's own output volume: a fixed parameter (host value 0..1) whose level goes as ``value ** exponent``.

    A preset's fitted output gain goes into it in the synth's native preset files (played outside
    synthgen), as far as its range allows; renders correct the law where the synth saturates after
    it. amsynth's ``master_vol`` is square-law (``exponent: 2``) below its output limiter.
    """

    parameter: str
    exponent: float = 1.0


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
    volume: VolumeControl | None = None
    search_budget: int = DEFAULT_SEARCH_BUDGET

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
        if self.volume is not None:
            out["volume"] = dataclasses.asdict(self.volume)
        out["search_budget"] = self.search_budget
        out.update(self.space.to_dict())
        return out

    def rendering_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without what does not change a rendered sound: the volume control (native
        preset files only) and the search budget (resynthesis only)."""
        return {key: value for key, value in self.to_dict().items() if key not in ("volume", "search_budget")}


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
                f"unknown synth config '{name_or_path}': choose one of {', '.join(config_names())}, or give a path to a .yaml "
                "file (--synth also takes a plugin file: .so, .vst3)"
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


#: keys a config may have at its top level, in a ``learned`` entry, and under ``plugin`` and ``volume``
_TOP_KEYS = ("name", "backend", "description", "plugin", "dsp", "render", "features", "volume", "search_budget", "learned", "fixed")
_PARAMETER_KEYS = ("name", "kind", "range", "values", "steps", "scale")
_PLUGIN_KEYS = ("file", "search_paths")
_VOLUME_KEYS = ("parameter", "exponent")


def _check_keys(mapping: dict, allowed: tuple[str, ...] | list[str], where: str, prefix: str = "") -> None:
    """Refuse a key that is not in ``allowed`` (a typo would otherwise be ignored), in one line naming it."""
    for key in mapping:
        if key not in allowed:
            raise SynthgenError(f"{where}: unknown key '{prefix}{key}' (allowed here: {', '.join(allowed)})")


def _section(data: dict, key: str, cls: type, source: str) -> Any:
    values = data.get(key) or {}
    if not isinstance(values, dict):
        raise SynthgenError(f"{source}: '{key}' must be a mapping")
    _check_keys(values, [f.name for f in dataclasses.fields(cls)], source, f"{key}.")
    defaults = cls()
    kwargs = {}
    for k, v in values.items():
        number = _number(v, f"{source}: '{key}.{k}'")
        if isinstance(getattr(defaults, k), int):
            if number != int(number):
                raise SynthgenError(f"{source}: '{key}.{k}' must be a whole number, got {v!r}")
            number = int(number)
        kwargs[k] = number
    return cls(**kwargs)


def _check_render(render: RenderSettings, source: str) -> RenderSettings:
    """Refuse render settings no synth can render with."""
    checks = [
        (MIN_SAMPLE_RATE <= render.sample_rate <= MAX_SAMPLE_RATE, "sample_rate", f"must be {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz"),
        (0 <= render.midi_pitch <= 127, "midi_pitch", "must be a MIDI note, 0 to 127"),
        (1 <= render.velocity <= 127, "velocity", "must be a MIDI velocity, 1 to 127"),
        (0 < render.render_duration_s <= MAX_RENDER_S, "render_duration_s", f"must be above 0 and at most {MAX_RENDER_S:g} s"),
        (0 < render.note_duration_s <= render.render_duration_s, "note_duration_s", "must be above 0 and at most render_duration_s"),
    ]
    return _first_failure(render, checks, "render", source)


def _check_features(features: FeatureSettings, sample_rate: int, source: str) -> FeatureSettings:
    """Refuse log-mel settings that cannot make a spectrogram of sounds at ``sample_rate``."""
    checks = [
        (features.n_fft >= 16, "n_fft", "must be at least 16 samples"),
        (features.hop_length >= 1, "hop_length", "must be at least 1 sample"),
        (features.n_mels >= 1, "n_mels", "must be at least 1"),
        (features.n_frames >= 1, "n_frames", "must be at least 1"),
        (0 <= features.fmin < features.fmax, "fmin", "must be 0 or more and below fmax"),
        (features.fmax <= sample_rate / 2, "fmax", f"must be at most half the render's sample rate ({sample_rate / 2:g} Hz)"),
        (features.log_offset > 0, "log_offset", "must be above 0"),
    ]
    return _first_failure(features, checks, "features", source)


def _first_failure(settings: Any, checks: list[tuple[bool, str, str]], key: str, source: str) -> Any:
    for ok, name, rule in checks:
        if not ok:
            raise SynthgenError(f"{source}: '{key}.{name}' {rule}, got {getattr(settings, name)!r}")
    return settings


def _number(value: Any, where: str) -> float:
    """A finite number from a config value (YAML numbers; not strings, booleans or lists)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SynthgenError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _numbers(value: Any, where: str, length: int | None = None) -> tuple[float, ...]:
    """A list of finite numbers (of ``length`` items when given)."""
    if not isinstance(value, (list, tuple)) or (length is not None and len(value) != length):
        shape = f"a list of {length} numbers" if length is not None else "a list of numbers"
        raise SynthgenError(f"{where} must be {shape}, got {value!r}")
    return tuple(_number(v, where) for v in value)


def _spec(entry: Any, i: int, source: str, unit_range: bool) -> ParameterSpec:
    where = f"{source}: learned[{i}]"
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise SynthgenError(f"{where} must be a parameter name or a mapping with 'name'")
    name = str(entry["name"])
    where = f"{where} ({name})"
    _check_keys(entry, _PARAMETER_KEYS, where)
    kind = entry.get("kind", "continuous")
    if kind not in KINDS:
        raise SynthgenError(f"{where}: kind '{kind}' is not one of {', '.join(KINDS)}")
    low, high = _numbers(entry.get("range", [0.0, 1.0]), f"{where}: 'range' [low, high]", 2)
    values = entry.get("values")
    if values is None and kind != "continuous":
        steps = entry.get("steps", 0)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise SynthgenError(f"{where}: a {kind} parameter needs 'values' (a list of at least 2) or 'steps' >= 2, got steps {steps!r}")
        values = [low + (high - low) * k / (steps - 1) for k in range(steps)]
    if values is not None:
        values = _numbers(values, f"{where}: 'values'")
        if len(set(values)) < 2:
            raise SynthgenError(f"{where}: 'values' must list at least 2 different values, got {list(values)}")
        low, high = min(values), max(values)
    if not low < high:
        raise SynthgenError(f"{where}: range must have low < high, got [{low}, {high}]")
    scale = entry.get("scale", "linear")
    if scale not in SCALES:
        raise SynthgenError(f"{where}: scale {scale!r} is not one of {', '.join(SCALES)}")
    if scale == "log" and (values is not None or low <= 0.0):
        raise SynthgenError(f"{where}: scale 'log' needs a continuous parameter with a range above 0, got [{low}, {high}]")
    if unit_range and (low < 0.0 or high > 1.0):
        raise SynthgenError(f"{where}: range [{low}, {high}] is outside 0..1; plugin parameters take normalized values between 0 and 1")
    return ParameterSpec(name, kind, low, high, values, scale)


def _search_budget(value: Any, source: str) -> int:
    """``search_budget``: a whole number of renders, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SynthgenError(f"{source}: 'search_budget' must be a whole number of renders (0 or more), got {value!r}")
    return value


def _volume(entry: Any, fixed: dict[str, float], backend: str, source: str) -> VolumeControl | None:
    """The ``volume`` section: ``{parameter: NAME, exponent: K}``, naming a fixed plugin parameter."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or "parameter" not in entry:
        raise SynthgenError(f"{source}: 'volume' must be a mapping with 'parameter' (and 'exponent'), got {entry!r}")
    _check_keys(entry, _VOLUME_KEYS, source, "volume.")
    if backend != "plugin":
        raise SynthgenError(f"{source}: 'volume' is for plugin synths, whose native presets play outside synthgen")
    name = str(entry["parameter"])
    if name not in fixed:
        raise SynthgenError(f"{source}: 'volume.parameter' must name a parameter under 'fixed', got '{name}'")
    exponent = _number(entry.get("exponent", 1.0), f"{source}: 'volume.exponent'")
    if exponent <= 0:
        raise SynthgenError(f"{source}: 'volume.exponent' must be above 0, got {exponent:g}")
    return VolumeControl(name, exponent)


def _dsp_file(name: str, source: str) -> Path:
    """The Faust file a config names: beside the config, else (a relative name) among the shipped configs."""
    path = Path(name)
    beside = Path(source).parent / path if source != "<config>" else path
    if beside.is_file():
        return beside
    shipped = CONFIG_DIR / path
    if not path.is_absolute() and shipped.is_file():
        return shipped
    raise SynthgenError(
        f"{source}: dsp file not found: {beside}; put it beside the config, or write a config with the Faust "
        "source inlined: `synthgen info --synth CONFIG --write-config FILE.yaml`"
    )


def parse_config(data: Any, source: str = "<config>") -> SynthConfig:
    """Validate a config dict (as read from YAML) and build a :class:`SynthConfig`."""
    if not isinstance(data, dict):
        raise SynthgenError(f"{source}: a config must be a YAML mapping")
    _check_keys(data, _TOP_KEYS, source)
    for key in ("name", "backend", "learned"):
        if key not in data:
            raise SynthgenError(f"{source}: missing key '{key}'")
    backend = data["backend"]
    if backend not in ("faust", "plugin"):
        raise SynthgenError(f"{source}: backend '{backend}' must be 'faust' or 'plugin'")
    plugin = data.get("plugin") or {}
    if not isinstance(plugin, dict):
        raise SynthgenError(f"{source}: 'plugin' must be a mapping with 'file' (and 'search_paths')")
    _check_keys(plugin, _PLUGIN_KEYS, source, "plugin.")
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
    fixed = {str(k): _number(v, f"{source}: fixed value of '{k}'") for k, v in fixed.items()}
    if backend == "plugin":
        bad = [k for k, v in fixed.items() if not 0.0 <= v <= 1.0]
        if bad:
            raise SynthgenError(f"{source}: fixed value of '{bad[0]}' is outside 0..1 (plugins take 0..1)")
    volume = _volume(data.get("volume"), fixed, backend, source)
    dsp = data.get("dsp")
    if dsp is not None and str(dsp).endswith(".dsp") and "\n" not in str(dsp):
        dsp = _dsp_file(str(dsp), source).read_text()
    return SynthConfig(
        name=str(data["name"]),
        backend=backend,
        space=ParameterSpace(specs, fixed),
        render=(render := _check_render(_section(data, "render", RenderSettings, source), source)),
        features=_check_features(_section(data, "features", FeatureSettings, source), render.sample_rate, source),
        plugin_file=plugin.get("file"),
        search_paths=tuple(str(p) for p in plugin.get("search_paths", ())),
        dsp=dsp,
        description=str(data.get("description", "")),
        source=source,
        volume=volume,
        search_budget=_search_budget(data.get("search_budget", DEFAULT_SEARCH_BUDGET), source),
    )
