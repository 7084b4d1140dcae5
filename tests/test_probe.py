"""Which learned parameters change the sound: `synthgen info --probe`, and the dataset summary's warning."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.config import load_config
from synthgen.synths.loading import load_synth
from synthgen.synths.probe import ParameterEffect, probe_parameters, probe_verdict

# a sine whose pitch is learned, and a slider the sound never reads (attach keeps it in the UI)
_DSP = """import("stdfaust.lib");
voice = attach(os.osc(hslider("tone", 440, 100, 1000, 1)) * 0.1 * (ba.time < 0.5 * ma.SR), hslider("unused", 0, 0, 1, 0.01));
"""
_RANGES = {"tone": [100, 1000], "unused": [0, 1]}


def _config(folder: Path, learned: tuple[str, ...]) -> Path:
    path = folder / "inert.yaml"
    config = {
        "name": "inert_test",
        "backend": "faust",
        "dsp": _DSP,
        "render": {"sample_rate": 22050, "midi_pitch": 60, "velocity": 127, "note_duration_s": 0.5, "render_duration_s": 1.0},
        "features": {"n_fft": 1024, "hop_length": 512, "n_mels": 32, "fmin": 30, "fmax": 11000, "n_frames": 40, "log_offset": 0.001},
        "learned": [{"name": name, "kind": "continuous", "range": _RANGES[name]} for name in learned],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_probe_tells_a_parameter_the_sound_ignores_from_one_it_uses(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, ("tone", "unused")))
    effects = probe_parameters(load_synth(config), config, n_presets=3, seed=1)
    assert list(effects) == ["tone", "unused"]
    assert effects["unused"].inert and effects["unused"].peak_db == pytest.approx(0.0, abs=1e-3)
    assert not effects["tone"].inert and effects["tone"].mean_db > 1.0 and effects["tone"].peak_db > 20.0


def test_probe_with_the_same_seed_measures_the_same(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, ("tone", "unused")))
    synth = load_synth(config)
    first, again = (probe_parameters(synth, config, n_presets=2, seed=5)["tone"] for _ in range(2))
    assert again.mean_db == pytest.approx(first.mean_db, rel=1e-3)


def test_info_probe_names_what_changes_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["info", "--synth", str(_config(tmp_path, ("tone", "unused"))), "--probe"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.startswith(("tone", "unused"))}
    assert "a sweep changes the sound" in rows["tone"] and rows["unused"].endswith("a sweep changes nothing audible")
    assert "1 of 2 changed nothing audible (unused)" in result.output.splitlines()[-2]


def test_info_probe_writes_a_config_with_what_changes_nothing_fixed(tmp_path: Path) -> None:
    written = tmp_path / "probed.yaml"
    args = ["info", "--synth", str(_config(tmp_path, ("tone", "unused"))), "--probe", "--write-config", str(written)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "with --write-config, unused is written fixed at the synth's defaults" in result.output
    config = load_config(written)
    assert config.space.names == ["tone"] and config.space.fixed == {"unused": 0.0}


def test_builtin_parameters_all_change_the_sound() -> None:
    result = CliRunner().invoke(main, ["info", "--synth", "builtin", "--probe"])
    assert result.exit_code == 0, result.output
    assert result.output.count("a sweep changes the sound") == 25 and "every one changes the sound" in result.output


def test_dataset_of_sounds_that_are_all_the_same_says_so(tmp_path: Path) -> None:
    runner = CliRunner()
    inert = runner.invoke(
        main, ["render", "--synth", str(_config(tmp_path, ("unused",))), "--n", "6", "--out", str(tmp_path / "same"), "-q"]
    )
    assert inert.exit_code == 0, inert.output
    assert "the 6 rows sampled all sound the same" in inert.output
    varied = runner.invoke(
        main, ["render", "--synth", str(_config(tmp_path, ("tone", "unused"))), "--n", "6", "--out", str(tmp_path / "varied"), "-q"]
    )
    assert varied.exit_code == 0 and "warning" not in varied.output


def test_a_probe_where_nothing_changes_asks_whether_the_plugin_is_an_instrument() -> None:
    silent = {"mix": ParameterEffect(0.0, 0.0), "time": ParameterEffect(0.0, 0.05)}
    verdict = probe_verdict(silent, seed=0)
    assert verdict.endswith("none of the 2 changed anything audible: is the plugin an instrument (one that plays MIDI notes)?")
    one = {**silent, "tone": ParameterEffect(3.0, 20.0)}
    assert "2 of 3 changed nothing audible (mix, time)" in probe_verdict(one, seed=0)
