"""HDF5 storage: atomic shard files with recorded checksums, and ``dataset.h5`` that joins them.

A dataset folder holds ``shards/chunk-NNNNNN.h5`` (one per rendered chunk), beside each its SHA-256 in
``sha256sum`` format (``chunk-NNNNNN.h5.sha256``, written once the shard is complete), and, when the
render is finished, ``dataset.h5``: the metadata, a table of every shard (file, rows, bytes, SHA-256),
and HDF5 virtual datasets presenting all rows as one file to other HDF5 tools.
"""

__all__ = [
    "DATASET_FILE",
    "FINALIZE_KEYS",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "SHARD_DIR",
    "ShardRecord",
    "chunks_to_render",
    "discard_shard",
    "file_sha256",
    "finalize_dataset",
    "join_shards",
    "recorded_checksum",
    "shard_path",
    "write_shard",
    "write_shard_file",
    "write_text_atomic",
]

import errno
import hashlib
import json
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from synthgen.errors import SynthgenError
from synthgen.versions import package_versions

DATASET_FILE = "dataset.h5"
MANIFEST_FILE = "manifest.json"
SHARD_DIR = "shards"
#: version of the dataset layout and metadata; 1 = datasets without it (read through a shim)
FORMAT_VERSION = 2
#: metadata keys that finalizing adds to the render's settings (``render_run``: how the last run went)
FINALIZE_KEYS = ("format_version", "versions", "n_rows", "counts", "render_run")
_STRING = h5py.string_dtype()
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class ShardRecord:
    """One shard as listed in ``dataset.h5``.

    Arguments:
        file: path relative to the dataset folder, e.g. ``shards/chunk-000003.h5``.
        rows: rows stored in it.
        bytes: its size (``None`` in datasets written before checksums were recorded).
        sha256: its SHA-256 hex digest (``None`` likewise).
    """

    file: str
    rows: int
    bytes: int | None = None
    sha256: str | None = None


def shard_path(root: Path, chunk: int) -> Path:
    """Where chunk number ``chunk`` is stored."""
    return root / SHARD_DIR / f"chunk-{chunk:06d}.h5"


def _checksum_path(shard: Path) -> Path:
    return shard.with_name(shard.name + ".sha256")


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once: a crash or a full disk leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def recorded_checksum(shard: Path) -> str | None:
    """The SHA-256 recorded when ``shard`` was written, or ``None`` if there is none (or it is unreadable)."""
    try:
        digest = _checksum_path(shard).read_text().split(maxsplit=1)[0]
    except (OSError, IndexError):
        return None
    return digest if len(digest) == 64 else None


def write_shard(path: Path, columns: dict[str, np.ndarray], attrs: dict[str, Any]) -> None:
    """Write one chunk's rows atomically, then record their checksum: a crash leaves a shard without one.

    Arguments:
        path: the shard file (see :func:`shard_path`).
        columns: column name -> ``(rows, ...)`` array; strings as object or unicode arrays.
        attrs: facts about the chunk; numbers (e.g. rejected renders) are summed over shards into the
            metadata's ``counts``.
    """
    with _writing(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for name, values in columns.items():
                dtype = _STRING if values.dtype.kind in "OU" else values.dtype
                f.create_dataset(name, data=values, dtype=dtype)
            f.attrs.update(attrs)
        digest = file_sha256(tmp)
        os.replace(tmp, path)
        _record_checksum(path, digest)


def write_shard_file(path: Path, data: bytes) -> None:
    """Write the bytes of a shard made elsewhere (another machine) atomically, then record their checksum."""
    with _writing(path) as tmp:
        tmp.write_bytes(data)
        os.replace(tmp, path)
        _record_checksum(path, hashlib.sha256(data).hexdigest())


@contextmanager
def _writing(shard: Path) -> Iterator[Path]:
    """The temporary file a shard is written through; on any error it is removed, and a full disk is said in one line."""
    tmp = shard.with_name(shard.name + ".tmp")
    try:
        yield tmp
    except OSError as e:
        tmp.unlink(missing_ok=True)
        # HDF5 reports a failed write's errno in its message, and h5py does not always copy it to ``errno``
        if e.errno != errno.ENOSPC and f"errno = {errno.ENOSPC}," not in str(e):
            raise
        raise SynthgenError(
            f"disk full while writing shard {shard.parent.name}/{shard.name}; finished shards are kept: "
            "free space and run the same command again"
        ) from None


def _record_checksum(shard: Path, digest: str) -> None:
    write_text_atomic(_checksum_path(shard), f"{digest}  {shard.name}\n")


def discard_shard(root: Path, chunk: int) -> None:
    """Delete chunk ``chunk``'s shard so that it is rendered again (its checksum first, then the file)."""
    path = shard_path(root, chunk)
    _checksum_path(path).unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def _shard_intact(path: Path) -> bool:
    expected = recorded_checksum(path)
    return expected is not None and path.is_file() and file_sha256(path) == expected


def chunks_to_render(root: Path, n_chunks: int) -> list[int]:
    """Chunks whose shard is missing, has no recorded checksum, or no longer matches it.

    When any remain, ``dataset.h5`` is removed: an unfinished dataset must not read as a finished one.
    """
    todo = [k for k in range(n_chunks) if not _shard_intact(shard_path(root, k))]
    if todo:
        (root / DATASET_FILE).unlink(missing_ok=True)
    return todo


#: the packages whose versions a dataset records (with Python's)
_RECORDED_PACKAGES = ("synthgen", "dawdreamer", "numpy", "librosa", "h5py", "scipy")


def _fill_value(dtype: np.dtype) -> Any:
    """What other HDF5 readers see where a shard is missing: NaN or -1, never plausible zeros."""
    if dtype.kind == "f":
        return np.nan
    if dtype.kind in "iu":
        return -1 if dtype.kind == "i" else np.iinfo(dtype).max
    return None


def finalize_dataset(root: Path, n_chunks: int, settings: dict[str, Any]) -> Path:
    """Write ``dataset.h5``: metadata, the shard table, and virtual datasets over the shards (no data is copied).

    Arguments:
        root: the dataset folder; every shard ``0 .. n_chunks - 1`` must be written, with its checksum.
        n_chunks: number of shards.
        settings: what the render was made with (config, source, seed, notes, ...); stored as the
            metadata with ``format_version``, library ``versions``, ``n_rows`` and summed shard ``counts``.

    Returns:
        The path of ``dataset.h5``.
    """
    return join_shards(root, [shard_path(root, k) for k in range(n_chunks)], settings)


def join_shards(root: Path, shards: list[Path], settings: dict[str, Any], columns: Collection[str] | None = None) -> Path:
    """Write ``root/dataset.h5`` over ``shards`` (in row order, in any folder), as :func:`finalize_dataset` does.

    Shards are recorded by paths relative to ``root``, so folders that refer to each other can move
    together. ``columns``: the columns to present (default: every column of the shards).
    """
    records: list[ShardRecord] = []
    counts: dict[str, int] = {}
    shapes: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for path in shards:
        with h5py.File(path, "r") as f:
            rows = int(f["row_id"].shape[0])
            for key, value in f.attrs.items():
                if np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.number):
                    counts[key] = counts.get(key, 0) + int(value)
            for name, ds in f.items():
                if columns is None or name in columns:
                    shapes[name] = (ds.shape[1:], ds.dtype)
        records.append(ShardRecord(os.path.relpath(path, root), rows, path.stat().st_size, recorded_checksum(path)))
    total = sum(r.rows for r in records)
    if total == 0:
        raise SynthgenError(f"{root}: every render was rejected as silent or broken; nothing to store")
    versions = package_versions(*_RECORDED_PACKAGES)
    metadata = {"format_version": FORMAT_VERSION, **settings, "versions": versions, "n_rows": total, "counts": counts}
    tmp = root / (DATASET_FILE + ".tmp")
    with h5py.File(tmp, "w") as f:
        for name, (shape, dtype) in shapes.items():
            layout = h5py.VirtualLayout(shape=(total, *shape), dtype=dtype)
            start = 0
            for record in records:
                if record.rows:
                    layout[start : start + record.rows] = h5py.VirtualSource(record.file, name, shape=(record.rows, *shape))
                start += record.rows
            f.create_virtual_dataset(name, layout, fillvalue=_fill_value(dtype))
        f.attrs["metadata"] = json.dumps(metadata)
        f.attrs["shards"] = json.dumps([asdict(r) for r in records])
    os.replace(tmp, root / DATASET_FILE)
    return root / DATASET_FILE
