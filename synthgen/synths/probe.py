"""How much each learned parameter of a synth changes its sound: a check of a config before a dataset is rendered."""

__all__ = ["PROBE_PRESETS", "ParameterEffect", "fix_inert", "probe_parameters", "probe_verdict"]

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from synthgen.config import SynthConfig
from synthgen.features import AUDIBLE_DB, DB_PER_NEPER, log_mel
from synthgen.progress import progress_bar
from synthgen.synths.base import Synth
from synthgen.synths.rendering import render_unit, silence_broken

#: random presets each parameter is swept from
PROBE_PRESETS = 4


@dataclass(frozen=True)
class ParameterEffect:
    """How much sweeping one parameter end to end changed the log-mel spectrogram, in dB.

    Arguments:
        mean_db: mean absolute change over bins and frames, averaged over the presets tried.
        peak_db: the largest change of any bin in any frame of any preset.
    """

    mean_db: float
    peak_db: float

    @property
    def inert(self) -> bool:
        """True when the sweep moved no log-mel bin of any frame of any preset by :data:`~synthgen.features.AUDIBLE_DB`."""
        return self.peak_db < AUDIBLE_DB

    def describe(self) -> str:
        """What the sweep did, in a few words."""
        return "a sweep changes nothing audible" if self.inert else f"a sweep changes the sound {self.mean_db:.2g} dB on average"


def probe_parameters(
    synth: Synth, config: SynthConfig, n_presets: int = PROBE_PRESETS, seed: int = 0, progress: bool = False
) -> dict[str, ParameterEffect]:
    """Each learned parameter's effect on the sound.

    From each of ``n_presets`` uniform random presets (seeded), every learned parameter in turn is
    rendered at the bottom and at the top of its range, the others unchanged, and the two log-mel
    spectrograms compared. An inert parameter is not automatable, or silenced by other parameters in
    every preset tried. A render that is not finite counts as silence.

    Returns:
        ``{name: effect}`` in the config's parameter order.
    """
    space = config.space
    bases = space.sample(n_presets, np.random.default_rng(seed))
    columns = np.arange(space.size)
    change = []
    for base in progress_bar(bases, desc="probe", unit="preset", disable=not progress):
        ends = np.repeat(base[None], 2 * space.size, axis=0)
        ends[columns, columns] = 0.0
        ends[space.size + columns, columns] = 1.0
        mel = log_mel(silence_broken(render_unit(synth, config, ends)), synth.sample_rate, config.features)
        change.append(np.abs(mel[: space.size] - mel[space.size :]).reshape(space.size, -1) * DB_PER_NEPER)
    change = np.concatenate(change, axis=1)  # (P, presets * bins * frames)
    return {name: ParameterEffect(float(row.mean()), float(row.max())) for name, row in zip(space.names, change, strict=True)}


def probe_verdict(effects: dict[str, ParameterEffect], seed: int, n_presets: int = PROBE_PRESETS) -> str:
    """One line on a probe: how it was done, and which parameters changed nothing audible."""
    inert = [name for name, effect in effects.items() if effect.inert]
    if inert and len(inert) == len(effects):
        verdict = f"none of the {len(effects)} changed anything audible: is the plugin an instrument (one that plays MIDI notes)?"
    elif inert:
        verdict = (
            f"{len(inert)} of {len(effects)} changed nothing audible ({', '.join(inert)}): "
            "fix them in the config (or check that the synth lets a host automate them)"
        )
    else:
        verdict = "every one changes the sound"
    return f"probe: each learned parameter swept end to end from {n_presets} random presets (seed {seed}); {verdict}"


def fix_inert(config: SynthConfig, effects: Mapping[str, ParameterEffect], defaults: Mapping[str, float]) -> SynthConfig:
    """``config`` with the learned parameters the probe found inert fixed at their ``defaults``
    (unchanged when none is, or when all are: a config must learn something)."""
    inert = {name: defaults[name] for name, effect in effects.items() if effect.inert}
    if not 0 < len(inert) < config.space.size:
        return config
    space = config.space
    kept = tuple(spec for spec in space.specs if spec.name not in inert)
    return dataclasses.replace(config, space=dataclasses.replace(space, specs=kept, fixed={**space.fixed, **inert}))
