"""A compact nearest-neighbour index of a model's training sounds: PCA-reduced log-mels and their presets.

Saved next to the model as ``index.npz``; resynthesis search starts from the training sounds nearest
to the input.
"""

__all__ = [
    "INDEX_FILE",
    "INDEX_FORMAT",
    "ModelIndexing",
    "SoundIndex",
    "build_index",
    "index_model",
    "index_path",
    "load_index",
    "model_index",
]

import dataclasses
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthgen.config import SynthConfig
from synthgen.errors import SynthgenError
from synthgen.model import LoadedModel
from synthgen.progress import progress_bar
from synthgen.versions import provenance

if TYPE_CHECKING:
    from synthgen.dataset import DatasetFile

INDEX_FILE = "index.npz"
INDEX_FORMAT = "synthgen-index-1"
#: PCA components kept of each log-mel
N_COMPONENTS = 32
#: rows the PCA basis is fitted on (a seeded draw; all rows are then projected)
PCA_ROWS = 2000
_CHUNK = 2048


@dataclass(frozen=True)
class SoundIndex:
    """Training sounds as PCA codes of their log-mels, with their unit presets.

    Arguments:
        mean: mean flattened log-mel ``(n_mels * n_frames,)``.
        components: PCA basis ``(K, n_mels * n_frames)``, orthonormal rows.
        codes: each sound's coordinates in that basis ``(N, K)``.
        unit: each sound's preset in unit space ``(N, P)``.
        metadata: synth, parameter names, feature settings, source dataset, seed, versions, format.
    """

    mean: np.ndarray
    components: np.ndarray
    codes: np.ndarray
    unit: np.ndarray
    metadata: dict[str, Any]

    def __len__(self) -> int:
        return len(self.codes)

    def project(self, mel: np.ndarray) -> np.ndarray:
        """Log-mels ``(B, n_mels, n_frames)`` -> PCA codes ``(B, K)``."""
        flat = np.asarray(mel, dtype=np.float32).reshape(len(mel), -1)
        return (flat - self.mean) @ self.components.T

    def nearest(self, mel: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` training sounds nearest to each log-mel ``(B, n_mels, n_frames)``, nearest first.

        Returns:
            Rows ``(B, k)`` and their unit presets ``(B, k, P)``.
        """
        query = self.project(mel)
        codes = self.codes.astype(np.float32)
        distance = (query**2).sum(1)[:, None] - 2 * query @ codes.T + (codes**2).sum(1)[None, :]
        k = min(k, len(self))
        rows = np.argpartition(distance, k - 1, axis=1)[:, :k]
        rows = np.take_along_axis(rows, np.argsort(np.take_along_axis(distance, rows, axis=1), axis=1), axis=1)
        return rows, self.unit[rows]

    def save(self, path: str | Path) -> Path:
        """Write the index as a compressed ``.npz``."""
        path = Path(path)
        with path.open("wb") as f:
            np.savez_compressed(
                f,
                mean=self.mean,
                components=self.components,
                codes=self.codes,
                unit=self.unit,
                metadata=np.array(json.dumps(self.metadata)),
            )
        return path


def _check_fits(metadata: dict[str, Any], config: SynthConfig, where: str) -> None:
    if metadata.get("synth") != config.name or metadata.get("parameters") != config.space.names:
        raise SynthgenError(
            f"{where} indexes sounds of synth '{metadata.get('synth')}', not the model's '{config.name}': rebuild it with `synthgen index`"
        )
    if metadata.get("features") != dataclasses.asdict(config.features):
        raise SynthgenError(f"{where} was built with other log-mel settings than the model's: rebuild it with `synthgen index`")


def _principal_axes(centered: np.ndarray, k: int, rng: np.random.Generator, n_iter: int = 3) -> np.ndarray:
    """The top ``k`` right singular vectors ``(k, F)`` of ``centered`` ``(N, F)``, by randomized SVD.

    References:
        Halko, Martinsson, Tropp, "Finding structure with randomness" (arXiv:0909.4061): a range
        finder with power iterations, then an exact SVD of the small projected matrix.
    """
    basis = centered @ rng.standard_normal((centered.shape[1], k + 10)).astype(centered.dtype)
    for _ in range(n_iter):
        basis = centered @ (centered.T @ np.linalg.qr(basis)[0])
    basis = np.linalg.qr(basis)[0]
    return np.linalg.svd(basis.T @ centered, full_matrices=False)[2][:k]


def _flat_mel(dataset: "DatasetFile", start: int) -> np.ndarray:
    """Log-mels of rows ``start .. start + _CHUNK``, flattened ``(n, n_mels * n_frames)`` float32."""
    mel = dataset.read("mel", slice(start, start + _CHUNK))
    return mel.reshape(len(mel), -1).astype(np.float32)


def build_index(
    data: str | Path, config: SynthConfig, n_components: int = N_COMPONENTS, seed: int = 0, progress: bool = False
) -> SoundIndex:
    """Index a rendered dataset of ``config``'s synth.

    Arguments:
        data: the dataset folder (the model's training set).
        config: the model's synth config (the dataset must match it).
        n_components: PCA components kept.
        seed: seeds the rows the PCA basis is fitted on.
        progress: show a bar over the dataset's two reads (a sample for the basis, then every row).
    """
    from synthgen.dataset import open_dataset  # h5py: not needed to use an index
    from synthgen.dataset.summary import data_fingerprint

    with open_dataset(data) as dataset:
        if dataset.config.name != config.name or dataset.space.names != config.space.names:
            raise SynthgenError(f"{dataset.path} holds sounds of synth '{dataset.config.name}', not the model's '{config.name}'")
        if dataset.config.features != config.features:
            raise SynthgenError(f"{dataset.path} was rendered with other log-mel settings than the model's")
        chosen = np.zeros(len(dataset), dtype=bool)
        chosen[np.random.default_rng(seed).permutation(len(dataset))[:PCA_ROWS]] = True
        starts = range(0, len(dataset), _CHUNK)
        with progress_bar(total=2 * len(dataset), desc="index", unit="sound", unit_scale=True, disable=not progress) as bar:

            def read(start: int) -> np.ndarray:
                # slices, not a list of rows: HDF5 reads a scattered selection row by row
                mel = _flat_mel(dataset, start)
                bar.update(len(mel))
                return mel

            sample = np.concatenate([read(start)[chosen[start : start + _CHUNK]] for start in starts])
            mean = sample.mean(axis=0)
            n_components = min(n_components, *sample.shape)
            components = _principal_axes(sample - mean, n_components, np.random.default_rng(seed))
            codes = np.concatenate([(read(start) - mean) @ components.T for start in starts])
        unit = dataset.read("params_unit").astype(np.float32)
        source, fingerprint = str(dataset.path), data_fingerprint(dataset)
    metadata = {
        **provenance(INDEX_FORMAT, config.name, seed),
        "parameters": config.space.names,
        "features": dataclasses.asdict(config.features),
        "data": source,
        "data_fingerprint": fingerprint,
        "rows": len(codes),
        "n_components": n_components,
    }
    return SoundIndex(mean, components.astype(np.float32), codes.astype(np.float16), unit, metadata)


def load_index(path: str | Path, config: SynthConfig) -> SoundIndex:
    """Read an index and check that it indexes sounds of ``config``'s synth with its feature settings."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in ("mean", "components", "codes", "unit")}
            metadata = json.loads(str(f["metadata"]))
    except FileNotFoundError:
        raise SynthgenError(f"no index at {path}: build one with `synthgen index --model MODEL --data TRAINING_DATA`") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        raise SynthgenError(f"{path} is not a synthgen index") from None
    if metadata.get("format") != INDEX_FORMAT:
        raise SynthgenError(f"{path} is not a {INDEX_FORMAT} index: rebuild it with `synthgen index`")
    _check_fits(metadata, config, str(path))
    return SoundIndex(metadata=metadata, **arrays)


def index_path(model: LoadedModel) -> Path:
    """Where a model's index lives: ``index.npz`` next to its ``model.pt``."""
    return model.path.parent / INDEX_FILE


def model_index(model: LoadedModel) -> SoundIndex | None:
    """The index saved next to a model, or None when there is none."""
    path = index_path(model)
    return load_index(path, model.config) if path.is_file() else None


@dataclass(frozen=True)
class ModelIndexing:
    """What :func:`index_model` did: the index, where it went, what it replaced and what to tell the user.

    Arguments:
        index: the index built.
        path: where it was saved.
        replaced_bytes: the size of the index it replaced there (``None``: there was none).
        notes: remarks for the user (the dataset is not the one the model was trained on).
    """

    index: SoundIndex
    path: Path
    replaced_bytes: int | None
    notes: list[str]


def index_model(model: LoadedModel, data: str | Path | None = None, seed: int = 0, progress: bool = False) -> ModelIndexing:
    """Index ``model``'s training sounds and save the index next to it (see :func:`build_index`).

    ``data`` defaults to the dataset the model's training recorded; another dataset of the synth may be
    indexed too (a larger set), with a note that it is not the training set.
    """
    trained_on = model.summary.get("data")
    if data is None:
        if trained_on is None or not Path(trained_on).exists():
            raise SynthgenError(f"{model.path} does not say where its training data is, or it is not here ({trained_on}): give --data")
        data = Path(trained_on).parent
    path = index_path(model)
    replaced = path.stat().st_size if path.exists() else None
    built = build_index(data, model.config, seed=seed, progress=progress)
    notes = []
    if model.summary.get("data_fingerprint") not in (None, built.metadata["data_fingerprint"]):
        notes.append(f"{data} is not the dataset {model.path} was trained on ({trained_on}): the search starts from its sounds")
    built.save(path)
    return ModelIndexing(built, path, replaced, notes)
