"""Configs: shipped ones load; every bad input gets a one-line error naming file and key."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from synthgen.config import CONFIG_DIR, DEFAULT_SEARCH_BUDGET, config_names, load_config
from synthgen.errors import SynthgenError
from synthgen.synths.loading import load_synth
from synthgen.synths.resolve import write_config_file

from .conftest import requires_amsynth, run_apart

NEKOBI = Path("/usr/lib/vst/Nekobi-vst.so")

GOOD = """
name: t
backend: plugin
plugin: {file: amsynth_vst.so, search_paths: [/usr/lib/vst]}
learned:
  - {name: filter_cutoff, range: [0.1, 1]}
  - {name: osc1_waveform, kind: categorical, steps: 5}
fixed: {master_vol: 0.6}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", config_names())
def test_shipped_configs_validate(name: str) -> None:
    config = load_config(name)
    assert config.space.size > 0
    assert config.name == name


def test_a_volume_control_is_read_and_written_back(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD + "volume: {parameter: master_vol, exponent: 2}\n"))
    assert config.volume is not None and (config.volume.parameter, config.volume.exponent) == ("master_vol", 2.0)
    assert load_config(write(tmp_path, yaml.safe_dump(config.to_dict()))).volume == config.volume


def test_a_search_budget_is_read_and_written_back(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).search_budget == DEFAULT_SEARCH_BUDGET
    config = load_config(write(tmp_path, GOOD + "search_budget: 60\n"))
    assert config.search_budget == 60
    assert load_config(write(tmp_path, yaml.safe_dump(config.to_dict()))).search_budget == 60


def test_good_config_parses_kinds(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.space.kinds == ["continuous", "categorical"]
    assert config.space.n_classes == (0, 5)
    assert config.space.fixed == {"master_vol": 0.6}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: t\nbackend: plugin\nlearned: [a\n", "invalid YAML"),
        (GOOD.replace("range: [0.1, 1]", "range: [0.1, 4]"), "outside 0..1"),
        (GOOD.replace("kind: categorical", "kind: fuzzy"), "kind 'fuzzy'"),
        (GOOD.replace("steps: 5", "steps: 1"), "'steps' >= 2"),
        (GOOD.replace("backend: plugin", "backend: lv2"), "backend 'lv2'"),
        (GOOD + "render: {sample_rat: 44100}\n", "unknown key 'render.sample_rat'"),
        (GOOD.replace("learned:", "learnt:"), "unknown key 'learnt' .*learned"),
        ("name: t\nbackend: faust\ndsp: x.dsp\n", "missing key 'learned'"),
        (GOOD.replace("master_vol", "filter_cutoff"), "both learned and fixed"),
        (GOOD + "volume: {parameter: filter_cutoff}\n", "must name a parameter under 'fixed'"),
        (GOOD + "volume: {parameter: master_vol, exponent: 0}\n", "'volume.exponent' must be above 0"),
        (GOOD + "volume: master_vol\n", "'volume' must be a mapping with 'parameter'"),
        (GOOD + "search_budget: -5\n", "'search_budget' must be a whole number of renders"),
        (GOOD + "search_budget: 1.5\n", "'search_budget' must be a whole number of renders"),
        (GOOD + "search_budgt: 330\n", r"unknown key 'search_budgt' \(allowed here: name, backend, .*search_budget"),
        (GOOD.replace("range: [0.1, 1]}", "range: [0.1, 1], scal: log}"), r"learned\[0\] \(filter_cutoff\): unknown key .scal. .*scale"),
        (GOOD.replace("search_paths:", "search_path:"), "unknown key 'plugin.search_path'"),
        (GOOD + "volume: {parameter: master_vol, exponnt: 2}\n", "unknown key 'volume.exponnt'"),
        (GOOD + "features: {fmax: 20000}\n", r"'features.fmax' must be at most half the render's sample rate \(11025 Hz\), got 20000"),
    ],
)
def test_bad_config_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SynthgenError, match=message) as err:
        load_config(path)
    assert "\n" not in str(err.value)
    assert str(path) in str(err.value) or "YAML" in str(err.value)


def test_unknown_config_name() -> None:
    with pytest.raises(SynthgenError, match="unknown synth config 'nope'"):
        load_config("nope")


@requires_amsynth
def test_unknown_parameter_name_is_caught(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD.replace("filter_cutoff", "filter_cutof")))
    with pytest.raises(SynthgenError, match="unknown parameter 'filter_cutof'"):
        load_synth(config)


def test_missing_plugin_is_named(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD.replace("amsynth_vst.so", "nosuch.so")))
    with pytest.raises(SynthgenError, match="plugin 'nosuch.so' .* not found .*--plugin PATH"):
        load_synth(config)


def test_non_plugin_file_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "fake.so"
    fake.write_bytes(b"not a plugin")
    with pytest.raises(SynthgenError, match="not a VST2/VST3 plugin"):
        load_synth(load_config(write(tmp_path, GOOD)), plugin=fake)


def test_a_copied_shipped_config_finds_the_shipped_dsp_file(tmp_path: Path) -> None:
    (tmp_path / "my").mkdir()
    copy = tmp_path / "my" / "b.yaml"
    shutil.copy(CONFIG_DIR / "builtin.yaml", copy)
    shipped = load_config("builtin")
    assert load_config(copy).dsp == shipped.dsp
    copy.write_text(copy.read_text().replace("dsp: builtin.dsp", "dsp: mine.dsp"))
    with pytest.raises(SynthgenError, match=r"dsp file not found: .*mine.dsp; .*--write-config"):
        load_config(copy)
    # the way out the message names: a written config carries the Faust source itself
    write_config_file(shipped, tmp_path / "inlined.yaml")
    assert load_config(tmp_path / "inlined.yaml").dsp == shipped.dsp


@pytest.mark.skipif(not NEKOBI.exists(), reason="Debian package dpf-plugins (Nekobi) is not installed")
def test_another_plugin_given_with_plugin_is_named_as_such() -> None:
    result = run_apart("info", "--synth", "amsynth", "--plugin", str(NEKOBI))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert re.search(rf"plugin file {NEKOBI} has no parameter '\w+'.* is --plugin the right plugin for that config\?", result.stderr)
