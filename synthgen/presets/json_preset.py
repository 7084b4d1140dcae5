"""synthgen's own preset format for any synth (JSON), and a synth's native preset files next to it."""

__all__ = [
    "PRESET_FORMAT",
    "JsonPreset",
    "fits_config",
    "is_amsynth",
    "read_document",
    "read_preset",
    "write_native_preset",
    "write_preset",
]

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthgen.config import Note, RenderSettings, SynthConfig
from synthgen.errors import SynthgenError
from synthgen.presets.amsynth_bank import AMSYNTH_PARAMETERS, AmsynthPreset, values_to_bank, write_bank
from synthgen.presets.volume import at_output_gain
from synthgen.synths.base import Synth
from synthgen.versions import provenance

PRESET_FORMAT = "synthgen-preset-1"


@dataclass(frozen=True)
class JsonPreset:
    """A synthgen JSON preset as stored.

    Arguments:
        synth: the config name the preset was made with (``amsynth``, ``builtin``, ...).
        backend: ``plugin`` or ``faust``.
        plugin_file: the plugin's file name (plugins only).
        parameters: learned parameters, name -> synth value (plugins: host value 0..1; Faust: the
            slider's own units).
        fixed: the config's fixed values when the preset was written.
        display: the plugin's own display text of each value set (plugins, when written from one).
        note: the note the preset is meant to be heard at.
        output_gain_db: gain applied to the synth's output to play the preset at its intended level
            (e.g. the loudness of the sound it was inferred from); 0 when absent.
        extra: free-form information from the writer (e.g. the audio a preset was inferred from).
    """

    synth: str
    backend: str
    parameters: dict[str, float]
    fixed: dict[str, float] = field(default_factory=dict)
    plugin_file: str | None = None
    display: dict[str, str] = field(default_factory=dict)
    note: dict[str, float] = field(default_factory=dict)
    output_gain_db: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, float]:
        """Every value the preset sets: its fixed values, then its learned ones."""
        return {**self.fixed, **self.parameters}

    def note_on(self, render: RenderSettings) -> Note:
        """The note the preset is meant to be heard at, on ``render``'s settings: the pitch, velocity and hold it
        records, the settings' own for what it leaves out, and their render length (the synth's release)."""
        return render.note(**{k: v for k, v in self.note.items() if k in ("midi_pitch", "velocity", "note_duration_s")})


def is_amsynth(backend: str, names: Iterable[str]) -> bool:
    """Whether parameters of this backend and these names are amsynth's (any config of the amsynth plugin)."""
    names = set(names)
    return backend == "plugin" and bool(names) and names <= set(AMSYNTH_PARAMETERS)


def fits_config(synth: str, backend: str, names: Iterable[str], config: SynthConfig) -> bool:
    """Whether presets made for ``synth`` (with these parameter names) can be set on the config's synth.

    True for the same config name, or when both are amsynth (bank files, or another amsynth config).
    """
    config_names = [*config.space.names, *config.space.fixed]
    return synth == config.name or (is_amsynth(backend, names) and is_amsynth(config.backend, config_names))


def _shortest(value: float) -> float:
    """A float32 value as the shortest decimal that reads back to the same float32."""
    return float(str(np.float32(value)))


def _set_on_plugin(synth: Synth, settings: Mapping[str, float]) -> bool:
    """Put a plugin in the state a render of ``settings`` plays: its initial values, then the settings.

    Returns:
        False (and sets nothing) when ``synth`` is not a plugin.
    """
    from synthgen.synths.plugin import PluginSynth

    if not isinstance(synth, PluginSynth):
        return False
    synth.set_parameters({p.name: p.default for p in synth.parameters()})
    synth.set_parameters(settings)
    return True


def write_preset(
    path: str | Path,
    config: SynthConfig,
    unit_row: np.ndarray,
    extra: Mapping[str, Any] | None = None,
    synth: Synth | None = None,
    note: Note | None = None,
    output_gain_db: float = 0.0,
    seed: int | None = None,
) -> Path:
    """Write one preset as synthgen JSON: real parameter names and synth values, readable by people and tools.

    Arguments:
        path: the ``.json`` file to write.
        config: the config whose unit space ``unit_row`` is in.
        unit_row: one preset ``(P,)`` in unit space; classes snap to the nearest one.
        extra: free-form JSON-ready information stored under ``extra``.
        synth: the config's synth; a plugin adds its own display text of every value set (its
            parameters are left at the preset's values).
        note: the note the preset is meant for (default: the config's).
        output_gain_db: gain (dB) to apply to the synth's output when playing the preset.
        seed: the seed of the search that found the preset, if one did.

    Returns:
        The path written.
    """
    value_row = config.space.from_unit(np.asarray(unit_row, dtype=np.float64).reshape(1, -1))[0]
    parameters = {name: _shortest(v) for name, v in zip(config.space.names, value_row, strict=True)}
    fixed = {name: _shortest(v) for name, v in config.space.fixed.items()}
    display = {}
    if synth is not None and _set_on_plugin(synth, {**fixed, **parameters}):
        display = {name: synth.parameter_text(name) for name in {**fixed, **parameters}}
    document = {
        **provenance(PRESET_FORMAT, config.name, seed),
        "backend": config.backend,
        "plugin_file": config.plugin_file,
        "note": dataclasses.asdict(note or config.render.note()),
        "output_gain_db": round(float(output_gain_db), 3),
        "parameters": parameters,
        "fixed": fixed,
    }
    if display:
        document["display"] = display
    if extra:
        document["extra"] = dict(extra)
    path = Path(path)
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


def _numbers(path: Path, key: str, values: Any) -> dict[str, float]:
    if not isinstance(values, dict):
        raise SynthgenError(f"{path}: '{key}' must map parameter names to numbers")
    out = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SynthgenError(f"{path}: {key}.{name} must be a finite number, got {value!r}")
        out[str(name)] = float(value)
    return out


def _mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SynthgenError(f"{path}: '{key}' must be a mapping, got {type(value).__name__}")
    return dict(value)


def read_document(path: str | Path) -> JsonPreset:
    """Read and check a synthgen JSON preset file, whatever synth it is for."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SynthgenError(f"cannot read preset {path}: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SynthgenError(f"{path} is not a synthgen preset: it is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != PRESET_FORMAT:
        raise SynthgenError(f'{path} is not a synthgen preset: it needs "format": "{PRESET_FORMAT}"')
    for key in ("synth", "backend"):
        if not isinstance(data.get(key), str):
            raise SynthgenError(f"{path}: '{key}' must be a string")
    if data.get("plugin_file") is not None and not isinstance(data["plugin_file"], str):
        raise SynthgenError(f"{path}: 'plugin_file' must be a string")
    gain_db = data.get("output_gain_db", 0.0)
    if isinstance(gain_db, bool) or not isinstance(gain_db, (int, float)) or not math.isfinite(gain_db):
        raise SynthgenError(f"{path}: output_gain_db must be a finite number of decibels, got {gain_db!r}")
    return JsonPreset(
        synth=data["synth"],
        backend=data["backend"],
        parameters=_numbers(path, "parameters", data.get("parameters")),
        fixed=_numbers(path, "fixed", data.get("fixed", {})),
        plugin_file=data.get("plugin_file"),
        display={k: str(v) for k, v in _mapping(path, "display", data.get("display", {})).items()},
        note=_numbers(path, "note", data.get("note", {})),
        output_gain_db=float(gain_db),
        extra=_mapping(path, "extra", data.get("extra", {})),
    )


def read_preset(path: str | Path, config: SynthConfig) -> np.ndarray:
    """Read a synthgen JSON preset into a config's unit space.

    Values outside the config's learned ranges are clipped to them. Parameters the config keeps
    fixed are ignored: the config's fixed values win.

    Returns:
        The preset ``(P,)`` in unit space, float32.
    """
    preset = read_document(path)
    if not fits_config(preset.synth, preset.backend, preset.values, config):
        raise SynthgenError(
            f"{path} is a preset for synth '{preset.synth}', not for '{config.name}': "
            f"give a preset of '{config.name}', or a model trained for '{preset.synth}' (--model)"
        )
    known = {*config.space.names, *config.space.fixed}
    unknown = sorted(set(preset.parameters) - known)
    if unknown:
        raise SynthgenError(
            f"{path}: unknown parameter '{unknown[0]}' for synth config '{config.name}' (it learns {', '.join(config.space.names)})"
        )
    missing = [name for name in config.space.names if name not in preset.values]
    if missing:
        raise SynthgenError(f"{path}: no value for learned parameter '{missing[0]}' of synth config '{config.name}'")
    raw = np.array([[preset.values[name] for name in config.space.names]])
    return config.space.to_unit(raw)[0]


def write_native_preset(
    synth: Synth,
    config: SynthConfig,
    unit_row: np.ndarray,
    path_stem: str | Path,
    extra: Mapping[str, Any] | None = None,
    note: Note | None = None,
    output_gain_db: float = 0.0,
    seed: int | None = None,
) -> list[Path]:
    """Write a preset as synthgen JSON and in the synth's own formats, all named ``path_stem`` plus a suffix.

    A plugin also gets its native state (``.fxp`` for VST2, ``.vst3state`` for VST3) holding every
    parameter as a render of the preset sets it; amsynth also gets a one-preset ``.bank`` that
    amsynth opens. The built-in Faust synth has no native format: JSON only. Where the config names
    the synth's volume parameter (``volume`` in its YAML), the native files carry ``output_gain_db``
    in it (:func:`~synthgen.presets.volume.at_output_gain`), so they play at the fitted level in any host
    as far as the parameter's range allows.

    Arguments:
        synth: the config's synth (its state is changed).
        config: the config whose unit space ``unit_row`` is in.
        unit_row: one preset ``(P,)`` in unit space.
        path_stem: path without suffix; its name is the preset's name.
        extra, note, output_gain_db, seed: as in :func:`write_preset`.

    Returns:
        The paths written: the JSON file first.
    """
    path_stem = Path(path_stem)
    paths = [write_preset(path_stem.with_name(path_stem.name + ".json"), config, unit_row, extra, synth, note, output_gain_db, seed)]
    values = at_output_gain(
        synth, config, config.space.synth_values(unit_row), output_gain_db, note or config.render.note(), path_stem.name
    )
    if not _set_on_plugin(synth, values):
        return paths
    paths.append(synth.save_state(path_stem.with_name(path_stem.name + synth.state_suffix)))
    if is_amsynth(config.backend, values):
        preset = AmsynthPreset(bank="", index=0, name=path_stem.name, values=values_to_bank(values))
        paths.append(write_bank([preset], path_stem.with_name(path_stem.name + ".bank")))
    return paths
