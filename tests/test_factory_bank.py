"""The built-in synth's factory bank: every preset loads, sounds, and has the envelope it was designed with."""

__all__: list[str] = []

import json
from pathlib import Path

import numpy as np
import pytest

from synthgen.config import load_config
from synthgen.presets.human import load_human_presets
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit

BANK = Path(__file__).resolve().parents[1] / "presets" / "builtin"
CATEGORIES = {"bass", "lead", "pad", "pluck", "keys", "bell", "brass", "strings", "effects"}
CONFIG = load_config("builtin")


def _documents() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(BANK.glob("*/*.json"))}


@pytest.fixture(scope="module")
def rendered() -> tuple[list[str], list[str], np.ndarray]:
    """Bank folder, preset name and frame RMS ``(N, n_frames)`` in 0.1 s frames of every preset."""
    loaded = load_human_presets([BANK], CONFIG)
    synth = load_synth(CONFIG)
    audio = render_unit(synth, CONFIG, loaded.unit)
    frame = synth.sample_rate // 10
    rms = np.sqrt((audio[:, : audio.shape[1] // frame * frame].reshape(len(audio), -1, frame) ** 2).mean(-1))
    return list(loaded.banks), list(loaded.names), rms


def test_bank_holds_every_category_with_named_presets() -> None:
    documents = _documents()
    assert len(documents) >= 64
    assert {d["extra"]["category"] for d in documents.values()} == CATEGORIES
    assert all(d["extra"]["name"] and d["synth"] == "builtin" for d in documents.values())
    envelopes = {d["extra"]["category"]: set() for d in documents.values()}
    for d in documents.values():
        envelopes[d["extra"]["category"]].add(d["extra"]["envelope"])
    assert envelopes["pluck"] == envelopes["bell"] == {"decaying"}
    assert envelopes["pad"] == {"sustained"}


def test_every_preset_sounds(rendered: tuple[list[str], list[str], np.ndarray]) -> None:
    banks, names, rms = rendered
    quiet = [f"{b}/{n}" for b, n, peak in zip(banks, names, rms.max(1), strict=True) if peak < 0.03]
    assert not quiet, f"presets too quiet: {quiet}"
    assert np.isfinite(rms).all() and rms.max() < 1.5


def test_envelopes_behave_as_designed(rendered: tuple[list[str], list[str], np.ndarray]) -> None:
    """Decaying presets fall below 20 % of their peak by 2-2.9 s into the held note; sustained ones stay above 40 %."""
    banks, names, rms = rendered
    stems = {(p.parent.name, p.stem): json.loads(p.read_text())["extra"]["envelope"] for p in BANK.glob("*/*.json")}
    for bank, name, row in zip(banks, names, rms, strict=True):
        held = row[20:29].mean() / row[:10].max()
        if stems[(bank, name)] == "decaying":
            assert held < 0.2, f"{bank}/{name} should decay, holds {held:.2f} of its peak"
        else:
            assert held > 0.4, f"{bank}/{name} should sustain, holds {held:.2f} of its peak"
