"""Finished searches kept on disk, so that an interrupted evaluation goes on where it stopped."""

__all__ = ["SEARCH_STORE_FORMAT", "SearchStore"]

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from synthgen.config import Note
from synthgen.uses.search import SearchResult

#: changes whenever what a stored search holds changes: a store of another format is not read
SEARCH_STORE_FORMAT = "synthgen-search-1"


class SearchStore:
    """A folder of finished searches, each in a file named by a key of everything its result depends on."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(*parts: object) -> str:
        """A file-name key for ``parts`` (arrays by their bytes, anything else by its ``repr``)."""
        digest = hashlib.sha256(SEARCH_STORE_FORMAT.encode())
        for part in parts:
            digest.update(np.ascontiguousarray(part).tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
            digest.update(b"\0")
        return digest.hexdigest()[:32]

    def keys(self) -> set[str]:
        """The keys of the searches kept now."""
        return {path.stem for path in self.folder.glob("*.npz") if not path.stem.endswith(".partial")}

    def get(self, key: str) -> SearchResult | None:
        """The search stored under ``key``, or None when there is none (or it cannot be read)."""
        path = self.folder / f"{key}.npz"
        try:
            with np.load(path) as stored:
                fields = json.loads(str(stored["fields"]))
                arrays = {name: stored[name] for name in ("unit", "audio", "history")}
        except (OSError, ValueError, KeyError):
            return None
        note = Note(**fields.pop("note"))
        return SearchResult(**fields, note=note, unit=arrays["unit"], audio=arrays["audio"], history=arrays["history"].tolist())

    def put(self, key: str, result: SearchResult) -> None:
        """Keep ``result`` under ``key`` (written whole or not at all)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name not in ("unit", "audio", "history")}
        fields["note"] = dataclasses.asdict(result.note)
        partial = self.folder / f"{key}.partial.npz"
        np.savez(
            partial,
            fields=json.dumps(fields, default=lambda v: v.item()),
            unit=result.unit,
            audio=result.audio,
            history=np.asarray(result.history),
        )
        os.replace(partial, self.folder / f"{key}.npz")

    def clear(self) -> None:
        """Remove the folder and every search in it."""
        shutil.rmtree(self.folder, ignore_errors=True)
