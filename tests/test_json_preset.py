"""synthgen JSON presets, native preset files (amsynth .fxp and .bank), and `synthgen presets export`."""

import dataclasses
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.config import Note, load_config
from synthgen.errors import SynthgenError, SynthgenWarning
from synthgen.features import log_mel
from synthgen.presets.amsynth_bank import SHIPPED_BANK_DIR, control_value, read_bank, values_to_bank
from synthgen.presets.human import load_human_presets
from synthgen.presets.json_preset import PRESET_FORMAT, read_document, read_preset, write_native_preset, write_preset
from synthgen.synths.base import ParameterInfo, Synth
from synthgen.synths.resolve import model_synth_config

from .conftest import requires_amsynth

# Parameters through which amsynth's noise generator (its noise and sample-and-hold LFO) shapes the sound: kept silent.
_FREE_RUNNING = {"freq_mod_amount": 0.0, "filter_mod_amount": 0.0}
_TONAL_WAVEFORMS = {"osc1_waveform": 0.5, "osc2_waveform": 0.5}


class _SilentSynth(Synth):
    """A synth with no native preset format."""

    sample_rate = 22050

    def parameters(self) -> list[ParameterInfo]:
        return []

    def render(self, batch: Sequence[Mapping[str, float]], note: Note) -> np.ndarray:
        return np.zeros((len(batch), self.n_samples(note, self.sample_rate)), dtype=np.float32)


def _unit(config, seed: int, **overrides: float) -> np.ndarray:
    unit = config.space.sample(1, np.random.default_rng(seed))[0]
    for name, value in overrides.items():
        unit[config.space.names.index(name)] = value
    return unit


@pytest.mark.parametrize("synth", ["amsynth", "builtin"])
def test_json_round_trip(synth: str, tmp_path: Path) -> None:
    config = load_config(synth)
    for seed in range(4):
        unit = _unit(config, seed)
        path = write_preset(tmp_path / f"{seed}.json", config, unit, extra={"loss": 0.5})
        np.testing.assert_allclose(read_preset(path, config), config.space.snap_unit(unit[None])[0], rtol=0, atol=1e-6)
    document = json.loads(path.read_text())
    assert document["format"] == PRESET_FORMAT and document["synth"] == synth
    assert document["backend"] == config.backend and document["plugin_file"] == config.plugin_file
    assert document["note"]["midi_pitch"] == config.render.midi_pitch
    assert list(document["parameters"]) == config.space.names
    value_row = config.space.from_unit(unit[None])[0]
    assert list(document["parameters"].values()) == pytest.approx(value_row.tolist(), rel=1e-6, abs=1e-6)
    assert document["fixed"] == pytest.approx(dict(config.space.fixed))
    assert document["extra"] == {"loss": 0.5} and "display" not in document


def test_config_fixed_values_win_over_the_file(amsynth_config, tmp_path: Path) -> None:
    unit = _unit(amsynth_config, 0)
    path = write_preset(tmp_path / "p.json", amsynth_config, unit)
    document = json.loads(path.read_text())
    document["fixed"]["master_vol"] = 0.1
    document["parameters"]["reverb_roomsize"] = 0.9
    path.write_text(json.dumps(document))
    np.testing.assert_array_equal(read_preset(path, amsynth_config), read_preset(write_preset(path, amsynth_config, unit), amsynth_config))
    assert read_document(path).values["master_vol"] == amsynth_config.space.fixed["master_vol"]


def _edited(path: Path, edit) -> Path:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("edit", "config_name", "message"),
    [
        (lambda d: None, "builtin", "preset for synth 'amsynth', not for 'builtin'"),
        (lambda d: d["parameters"].update(cutoff=0.5), "amsynth", "unknown parameter 'cutoff'"),
        (lambda d: d["parameters"].pop("filter_cutoff"), "amsynth", "no value for learned parameter 'filter_cutoff'"),
        (lambda d: d["parameters"].update(filter_cutoff="high"), "amsynth", "parameters.filter_cutoff must be a finite number"),
        (lambda d: d.update(format="other-1"), "amsynth", "not a synthgen preset"),
        (lambda d: d.pop("synth"), "amsynth", "'synth' must be a string"),
    ],
)
def test_read_errors_are_one_line(edit, config_name: str, message: str, amsynth_config, tmp_path: Path) -> None:
    path = _edited(write_preset(tmp_path / "p.json", amsynth_config, _unit(amsynth_config, 0)), edit)
    with pytest.raises(SynthgenError, match=re.escape(message)) as caught:
        read_preset(path, load_config(config_name))
    assert "\n" not in str(caught.value)


def test_unreadable_files(amsynth_config, tmp_path: Path) -> None:
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(SynthgenError, match="it is not JSON"):
        read_preset(tmp_path / "text.json", amsynth_config)
    with pytest.raises(SynthgenError, match="cannot read preset"):
        read_preset(tmp_path / "missing.json", amsynth_config)


def test_synth_without_native_format_gets_json_only(tmp_path: Path) -> None:
    config = load_config("builtin")
    paths = write_native_preset(_SilentSynth(), config, _unit(config, 0), tmp_path / "lead")
    assert paths == [tmp_path / "lead.json"]
    assert read_document(paths[0]).synth == "builtin"


@pytest.fixture(scope="module")
def amsynth_synths(amsynth_config):
    """Two amsynth plugins, kept for the whole module: one writes presets, one loads them."""
    from synthgen.synths.loading import load_synth

    return load_synth(amsynth_config), load_synth(amsynth_config)


@requires_amsynth
def test_native_presets_load_back_and_sound_the_same(amsynth_synths, amsynth_config, tmp_path: Path) -> None:
    writer, reader = amsynth_synths
    space = amsynth_config.space
    unit = _unit(amsynth_config, 0, **_FREE_RUNNING, **_TONAL_WAVEFORMS)
    settings = space.synth_values(unit)
    paths = write_native_preset(writer, amsynth_config, unit, tmp_path / "My Lead")
    assert [p.name for p in paths] == ["My Lead.json", "My Lead.fxp", "My Lead.bank"]

    document = read_document(paths[0])
    assert set(document.display) == set(settings)
    pitch = values_to_bank({"osc2_pitch": settings["osc2_pitch"]})["osc2_pitch"]
    assert document.display["osc2_pitch"] == f"{control_value('osc2_pitch', pitch):g}"

    (bank_preset,) = read_bank(paths[2])
    assert bank_preset.name == "My Lead"
    assert {name: bank_preset.values[name] for name in settings} == values_to_bank(settings)

    reader.load_state(paths[1])
    loaded = {p.name: p.default for p in reader.parameters()}
    assert {name: loaded[name] for name in settings} == pytest.approx(settings, abs=1e-5)
    note = amsynth_config.render.note()
    native = reader.render([{}], note)
    direct = writer.render([settings], note)
    other = writer.render([space.synth_values(_unit(amsynth_config, 1))], note)
    assert np.sqrt(np.mean(native**2)) > 1e-2
    mels = [log_mel(audio, writer.sample_rate, amsynth_config.features) for audio in (native, direct, other)]
    assert np.abs(mels[0] - mels[1]).mean() < 0.05 < 1.0 < np.abs(mels[0] - mels[2]).mean()


@requires_amsynth
def test_native_presets_carry_the_output_gain_in_the_synths_volume(amsynth_synths, amsynth_config, tmp_path: Path) -> None:
    writer, reader = amsynth_synths
    unit = _unit(amsynth_config, 2, **_FREE_RUNNING, **_TONAL_WAVEFORMS)
    settings = amsynth_config.space.synth_values(unit)
    paths = write_native_preset(writer, amsynth_config, unit, tmp_path / "quiet", output_gain_db=-12.0)
    assert read_document(paths[0]).output_gain_db == pytest.approx(-12.0)  # synthgen applies it to the JSON preset
    reader.load_state(paths[1])
    volume = {p.name: p.default for p in reader.parameters()}["master_vol"]
    assert volume < settings["master_vol"]
    (bank_preset,) = read_bank(paths[2])
    assert bank_preset.values["master_vol"] == values_to_bank({"master_vol": volume})["master_vol"]
    note = amsynth_config.render.note()
    native, loud = reader.render([{}], note), writer.render([settings], note)
    assert 20 * np.log10(np.sqrt(np.mean(native**2)) / np.sqrt(np.mean(loud**2))) == pytest.approx(-12.0, abs=0.5)
    # a model file's config has no say in it: the volume control comes from the user's config of the synth
    stored = dataclasses.replace(amsynth_config, volume=None)
    assert model_synth_config(stored).volume == amsynth_config.volume


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_export_to_bank_and_back(amsynth_config, tmp_path: Path) -> None:
    units = {name: _unit(amsynth_config, seed) for seed, name in enumerate(["lead", "pad"])}
    inputs = [str(write_preset(tmp_path / f"{name}.json", amsynth_config, unit)) for name, unit in units.items()]
    code, output = _run("presets", "export", *inputs, "--out", str(tmp_path / "mine.bank"))
    assert code == 0, output
    assert output == f"wrote {tmp_path / 'mine.bank'}: 2 presets\n"
    bank = read_bank(tmp_path / "mine.bank")
    assert [(p.index, p.name) for p in bank] == [(0, "lead"), (1, "pad")]
    for preset, path in zip(bank, inputs, strict=True):
        values = read_document(path).values
        assert {name: preset.values[name] for name in values} == values_to_bank(values)
    loaded = load_human_presets(tmp_path / "mine.bank", amsynth_config)
    assert loaded.names == ("lead", "pad") and loaded.banks == ("mine", "mine")
    expected = amsynth_config.space.snap_unit(np.stack(list(units.values())))
    np.testing.assert_allclose(loaded.unit, expected, rtol=0, atol=1e-5)


@requires_amsynth
def test_export_carries_a_json_presets_gain_into_the_bank(amsynth_synths, amsynth_config, tmp_path: Path) -> None:
    unit = _unit(amsynth_config, 3, **_FREE_RUNNING, **_TONAL_WAVEFORMS)
    quiet = write_preset(tmp_path / "quiet.json", amsynth_config, unit, output_gain_db=-9.0)
    plain = write_preset(tmp_path / "plain.json", amsynth_config, unit)
    code, output = _run("presets", "export", str(quiet), str(plain), "--out", str(tmp_path / "mine.bank"))
    assert code == 0, output
    by_name = {p.name: p.values["master_vol"] for p in read_bank(tmp_path / "mine.bank")}
    assert by_name["plain"] == values_to_bank({"master_vol": amsynth_config.space.fixed["master_vol"]})["master_vol"]
    # what write_native_preset puts in its own bank for the same preset and gain: this preset drives amsynth's limiter,
    # whose level holds still down to -35 dB of volume, and the volume found still plays it 9 dB down (no note)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthgenWarning)
        native = write_native_preset(amsynth_synths[0], amsynth_config, unit, tmp_path / "native", output_gain_db=-9.0)
    assert by_name["quiet"] == pytest.approx(read_bank(native[2])[0].values["master_vol"], abs=2e-3)
    assert by_name["quiet"] < by_name["plain"]


@requires_amsynth
def test_a_gain_beyond_the_synths_volume_range_is_told_in_one_note(amsynth_synths, amsynth_config, tmp_path: Path) -> None:
    unit = _unit(amsynth_config, 3, **_FREE_RUNNING, **_TONAL_WAVEFORMS)
    loud = write_preset(tmp_path / "loud.json", amsynth_config, unit, output_gain_db=30.0)
    code, output = _run("presets", "export", str(loud), "--out", str(tmp_path / "mine.bank"))
    assert code == 0, output
    (note,) = [line for line in output.splitlines() if line.startswith("note: ")]
    assert "note: loud: the synth's 'master_vol' changes its level by" in note and "not by the fitted output gain's +30.0 dB" in note
    assert read_bank(tmp_path / "mine.bank")[0].values["master_vol"] == values_to_bank({"master_vol": 1.0})["master_vol"]
    with pytest.warns(SynthgenWarning, match="native: the synth's 'master_vol' changes its level by"):
        write_native_preset(amsynth_synths[0], amsynth_config, unit, tmp_path / "native", output_gain_db=30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthgenWarning)  # a gain within reach is not worth a note
        tonal = _unit(amsynth_config, 2, **_FREE_RUNNING, **_TONAL_WAVEFORMS)
        write_native_preset(amsynth_synths[0], amsynth_config, tonal, tmp_path / "quiet", output_gain_db=-12.0)


def test_export_errors_are_one_line(amsynth_config, tmp_path: Path) -> None:
    builtin = load_config("builtin")
    faust = str(write_preset(tmp_path / "faust.json", builtin, _unit(builtin, 0)))
    amsynth = str(write_preset(tmp_path / "am.json", amsynth_config, _unit(amsynth_config, 0)))
    cases = [
        ([faust, "--out", str(tmp_path / "x.bank")], "is for synth 'builtin', not amsynth"),
        ([amsynth, "--out", str(tmp_path / "x.txt")], "must end in .bank"),
        ([str(tmp_path / "x.fxp"), "--out", str(tmp_path / "x.bank")], "preset file or folder not found"),
    ]
    if SHIPPED_BANK_DIR.is_dir():
        cases.append(([str(SHIPPED_BANK_DIR), "--out", str(tmp_path / "x.bank")], "at most 128 presets, got 3482"))
    for args, message in cases:
        code, output = _run("presets", "export", *args)
        assert code == 1 and output.startswith("Error: ") and output.count("\n") == 1, output
        assert message in output, output


def test_loading_json_presets_counts_the_notes_a_dataset_will_not_play(tmp_path: Path) -> None:
    config = load_config("builtin")
    unit = config.space.sample(3, np.random.default_rng(0))
    write_preset(tmp_path / "a.json", config, unit[0], note=Note(48, 100, 1.5, 4.0))
    write_preset(tmp_path / "b.json", config, unit[1], note=Note(48, 127, 3.0, 4.0))
    write_preset(tmp_path / "c.json", config, unit[2])  # the config's own note
    loaded = load_human_presets(tmp_path, config)
    assert loaded.own_notes == {48: 2}
    assert "2 JSON presets record a note of their own (MIDI pitch: 48 (2))" in loaded.summary()
    assert "1 JSON preset records a note of its own (MIDI pitch: 48 (1))" in load_human_presets(tmp_path / "a.json", config).summary()
    assert "note" not in load_human_presets(tmp_path / "c.json", config).summary()
