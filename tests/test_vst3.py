"""VST3 hosting through a tiny synth built from tests/fixtures/vst3_synth, and the Diva config."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from synthgen.config import Note, load_config
from synthgen.errors import SynthgenError
from synthgen.synths.loading import load_synth
from synthgen.synths.plugin import PluginSynth

PARAMETER_NAMES = ("Waveform", "Cutoff", "Resonance", "Attack", "Release", "Gain")
SAMPLE_RATE = 22050
NOTE = Note(midi_pitch=60, velocity=100, note_duration_s=0.5, render_duration_s=1.0)
CONFIG = """
name: test_synth
backend: plugin
plugin: {{file: {file}, search_paths: [{folder}]}}
render: {{sample_rate: 22050, note_duration_s: 0.5, render_duration_s: 1.0}}
learned:
  - {{name: Cutoff, range: [0.05, 0.9]}}
  - {{name: Waveform, kind: categorical, values: [0, 1]}}
  - {{name: {third}}}
fixed: {{Gain: 0.8}}
"""


@pytest.fixture(scope="module")
def synth(plugin_path: Path) -> PluginSynth:
    return PluginSynth(plugin_path, SAMPLE_RATE)


def spectral_centroid_hz(audio: np.ndarray) -> float:
    """Mean frequency of a mono signal's magnitude spectrum."""
    magnitude = np.abs(np.fft.rfft(audio))
    frequency_hz = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    return float((magnitude * frequency_hz).sum() / magnitude.sum())


def write_config(tmp_path: Path, plugin_path: Path, third: str = "Release") -> Path:
    path = tmp_path / "test_synth.yaml"
    path.write_text(CONFIG.format(file=plugin_path.name, folder=plugin_path.parent, third=third))
    return path


@pytest.mark.slow  # builds the test plugin with DPF (~15 s)
def test_parameters_are_found_by_name(synth: PluginSynth) -> None:
    names = synth.parameter_names()
    # DPF's VST3 wrapper lists 2,080 MIDI CC pseudo-parameters ahead of the plugin's own.
    assert set(PARAMETER_NAMES) <= set(names)
    assert synth.index_of("Gain") == len(names) - 1
    for info in synth.parameters():
        assert 0.0 <= info.default <= 1.0
    assert synth.parameter_text("Cutoff").startswith("2000")


@pytest.mark.slow  # builds the test plugin with DPF (~15 s)
def test_render_has_energy_and_length(synth: PluginSynth) -> None:
    audio = synth.render([{}, {}], NOTE)
    assert audio.shape == (2, SAMPLE_RATE)
    assert audio.dtype == np.float32
    held = audio[0, : SAMPLE_RATE // 2]
    assert np.sqrt(np.mean(held**2)) > 0.05
    # The default 0.3 s release has died away by the end of the render.
    assert np.abs(audio[0, -1000:]).max() < 1e-3
    np.testing.assert_array_equal(audio[0], audio[1])


@pytest.mark.slow  # builds the test plugin with DPF (~15 s)
def test_parameter_by_name_changes_the_sound(synth: PluginSynth) -> None:
    dark, bright = synth.render([{"Waveform": 1.0, "Cutoff": 0.02}, {"Waveform": 1.0, "Cutoff": 0.9}], NOTE)
    assert spectral_centroid_hz(bright) > 2 * spectral_centroid_hz(dark)
    with pytest.raises(SynthgenError, match="no parameter 'Cutof'"):
        synth.render([{"Cutof": 0.5}], NOTE)


@pytest.mark.slow  # builds the test plugin with DPF (~15 s)
def test_state_round_trip_restores_the_sound(plugin_path: Path, tmp_path: Path) -> None:
    source = PluginSynth(plugin_path, SAMPLE_RATE)
    preset = {"Waveform": 0.7, "Cutoff": 0.05, "Release": 0.6, "Gain": 0.9}
    expected = source.render([preset], NOTE)
    state = source.save_state(tmp_path / "preset")
    target = PluginSynth(plugin_path, SAMPLE_RATE)
    assert not np.array_equal(target.render([{}], NOTE), expected)
    target.load_state(state)
    assert target.parameter_text("Cutoff") == source.parameter_text("Cutoff")
    np.testing.assert_allclose(target.render([{}], NOTE), expected, atol=1e-6)


@pytest.mark.slow  # builds the test plugin with DPF (~15 s)
def test_config_loads_and_names_are_checked(plugin_path: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, plugin_path))
    assert config.space.names == ["Cutoff", "Waveform", "Release"]
    synth = load_synth(config)
    audio = synth.render([config.space.synth_values(np.full((1, 3), 0.5)[0])], config.render.note())
    assert audio.shape == (1, SAMPLE_RATE)
    assert np.abs(audio).max() > 0.01
    with pytest.raises(SynthgenError, match="unknown parameter 'Relase'"):
        load_synth(load_config(write_config(tmp_path, plugin_path, third="Relase")))


def test_diva_config_is_the_papers_parameter_set() -> None:
    config = load_config("diva")
    assert config.backend == "plugin"
    assert config.space.size == 16
    assert {"VCF1: Frequency", "VCF1: Resonance", "ENV1: Attack", "OSC: Shape1"} <= set(config.space.names)
    assert all(0.0 <= spec.low < spec.high <= 1.0 for spec in config.space.specs)
    assert config.space.fixed["main: Active #FX1"] == 0.0


def test_missing_diva_plugin_is_a_clear_error(tmp_path: Path) -> None:
    config = dataclasses.replace(load_config("diva"), search_paths=(str(tmp_path),))
    with pytest.raises(SynthgenError, match=r"plugin 'Diva.64.so' for synth 'diva' not found .*--plugin PATH"):
        load_synth(config)
    with pytest.raises(SynthgenError, match="plugin file not found"):
        load_synth(config, plugin=tmp_path / "Diva.vst3")
