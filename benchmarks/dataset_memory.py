"""Reading memory vs number of shards: peak RSS of `dataset info` and of a training epoch's random batches.

The same 2000 rows are stored in 2, 200 and 1000 shards (synthetic log-mels, written with the real
storage code), then read by synthgen's reader and, for comparison, through the HDF5 virtual dataset
in ``dataset.h5`` (how synthgen read before: HDF5 keeps every source shard open, ~0.5 MB each).

Targets: at 1000 shards, the memory synthgen's reader holds after reading (``held_mb``: resident
memory after the reads, dataset still open, minus before) within 50 MB of its value at 2 shards
(at most ``MAX_OPEN_SHARDS`` shard files are open, ~0.5 MB each), and its peak RSS within 50 MB;
batches of 64 random rows read at most 2x slower than through the virtual dataset (which keeps
every shard open and so grows ~0.5 MB per shard).

Usage: python -m benchmarks.dataset_memory [--rows 2000] [--shards 2 --shards 200 --shards 1000] [--out PATH]
"""

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import in_fresh_process, report

BATCH = 64


def _rss_mb() -> float:
    """Resident memory now (Linux), in MB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def build(root: Path, rows: int, chunk_size: int) -> None:
    """A dataset of ``rows`` synthetic rows in shards of ``chunk_size``, written as a render writes them."""
    from synthgen.config import load_config
    from synthgen.dataset.chunks import RenderJob
    from synthgen.dataset.manifest import prepare_folder
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

    before = _rss_mb()
    describe_dataset(root)
    with open_dataset(root) as data:
        order = np.random.default_rng(0).permutation(len(data))
        start = time.perf_counter()
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            data.read("mel", idx)
            data.read("params_unit", idx)
        batches = -(-len(order) // BATCH)
        # measured while the dataset is still open: what reading holds on to
        return {"ms_per_batch": 1000 * (time.perf_counter() - start) / batches, "held_mb": _rss_mb() - before}


def read_virtual(root: Path) -> dict:
    """The same reads through ``dataset.h5``'s HDF5 virtual datasets."""
    import h5py

    before = _rss_mb()
    with h5py.File(root / "dataset.h5", "r") as f:
        set(f["source_bank"].asstr()[()])
        order = np.random.default_rng(0).permutation(f["row_id"].shape[0])
        start = time.perf_counter()
        for i in range(0, len(order), BATCH):
            idx = np.sort(order[i : i + BATCH])
            f["mel"][idx]
            f["params_unit"][idx]
        batches = -(-len(order) // BATCH)
        # measured while the dataset is still open: what reading holds on to
        return {"ms_per_batch": 1000 * (time.perf_counter() - start) / batches, "held_mb": _rss_mb() - before}


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
    report("dataset_memory", rows, args.out)
    print("targets: synthgen's held_mb and peak_rss_mb within 50 MB of their values at the fewest shards;")
    print("         ms_per_batch at most 2x the virtual reader's")


if __name__ == "__main__":
    main()
