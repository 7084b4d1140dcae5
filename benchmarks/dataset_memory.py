"""Reading memory vs number of shards: peak RSS of `dataset info` and of a training epoch's random batches.

The same 2000 rows are stored in 2, 200 and 1000 shards (synthetic log-mels, written with the real
storage code), then read by synthgen's reader and, for comparison, through the HDF5 virtual dataset
in ``dataset.h5`` (how synthgen read before: HDF5 keeps every source shard open, ~0.5 MB each).

Targets: synthgen's peak RSS at 1000 shards within 80 MB of its peak at 2 shards (flat in the number
of shards: at most ``MAX_OPEN_SHARDS`` shard files are open); batches of 64 random rows read at most
2x slower than through the virtual dataset (which keeps every shard open).

Usage: python -m benchmarks.dataset_memory [--rows 2000] [--shards 2 --shards 200 --shards 1000] [--out PATH]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import in_fresh_process, report

BATCH = 64


def build(root: Path, rows: int, chunk_size: int) -> None:
    """A dataset of ``rows`` synthetic rows in shards of ``chunk_size``, written as a render writes them."""
    from synthgen.config import load_config
    from synthgen.dataset.manifest import prepare_folder
    from synthgen.dataset.render import RenderJob
    from synthgen.dataset.sampling import UniformPresets
    from synthgen.dataset.storage import finalize_dataset, shard_path, write_shard

    config = load_config("builtin")
    source = UniformPresets(config.space, 0, rows)
    job = RenderJob(config, source, ((60, 127),), root, chunk_size, False)
    prepare_folder(root, job.settings())
    rng = np.random.default_rng(0)
    feats = config.features
    for k in range(job.n_chunks):
        ids = k * chunk_size + np.arange(job.chunk_rows(k))
        unit, banks, names = source.items(ids, 0)
        columns = {
            "row_id": ids.astype(np.int64),
            "mel": rng.normal(size=(len(ids), feats.n_mels, feats.n_frames)).astype(np.float32),
            "params_unit": unit.astype(np.float32),
            "params_value": config.space.from_unit(unit),
            "midi_pitch": np.full(len(ids), 60, dtype=np.int16),
            "velocity": np.full(len(ids), 127, dtype=np.int16),
            "source_bank": np.array(banks, dtype=object),
            "source_preset": np.array(names, dtype=object),
        }
        write_shard(shard_path(root, k), columns, {"n_silent": 0, "n_broken": 0})
    finalize_dataset(root, job.n_chunks, job.settings())


def read_synthgen(root: Path) -> dict:
    """`dataset info`, then one epoch of shuffled batches (mel + parameters) as training reads them."""
    from synthgen.dataset import open_dataset
    from synthgen.dataset.summary import describe_dataset

    describe_dataset(root)
    with open_dataset(root) as data:
        order = np.random.default_rng(0).permutation(len(data))
        start = time.perf_counter()
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            data.read("mel", idx)
            data.read("params_unit", idx)
        batches = -(-len(order) // BATCH)
        return {"ms_per_batch": 1000 * (time.perf_counter() - start) / batches}


def read_virtual(root: Path) -> dict:
    """The same reads through ``dataset.h5``'s HDF5 virtual datasets."""
    import h5py

    with h5py.File(root / "dataset.h5", "r") as f:
        set(f["source_bank"].asstr()[()])
        order = np.random.default_rng(0).permutation(f["row_id"].shape[0])
        start = time.perf_counter()
        for i in range(0, len(order), BATCH):
            idx = np.sort(order[i : i + BATCH])
            f["mel"][idx]
            f["params_unit"][idx]
        batches = -(-len(order) // BATCH)
        return {"ms_per_batch": 1000 * (time.perf_counter() - start) / batches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--shards", type=int, action="append", default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dataset_memory.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_shards in args.shards or [2, 200, 1000]:
            root = Path(tmp) / f"s{n_shards}"
            build(root, args.rows, -(-args.rows // n_shards))
            for reader, fn in (("synthgen", read_synthgen), ("hdf5 virtual (before)", read_virtual)):
                result = in_fresh_process(fn, root)
                rows.append({"reader": reader, "rows": args.rows, "shards": n_shards, **result})
    base = next(r["peak_rss_mb"] for r in rows if r["reader"] == "synthgen")
    for row in rows:
        row["rss_vs_fewest_mb"] = row["peak_rss_mb"] - base
    report("dataset_memory", rows, args.out)
    print("targets: synthgen rss_vs_fewest_mb <= 80 at every shard count; ms_per_batch <= 2x the virtual reader's")


if __name__ == "__main__":
    main()
