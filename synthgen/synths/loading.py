"""Build the synth a config describes: the built-in Faust synth or a plugin found on disk."""

__all__ = ["check_config_fits", "load_plugin", "load_synth", "resolve_plugin_path"]

from pathlib import Path

from synthgen.config import SynthConfig
from synthgen.errors import SynthgenError
from synthgen.synths.base import Synth


def resolve_plugin_path(config: SynthConfig, plugin: str | Path | None = None) -> Path:
    """The plugin file for a config: ``plugin`` if given, else the first hit in its search paths."""
    if plugin is not None:
        path = Path(plugin).expanduser()
        if not path.exists():
            raise SynthgenError(f"plugin file not found: {path}")
        return path
    for folder in config.search_paths:
        candidate = Path(folder).expanduser() / str(config.plugin_file)
        if candidate.exists():
            return candidate
    if not config.search_paths:
        raise SynthgenError(
            f"synth '{config.name}' has no config here (a model never chooses the plugin it loads): "
            f"pass --plugin PATH to its plugin file, or --synth with your config for it"
        )
    raise SynthgenError(
        f"plugin '{config.plugin_file}' for synth '{config.name}' not found in "
        f"{', '.join(config.search_paths) or 'no search path'}: install it or pass --plugin PATH"
    )


def load_plugin(path: str | Path, sample_rate: int = 22050) -> Synth:
    """Load a VST2/VST3 plugin file."""
    from synthgen.synths.plugin import PluginSynth

    return PluginSynth(path, sample_rate)


def load_synth(config: SynthConfig, plugin: str | Path | None = None, check: bool = True) -> Synth:
    """Build the synth a config describes and check that every parameter it names exists.

    Arguments:
        config: the synth config.
        plugin: a plugin file overriding the config's search (plugin backend only).
        check: verify the config's learned and fixed parameter names against the synth.
    """
    if config.backend == "faust":
        if plugin is not None:
            raise SynthgenError(f"--plugin is for plugin synths; '{config.name}' is a Faust synth that synthgen builds: drop --plugin")
        from synthgen.synths.faust import FaustSynth

        synth: Synth = FaustSynth(str(config.dsp), config.render.sample_rate)
    else:
        synth = load_plugin(resolve_plugin_path(config, plugin), config.render.sample_rate)
    if check:
        check_config_fits(config, synth, plugin)
    return synth


def check_config_fits(config: SynthConfig, synth: Synth, plugin: str | Path | None = None) -> None:
    """Refuse a config that names parameters the synth lacks, or values beyond the synth's own limits.

    A value outside a parameter's limits (a Faust slider's min..max, a plugin's 0..1) would be
    clipped by the synth while the dataset stored the value as given: labels that lie.

    Arguments:
        config: the synth config.
        synth: the synth built from it.
        plugin: the plugin file given with ``--plugin`` in place of the config's own, if any: a
            missing name then most likely means another plugin, and the message says so.
    """
    where = config.source or config.name
    limits = {p.name: (p.low, p.high) for p in synth.parameters()}
    for name in [*config.space.names, *config.space.fixed]:
        if name in limits:
            continue
        if plugin is not None:
            raise SynthgenError(
                f"plugin file {plugin} has no parameter '{name}', which the config of synth '{config.name}' ({where}) names: "
                f"is --plugin the right plugin for that config? (list its parameters with `synthgen info --synth {plugin}`)"
            )
        raise SynthgenError(
            f"{where}: unknown parameter '{name}' for synth '{config.name}' (list them with `synthgen info --synth {config.name}`)"
        )
    wanted = {s.name: (s.low, s.high) for s in config.space.specs} | {k: (v, v) for k, v in config.space.fixed.items()}
    for name, (low, high) in wanted.items():
        lo, hi = limits[name]
        slack = 1e-6 * max(hi - lo, 1.0)  # limits are float32 in the synth
        if low < lo - slack or high > hi + slack:
            what = f"range [{low:g}, {high:g}]" if name in config.space.names else f"fixed value {low:g}"
            raise SynthgenError(
                f"{where}: {what} of '{name}' goes beyond what the synth accepts ({lo:g} to {hi:g}); "
                "the synth would clip it while the dataset recorded the value as given"
            )
