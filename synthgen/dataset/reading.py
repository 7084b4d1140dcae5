"""Read a finished dataset: its metadata, its shard table, and rows straight from the shards.

Rows are read from the shard files themselves, never through HDF5's virtual datasets: a missing shard
is an error that names it (never rows of zeros, never a same-named file found elsewhere), and at most
:data:`MAX_OPEN_SHARDS` shard files are open at once, so memory stays flat in the number of shards.
"""

__all__ = [
    "MAX_OPEN_SHARDS",
    "DatasetFile",
    "dataset_file",
    "is_merged",
    "merged_shard_error",
    "open_dataset",
    "read_header",
    "size_problem",
    "source_folders",
]

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from synthgen.config import SynthConfig, parse_config
from synthgen.dataset.storage import DATASET_FILE, FORMAT_VERSION, MANIFEST_FILE, SHARD_DIR, ShardRecord
from synthgen.errors import SynthgenError

#: shard files kept open for reading (each open HDF5 file costs about 0.5 MB)
MAX_OPEN_SHARDS = 64
# Format 1 stored these beside the config that already holds them.
_V1_COPIES = ("synth", "space", "parameter_names", "features", "render")
_V1_COUNTS = ("n_silent", "n_broken")
# Columns written under an older name by earlier versions: new name -> old name.
_RENAMED = {"params_value": "params_raw"}


def dataset_file(path: str | Path) -> Path:
    """The ``dataset.h5`` that a dataset folder (or the file itself) stands for; one clear line if there is none."""
    path = Path(path)
    file = path / DATASET_FILE if path.is_dir() else path
    if not file.exists():
        if (path / MANIFEST_FILE).exists():
            raise SynthgenError(
                f"{path}: the dataset is incomplete{_progress(path)}; run the same `synthgen render` command again to finish it"
            )
        raise SynthgenError(f"no dataset at {path}: make one with `synthgen render --out {path}`")
    return file


def _progress(root: Path) -> str:
    """How far an unfinished render in ``root`` got, as `` (K of N shards rendered)``; empty if its manifest is unreadable."""
    try:
        settings = json.loads((root / MANIFEST_FILE).read_text())["settings"]
        n_chunks = -(-int(settings["n_rows_planned"]) // int(settings["chunk_size"]))
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return ""
    done = sum(1 for _ in (root / SHARD_DIR).glob("chunk-*.h5")) if (root / SHARD_DIR).is_dir() else 0
    return f" ({min(done, n_chunks)} of {n_chunks} shards rendered)"


def _upgrade_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata in the current layout; format 1 (no ``format_version``) is converted."""
    version = meta.get("format_version", 1)
    if version > FORMAT_VERSION:
        raise SynthgenError(f"dataset format {version} is newer than this synthgen reads ({FORMAT_VERSION}): upgrade synthgen")
    if "format_version" in meta:
        return meta
    kept = {k: v for k, v in meta.items() if k not in _V1_COPIES + _V1_COUNTS}
    return {"format_version": 1, **kept, "counts": {k: int(meta.get(k, 0)) for k in _V1_COUNTS}}


def _v1_shards(f: h5py.File) -> list[ShardRecord]:
    """Format 1 has no shard table: read it from the virtual dataset's mapping (no sizes or checksums)."""
    found = []
    for source in f["row_id"].virtual_sources():
        start, end = source.vspace.get_select_bounds()
        found.append((start[0], ShardRecord(source.file_name, int(end[0] - start[0] + 1))))
    return [record for _, record in sorted(found, key=lambda item: item[0])]


def read_header(file: Path) -> tuple[dict[str, Any], list[ShardRecord], dict[str, tuple[tuple[int, ...], str]]]:
    """A ``dataset.h5``'s metadata, shard table (in row order) and columns' shapes and dtypes, without touching the shards."""
    try:
        with h5py.File(file, "r") as f:
            metadata = _upgrade_metadata(json.loads(f.attrs["metadata"]))
            shards = [ShardRecord(**r) for r in json.loads(f.attrs["shards"])] if "shards" in f.attrs else _v1_shards(f)
            columns = {name: (ds.shape, str(ds.dtype)) for name, ds in f.items()}
    except (OSError, KeyError, ValueError, TypeError):
        raise SynthgenError(f"{file} is not a synthgen dataset (unreadable HDF5 or no metadata)") from None
    return metadata, shards, columns


def is_merged(metadata: dict[str, Any]) -> bool:
    """Whether a dataset was made by ``synthgen dataset merge``: its shards lie in its source folders."""
    return metadata.get("source", {}).get("kind") == "merged"


def _shard_folder(root: Path, shard: str) -> Path:
    """The dataset folder a shard was rendered into: ``root`` itself, or one of a merged dataset's sources."""
    return Path(os.path.normpath(root / shard)).parent.parent


def source_folders(root: Path, shards: list[ShardRecord]) -> list[Path]:
    """The folders the shards of the dataset in ``root`` lie in, in row order (a merged dataset: its sources)."""
    return list(dict.fromkeys(_shard_folder(root, s.file) for s in shards))


def merged_shard_error(file: Path, shards: list[ShardRecord], shard: str, problem: str) -> SynthgenError:
    """One line for a shard of a merged dataset that is not as it was merged: its source folder moved or changed."""
    folder = _shard_folder(file.parent, shard)
    if not folder.is_dir():
        sources = ", ".join(map(str, source_folders(file.parent, shards)))
        return SynthgenError(
            f"{file} is a merged dataset that refers to the shards of its source folders ({sources}), and {folder} "
            "is not there: keep the merged folder beside its sources, or merge them again where they are"
        )
    return SynthgenError(
        f"{file}: source folder {folder} changed since the merge (shard {Path(shard).name}: {problem}): "
        "run `synthgen dataset merge` again to merge what it holds now"
    )


def size_problem(path: Path, record: ShardRecord) -> str | None:
    """How a shard's size differs from the one it was written with, or ``None``."""
    if record.bytes is None or path.stat().st_size == record.bytes:
        return None
    return f"{path.stat().st_size} bytes where {record.bytes} were written"


def _check_shards_present(file: Path, shards: list[ShardRecord], merged: bool) -> None:
    """Every listed shard exists where ``file`` says and has the size it was written with."""
    root = file.parent
    missing = [s.file for s in shards if not (root / s.file).is_file()]
    if missing and merged:
        raise merged_shard_error(file, shards, missing[0], "missing")
    if missing and not (root / SHARD_DIR).is_dir():
        raise SynthgenError(f"{file} keeps its rows in the {SHARD_DIR}/ folder beside it, which is missing: copy the whole dataset folder")
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise SynthgenError(
            f"{file}: shard {missing[0]}{more} is missing: copy the whole dataset folder, "
            "or run the render command that made it again to re-render missing shards"
        )
    for s in shards:
        if (problem := size_problem(root / s.file, s)) is None:
            continue
        if merged:
            raise merged_shard_error(file, shards, s.file, problem)
        raise SynthgenError(
            f"{file}: shard {s.file} changed size since it was written (truncated or replaced): "
            "run the render command that made it again to re-render it"
        )


class _OpenShard:
    """One shard file opened for reading, with the columns read from it so far."""

    def __init__(self, path: Path) -> None:
        # The low-level open costs half of h5py.File's: it matters when batches of random rows touch many shards.
        self.fid = h5py.h5f.open(str(path).encode(), h5py.h5f.ACC_RDONLY)
        self.columns: dict[str, h5py.Dataset] = {}

    def column(self, name: str) -> h5py.Dataset:
        if name not in self.columns:
            self.columns[name] = h5py.Dataset(h5py.h5d.open(self.fid, name.encode()))
        ds = self.columns[name]
        return ds.asstr() if ds.dtype.kind == "O" else ds

    def close(self) -> None:
        for ds in self.columns.values():
            ds.id.close()
        self.columns.clear()
        self.fid.close()


class DatasetFile:
    """A rendered dataset opened for reading.

    Arguments:
        path: the dataset folder (or its ``dataset.h5``).

    Attributes:
        metadata: the render's settings (``config``, ``source``, ``seed``, ``notes``, ...), ``versions``,
            ``n_rows``, ``counts`` and ``format_version``; the config is stored once.
        config: the synth config the dataset was rendered with.
        space: its parameter space.
        source_folders: the dataset folders its shards lie in: its own folder, or a merged dataset's sources.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = dataset_file(path)
        self.root = self.path.parent.absolute()  # shards stay found if the working directory changes
        self.metadata, shards, self._columns = read_header(self.path)
        self.format_version: int = self.metadata["format_version"]
        self.config: SynthConfig = parse_config(self.metadata["config"], source=str(self.path))
        self.space = self.config.space
        self._merged = is_merged(self.metadata)
        _check_shards_present(self.path, shards, self._merged)
        self.source_folders = source_folders(self.root, shards)
        self._shards = [s for s in shards if s.rows]
        self._starts = np.cumsum([0, *(s.rows for s in self._shards)])
        self._open: OrderedDict[int, _OpenShard] = OrderedDict()
        if len(self) == 0:
            raise SynthgenError(f"{self.path} holds no rows")

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __contains__(self, name: str) -> bool:
        return self._stored_name(name) in self._columns

    def _stored_name(self, name: str) -> str:
        """The name ``name`` is stored under (older datasets used other names for some columns)."""
        return name if name in self._columns else _RENAMED.get(name, name)

    def __enter__(self) -> "DatasetFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()

    def _damaged(self, k: int, reason: str) -> SynthgenError:
        if self._merged:
            return merged_shard_error(self.path, self._shards, self._shards[k].file, f"damaged, {reason}")
        return SynthgenError(
            f"shard {self._shards[k].file} of {self.root} is damaged ({reason}): "
            "run the render command that made the dataset again to re-render it"
        )

    def _shard(self, k: int) -> _OpenShard:
        """Shard ``k``, opened on first use; past the limit the least recently used one is closed."""
        if k in self._open:
            self._open.move_to_end(k)
            return self._open[k]
        try:
            shard = _OpenShard(self.root / self._shards[k].file)
        except OSError as e:
            raise self._damaged(k, str(e).splitlines()[0]) from None
        self._open[k] = shard
        if len(self._open) > MAX_OPEN_SHARDS:
            self._open.popitem(last=False)[1].close()
        return shard

    def _read_shard(self, k: int, name: str, local: np.ndarray) -> np.ndarray:
        """Rows ``local`` (sorted, unique) of column ``name`` in shard ``k``, whose row count is checked."""
        if not len(local):
            selection: slice | np.ndarray = slice(0, 0)
        elif local[-1] - local[0] == len(local) - 1:
            selection = slice(int(local[0]), int(local[-1]) + 1)
        else:
            selection = local
        try:
            column = self._shard(k).column(name)
            if len(column) != self._shards[k].rows:
                raise self._damaged(k, f"{len(column)} rows of {name} where {self._shards[k].rows} were written")
            return column[selection]
        except (OSError, KeyError) as e:
            raise self._damaged(k, str(e).splitlines()[0]) from None

    def read(self, name: str, indices: np.ndarray | slice | int | None = None) -> np.ndarray:
        """Rows of one column, in the order of ``indices`` (row numbers, repeats allowed; all rows if ``None``).

        Returns:
            ``(len(indices), ...)``: e.g. ``(n, n_mels, n_frames)`` for ``mel``; one row without the first axis
            for an int index.
        """
        if name not in self:
            raise SynthgenError(f"{self.path} has no column '{name}'")
        if np.ndim(indices) == 0 and indices is not None and not isinstance(indices, slice):
            return self.read(name, [int(indices)])[0]
        name = self._stored_name(name)
        rows = np.arange(len(self))
        if indices is not None:
            rows = rows[indices] if isinstance(indices, slice) else np.asarray(indices, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row index out of range 0..{len(self) - 1}")
        unique, inverse = np.unique(rows, return_inverse=True)
        owner = np.searchsorted(self._starts, unique, side="right") - 1
        groups = np.split(np.arange(len(unique)), np.flatnonzero(np.diff(owner)) + 1)
        parts = [self._read_shard(int(owner[g[0]]), name, unique[g] - self._starts[owner[g[0]]]) for g in groups if len(g)]
        if not parts:
            return self._read_shard(0, name, rows)
        out = np.concatenate(parts)
        return out if len(unique) == len(rows) and np.array_equal(unique, rows) else out[inverse]

    def columns(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Each column's shape and dtype."""
        return dict(self._columns)


def open_dataset(path: str | Path) -> DatasetFile:
    """Open a dataset folder or file for reading."""
    return DatasetFile(path)
