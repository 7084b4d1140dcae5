"""HDF5 storage: one shard file per rendered chunk, one virtual dataset file presenting them all."""

__all__ = [
    "DATASET_FILE",
    "MANIFEST_FILE",
    "SHARD_DIR",
    "DatasetFile",
    "finalize_dataset",
    "join_shards",
    "open_dataset",
    "shard_path",
    "write_shard",
]

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from synthgen.config import SynthConfig, parse_config
from synthgen.errors import SynthgenError
from synthgen.params import ParameterSpace

DATASET_FILE = "dataset.h5"
MANIFEST_FILE = "manifest.json"
SHARD_DIR = "shards"
_STRING = h5py.string_dtype()


def shard_path(root: Path, chunk: int) -> Path:
    """Where chunk number ``chunk`` is stored."""
    return root / SHARD_DIR / f"chunk-{chunk:06d}.h5"


def write_shard(path: Path, columns: dict[str, np.ndarray], attrs: dict[str, Any]) -> None:
    """Write one chunk's rows atomically: a crash leaves either the whole file or none."""
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        for name, values in columns.items():
            dtype = _STRING if values.dtype.kind in "OU" else values.dtype
            f.create_dataset(name, data=values, dtype=dtype)
        f.attrs.update(attrs)
    os.replace(tmp, path)


def finalize_dataset(root: Path, n_chunks: int, metadata: dict[str, Any]) -> Path:
    """Join every shard into ``dataset.h5`` with h5py virtual datasets (no data is copied)."""
    return join_shards(root, [shard_path(root, k) for k in range(n_chunks)], metadata)


def join_shards(root: Path, shards: list[Path], metadata: dict[str, Any]) -> Path:
    """Write ``root/dataset.h5`` presenting ``shards`` (in order, any folder) as one table.

    Shards are referred to by paths relative to ``root``, so the folders can move together.
    """
    sizes, rejected = [], {"n_silent": 0, "n_broken": 0}
    shapes: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for path in shards:
        with h5py.File(path, "r") as f:
            sizes.append(f["row_id"].shape[0])
            for key in rejected:
                rejected[key] += int(f.attrs.get(key, 0))
            for name, ds in f.items():
                shapes[name] = (ds.shape[1:], ds.dtype)
    total = int(sum(sizes))
    if total == 0:
        raise SynthgenError(f"{root}: every render was rejected as silent or broken; nothing to store")
    tmp = root / (DATASET_FILE + ".tmp")
    with h5py.File(tmp, "w") as f:
        for name, (shape, dtype) in shapes.items():
            layout = h5py.VirtualLayout(shape=(total, *shape), dtype=dtype)
            start = 0
            for path, size in zip(shards, sizes, strict=True):
                if size:
                    rel = os.path.relpath(path, root)
                    layout[start : start + size] = h5py.VirtualSource(rel, name, shape=(size, *shape))
                start += size
            f.create_virtual_dataset(name, layout)
        f.attrs["metadata"] = json.dumps({**metadata, **rejected, "n_rows": total})
    os.replace(tmp, root / DATASET_FILE)
    return root / DATASET_FILE


# Columns written under an older name by earlier versions: new name -> old name.
_RENAMED = {"params_value": "params_raw"}


class DatasetFile:
    """A rendered dataset opened for reading.

    Arguments:
        path: the dataset folder (or its ``dataset.h5``).
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        file = path / DATASET_FILE if path.is_dir() else path
        if not file.exists():
            if (path / MANIFEST_FILE).exists():
                raise SynthgenError(f"{path}: the dataset is incomplete; run the same `synthgen render` command again to finish it")
            raise SynthgenError(f"no dataset at {path}: make one with `synthgen render --out {path}`")
        try:
            self._file = h5py.File(file, "r")
            self.metadata: dict[str, Any] = json.loads(self._file.attrs["metadata"])
        except (OSError, KeyError, ValueError):
            raise SynthgenError(f"{file} is not a synthgen dataset (unreadable HDF5 or no metadata)") from None
        self.path = file
        self.space = ParameterSpace.from_dict(self.metadata["space"])
        self.config: SynthConfig = parse_config(self.metadata["config"], source=str(file))
        if len(self) == 0:
            raise SynthgenError(f"{file} holds no rows")

    def __len__(self) -> int:
        return int(self._file["row_id"].shape[0])

    def __contains__(self, name: str) -> bool:
        return name in self._file or _RENAMED.get(name, name) in self._file

    def __enter__(self) -> "DatasetFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def read(self, name: str, indices: np.ndarray | slice | None = None) -> np.ndarray:
        """Rows of one column, in the order of ``indices`` (all rows if ``None``)."""
        name = _RENAMED.get(name, name) if name not in self._file else name
        if name not in self._file:
            raise SynthgenError(f"{self.path} has no column '{name}'")
        ds = self._file[name]
        if ds.dtype.kind == "O":
            ds = ds.asstr()
        if indices is None or isinstance(indices, slice):
            out = ds[indices if indices is not None else slice(None)]
        else:
            unique, inverse = np.unique(np.asarray(indices, dtype=np.int64), return_inverse=True)
            out = ds[unique][inverse]
        return out

    def columns(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Each column's shape and dtype."""
        return {name: (ds.shape, str(ds.dtype)) for name, ds in self._file.items()}


def open_dataset(path: str | Path) -> DatasetFile:
    """Open a dataset folder or file for reading."""
    return DatasetFile(path)
