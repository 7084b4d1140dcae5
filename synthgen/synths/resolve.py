"""Turn what a user types after ``--synth`` into a config: a shipped name, a YAML file or a plugin file."""

__all__ = [
    "PLUGIN_SUFFIXES",
    "check_config_path",
    "describe_synth",
    "model_synth_config",
    "resolve_config",
    "starter_config",
    "write_config_file",
]

import dataclasses
import re
from pathlib import Path

import yaml

from synthgen.config import SynthConfig, config_names, load_config, parse_config
from synthgen.errors import SynthgenError
from synthgen.synths.base import Synth

PLUGIN_SUFFIXES = (".so", ".vst3", ".dll", ".vst")
# VST3 builds list one pseudo-parameter per MIDI CC and channel; they are not synth parameters.
_PSEUDO_PREFIXES = ("MIDI CC", "MIDI Ch")
# Faust primitives that call, or read, native code of the host process.
_FOREIGN_FAUST = re.compile(r"\b(ffunction|fvariable|fconstant)\b")


def starter_config(synth: Synth, name: str, plugin_path: Path) -> SynthConfig:
    """A config that learns every real parameter of a plugin over its whole 0..1 range."""
    learned = [p.name for p in synth.parameters() if not p.name.startswith(_PSEUDO_PREFIXES)]
    if not learned:
        raise SynthgenError(f"{plugin_path} exposes no parameters to learn")
    data = {
        "name": name,
        "description": f"starter config written from the parameters of {plugin_path.name}",
        "backend": "plugin",
        "plugin": {"file": plugin_path.name, "search_paths": [str(plugin_path.parent)]},
        "learned": [{"name": n, "kind": "continuous", "range": [0.0, 1.0]} for n in learned],
    }
    return parse_config(data, source=f"<parameters of {plugin_path.name}>")


def resolve_config(synth: str, plugin: str | Path | None = None) -> tuple[SynthConfig, Path | None]:
    """The config and plugin file for a ``--synth`` argument.

    ``synth`` is a shipped config name (``builtin``, ``amsynth``, ``diva``), a ``.yaml`` file, or a
    plugin file; a plugin file uses the shipped config made for it if there is one, else a starter
    config over all of its parameters.

    Returns:
        The config, and the plugin file to load (``None``: let the config's search paths find it).
    """
    path = Path(synth).expanduser()
    if path.suffix.lower() not in PLUGIN_SUFFIXES:
        return load_config(synth), (Path(plugin) if plugin else None)
    if not path.exists():
        raise SynthgenError(f"plugin file not found: {path}")
    for name in config_names():
        config = load_config(name)
        if config.plugin_file == path.name:
            return config, path
    from synthgen.synths.loading import load_plugin

    return starter_config(load_plugin(path), path.stem, path), path


def model_synth_config(model_config: SynthConfig, user_config: SynthConfig | None = None, model: str = "the model") -> SynthConfig:
    """The config to build a model's synth with: a model file never chooses which native code runs.

    A Faust model keeps the Faust source it carries (foreign functions refused). A plugin model
    takes its plugin file and search paths from the user's config of that synth: ``user_config``
    (``--synth``) if given, else the shipped config of the same name, else none (then only
    ``--plugin`` can name the plugin). That config's ``search_budget`` (how many renders suit the
    synth's speed) replaces the stored one, whatever the backend.

    Arguments:
        model_config: the synth config stored in the model file.
        user_config: the user's own config for the synth (``--synth``), checked against the model's.
        model: how to name the model in messages.
    """
    if user_config is not None and (user_config.name != model_config.name or user_config.space.names != model_config.space.names):
        raise SynthgenError(
            f"{model} was trained for synth '{model_config.name}', not '{user_config.name}': "
            "train a model on a dataset of this synth, or drop --synth"
        )
    trusted = user_config or (load_config(model_config.name) if model_config.name in config_names() else None)
    if trusted is not None:
        model_config = dataclasses.replace(model_config, search_budget=trusted.search_budget)
    if model_config.backend == "faust":
        if _FOREIGN_FAUST.search(str(model_config.dsp)):
            raise SynthgenError(f"{model} carries Faust code that calls foreign (native) functions: synthgen refuses to run it")
        return model_config
    if trusted is None or trusted.backend != "plugin":
        return dataclasses.replace(model_config, search_paths=())
    # The user's config also says how the synth's volume works (for native presets), where the model's synth has it fixed.
    volume = trusted.volume if trusted.volume is not None and trusted.volume.parameter in model_config.space.fixed else model_config.volume
    return dataclasses.replace(model_config, plugin_file=trusted.plugin_file, search_paths=trusted.search_paths, volume=volume)


def describe_synth(
    synth: str, plugin: str | Path | None = None, probe: bool = False, seed: int = 0, progress: bool = False
) -> tuple[str, SynthConfig, Synth]:
    """A table of the synth's parameters (value text, learned kind and range, or fixed value), its config and
    the synth instance it was read from.

    With ``probe``, each learned parameter's effect on the sound as well (:func:`synthgen.synths.probe.probe_parameters`,
    seeded by ``seed``), and a last line that names those that changed nothing audible; the config
    returned then has those fixed at the synth's defaults (unless that leaves nothing to learn).
    """
    from synthgen.synths.loading import load_synth
    from synthgen.synths.probe import fix_inert, probe_parameters, probe_verdict

    config, plugin_path = resolve_config(synth, plugin)
    instance = load_synth(config, plugin_path)
    learned = {s.name: s for s in config.space.specs}
    parameters = instance.parameters()  # before the probe: the text of each default value
    effects = probe_parameters(instance, config, seed=seed, progress=progress) if probe else {}
    lines = [
        f"synth {config.name} ({config.backend}): {config.description}".rstrip(": "),
        f"config {config.source}; {config.space.size} learned, {len(config.space.fixed)} fixed; "
        f"resynth searches {config.search_budget} renders by default",
        f"{'parameter':<28} {'default':>8} {'text':>12}  role",
    ]
    for p in parameters:
        if p.name.startswith(_PSEUDO_PREFIXES):
            continue
        if p.name in learned:
            spec = learned[p.name]
            role = f"learned {spec.kind} [{spec.low:g}, {spec.high:g}]"
            role += f" ({spec.n_classes} classes)" if spec.n_classes else ""
            role += f"; {effects[p.name].describe()}" if p.name in effects else ""
        elif p.name in config.space.fixed:
            role = f"fixed {config.space.fixed[p.name]:g}"
            if config.volume is not None and p.name == config.volume.parameter:
                role += f", the volume native presets carry their gain in (level ~ value^{config.volume.exponent:g})"
        else:
            role = "default"
        lines.append(f"{p.name:<28} {p.default:>8.4g} {p.text[:12]:>12}  {role}")
    if effects:
        lines.append(probe_verdict(effects, seed))
        probed = fix_inert(config, effects, {p.name: p.default for p in parameters})
        if fixed := [name for name in config.space.names if name in probed.space.fixed]:
            verb = "is" if len(fixed) == 1 else "are"
            lines.append(f"with --write-config, {', '.join(fixed)} {verb} written fixed at the synth's defaults")
        config = probed
    return "\n".join(lines), config, instance


def check_config_path(path: Path) -> None:
    """Refuse a ``--write-config`` path that is not a new ``.yaml`` file, in one line."""
    if path.suffix not in (".yaml", ".yml"):
        raise SynthgenError(f"--write-config {path}: the file name must end in .yaml")
    if path.exists():
        raise _config_exists(path)


def write_config_file(config: SynthConfig, path: Path) -> None:
    """Write a config as YAML that :func:`synthgen.config.load_config` reads back (never over an existing file)."""
    check_config_path(path)
    try:
        with path.open("x") as file:
            yaml.safe_dump(config.to_dict(), file, sort_keys=False)
    except FileExistsError:
        raise _config_exists(path) from None


def _config_exists(path: Path) -> SynthgenError:
    """The one line for a ``--write-config`` file that is already there."""
    return SynthgenError(f"--write-config {path} exists: give a new file name (a starter config never replaces yours)")
