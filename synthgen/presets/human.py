"""Human-made presets from preset files and folders, mapped into a config's unit space for rendering."""

__all__ = [
    "PRESET_FORMATS",
    "FilePreset",
    "LoadedPresets",
    "export_amsynth_bank",
    "find_preset_files",
    "load_human_presets",
    "read_preset_files",
]

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.config import Note, SynthConfig
from synthgen.dataset.sampling import AroundPresets, HumanPresets
from synthgen.errors import SynthgenError
from synthgen.params import ParameterSpace
from synthgen.presets.amsynth_bank import (
    PRESETS_PER_BANK,
    SHIPPED_BANK_DIR,
    AmsynthPreset,
    bank_to_values,
    read_bank,
    values_to_bank,
    write_bank,
)
from synthgen.presets.json_preset import fits_config, is_amsynth, read_document
from synthgen.presets.volume import at_output_gain
from synthgen.synths.base import Synth

# A value counts as outside a learned range when it is further out than this share of the range.
_RANGE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class FilePreset:
    """One preset as read from a file: the synth values a host sets, by parameter name.

    Arguments:
        bank: the group the preset belongs to: a bank file's stem, or a JSON preset's folder name.
        index: position in its file, from 0.
        name: the preset's name (a JSON preset: its file's stem).
        synth: the synth config name it was made for (``amsynth`` for amsynth banks).
        backend: ``plugin`` or ``faust``.
        values: synth values by parameter name (plugins: host values 0..1).
        output_gain_db: the gain a JSON preset is played at (banks: 0).
        note: the note a JSON preset is meant to be heard at (banks: none).
    """

    bank: str
    index: int
    name: str
    synth: str
    backend: str
    values: dict[str, float]
    output_gain_db: float = 0.0
    note: Note | None = None


def _read_amsynth_bank(path: Path) -> list[FilePreset]:
    return [FilePreset(p.bank, p.index, p.name, "amsynth", "plugin", bank_to_values(p.values)) for p in read_bank(path)]


def _recorded_note(fields: dict[str, float]) -> Note | None:
    """The note a JSON preset records (defaults for what it leaves out), or ``None`` when it records none."""
    if not fields:
        return None
    default = Note()
    return Note(
        int(fields.get("midi_pitch", default.midi_pitch)),
        int(fields.get("velocity", default.velocity)),
        float(fields.get("note_duration_s", default.note_duration_s)),
        float(fields.get("render_duration_s", default.render_duration_s)),
    )


def _read_json_preset(path: Path) -> list[FilePreset]:
    preset = read_document(path)
    note = _recorded_note(preset.note)
    return [FilePreset(path.resolve().parent.name, 0, path.stem, preset.synth, preset.backend, preset.values, preset.output_gain_db, note)]


#: file suffix -> (what the format is, reader of one file)
PRESET_FORMATS: dict[str, tuple[str, Callable[[Path], list[FilePreset]]]] = {
    ".bank": ("amsynth bank", _read_amsynth_bank),
    ".json": ("synthgen JSON preset", _read_json_preset),
}


def _known_formats() -> str:
    return ", ".join(f"{suffix} ({label})" for suffix, (label, _) in PRESET_FORMATS.items())


def find_preset_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """The preset files that files and folders stand for; a folder stands for every preset file under it, sorted.

    No paths at all stand for amsynth's installed banks (:data:`SHIPPED_BANK_DIR`).
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths and SHIPPED_BANK_DIR.is_dir():
        paths = [SHIPPED_BANK_DIR]
    if not paths:
        raise SynthgenError(f"no preset files given (and no amsynth banks in {SHIPPED_BANK_DIR}): name preset files or folders of them")
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PRESET_FORMATS)
            if not found:
                raise SynthgenError(f"no preset files in folder {path}: synthgen reads {_known_formats()}")
            files.extend(found)
        elif not path.exists():
            raise SynthgenError(f"preset file or folder not found: {path}")
        elif path.suffix.lower() not in PRESET_FORMATS:
            raise SynthgenError(f"{path}: unknown preset format '{path.suffix}'; synthgen reads {_known_formats()}")
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def read_preset_files(paths: str | Path | Iterable[str | Path]) -> list[FilePreset]:
    """Every preset in preset files and folders (see :func:`find_preset_files`), in file order."""
    return [preset for file in find_preset_files(paths) for preset in PRESET_FORMATS[file.suffix.lower()][1](file)]


def _presets_in(paths: str | Path | Iterable[str | Path]) -> tuple[list[Path], list[FilePreset]]:
    """The preset files that ``paths`` stand for and their presets; one line if they hold none."""
    files = find_preset_files(paths)
    presets = read_preset_files(files)
    if not presets:
        raise SynthgenError(f"no presets in {', '.join(map(str, files))}: the files hold no preset")
    return files, presets


@dataclass(frozen=True)
class LoadedPresets:
    """Human presets in a config's unit space, ready to render.

    Arguments:
        space: the config's parameter space.
        unit: the presets ``(M, P)`` in unit space, float32.
        banks, names: each preset's bank and name ``(M,)``.
        n_files: how many files they came from.
        clipped: learned parameter -> how many presets had a value outside the config's range
            (clipped to it).
        overridden: fixed parameter -> how many presets set another value than the config's fixed
            one (the config's value is used, unless rendered as authored).
        own_values: per preset, its own values of every parameter the config does not learn.
        as_authored: render each preset with its own values of the parameters the config does not
            learn (as its author made it) instead of the config's fixed values.
        own_notes: MIDI pitch -> how many JSON presets record a note of their own other than the
            config's (a resynthesis's); a dataset plays every preset at its planned notes instead.
    """

    space: ParameterSpace
    unit: np.ndarray
    banks: tuple[str, ...]
    names: tuple[str, ...]
    n_files: int
    clipped: dict[str, int]
    overridden: dict[str, int]
    own_values: tuple[dict[str, float], ...] = ()
    as_authored: bool = False
    own_notes: dict[int, int] = field(default_factory=dict)

    def source(self, seed: int, per_preset: int | None = None, spread: float = 0.1) -> HumanPresets:
        """The presets themselves, or ``per_preset`` random presets around each.

        Arguments:
            seed: seeds the random presets.
            per_preset: random presets drawn near each human one; None renders the human presets.
            spread: standard deviation of the random offsets in unit space; a discrete or
                categorical parameter changes class with this probability.
        """
        own = self.own_values if self.as_authored else None
        common = {"unit": self.unit, "banks": self.banks, "names": self.names, "own_values": own}
        if per_preset is None:
            return HumanPresets(self.space, seed, **common)
        if per_preset < 1:
            raise SynthgenError(f"--around-presets must be at least 1, got {per_preset}")
        if not 0.0 < spread <= 1.0:
            raise SynthgenError(f"--spread must be above 0 and at most 1 (unit space), got {spread}")
        return AroundPresets(self.space, seed, **common, per_preset=per_preset, spread=spread)

    def summary(self) -> str:
        """What was loaded and what was changed to fit the config, in a few lines."""

        def counts(by_name: dict[str, int]) -> str:
            return ", ".join(f"{name} {n}" for name, n in sorted(by_name.items(), key=lambda kv: -kv[1]))

        n_banks = len(set(self.banks))
        lines = [f"presets     {len(self.unit)} from {self.n_files} file{'s' * (self.n_files != 1)}, {n_banks} bank{'s' * (n_banks != 1)}"]
        if self.clipped:
            lines.append(f"  clipped   {sum(self.clipped.values())} values outside the config's learned ranges: {counts(self.clipped)}")
        if self.as_authored:
            lines.append("  as authored: each preset keeps its own values of the parameters the config does not learn")
        elif self.overridden:
            keep = "--presets-as-authored keeps them"
            lines.append(f"  fixed     the config's fixed values replace the presets' own ({keep}): {counts(self.overridden)}")
        if self.own_notes:
            pitches = ", ".join(f"{pitch} ({count})" for pitch, count in sorted(self.own_notes.items()))
            n = sum(self.own_notes.values())
            record = "presets record a note of their" if n != 1 else "preset records a note of its"
            lines.append(
                f"  notes     {n} JSON {record} own (MIDI pitch: {pitches}); "
                "a dataset plays every preset at its --notes, each held as long as the config's note"
            )
        return "\n".join(lines)


def load_human_presets(paths: str | Path | Iterable[str | Path], config: SynthConfig, as_authored: bool = False) -> LoadedPresets:
    """Read preset files and folders and map every preset into the config's unit space.

    Only the config's learned parameters come from the presets: a preset's value, as the synth
    takes it (plugins: the host value 0..1), goes through ``space.to_unit``, clipped into the
    learned range (the clipped values are counted). By default, parameters the config keeps fixed
    are NOT taken from the presets: the config's fixed values win; all others keep the synth's
    defaults. With ``as_authored`` every parameter the config does not learn takes the preset's
    own value, so the preset sounds as its author made it (the dataset still records only the
    learned parameters).

    Arguments:
        paths: preset files (``.bank``: amsynth bank; ``.json``: synthgen preset) or folders of them.
        config: the synth config; amsynth banks need an amsynth config.
        as_authored: render with the presets' own values of the parameters the config does not learn.

    Returns:
        The presets in unit space with their banks and names; ``.source(seed)`` renders them.
    """
    files, presets = _presets_in(paths)
    for preset in presets:
        if not fits_config(preset.synth, preset.backend, preset.values, config):
            raise SynthgenError(
                f"preset '{preset.name}' ({preset.bank}) is for synth '{preset.synth}', not for '{config.name}': use --synth {preset.synth}"
            )
    space = config.space
    host = np.empty((len(presets), space.size))
    for i, preset in enumerate(presets):
        for j, name in enumerate(space.names):
            if name not in preset.values:
                raise SynthgenError(f"preset '{preset.name}' ({preset.bank}) has no value for learned parameter '{name}'")
            host[i, j] = preset.values[name]
    low = np.array([spec.low for spec in space.specs])
    high = np.array([spec.high for spec in space.specs])
    tolerance = _RANGE_TOLERANCE * (high - low)
    outside = ((host < low - tolerance) | (host > high + tolerance)).sum(axis=0)
    overridden = {
        name: n
        for name, value in space.fixed.items()
        if (n := sum(name in p.values and abs(p.values[name] - value) > _RANGE_TOLERANCE for p in presets))
    }
    return LoadedPresets(
        space=space,
        unit=space.to_unit(host),
        banks=tuple(p.bank for p in presets),
        names=tuple(p.name for p in presets),
        n_files=len(files),
        clipped={name: int(n) for name, n in zip(space.names, outside, strict=True) if n},
        overridden=overridden,
        own_values=tuple({k: float(v) for k, v in p.values.items() if k not in space.names} for p in presets),
        as_authored=as_authored,
        own_notes=dict(Counter(p.note.midi_pitch for p in presets if p.note is not None and p.note != config.render.note())),
    )


def _at_its_level(preset: FilePreset, amsynth: Callable[[], Synth | None] | None, config: SynthConfig | None) -> dict[str, float]:
    """A preset's values, its output gain moved into the synth's volume where the synth and its volume control are at hand."""
    if amsynth is None or config is None or config.volume is None or preset.output_gain_db == 0.0:
        return preset.values
    synth = amsynth()
    if synth is None:
        return preset.values
    values = {p.name: p.default for p in synth.parameters()} | preset.values
    return at_output_gain(synth, config, values, preset.output_gain_db, preset.note or config.render.note(), preset.name)


def export_amsynth_bank(
    paths: str | Path | Iterable[str | Path],
    out: str | Path,
    amsynth: Callable[[], Synth | None] | None = None,
    config: SynthConfig | None = None,
    replace: bool = False,
) -> list[AmsynthPreset]:
    """Write the presets of preset files (synthgen JSON presets of amsynth, or banks) as one amsynth bank.

    Each preset keeps its name (a JSON preset: its file's stem); parameters it does not set take
    amsynth's defaults. Given ``amsynth`` (called for the synth when first needed; ``None``: not
    at hand) and a ``config`` naming its volume, a JSON preset's ``output_gain_db`` goes into that
    volume (:func:`~synthgen.presets.volume.at_output_gain`). An existing ``out`` is replaced only
    with ``replace``; inputs that hold no preset are refused.

    Returns:
        The presets written, as :func:`synthgen.presets.amsynth_bank.read_bank` reads them back.
    """
    out = Path(out)
    if out.suffix != ".bank":
        raise SynthgenError(f"--out {out}: an amsynth bank file's name must end in .bank")
    if out.exists() and not replace:
        raise SynthgenError(f"--out {out} exists: give another file name, or --force to replace it")
    presets = _presets_in(paths)[1]
    if len(presets) > PRESETS_PER_BANK:
        raise SynthgenError(f"an amsynth bank holds at most {PRESETS_PER_BANK} presets, got {len(presets)}: export them in groups")
    for preset in presets:
        if not is_amsynth(preset.backend, preset.values):
            raise SynthgenError(f"preset '{preset.name}' is for synth '{preset.synth}', not amsynth: only amsynth presets go into a .bank")
    bank = [AmsynthPreset(out.stem, i, p.name, values_to_bank(_at_its_level(p, amsynth, config))) for i, p in enumerate(presets)]
    write_bank(bank, out)
    return bank
