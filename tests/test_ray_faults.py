"""A preset that crashes its Ray worker is named, skipped after the retries, and recorded; the render still ends with N rows."""

from pathlib import Path

import pytest

from synthgen.dataset import render_dataset

from .test_render_faults import check_recorded, expected_failures, faulty_config, seed_with_faults

pytest.importorskip("ray")


@pytest.mark.slow
def test_a_preset_that_crashes_its_ray_worker_is_skipped_and_recorded(
    plugin_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:
    monkeypatch.setenv("SYNTHGEN_TEST_FAULT", "abort")  # Ray's workers inherit the environment of the Ray started here
    config = faulty_config(tmp_path, plugin_path)
    seed = seed_with_faults(config, 12, 1)
    (row, attempt), *_ = expected_failures(config, 12, seed)
    render_dataset(config, tmp_path / "d", n=12, seed=seed, jobs=2, chunk_size=6, progress=False, backend="ray")
    check_recorded(tmp_path / "d", config, 12, seed, "crashed its Ray worker")
    err = capfd.readouterr().err
    assert f"skipped preset row {row} (uniform random-{row}, draw {attempt}): " in err
