"""Merging datasets of one config, and the split groups that keep a preset's notes and variations together."""

__all__: list[str] = []

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthgen.config import load_config
from synthgen.dataset import open_dataset, render_dataset
from synthgen.dataset.merge import merge_datasets
from synthgen.dataset.sampling import AroundPresets
from synthgen.dataset.split import row_groups, split_rows
from synthgen.errors import SynthgenError

CONFIG = load_config("builtin")


@pytest.fixture(scope="module")
def two_notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 uniform presets at notes 48 and 60."""
    out = tmp_path_factory.mktemp("merge") / "uniform"
    render_dataset(CONFIG, out, n=8, seed=3, notes=[(48, 127), (60, 127)], chunk_size=5, progress=False)
    return out


@pytest.fixture(scope="module")
def around(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 variations around each of 2 presets, at note 72."""
    out = tmp_path_factory.mktemp("merge") / "around"
    centers = CONFIG.space.sample(2, np.random.default_rng(1))
    source = AroundPresets(CONFIG.space, 4, centers, ("pad", "pad"), ("warm", "dark"), per_preset=3)
    render_dataset(CONFIG, out, source=source, notes=[(72, 127)], progress=False)
    return out


def test_merged_rows_are_the_sources_rows_in_order(two_notes: Path, around: Path, tmp_path: Path) -> None:
    merged = merge_datasets([two_notes, around], tmp_path / "all")
    with open_dataset(merged) as data, open_dataset(two_notes) as a, open_dataset(around) as b:
        assert len(data) == len(a) + len(b) == 22
        np.testing.assert_array_equal(data.read("mel"), np.concatenate([a.read("mel"), b.read("mel")]))
        np.testing.assert_array_equal(data.read("midi_pitch"), np.concatenate([a.read("midi_pitch"), b.read("midi_pitch")]))
        assert data.metadata["notes"] == [[48, 127], [60, 127], [72, 127]]
        assert data.metadata["source"]["kind"] == "merged"


def test_merge_refuses_other_configs_repeated_rows_and_existing_output(two_notes: Path, around: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    render_dataset(dataclasses.replace(CONFIG, description="another description"), other, n=2, progress=False)
    with pytest.raises(SynthgenError, match="another synth config"):
        merge_datasets([two_notes, other], tmp_path / "x")
    with pytest.raises(SynthgenError, match="at least two"):
        merge_datasets([two_notes], tmp_path / "y")
    with pytest.raises(SynthgenError, match="holds rows given already"):
        merge_datasets([two_notes, two_notes], tmp_path / "y")
    merge_datasets([two_notes, around], tmp_path / "z")
    with pytest.raises(SynthgenError, match="holds rows given already"):
        merge_datasets([tmp_path / "z", two_notes], tmp_path / "y")
    with pytest.raises(SynthgenError, match="already exists"):
        merge_datasets([two_notes, around], tmp_path / "z")
    assert not (tmp_path / "y").exists()
    with pytest.raises(SynthgenError, match="holds a merged dataset .* render into its sources, then merge them again"):
        render_dataset(CONFIG, tmp_path / "z", n=30, seed=3, progress=False)
    assert not (tmp_path / "z" / "manifest.json").exists() and not (tmp_path / "z" / "shards").exists()  # nothing rendered into it


def test_notes_and_variations_of_one_preset_share_a_split(two_notes: Path, around: Path, tmp_path: Path) -> None:
    with open_dataset(merge_datasets([two_notes, around], tmp_path / "all")) as data:
        banks, presets = data.read("source_bank"), data.read("source_preset")
    groups = row_groups(banks, presets)
    assert len(set(groups)) == 8 + 2  # each uniform preset (two notes), and each human preset (three variations)
    split = split_rows(len(groups), 0, groups=groups)
    where = {g: {name for name, rows in split.items() if r in rows} for r, g in enumerate(groups)}
    assert all(len(names) == 1 for names in where.values())


def test_human_banks_group_by_bank() -> None:
    banks = np.array(["a", "a", "b", "c"])
    np.testing.assert_array_equal(row_groups(banks, np.array(["x", "y~1", "z", "w"])), banks)


def test_merge_keeps_only_the_columns_every_source_has(two_notes: Path, tmp_path: Path) -> None:
    with_audio = tmp_path / "with_audio"
    render_dataset(CONFIG, with_audio, n=2, seed=5, with_audio=True, progress=False)
    lines: list[str] = []
    merged = merge_datasets([with_audio, two_notes], tmp_path / "all", lines.append)
    assert len(lines) == 1 and "left out column 'audio'" in lines[0] and str(two_notes) in lines[0]
    with open_dataset(merged) as data:
        assert "audio" not in data and "mel" in data
        assert not data.metadata["with_audio"]
        assert np.isfinite(data.read("mel")).all()
        with pytest.raises(SynthgenError, match="has no column 'audio'"):
            data.read("audio")


def test_a_merged_dataset_names_the_source_that_changed_or_is_not_beside_it(around: Path, tmp_path: Path) -> None:
    from synthgen.dataset.summary import describe_dataset
    from synthgen.dataset.verify import verify_dataset

    uniform = tmp_path / "uni"
    render_dataset(CONFIG, uniform, n=4, seed=2, chunk_size=3, progress=False)  # its last shard is short
    merged = merge_datasets([uniform, around], tmp_path / "all").parent
    assert f"sources     {uniform}, {around}" in describe_dataset(merged)
    shutil.copytree(merged, tmp_path / "elsewhere" / "all")
    with pytest.raises(SynthgenError, match=r"refers to the shards of its source folders .* keep the merged folder beside"):
        open_dataset(tmp_path / "elsewhere" / "all")
    render_dataset(CONFIG, uniform, n=6, seed=2, chunk_size=3, progress=False)  # grown: its last shard is rendered again
    changed = rf"source folder {uniform} changed since the merge .*run `synthgen dataset merge` again"
    with pytest.raises(SynthgenError, match=changed):
        open_dataset(merged)
    with pytest.raises(SynthgenError, match=changed):
        verify_dataset(merged)
