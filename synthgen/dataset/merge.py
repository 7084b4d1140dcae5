"""Join rendered datasets of one synth config into one dataset, without copying their data."""

__all__ = ["merge_datasets"]

from collections.abc import Callable
from pathlib import Path

from synthgen.dataset.reading import dataset_file, read_header
from synthgen.dataset.storage import DATASET_FILE, join_shards
from synthgen.errors import SynthgenError


def merge_datasets(sources: list[str | Path], out: str | Path, notify: Callable[[str], None] | None = None) -> Path:
    """Present the rows of several datasets, in order, as the dataset ``out``.

    The sources must share the synth config (parameters, render and feature settings); they may
    differ in where their presets come from (uniform draws, human presets, variations around
    them), their seeds, their notes and their columns: only the columns every source has are
    merged (``audio`` only if every source was rendered with it). ``out/dataset.h5`` refers to the
    sources' shards, so keep the folders side by side, and merge again after a source changes.

    Arguments:
        sources: dataset folders made by ``synthgen render`` (at least two).
        out: the new dataset folder (must not hold a dataset yet).
        notify: called with one line for each column left out.

    Returns:
        The path of ``out/dataset.h5``.
    """
    if len(sources) < 2:
        raise SynthgenError("give at least two datasets to merge")
    out = Path(out)
    if (out / DATASET_FILE).exists() or (out.exists() and not out.is_dir()):
        raise SynthgenError(f"--out {out} already exists; give a new folder for the merged dataset")
    metas, shards, given, columns = [], [], set(), []
    for source in sources:
        file = dataset_file(source)
        meta, records, names = read_header(file)
        if metas and meta["config"] != metas[0]["config"]:
            raise SynthgenError(f"{source} was rendered with another synth config than {sources[0]}; only datasets of one config merge")
        files = [file.parent.absolute() / record.file for record in records]
        if repeated := next((f for f in files if f.resolve() in given), None):
            raise SynthgenError(f"{source} holds rows given already (its shard {repeated} is in an earlier source): give each dataset once")
        shards += files
        given.update(f.resolve() for f in files)
        metas.append({**meta, "path": str(file.parent.absolute())})
        columns.append(set(names))
    kept = set.intersection(*columns)
    for name in sorted(set.union(*columns) - kept):
        lacking = ", ".join(str(source) for source, names in zip(sources, columns, strict=True) if name not in names)
        if notify is not None:
            notify(f"left out column '{name}': {lacking} has none, and a merged dataset keeps only the columns every source has")
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "config": metas[0]["config"],
        "source": {"kind": "merged", "parts": [{"path": m["path"], "seed": m["seed"], **m["source"]} for m in metas]},
        "seed": [m["seed"] for m in metas],
        "notes": sorted([list(n) for n in {tuple(n) for m in metas for n in m["notes"]}]),
        "n_rows_planned": sum(m["n_rows_planned"] for m in metas),
        "chunk_size": metas[0]["chunk_size"],
        "with_audio": all(m["with_audio"] for m in metas),
    }
    return join_shards(out, shards, settings, kept)
