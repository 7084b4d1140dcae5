"""amsynth bank files: read and write them, and map their real-unit values to the plugin's 0..1 host values."""

__all__ = [
    "AMSYNTH_PARAMETERS",
    "PRESETS_PER_BANK",
    "SHIPPED_BANK_DIR",
    "AmsynthParameter",
    "AmsynthPreset",
    "bank_to_values",
    "control_value",
    "read_bank",
    "read_banks",
    "values_to_bank",
    "write_bank",
    "write_banks",
    "write_fxp",
]

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.errors import SynthgenError

SHIPPED_BANK_DIR = Path("/usr/share/amsynth/banks")
PRESETS_PER_BANK = 128

_BANK_HEADER = "amSynth"
_BANK_END = "EOF"
_CHUNK_HEADER = "amSynth1.0preset"
_PRESET_PREFIX = "<preset> <name> "
_PARAMETER_PREFIX = "<parameter> "
_PLUGIN_ID = b"amsy"
_FXP_NAME_BYTES = 28


@dataclass(frozen=True)
class AmsynthParameter:
    """One amsynth parameter as amsynth 1.13 defines it; bank files hold values in these real units.

    The VST host value is linear in the real value, ``unit = (value - low) / (high - low)``, computed
    in float32; the plugin clamps to ``[low, high]`` and, where ``step > 0``, rounds to
    ``low + k * step``. The law gives the control value the sound engine uses (and the VST plugin
    displays): ``linear`` ``offset + base * value``, ``exponential`` ``offset + base ** value``,
    ``power`` ``offset + value ** base``. ``kind`` is what the value means: ``continuous``,
    ``discrete`` (ordered integer steps) or ``categorical`` (a switch: waveform, mode, filter type).
    """

    name: str
    default: float
    low: float
    high: float
    step: float
    law: str
    base: float
    offset: float
    kind: str = "continuous"

    @property
    def classes(self) -> tuple[float, ...] | None:
        """The real values of a discrete/categorical parameter, in order; None when continuous."""
        if self.kind == "continuous":
            return None
        return tuple(float(v) for v in range(int(self.low), int(self.high) + 1))


# amsynth 1.13 (src/Parameter.cpp) in the plugin's and the bank files' order. portamento_mode has no
# step in the plugin, so banks also hold fractions (24 shipped presets); the sound engine truncates
# it to 0 (always) or 1 (legato).
AMSYNTH_PARAMETERS: dict[str, AmsynthParameter] = {
    p.name: p
    for p in (
        AmsynthParameter("amp_attack", 0.0, 0.0, 2.5, 0.0, "power", 3.0, 0.0005),
        AmsynthParameter("amp_decay", 0.0, 0.0, 2.5, 0.0, "power", 3.0, 0.0005),
        AmsynthParameter("amp_sustain", 1.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("amp_release", 0.0, 0.0, 2.5, 0.0, "power", 3.0, 0.0005),
        AmsynthParameter("osc1_waveform", 2.0, 0.0, 4.0, 1.0, "linear", 1.0, 0.0, "categorical"),
        AmsynthParameter("filter_attack", 0.0, 0.0, 2.5, 0.0, "power", 3.0, 0.0005),
        AmsynthParameter("filter_decay", 0.0, 0.0, 2.5, 0.0, "power", 3.0, 0.0005),
        AmsynthParameter("filter_sustain", 1.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("filter_release", 0.0, 0.0, 2.5, 0.0, "power", 3.0, 0.0005),
        AmsynthParameter("filter_resonance", 0.0, 0.0, 0.97, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("filter_env_amount", 0.0, -16.0, 16.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("filter_cutoff", 1.5, -0.5, 1.5, 0.0, "exponential", 16.0, 0.0),
        AmsynthParameter("osc2_detune", 0.0, -1.0, 1.0, 0.0, "exponential", 1.25, 0.0),
        AmsynthParameter("osc2_waveform", 2.0, 0.0, 4.0, 1.0, "linear", 1.0, 0.0, "categorical"),
        AmsynthParameter("master_vol", 0.67, 0.0, 1.0, 0.0, "power", 2.0, 0.0),
        AmsynthParameter("lfo_freq", 0.0, 0.0, 7.5, 0.0, "power", 2.0, 0.0),
        AmsynthParameter("lfo_waveform", 0.0, 0.0, 6.0, 1.0, "linear", 1.0, 0.0, "categorical"),
        AmsynthParameter("osc2_range", 0.0, -3.0, 4.0, 1.0, "exponential", 2.0, 0.0, "discrete"),
        AmsynthParameter("osc_mix", 0.0, -1.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("freq_mod_amount", 0.0, 0.0, 1.25992105, 0.0, "power", 3.0, -1.0),
        AmsynthParameter("filter_mod_amount", -1.0, -1.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("amp_mod_amount", -1.0, -1.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("osc_mix_mode", 0.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("osc1_pulsewidth", 1.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("osc2_pulsewidth", 1.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("reverb_roomsize", 0.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("reverb_damp", 0.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("reverb_wet", 0.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("reverb_width", 1.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("distortion_crunch", 0.0, 0.0, 0.9, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("osc2_sync", 0.0, 0.0, 1.0, 1.0, "linear", 1.0, 0.0, "categorical"),
        AmsynthParameter("portamento_time", 0.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("keyboard_mode", 0.0, 0.0, 2.0, 1.0, "linear", 1.0, 0.0, "categorical"),
        AmsynthParameter("osc2_pitch", 0.0, -12.0, 12.0, 1.0, "linear", 1.0, 0.0, "discrete"),
        AmsynthParameter("filter_type", 0.0, 0.0, 4.0, 1.0, "linear", 1.0, 0.0, "categorical"),
        AmsynthParameter("filter_slope", 1.0, 0.0, 1.0, 1.0, "linear", 1.0, 0.0, "categorical"),
        AmsynthParameter("freq_mod_osc", 0.0, 0.0, 2.0, 1.0, "linear", 1.0, 0.0, "categorical"),
        AmsynthParameter("filter_kbd_track", 1.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("filter_vel_sens", 1.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("amp_vel_sens", 1.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0),
        AmsynthParameter("portamento_mode", 0.0, 0.0, 1.0, 0.0, "linear", 1.0, 0.0, "categorical"),
    )
}


@dataclass(frozen=True)
class AmsynthPreset:
    """One preset of an amsynth bank.

    Arguments:
        bank: the bank file's stem (``BriansBank01.amSynth`` for ``BriansBank01.amSynth.bank``).
        index: position in the bank, from 0.
        name: the preset's name.
        values: all 41 parameters in real units, in amsynth's order.
        defaulted: parameters the file did not list (older banks); they hold amsynth's defaults,
            as amsynth itself fills them in.
    """

    bank: str
    index: int
    name: str
    values: dict[str, float]
    defaulted: tuple[str, ...] = ()


def _parameter(name: str) -> AmsynthParameter:
    try:
        return AMSYNTH_PARAMETERS[name]
    except KeyError:
        raise SynthgenError(f"unknown amsynth parameter {name!r}; known: {', '.join(AMSYNTH_PARAMETERS)}") from None


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise SynthgenError(f"amsynth parameter {name} needs a finite number, got {value}")
    return value


def _stored(p: AmsynthParameter, value: np.float32) -> np.float32:
    """What ``Parameter::setValue`` keeps: clamped to the range, rounded to the step, float32."""
    low, high = np.float32(p.low), np.float32(p.high)
    value = min(max(np.float32(value), low), high)
    if p.step > 0:
        step = np.float32(p.step)
        value = low + np.float32(math.floor(float((value - low) / step) + 0.5)) * step
    return value


def _bank_text(value: float) -> str:
    """A value as amsynth writes it into a bank: 6 significant digits, no negative zero."""
    return f"{float(value) + 0.0:.6g}"


def control_value(name: str, value: float) -> float:
    """The control value of a real value: what the sound engine uses and the VST plugin displays.

    Arguments:
        name: amsynth parameter name.
        value: real value within the parameter's range.

    Returns:
        ``offset + base * value``, ``offset + base ** value`` or ``offset + value ** base`` (float32
        arithmetic, as in the plugin) for a linear, exponential or power law.
    """
    p = _parameter(name)
    v, base, offset = np.float32(_finite(name, value)), np.float32(p.base), np.float32(p.offset)
    if p.law == "linear":
        return float(offset + base * v)
    if p.law == "exponential":
        return float(offset + base**v)
    return float(offset + v**base)


def bank_to_values(values: Mapping[str, float]) -> dict[str, float]:
    """Real bank values to the plugin's 0..1 host values, as ``Parameter::getNormalisedValue``.

    Values outside a parameter's range are clamped and stepped parameters rounded to their step,
    as amsynth does when it loads a bank.

    Arguments:
        values: parameter name -> real value (any subset of the 41 parameters).

    Returns:
        Parameter name -> host value in ``[0, 1]``, for the same names.
    """
    out = {}
    for name, value in values.items():
        p = _parameter(name)
        low, high = np.float32(p.low), np.float32(p.high)
        out[name] = float((_stored(p, np.float32(_finite(name, value))) - low) / (high - low))
    return out


def values_to_bank(unit: Mapping[str, float]) -> dict[str, float]:
    """The plugin's 0..1 host values to real bank values, as amsynth stores and saves them.

    Follows ``Parameter::setNormalisedValue`` in float32 (scale, clamp, round to the step) and
    rounds to the 6 significant digits amsynth writes into bank files.

    Arguments:
        unit: parameter name -> host value (any subset of the 41 parameters).

    Returns:
        Parameter name -> real value, for the same names.
    """
    out = {}
    for name, u in unit.items():
        p = _parameter(name)
        low, high = np.float32(p.low), np.float32(p.high)
        value = _stored(p, np.float32(_finite(name, u)) * (high - low) + low)
        out[name] = float(_bank_text(value))
    return out


def read_bank(path: str | Path) -> list[AmsynthPreset]:
    """Every preset of one amsynth bank file, in file order.

    Arguments:
        path: a ``.bank`` file (text: ``amSynth``, then ``<preset> <name> NAME`` and
            ``<parameter> NAME VALUE`` lines, then ``EOF``).

    Returns:
        The presets; parameters a preset does not list hold amsynth's defaults.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SynthgenError(f"cannot read amsynth bank {path}: {exc.strerror}") from None
    lines = data.decode("utf-8", errors="replace").split("\n")
    if lines[0].rstrip("\r") != _BANK_HEADER:
        raise SynthgenError(f"{path} is not an amsynth bank: its first line must be {_BANK_HEADER!r}")
    drafts: list[tuple[str, dict[str, float]]] = []
    for line_number, line in enumerate((line.rstrip("\r") for line in lines[1:]), start=2):
        where = f"{path}:{line_number}"
        if line.startswith(_PRESET_PREFIX):
            drafts.append((line[len(_PRESET_PREFIX) :], {}))
        elif line.startswith(_PARAMETER_PREFIX):
            if not drafts:
                raise SynthgenError(f"{where}: a parameter comes before the first '{_PRESET_PREFIX}NAME' line")
            name, _, text = line[len(_PARAMETER_PREFIX) :].partition(" ")
            if name not in AMSYNTH_PARAMETERS:
                raise SynthgenError(f"{where}: unknown amsynth parameter {name!r}")
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise SynthgenError(f"{where}: parameter {name} needs a finite number, got {text!r}")
            drafts[-1][1][name] = value
        elif line.strip() not in ("", _BANK_END):
            raise SynthgenError(f"{where}: expected '{_PRESET_PREFIX}NAME', '{_PARAMETER_PREFIX}NAME VALUE' or 'EOF', got {line[:60]!r}")
    return [
        AmsynthPreset(
            bank=path.stem,
            index=index,
            name=name,
            values={n: given.get(n, p.default) for n, p in AMSYNTH_PARAMETERS.items()},
            defaulted=tuple(n for n in AMSYNTH_PARAMETERS if n not in given),
        )
        for index, (name, given) in enumerate(drafts)
    ]


def read_banks(sources: str | Path | Iterable[str | Path]) -> list[AmsynthPreset]:
    """The presets of several bank files; a directory stands for its ``*.bank`` files, sorted by name."""
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(source.glob("*.bank"))
            if not found:
                raise SynthgenError(f"no amsynth banks (*.bank files) in directory {source}")
            files.extend(found)
        else:
            files.append(source)
    return [preset for file in files for preset in read_bank(file)]


def _preset_lines(preset: AmsynthPreset) -> list[str]:
    """The ``<preset>`` line and all 41 ``<parameter>`` lines; unlisted parameters get defaults."""
    if not preset.name.strip() or any(c in preset.name for c in "\r\n"):
        raise SynthgenError(f"an amsynth preset name must be one non-empty line, got {preset.name!r}")
    for name in preset.values:
        _parameter(name)
    lines = [_PRESET_PREFIX + preset.name]
    for name, p in AMSYNTH_PARAMETERS.items():
        value = _finite(name, preset.values.get(name, p.default))
        lines.append(f"{_PARAMETER_PREFIX}{name} {_bank_text(value)}")
    return lines


def write_bank(presets: Sequence[AmsynthPreset], path: str | Path) -> Path:
    """Write up to 128 presets as an amsynth bank file, in the format amsynth itself saves.

    Values are written with amsynth's own precision (6 significant digits), so presets read by
    :func:`read_bank` or made by :func:`values_to_bank` read back identical. amsynth fills the slots
    after the last preset with its default preset, so a short bank needs no padding.

    Returns:
        The path written.
    """
    if len(presets) > PRESETS_PER_BANK:
        raise SynthgenError(f"an amsynth bank holds at most {PRESETS_PER_BANK} presets, got {len(presets)}; split them with write_banks")
    path = Path(path)
    lines = [_BANK_HEADER, *(line for preset in presets for line in _preset_lines(preset)), _BANK_END]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_banks(presets: Sequence[AmsynthPreset], directory: str | Path, stem: str) -> list[Path]:
    """Write any number of presets as consecutive banks of 128: ``<stem>01.bank``, ``<stem>02.bank``, ...

    Returns:
        The paths written, in order (none for no presets).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        write_bank(presets[start : start + PRESETS_PER_BANK], directory / f"{stem}{number:02d}.bank")
        for number, start in enumerate(range(0, len(presets), PRESETS_PER_BANK), start=1)
    ]


def write_fxp(preset: AmsynthPreset, path: str | Path) -> Path:
    """Write one preset as a VST2 chunk preset (``.fxp``) that the amsynth VST plugin loads natively.

    The chunk is the plugin's own state text (``amSynth1.0preset`` and the preset's lines),
    NUL-terminated as the plugin reads it.

    Returns:
        The path written.
    """
    chunk = "\n".join([_CHUNK_HEADER, *_preset_lines(preset)]).encode("utf-8") + b"\n\0"
    name = preset.name.encode("ascii", errors="replace")[: _FXP_NAME_BYTES - 1]
    layout = f">4si4si4sii{_FXP_NAME_BYTES}si"
    header = struct.pack(
        layout,
        b"CcnK",
        struct.calcsize(layout) - 8 + len(chunk),
        b"FPCh",
        1,
        _PLUGIN_ID,
        0,
        len(AMSYNTH_PARAMETERS),
        name,
        len(chunk),
    )
    path = Path(path)
    path.write_bytes(header + chunk)
    return path
