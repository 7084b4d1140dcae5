"""A plugin's static data put back before each sound: amsynth's noise renders the same every time."""

import ctypes
from pathlib import Path

import numpy as np
import pytest

from synthgen.synths.static_data import StaticData, static_data_of
from tests.conftest import requires_amsynth

#: osc 1 on amsynth's noise waveform and alone in the mix, with no LFO modulation
_NOISE = {"osc1_waveform": 0.75, "osc_mix": 0.0, "freq_mod_amount": 0.0, "filter_mod_amount": 0.0}


def _difference(audio: np.ndarray, reference: np.ndarray) -> float:
    """``||audio - reference|| / ||reference||`` (the tail of the sound before leaves a trace of about 1e-3)."""
    return float(np.linalg.norm(audio - reference) / np.linalg.norm(reference))


def _noise_presets(config, n: int) -> np.ndarray:
    unit = config.space.sample(n, np.random.default_rng(7))
    for name, value in _NOISE.items():
        unit[:, config.space.names.index(name)] = value
    return unit


@pytest.fixture(scope="module")
def amsynth(amsynth_config):
    from synthgen.synths.loading import load_synth

    return load_synth(amsynth_config)


def test_restore_puts_the_saved_bytes_back() -> None:
    buffer = ctypes.create_string_buffer(b"seed", 4)
    saved = StaticData(ctypes.addressof(buffer), 4)
    buffer.value = b"next"
    saved.restore()
    assert buffer.raw == b"seed"


def test_a_library_not_loaded_has_none(tmp_path: Path) -> None:
    not_loaded = tmp_path / "plugin.so"
    not_loaded.write_bytes(b"\x7fELF")
    assert static_data_of(not_loaded) is None


@requires_amsynth
def test_a_noise_preset_renders_the_same_whatever_came_before(amsynth, amsynth_config) -> None:
    from synthgen.synths.rendering import render_unit

    first, other = _noise_presets(amsynth_config, 2)
    before = render_unit(amsynth, amsynth_config, first[None])[0]
    assert np.sqrt(np.mean(before**2)) > 1e-3
    render_unit(amsynth, amsynth_config, other[None])
    again = render_unit(amsynth, amsynth_config, first[None])[0]
    assert _difference(again, before) < 0.01


@requires_amsynth
def test_without_it_the_noise_goes_on_from_the_sound_before(amsynth, amsynth_config) -> None:
    from synthgen.synths.rendering import render_unit

    saved, amsynth._static = amsynth._static, None
    try:
        first, other = _noise_presets(amsynth_config, 2)
        before = render_unit(amsynth, amsynth_config, first[None])[0]
        render_unit(amsynth, amsynth_config, other[None])
        again = render_unit(amsynth, amsynth_config, first[None])[0]
    finally:
        amsynth._static = saved
    assert _difference(again, before) > 0.3


@requires_amsynth
def test_a_copy_in_its_own_process_renders_the_same_noise(amsynth, amsynth_config) -> None:
    from synthgen.synths.rendering import render_unit

    presets = _noise_presets(amsynth_config, 3)
    here = render_unit(amsynth, amsynth_config, presets)
    (copy,) = amsynth.copies(1)
    there = render_unit(copy, amsynth_config, presets[::-1])[::-1]
    assert max(_difference(a, b) for a, b in zip(there, here, strict=True)) < 0.01
