"""Check a finished dataset's shards against what was recorded when they were written."""

__all__ = ["verify_dataset"]

from pathlib import Path

import h5py

from synthgen.dataset.reading import dataset_file, is_merged, merged_shard_error, read_header, size_problem
from synthgen.dataset.storage import ShardRecord, file_sha256
from synthgen.errors import SynthgenError


def _shard_problem(root: Path, record: ShardRecord) -> str | None:
    """What is wrong with one shard, or ``None``: missing, size, checksum, row count, unreadable."""
    path = root / record.file
    if not path.is_file():
        return "missing"
    if (problem := size_problem(path, record)) is not None:
        return problem
    if record.sha256 is not None and file_sha256(path) != record.sha256:
        return "checksum differs (corrupted or replaced)"
    try:
        with h5py.File(path, "r") as f:
            if f["row_id"].shape[0] != record.rows:
                return f"{f['row_id'].shape[0]} rows where {record.rows} were written"
            if record.sha256 is None:  # no checksum to trust: read every value
                for ds in f.values():
                    ds[()]
    except (OSError, KeyError) as e:
        return f"unreadable: {str(e).splitlines()[0]}"
    return None


def verify_dataset(path: str | Path) -> str:
    """Check every shard of a dataset: present, same size and SHA-256 as written, readable, right row count.

    Datasets written before checksums were recorded are checked by reading every value instead.

    Returns:
        One line: how many shards and rows were checked, and how.

    Raises:
        SynthgenError: naming the damaged shards (one line); for a merged dataset, the source folder
            that changed since the merge.
    """
    file = dataset_file(path)
    metadata, shards, _ = read_header(file)
    found = [(s.file, problem) for s in shards if (problem := _shard_problem(file.parent, s)) is not None]
    if found and is_merged(metadata):
        more = f"; {len(found) - 1} more shards differ" if len(found) > 1 else ""
        raise merged_shard_error(file, shards, found[0][0], found[0][1] + more)
    problems = [f"{shard} {problem}" for shard, problem in found]
    if problems:
        listed = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise SynthgenError(
            f"{file}: {len(problems)} of {len(shards)} shards damaged ({listed}): "
            "run the render command that made the dataset again to re-render them"
        )
    how = "checksums match" if all(s.sha256 for s in shards) else "every value readable (written without checksums)"
    return f"{file}: {len(shards)} shards, {sum(s.rows for s in shards)} rows, {how}"
