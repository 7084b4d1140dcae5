"""Tests for amsynth bank files and their mapping to the amsynth VST plugin's host values."""

from pathlib import Path

import numpy as np
import pytest

from synthgen.errors import SynthgenError
from synthgen.presets.amsynth_bank import (
    AMSYNTH_PARAMETERS,
    PRESETS_PER_BANK,
    SHIPPED_BANK_DIR,
    AmsynthPreset,
    bank_to_values,
    control_value,
    read_bank,
    read_banks,
    values_to_bank,
    write_bank,
    write_banks,
    write_fxp,
)

PLUGIN_PATH = Path("/usr/lib/vst/amsynth_vst.so")
SHIPPED_BANK_FILES = 28
SHIPPED_PRESETS = 3482
NOISE_WAVEFORMS = {"osc1_waveform": (3.0, 4.0), "osc2_waveform": (3.0, 4.0), "lfo_waveform": (3.0, 4.0)}

needs_banks = pytest.mark.skipif(not SHIPPED_BANK_DIR.is_dir(), reason="amsynth's banks are not installed")
needs_plugin = pytest.mark.skipif(not PLUGIN_PATH.is_file(), reason="the amsynth VST plugin is not installed")


@pytest.fixture(scope="module")
def shipped() -> list[AmsynthPreset]:
    if not SHIPPED_BANK_DIR.is_dir():
        pytest.skip("amsynth's banks are not installed")
    return read_banks(SHIPPED_BANK_DIR)


@pytest.fixture(scope="module")
def plugin_factory():
    """Makes fresh amsynth plugin processors, as (processor, name -> index, render).

    A processor's first render depends on what the engine rendered since it was made (parameter
    smoothing settles), so each processor is made, set and rendered before the next one is made.
    """
    daw = pytest.importorskip("dawdreamer")
    if not PLUGIN_PATH.is_file():
        pytest.skip("the amsynth VST plugin is not installed")
    engine = daw.RenderEngine(22050, 512)
    made = []

    def render(processor) -> np.ndarray:
        engine.load_graph([(processor, [])])
        processor.add_midi_note(60, 110, 0.0, 0.5)
        engine.render(1.0)
        return engine.get_audio().copy()

    def make():
        processor = engine.make_plugin_processor(f"amsynth{len(made)}", str(PLUGIN_PATH))
        made.append(processor)
        index = {processor.get_parameter_name(i): i for i in range(processor.get_plugin_parameter_size())}
        assert set(index) == set(AMSYNTH_PARAMETERS)
        return processor, index, render

    return make


def _set_unit(processor, index: dict[str, int], unit: dict[str, float]) -> None:
    for name, value in unit.items():
        processor.set_parameter(index[name], value)


def _control_span(name: str) -> float:
    p = AMSYNTH_PARAMETERS[name]
    return abs(control_value(name, p.high) - control_value(name, p.low))


@needs_banks
def test_shipped_banks_parse_within_range(shipped):
    assert len(sorted(SHIPPED_BANK_DIR.glob("*.bank"))) == SHIPPED_BANK_FILES
    assert len(shipped) == SHIPPED_PRESETS
    assert len({p.bank for p in shipped}) == SHIPPED_BANK_FILES
    for preset in shipped:
        assert list(preset.values) == list(AMSYNTH_PARAMETERS)
        assert 0 <= preset.index < PRESETS_PER_BANK
        for name, value in preset.values.items():
            p = AMSYNTH_PARAMETERS[name]
            assert p.low <= value <= p.high, (preset.bank, preset.name, name, value)
            if p.step > 0:
                assert value in p.classes, (preset.bank, preset.name, name, value)


@needs_banks
def test_shipped_banks_map_to_host_values_and_back(shipped):
    for preset in shipped:
        unit = bank_to_values(preset.values)
        back = values_to_bank(unit)
        for name, value in preset.values.items():
            p = AMSYNTH_PARAMETERS[name]
            assert 0.0 <= unit[name] <= 1.0
            if p.step > 0:
                assert back[name] == value
            else:
                # float32 host values resolve about 1e-7 of the range; bank files hold 6 digits
                assert back[name] == pytest.approx(value, rel=0, abs=1e-7 * (p.high - p.low))


def test_values_to_bank_clamps_and_steps_like_the_plugin():
    assert values_to_bank({"osc2_pitch": 1.5, "amp_attack": -0.2}) == {"osc2_pitch": 12.0, "amp_attack": 0.0}
    assert values_to_bank({"osc2_pitch": 13.4 / 24})["osc2_pitch"] == 1.0
    assert values_to_bank({"osc2_range": 0.5})["osc2_range"] == 1.0
    assert bank_to_values({"osc2_range": -3.0, "filter_resonance": 2.0}) == {"osc2_range": 0.0, "filter_resonance": 1.0}
    assert values_to_bank(bank_to_values({"filter_env_amount": -16.0}))["filter_env_amount"] == -16.0


@needs_banks
@needs_plugin
def test_plugin_displays_bank_values_of_shipped_presets(shipped, plugin_factory):
    processor, index, _ = plugin_factory()
    for preset in shipped[::29]:
        _set_unit(processor, index, bank_to_values(preset.values))
        for name, value in preset.values.items():
            shown = float(processor.get_parameter_text(index[name]))
            expected = control_value(name, value)
            assert shown == pytest.approx(expected, rel=1e-5, abs=1e-7 * _control_span(name)), (preset.name, name)


@needs_plugin
@pytest.mark.parametrize("kind", ["discrete", "categorical"])
def test_plugin_shows_every_class(kind, plugin_factory):
    processor, index, _ = plugin_factory()
    for name, p in AMSYNTH_PARAMETERS.items():
        if p.kind != kind:
            continue
        half_class = 0.4 / (len(p.classes) - 1)
        for k, value in enumerate(p.classes):
            text = f"{control_value(name, value):g}"
            unit = bank_to_values({name: value})[name]
            assert unit == pytest.approx(k / (len(p.classes) - 1))
            processor.set_parameter(index[name], unit)
            assert processor.get_parameter_text(index[name]) == text, (name, value)
            if p.step > 0:
                for off in (unit - half_class, unit + half_class):
                    assert values_to_bank({name: off})[name] == value
                    processor.set_parameter(index[name], off)
                    assert processor.get_parameter_text(index[name]) == text, (name, value, off)


@needs_plugin
def test_plugin_shows_continuous_ranges(plugin_factory):
    processor, index, _ = plugin_factory()
    for name, p in AMSYNTH_PARAMETERS.items():
        if p.kind != "continuous":
            continue
        for unit in (0.0, 0.25, 0.5, 0.9, 1.0):
            processor.set_parameter(index[name], unit)
            shown = float(processor.get_parameter_text(index[name]))
            expected = control_value(name, values_to_bank({name: unit})[name])
            assert shown == pytest.approx(expected, rel=1e-5, abs=1e-7 * _control_span(name)), (name, unit)


@needs_banks
@needs_plugin
def test_native_fxp_load_matches_mapped_values_and_audio(shipped, plugin_factory, tmp_path):
    tonal = [p for p in shipped if all(p.values[name] not in noise for name, noise in NOISE_WAVEFORMS.items())]
    for preset in tonal[::600]:
        native, index, render = plugin_factory()
        assert native.load_preset(str(write_fxp(preset, tmp_path / "preset.fxp")))
        unit = bank_to_values(preset.values)
        assert {name: native.get_parameter(i) for name, i in index.items()} == unit
        native_audio = render(native)
        mapped, index, render = plugin_factory()
        _set_unit(mapped, index, unit)
        mapped_audio = render(mapped)
        assert np.sqrt(np.mean(native_audio**2)) > 1e-4, preset.name
        np.testing.assert_allclose(mapped_audio, native_audio, rtol=0, atol=2e-5, err_msg=preset.name)


@needs_banks
def test_rewritten_complete_banks_are_byte_identical(tmp_path):
    complete = 0
    for path in sorted(SHIPPED_BANK_DIR.glob("*.bank")):
        presets = read_bank(path)
        text = path.read_text()
        if any(p.defaulted for p in presets) or not text.endswith("\n"):
            continue
        assert write_bank(presets, tmp_path / path.name).read_text() == text, path.name
        complete += 1
    assert complete > 0


@needs_banks
def test_export_import_round_trip(shipped, tmp_path):
    paths = write_banks(shipped, tmp_path / "export", "export")
    assert [p.name for p in paths][:2] == ["export01.bank", "export02.bank"]
    assert len(paths) == -(-len(shipped) // PRESETS_PER_BANK)
    again = read_banks(tmp_path / "export")
    assert [(p.name, p.values) for p in again] == [(p.name, p.values) for p in shipped]
    assert [p.index for p in again[: PRESETS_PER_BANK + 1]] == [*range(PRESETS_PER_BANK), 0]
    assert not any(p.defaulted for p in again)


def test_round_trip_of_mapped_values(tmp_path):
    rng = np.random.default_rng(0)
    presets = [AmsynthPreset("", i, f"random {i}", values_to_bank({name: rng.random() for name in AMSYNTH_PARAMETERS})) for i in range(5)]
    again = read_bank(write_bank(presets, tmp_path / "random.bank"))
    assert [p.bank for p in again] == ["random"] * len(presets)
    assert [(p.index, p.name, p.values) for p in again] == [(p.index, p.name, p.values) for p in presets]
    partial = AmsynthPreset("", 0, "partial", {"osc2_pitch": 7.0})
    (read_back,) = read_bank(write_bank([partial], tmp_path / "partial.bank"))
    assert read_back.values["osc2_pitch"] == 7.0
    assert read_back.values["master_vol"] == AMSYNTH_PARAMETERS["master_vol"].default


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.bank"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RIFF\x00\x01 not a bank\n", "not an amsynth bank"),
        ("", "not an amsynth bank"),
        ("amSynth\n<parameter> amp_attack 0\n", "bad.bank:2: a parameter comes before"),
        ("amSynth\n<preset> <name> x\n<parameter> volume 1\n", "bad.bank:3: unknown amsynth parameter 'volume'"),
        ("amSynth\n<preset> <name> x\n<parameter> amp_attack loud\n", "bad.bank:3: parameter amp_attack needs a finite number"),
        ("amSynth\n<preset> <name> x\n<parameter> amp_attack nan\n", "bad.bank:3: parameter amp_attack needs a finite number"),
        ("amSynth\n<preset> <name> x\nhello\n", "bad.bank:3: expected"),
    ],
)
def test_bad_bank_files_raise_one_line(tmp_path, text, message):
    with pytest.raises(SynthgenError, match=message) as caught:
        read_bank(_write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_other_mistakes_raise(tmp_path):
    with pytest.raises(SynthgenError, match="cannot read amsynth bank"):
        read_bank(tmp_path / "missing.bank")
    with pytest.raises(SynthgenError, match="no amsynth banks"):
        read_banks(tmp_path)
    with pytest.raises(SynthgenError, match="unknown amsynth parameter 'cutoff'"):
        bank_to_values({"cutoff": 0.5})
    with pytest.raises(SynthgenError, match="finite"):
        values_to_bank({"amp_attack": float("inf")})
    preset = AmsynthPreset("", 0, "x", {})
    with pytest.raises(SynthgenError, match="at most 128 presets"):
        write_bank([preset] * (PRESETS_PER_BANK + 1), tmp_path / "big.bank")
    with pytest.raises(SynthgenError, match="one non-empty line"):
        write_bank([AmsynthPreset("", 0, "two\nlines", {})], tmp_path / "name.bank")
