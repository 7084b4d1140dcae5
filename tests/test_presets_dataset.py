"""Datasets of human presets: amsynth banks rendered through `synthgen render --presets`, presets list, errors."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.dataset import open_dataset
from synthgen.dataset.split import split_rows
from synthgen.errors import SynthgenError
from synthgen.presets.amsynth_bank import SHIPPED_BANK_DIR, bank_to_values, read_bank, write_bank
from synthgen.presets.human import load_human_presets

from .conftest import requires_amsynth

# Two presets from each of three shipped banks: six presets in three small banks.
SHIPPED_PICKS = {"brians": "BriansBank01.amSynth", "patriks": "PatriksBank01", "factory": "amsynth_factory"}
PRESETS_PER_PICK = 2
NOTES = {"60": 60, "C3": 48}  # as given to --notes: a number and a name
AROUND = 3
SPREAD = 0.05

needs_banks = pytest.mark.skipif(not SHIPPED_BANK_DIR.is_dir(), reason="amsynth's banks are not installed")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def small_banks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder with two small banks and one more bank file elsewhere."""
    if not SHIPPED_BANK_DIR.is_dir():
        pytest.skip("amsynth's banks are not installed")
    root = tmp_path_factory.mktemp("banks")
    (root / "folder").mkdir()
    for stem, shipped in SHIPPED_PICKS.items():
        presets = read_bank(SHIPPED_BANK_DIR / f"{shipped}.bank")[:PRESETS_PER_PICK]
        write_bank(presets, (root if stem == "factory" else root / "folder") / f"{stem}.bank")
    return root / "folder", root / "factory.bank"


@pytest.fixture(scope="module")
def human_data(small_banks: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, single = small_banks
    out = tmp_path_factory.mktemp("human") / "data"
    code, output = _run(
        "render", "--synth", "amsynth", "--presets", str(folder), "--presets", str(single),
        "--notes", "60", "--notes", "C3", "--out", str(out), "--chunk-size", "5",
    )  # fmt: skip
    assert code == 0, output
    assert "presets     6 from 3 files, 3 banks" in output
    return out


@pytest.fixture(scope="module")
def around_data(small_banks: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, single = small_banks
    out = tmp_path_factory.mktemp("around") / "data"
    code, output = _run(
        "render", "--synth", "amsynth", "--presets", str(folder), "--presets", str(single),
        "--around-presets", str(AROUND), "--spread", str(SPREAD), "--out", str(out), "--seed", "5",
    )  # fmt: skip
    assert code == 0, output
    return out


def _expected_unit(small_banks: tuple[Path, Path], space) -> dict[tuple[str, str], np.ndarray]:
    """(bank, preset name) -> the preset mapped by hand: bank values to host values to unit space."""
    folder, single = small_banks
    out = {}
    for path in [*sorted(folder.glob("*.bank")), single]:
        for preset in read_bank(path):
            host = bank_to_values(preset.values)
            out[(path.stem, preset.name)] = space.to_unit(np.array([[host[name] for name in space.names]]))[0]
    return out


@requires_amsynth
def test_rows_are_presets_times_notes(human_data: Path, small_banks, amsynth_config) -> None:
    expected = _expected_unit(small_banks, amsynth_config.space)
    with open_dataset(human_data) as data:
        assert len(data) == len(expected) * len(NOTES)
        banks, names = data.read("source_bank"), data.read("source_preset")
        unit, pitch = data.read("params_unit"), data.read("midi_pitch")
        assert data.metadata["source"]["kind"] == "HumanPresets"
        assert data.metadata["source"]["banks"] == sorted(SHIPPED_PICKS)
    pairs = list(zip(banks, names, strict=True))
    assert sorted(set(pairs)) == sorted(expected)
    for key in expected:
        rows = [i for i, pair in enumerate(pairs) if pair == key]
        assert sorted(pitch[rows].tolist()) == sorted(NOTES.values())
        for row in rows:
            np.testing.assert_array_equal(unit[row], expected[key])


@requires_amsynth
def test_around_presets_are_near_their_preset(around_data: Path, small_banks, amsynth_config) -> None:
    space = amsynth_config.space
    expected = _expected_unit(small_banks, space)
    continuous = np.array([kind == "continuous" for kind in space.kinds])
    with open_dataset(around_data) as data:
        assert len(data) == len(expected) * AROUND
        banks, names, unit = data.read("source_bank"), data.read("source_preset"), data.read("params_unit")
        assert data.metadata["source"]["per_preset"] == AROUND
    centers = [name.rsplit("~", 1)[0] for name in names]
    for key in expected:
        rows = [i for i, pair in enumerate(zip(banks, centers, strict=True)) if pair == key]
        assert sorted(names[i].rsplit("~", 1)[1] for i in rows) == [str(k) for k in range(AROUND)]
        offsets = np.abs(unit[rows] - expected[key])
        assert 0 < offsets[:, continuous].mean() < 2 * SPREAD
        assert (offsets[:, ~continuous] > 0).mean() < 0.5


@requires_amsynth
def test_split_by_bank_never_shares_a_bank(human_data: Path) -> None:
    with open_dataset(human_data) as data:
        banks = np.asarray(data.read("source_bank"))
    splits = split_rows(len(banks), seed=0, groups=banks)
    assert np.sort(np.concatenate(list(splits.values()))).tolist() == list(range(len(banks)))
    seen = [set(banks[idx]) for idx in splits.values()]
    for i in range(len(seen)):
        for j in range(i + 1, len(seen)):
            assert not seen[i] & seen[j]


@needs_banks
def test_loading_reports_clipped_and_fixed_values(amsynth_config) -> None:
    loaded = load_human_presets(SHIPPED_BANK_DIR / "amsynth_factory.bank", amsynth_config)
    space = amsynth_config.space
    assert loaded.unit.shape == (len(loaded.names), space.size) and loaded.unit.dtype == np.float32
    assert loaded.unit.min() >= 0 and loaded.unit.max() <= 1
    cutoff = space.names.index("filter_cutoff")
    low = space.specs[cutoff].low
    hosts = [bank_to_values(p.values)["filter_cutoff"] for p in read_bank(SHIPPED_BANK_DIR / "amsynth_factory.bank")]
    assert loaded.clipped["filter_cutoff"] == sum(h < low for h in hosts) > 0
    assert (loaded.unit[np.array(hosts) < low, cutoff] == 0).all()
    assert loaded.overridden["master_vol"] > 0
    assert "clipped" in loaded.summary() and "fixed" in loaded.summary()
    source = loaded.source(seed=1, per_preset=2, spread=0.1)
    assert source.n_items == 2 * len(loaded.names)
    with pytest.raises(SynthgenError, match="--spread must be above 0"):
        loaded.source(seed=1, per_preset=2, spread=0.0)


@needs_banks
def test_presets_list_prints_bank_index_synth_name(small_banks) -> None:
    folder, _ = small_banks
    code, output = _run("presets", "list", str(folder))
    assert code == 0, output
    lines = [line.split(maxsplit=3) for line in output.splitlines() if not line.endswith("banks")]
    first = read_bank(SHIPPED_BANK_DIR / f"{SHIPPED_PICKS['brians']}.bank")[0]
    assert lines[0] == ["brians", "0", "amsynth", first.name]
    assert [line[:2] for line in lines] == [["brians", "0"], ["brians", "1"], ["patriks", "0"], ["patriks", "1"]]


@needs_banks
@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda p: p.joinpath("notes.txt").write_text("x"), ["--presets", "{p}/notes.txt"], "unknown preset format '.txt'"),
        (lambda p: p.joinpath("empty").mkdir(), ["--presets", "{p}/empty"], "no preset files in folder"),
        (lambda p: None, ["--presets", "{p}/missing.bank"], "preset file or folder not found"),
        (lambda p: None, ["--n", "4", "--presets", "{banks}"], "either --n .* or --presets"),
        (lambda p: None, ["--around-presets", "2"], "need --presets"),
        (lambda p: None, ["--presets", "{banks}", "--spread", "0.1"], "--spread needs --around-presets"),
        (lambda p: None, ["--presets", "{banks}", "--around-presets", "0"], "--around-presets must be at least 1"),
        (lambda p: None, [], "give --n .* or --presets"),
        (lambda p: p.joinpath("empty.bank").write_text("amSynth\nEOF\n"), ["--presets", "{p}/empty.bank"], "no presets in"),
        (lambda p: None, ["--synth", "builtin", "--presets", "{banks}"], "is for synth 'amsynth', not for 'builtin'"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, make, args: list[str], message: str) -> None:
    make(tmp_path)
    filled = [a.format(p=tmp_path, banks=SHIPPED_BANK_DIR / "amsynth_factory.bank") for a in args]
    if "--synth" not in filled:
        filled = ["--synth", "amsynth", *filled]
    code, output = _run("render", *filled, "--out", str(tmp_path / "out"))
    assert code == 1, output
    assert output.startswith("Error: ") and output.count("\n") == 1, output
    assert re.search(message, output), output


@requires_amsynth
def test_presets_as_authored_keep_their_own_fixed_values(small_banks: tuple[Path, Path], amsynth_config, tmp_path: Path) -> None:
    from synthgen.synths.loading import load_synth
    from synthgen.synths.rendering import render_unit

    folder, _ = small_banks
    fixed = load_human_presets(folder, amsynth_config)
    authored = load_human_presets(folder, amsynth_config, as_authored=True)
    np.testing.assert_array_equal(fixed.unit, authored.unit)  # the learned subset is the same
    differs = [i for i, own in enumerate(authored.own_values) if any(abs(own[k] - v) > 1e-3 for k, v in amsynth_config.space.fixed.items())]
    assert differs, "no preset sets a fixed parameter differently from the config"
    i = differs[0]
    synth = load_synth(amsynth_config)
    as_config = render_unit(synth, amsynth_config, fixed.unit[i : i + 1])
    as_made = render_unit(synth, amsynth_config, authored.unit[i : i + 1], authored=authored.source(0).authored(np.array([i])))
    assert np.abs(as_config - as_made).max() > 1e-3
    assert "as authored" in authored.summary() and "--presets-as-authored keeps them" in fixed.summary()
    code, output = _run("render", "--synth", "amsynth", "--presets", str(folder), "--presets-as-authored", "--out", str(tmp_path / "d"))
    assert code == 0, output
    with open_dataset(tmp_path / "d") as data:
        assert data.metadata["source"]["as_authored"] is True
        np.testing.assert_allclose(data.read("params_unit"), fixed.unit, atol=1e-6)


@needs_banks
def test_presets_list_defaults_to_the_installed_banks() -> None:
    result = CliRunner().invoke(main, ["presets", "list"])
    assert result.exit_code == 0, result.output
    assert "amsynth_factory" in result.stdout and "presets in 28 banks" in result.stderr


def test_a_silent_human_preset_is_named_and_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from synthgen.config import load_config
    from synthgen.dataset import render_dataset

    config = load_config("builtin")
    shipped = Path(__file__).parents[1] / "presets" / "builtin" / "bass" / "acid_bass.json"
    bank = tmp_path / "mine"
    bank.mkdir()
    (bank / "loud.json").write_text(shipped.read_text())
    document = json.loads(shipped.read_text())
    document["parameters"]["volume"] = 0.0  # as authored, it plays nothing
    (bank / "mute.json").write_text(json.dumps(document))
    source = load_human_presets(bank, config, as_authored=True).source(seed=0)
    render_dataset(config, tmp_path / "data", source=source, progress=False)
    assert "dropped preset 'mute' (mine): it rendered silence" in capsys.readouterr().err
    recorded = json.loads((tmp_path / "data" / "failed_presets.json").read_text())
    assert [(r["bank"], r["preset"], r["reason"]) for r in recorded] == [("mine", "mute", "rendered silence")]
    with open_dataset(tmp_path / "data") as data:
        assert list(data.read("source_preset")) == ["loud"]


@needs_banks
def test_export_refuses_to_replace_a_file_or_write_an_empty_bank(small_banks: tuple[Path, Path], tmp_path: Path) -> None:
    _, single = small_banks
    out = tmp_path / "mine.bank"
    out.write_text("mine")
    code, output = _run("presets", "export", str(single), "--out", str(out))
    assert code == 1 and output.count("\n") == 1 and "exists: give another file name, or --force" in output, output
    assert out.read_text() == "mine"
    code, output = _run("presets", "export", str(single), "--out", str(out), "--force")
    assert code == 0, output
    assert [p.name for p in read_bank(out)] == [p.name for p in read_bank(single)]
    empty = tmp_path / "empty.bank"
    write_bank([], empty)  # a header and no preset
    code, output = _run("presets", "export", str(empty), "--out", str(tmp_path / "new.bank"))
    assert code == 1 and output.count("\n") == 1 and "hold no preset" in output, output
    assert not (tmp_path / "new.bank").exists()
