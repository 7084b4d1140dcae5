"""Damaged datasets: missing, truncated or corrupted shards, a damaged manifest, old formats, growth, bad labels."""

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.config import load_config
from synthgen.dataset import open_dataset, render_dataset
from synthgen.dataset import reading as reading_module
from synthgen.dataset.sampling import HumanPresets, UniformPresets
from synthgen.dataset.storage import chunks_to_render, shard_path, write_text_atomic
from synthgen.dataset.summary import describe_dataset
from synthgen.dataset.verify import verify_dataset
from synthgen.errors import SynthgenError

# The settings of the builtin_dataset fixture: rendering again with them resumes (or repairs) a copy.
FIXTURE = {"n": 96, "seed": 0, "chunk_size": 32}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def one_line_error(code: int, output: str) -> str:
    assert code != 0 and "Traceback" not in output, output
    assert output.startswith("Error: ") and output.count("\n") == 1, output
    return output


def rerender(folder: Path, **changes: int) -> Path:
    return render_dataset(load_config("builtin"), folder, jobs=1, progress=False, **{**FIXTURE, **changes})


@pytest.fixture(scope="module")
def builtin_config():
    return load_config("builtin")


def test_reads_match_the_virtual_view_in_any_order(builtin_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading_module, "MAX_OPEN_SHARDS", 2)
    rows = np.random.default_rng(0).integers(0, 96, 200)
    with open_dataset(builtin_dataset) as data, h5py.File(builtin_dataset / "dataset.h5", "r") as vds:
        for name in ("mel", "params_unit", "row_id"):
            np.testing.assert_array_equal(data.read(name, rows), vds[name][()][rows])
        np.testing.assert_array_equal(data.read("row_id", slice(10, 70, 3)), np.arange(96)[10:70:3])
        assert list(data.read("source_preset", [95, 0])) == ["random-95", "random-0"]
        assert data.read("mel", []).shape == (0, 64, 80)
        np.testing.assert_array_equal(data.read("params_unit", 50), vds["params_unit"][50])
        assert len(data._open) <= 2  # at most MAX_OPEN_SHARDS shard files open


def test_deleted_shard_is_named_never_zeros(builtin_dataset: Path, fresh_copy, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fresh_copy(builtin_dataset)
    shard_path(folder, 1).unlink()
    with pytest.raises(SynthgenError, match=r"shard shards/chunk-000001\.h5 is missing"):
        open_dataset(folder)
    # Even from inside another dataset whose shards have the same names.
    monkeypatch.chdir(builtin_dataset)
    with pytest.raises(SynthgenError, match="is missing"):
        open_dataset(folder)
    one_line_error(*run("dataset", "info", str(folder)))
    # Other HDF5 tools reading the virtual datasets see NaN and -1 where the shard is missing, not zeros.
    monkeypatch.chdir(folder.parent)
    with h5py.File(folder / "dataset.h5", "r") as vds:
        assert (vds["row_id"][32:64] == -1).all() and np.isnan(vds["mel"][40]).all()
    rerender(folder)
    assert "checksums match" in verify_dataset(folder)


def test_dataset_h5_alone_says_to_copy_the_folder(builtin_dataset: Path, tmp_path: Path) -> None:
    shutil.copy(builtin_dataset / "dataset.h5", tmp_path / "dataset.h5")
    with pytest.raises(SynthgenError, match="shards/ folder beside it, which is missing: copy the whole dataset folder"):
        open_dataset(tmp_path / "dataset.h5")


def test_truncated_shard_is_named(builtin_dataset: Path, fresh_copy) -> None:
    folder = fresh_copy(builtin_dataset)
    path = shard_path(folder, 2)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    output = one_line_error(*run("dataset", "info", str(folder)))
    assert "chunk-000002.h5 changed size" in output
    output = one_line_error(*run("dataset", "verify", str(folder)))
    assert "1 of 3 shards damaged (shards/chunk-000002.h5" in output


def test_corrupted_shard_is_detected_and_rendered_again(builtin_dataset: Path, fresh_copy) -> None:
    folder = fresh_copy(builtin_dataset)
    path = shard_path(folder, 0)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # same size, some mel values zeroed
    path.write_bytes(bytes(raw))
    code, output = run("dataset", "verify", str(folder))
    assert "shards/chunk-000000.h5 checksum differs" in one_line_error(code, output)
    assert chunks_to_render(folder, 3) == [0]
    assert not (folder / "dataset.h5").exists()  # an unfinished dataset no longer reads as finished
    rerender(folder)
    code, output = run("dataset", "verify", str(folder))
    assert code == 0 and "3 shards, 96 rows, checksums match" in output
    with open_dataset(folder) as repaired, open_dataset(builtin_dataset) as original:
        np.testing.assert_allclose(repaired.read("mel"), original.read("mel"), atol=1e-3)


def test_shard_without_its_checksum_is_rendered_again(builtin_dataset: Path, fresh_copy) -> None:
    folder = fresh_copy(builtin_dataset)
    # A kill after the shard is written but before its checksum is.
    shard_path(folder, 1).with_name("chunk-000001.h5.sha256").unlink()
    assert chunks_to_render(folder, 3) == [1]


def test_damaged_manifest_is_rebuilt_or_explained(builtin_dataset: Path, fresh_copy) -> None:
    folder = fresh_copy(builtin_dataset)
    (folder / "manifest.json").write_text("")
    rerender(folder)  # rebuilt from the finished dataset.h5
    assert json.loads((folder / "manifest.json").read_text())["settings"]["seed"] == 0
    (folder / "manifest.json").write_text("{trunc")
    (folder / "dataset.h5").unlink()
    with pytest.raises(SynthgenError, match="manifest.json is missing, empty or damaged .* delete .* and render again"):
        rerender(folder)


def test_manifest_is_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "manifest.json"
    write_text_atomic(path, '{"old": 1}')

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_text_atomic(path, '{"new": 2}')
    assert json.loads(path.read_text()) == {"old": 1}


def test_a_larger_n_grows_the_dataset(tmp_path: Path, builtin_config) -> None:
    folder = tmp_path / "grow"
    render_dataset(builtin_config, folder, n=20, seed=1, chunk_size=8, progress=False)
    with open_dataset(folder) as data:
        first = data.read("mel")
    render_dataset(builtin_config, folder, n=30, seed=1, chunk_size=8, progress=False)
    expected = UniformPresets(builtin_config.space, 1, 30).items(np.arange(30), 0)[0]
    with open_dataset(folder) as data:
        assert len(data) == 30 and data.metadata["n_rows_planned"] == 30
        np.testing.assert_array_equal(data.read("row_id"), np.arange(30))
        np.testing.assert_array_equal(data.read("params_unit"), expected.astype(np.float32))
        np.testing.assert_allclose(data.read("mel", slice(0, 20)), first, atol=1e-3)
    with pytest.raises(SynthgenError, match="can grow a dataset but not shrink it"):
        render_dataset(builtin_config, folder, n=10, seed=1, chunk_size=8, progress=False)
    with pytest.raises(SynthgenError, match=r"other settings \(seed was 1, now 2\)"):
        render_dataset(builtin_config, folder, n=40, seed=2, chunk_size=8, progress=False)


def test_changed_presets_are_refused(tmp_path: Path, builtin_config) -> None:
    unit = np.random.default_rng(0).random((4, builtin_config.space.size)).astype(np.float32)
    names = ("a", "b", "c", "d")

    def presets(values: np.ndarray) -> HumanPresets:
        return HumanPresets(builtin_config.space, 0, values, ("bank",) * 4, names)

    render_dataset(builtin_config, tmp_path / "h", source=presets(unit), chunk_size=2, progress=False)
    render_dataset(builtin_config, tmp_path / "h", source=presets(unit.copy()), chunk_size=2, progress=False)
    changed = unit.copy()
    changed[2, 0] = 1 - changed[2, 0]
    with pytest.raises(SynthgenError, match="presets given with --presets changed"):
        render_dataset(builtin_config, tmp_path / "h", source=presets(changed), chunk_size=2, progress=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--notes", "200"), "MIDI note 200 is outside 0-127"),
        (("--notes", "-1"), "MIDI note -1 is outside 0-127"),
        (("--notes", "Cb-1"), "Cb-1 is MIDI note -1, outside 0-127"),
        (("--velocities", "500"), "MIDI velocity 500 is outside 1..127"),
        (("--velocities", "0"), "MIDI velocity 0 is outside 1..127"),
        (("--seed", "-1"), "--seed must be 0 or more"),
        (("--chunk-size", "0"), "--chunk-size must be at least 1"),
        (("--n", "100000000000000000000"), "rows planned, more than the 100000000 one dataset may hold"),
        (("--n", "1e20"), "'1e20' is not a valid integer"),
    ],
)
def test_labels_that_would_lie_are_refused(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    command = ["render", "--synth", "builtin", "--out", str(tmp_path / "d"), *args]
    if "--n" not in args:
        command += ["--n", "4"]
    assert message in one_line_error(*run(*command))
    assert not (tmp_path / "d").exists()


def _write_format_1(folder: Path) -> None:
    """Rewrite a dataset as synthgen wrote it before format versions: five copies of the config, no shard
    table, no checksums, synth values in the column ``params_raw``."""
    with h5py.File(folder / "dataset.h5", "r") as f:
        meta = json.loads(f.attrs["metadata"])
        columns = {("params_raw" if name == "params_value" else name): (ds.shape, ds.dtype) for name, ds in f.items()}
        shards = json.loads(f.attrs["shards"])
    for shard in shards:
        with h5py.File(folder / shard["file"], "r+") as f:
            f.move("params_value", "params_raw")
        (folder / (shard["file"] + ".sha256")).unlink()
    config = meta["config"]
    old = {**{k: v for k, v in meta.items() if k not in ("format_version", "counts")}, "synth": config["name"]}
    old.update(space={k: config[k] for k in ("learned", "fixed")}, features=config["features"], render=config["render"])
    old.update(parameter_names=[p["name"] for p in config["learned"]], n_silent=0, n_broken=0)
    with h5py.File(folder / "dataset.h5", "w") as f:
        for name, (shape, dtype) in columns.items():
            layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
            start = 0
            for shard in shards:
                layout[start : start + shard["rows"]] = h5py.VirtualSource(shard["file"], name, shape=(shard["rows"], *shape[1:]))
                start += shard["rows"]
            f.create_virtual_dataset(name, layout)
        f.attrs["metadata"] = json.dumps(old)


def test_datasets_of_format_1_still_open(builtin_dataset: Path, fresh_copy) -> None:
    folder = fresh_copy(builtin_dataset)
    _write_format_1(folder)
    with open_dataset(folder) as old, open_dataset(builtin_dataset) as new:
        assert old.format_version == 1 and new.format_version == 2
        assert old.config.to_dict() == new.config.to_dict() and old.metadata["counts"] == {"n_silent": 0, "n_broken": 0}
        assert "space" not in old.metadata and "synth" not in old.metadata
        for name in ("params_unit", "params_value"):
            np.testing.assert_array_equal(old.read(name, [5, 90, 1]), new.read(name, [5, 90, 1]))
        assert "params_value" in old and "params_raw" not in new
    assert "rows        96" in describe_dataset(folder)
    assert "every value readable" in verify_dataset(folder)
    shard_path(folder, 2).unlink()
    with pytest.raises(SynthgenError, match="chunk-000002.h5 is missing"):
        open_dataset(folder)


def test_other_settings_name_their_old_and_new_values(builtin_dataset: Path, fresh_copy) -> None:
    folder = fresh_copy(builtin_dataset)
    with pytest.raises(SynthgenError, match=r"other settings \(notes were \[60\], now \[48\]\): use another --out"):
        rerender(folder, notes=[(48, 127)])
    with pytest.raises(SynthgenError, match=r"other settings \(velocities were \[127\], now \[100\]\)"):
        rerender(folder, notes=[(60, 100)])


def test_a_missing_manifest_is_rebuilt_from_the_finished_dataset(builtin_dataset: Path, fresh_copy) -> None:
    folder = fresh_copy(builtin_dataset)
    (folder / "manifest.json").unlink()
    rerender(folder)
    assert json.loads((folder / "manifest.json").read_text())["settings"]["seed"] == FIXTURE["seed"]
    (folder / "manifest.json").unlink()
    (folder / "dataset.h5").unlink()
    with pytest.raises(SynthgenError, match="manifest.json is missing, empty or damaged and no finished dataset.h5"):
        rerender(folder)


def test_repeated_notes_are_refused(tmp_path: Path) -> None:
    code, output = run("render", "--synth", "builtin", "--n", "2", "--notes", "60", "--notes", "C4", "--out", str(tmp_path / "d"))
    assert "MIDI pitch 60 at velocity 127 is asked for more than once" in one_line_error(code, output)
    assert not (tmp_path / "d").exists()


def test_a_full_disk_keeps_finished_shards_and_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "full"
    create_dataset = h5py.Group.create_dataset

    def fills_the_disk_on_shard_1(group: h5py.Group, name: str, **kwargs: object) -> h5py.Dataset:
        made = create_dataset(group, name, **kwargs)
        if "chunk-000001" in group.file.filename:
            # as h5py raises it from a failed HDF5 write: the errno only in the message
            raise OSError("Can't synchronously write data (file write failed: errno = 28, error message = 'No space left on device')")
        return made

    monkeypatch.setattr(h5py.Group, "create_dataset", fills_the_disk_on_shard_1)
    with pytest.raises(SynthgenError, match=r"disk full while writing shard shards/chunk-000001.h5; finished shards are kept"):
        rerender(folder, n=8, chunk_size=4)
    assert not list(folder.rglob("*.tmp"))
    assert chunks_to_render(folder, 2) == [1]
    monkeypatch.undo()
    rerender(folder, n=8, chunk_size=4)
    with open_dataset(folder) as data:
        np.testing.assert_array_equal(data.read("row_id"), np.arange(8))
