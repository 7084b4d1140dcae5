"""The render's pieces: one chunk in this process (what any backend runs) and the worker processes."""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from synthgen.config import load_config
from synthgen.dataset import open_dataset
from synthgen.dataset.chunks import RenderJob, render_chunk
from synthgen.dataset.sampling import UniformPresets
from synthgen.dataset.storage import SHARD_DIR, shard_path


def test_chunk_in_process_matches_the_workers(builtin_dataset: Path, tmp_path: Path) -> None:
    # builtin_dataset: 96 presets, seed 0, chunks of 32, rendered by a worker process.
    config = load_config("builtin")
    notes = ((config.render.midi_pitch, config.render.velocity),)
    job = RenderJob(config, UniformPresets(config.space, 0, 96), notes, tmp_path, 32, with_audio=False)
    (tmp_path / SHARD_DIR).mkdir()
    rendered = render_chunk(job, 1)
    np.testing.assert_array_equal(rendered.row_id, np.arange(32, 64))
    with h5py.File(shard_path(tmp_path, 1), "r") as mine, h5py.File(shard_path(builtin_dataset, 1), "r") as theirs:
        assert set(mine) == set(theirs)
        for name in ("row_id", "params_unit", "params_value", "midi_pitch", "source_preset"):
            np.testing.assert_array_equal(mine[name][()], theirs[name][()])
        np.testing.assert_allclose(mine["mel"][()], theirs["mel"][()], atol=1e-4)


def test_a_script_without_a_main_guard_renders(tmp_path: Path) -> None:
    script = tmp_path / "make_data.py"
    script.write_text(
        "from synthgen.config import load_config\n"
        "from synthgen.dataset import render_dataset\n"
        f"render_dataset(load_config('builtin'), {str(tmp_path / 'd')!r}, n=4, jobs=2, chunk_size=2, progress=False)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with open_dataset(tmp_path / "d") as data:
        assert len(data) == 4
