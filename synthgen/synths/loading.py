"""Build the synth a config describes: the built-in Faust synth or a plugin found on disk."""

__all__ = ["load_plugin", "load_synth", "resolve_plugin_path"]

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
        from synthgen.synths.faust import FaustSynth

        synth: Synth = FaustSynth(str(config.dsp), config.render.sample_rate)
    else:
        synth = load_plugin(resolve_plugin_path(config, plugin), config.render.sample_rate)
    if check:
        known = set(synth.parameter_names())
        for name in [*config.space.names, *config.space.fixed]:
            if name not in known:
                raise SynthgenError(
                    f"{config.source or config.name}: unknown parameter '{name}' for synth "
                    f"'{config.name}' (list them with `synthgen info --synth {config.name}`)"
                )
    return synth
