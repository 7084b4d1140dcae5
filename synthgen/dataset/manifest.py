"""A dataset folder's manifest: the settings its render started with, checked before it resumes or grows.

``manifest.json`` holds ``{"format_version": 2, "settings": {...}}`` and is replaced atomically. A
render resumes into a folder only with the same settings; with a larger ``n_rows_planned`` (a larger
``--n``, all else equal) it grows the dataset: rows are a pure function of ``(seed, row)``, so the rows
already there stay and the new ones are added after them.
"""

__all__ = ["LOCK_FILE", "MAX_ROWS", "check_render_settings", "prepare_folder"]

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthgen.dataset.reading import is_merged, read_header
from synthgen.dataset.storage import DATASET_FILE, FINALIZE_KEYS, FORMAT_VERSION, MANIFEST_FILE, SHARD_DIR, discard_shard, write_text_atomic
from synthgen.errors import SynthgenError

#: the file a render holds a lock on while it writes to its folder
LOCK_FILE = ".render.lock"
#: the most rows one render may plan (weeks of rendering); bounds its memory and time
MAX_ROWS = 100_000_000
#: a changed setting whose value is longer than this (a Faust source) is named without its values
_SHOWN_CHARS = 60


def check_render_settings(settings: dict[str, Any]) -> None:
    """One clear line for a seed, chunk size, note or row count that cannot be rendered or stored truthfully."""
    if settings["seed"] < 0:
        raise SynthgenError(f"--seed must be 0 or more, got {settings['seed']}")
    if settings["chunk_size"] < 1:
        raise SynthgenError(f"--chunk-size must be at least 1 row, got {settings['chunk_size']}")
    for pitch, velocity in settings["notes"]:
        if not 0 <= pitch <= 127:
            raise SynthgenError(f"MIDI pitch {pitch} is outside 0..127 (--notes)")
        if not 1 <= velocity <= 127:
            raise SynthgenError(f"MIDI velocity {velocity} is outside 1..127 (--velocities)")
    notes = [tuple(note) for note in settings["notes"]]
    if repeated := next((note for k, note in enumerate(notes) if note in notes[:k]), None):
        raise SynthgenError(
            f"MIDI pitch {repeated[0]} at velocity {repeated[1]} is asked for more than once (a note's name and number, "
            "C4 and 60, are one note; see --notes and --velocities): give each note once"
        )
    if settings["n_rows_planned"] > MAX_ROWS:
        raise SynthgenError(f"{settings['n_rows_planned']} rows planned, more than the {MAX_ROWS} one dataset may hold: lower --n")


def _write_manifest(root: Path, settings: dict[str, Any]) -> None:
    write_text_atomic(root / MANIFEST_FILE, json.dumps({"format_version": FORMAT_VERSION, "settings": settings}, indent=1))


def _settings_from_dataset(root: Path) -> dict[str, Any] | None:
    """The settings a finished dataset in ``root`` records, if there is one of the current format."""
    try:
        metadata, _, _ = read_header(root / DATASET_FILE)
    except SynthgenError:
        return None
    if is_merged(metadata):
        raise SynthgenError(f"{root} holds a merged dataset (synthgen dataset merge): render into its sources, then merge them again")
    if metadata["format_version"] != FORMAT_VERSION:
        return None
    return {k: v for k, v in metadata.items() if k not in FINALIZE_KEYS}


def _read_settings(root: Path) -> dict[str, Any]:
    """The settings in ``root``'s manifest; a damaged one is rebuilt from a finished ``dataset.h5``."""
    path = root / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        settings = _settings_from_dataset(root)
        if settings is None:
            raise SynthgenError(
                f"{path} is missing, empty or damaged and no finished {DATASET_FILE} is there to rebuild it from: "
                f"delete {root} and render again, or render into another --out"
            ) from None
        _write_manifest(root, settings)
        return settings
    if not isinstance(manifest, dict) or "format_version" not in manifest:
        raise SynthgenError(f"{root} was started by an older synthgen, which cannot be resumed: render into a new --out")
    return manifest["settings"]


def _holds_dataset(root: Path) -> bool:
    """Whether ``root`` holds a dataset, finished or not (its manifest may be missing: it is rebuilt or explained)."""
    return any((root / name).exists() for name in (MANIFEST_FILE, DATASET_FILE, SHARD_DIR))


def _without_size(settings: dict[str, Any]) -> dict[str, Any]:
    source = {k: v for k, v in settings["source"].items() if k != "n_items"}
    return {**{k: v for k, v in settings.items() if k != "n_rows_planned"}, "source": source}


def _readable(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as the command line gives them: notes made of every pitch at every velocity become ``notes`` and ``velocities``."""
    pitches = list(dict.fromkeys(p for p, _ in settings["notes"]))
    velocities = list(dict.fromkeys(v for _, v in settings["notes"]))
    if [[p, v] for p in pitches for v in velocities] != settings["notes"]:
        return settings
    return {**settings, "notes": pitches, "velocities": velocities}


def _differences(before: Any, now: Any, key: str = "") -> list[str]:
    """What changed from ``before`` to ``now``, one phrase per changed value (``notes were [48], now [60]``)."""
    if isinstance(before, dict) and isinstance(now, dict):
        keys = sorted(set(before) | set(now))
        return [d for k in keys for d in _differences(before.get(k), now.get(k), f"{key}.{k}" if key else k)]
    if before == now:
        return []
    was, is_now = json.dumps(before), json.dumps(now)
    if max(len(was), len(is_now)) > _SHOWN_CHARS:
        return [f"{key} differs"]
    return [f"{key} {'were' if isinstance(before, list) else 'was'} {was}, now {is_now}"]


def _check_same_dataset(root: Path, previous: dict[str, Any], settings: dict[str, Any]) -> None:
    """Refuse to resume (or grow) a dataset with settings other than its own, naming the old and new values."""
    before, now = _without_size(previous), _without_size(settings)
    changed = _differences(_readable(before), _readable(now))
    if len(changed) == 1 and changed[0].startswith("source.presets_sha256 "):
        raise SynthgenError(
            f"the presets given with --presets changed since {root} was started (their fingerprint differs): "
            "render them into a new --out, or restore the preset files to resume"
        )
    if changed:
        shown = "; ".join(changed[:3]) + ("; ..." if len(changed) > 3 else "")
        raise SynthgenError(
            f"{root} holds a dataset made with other settings ({shown}): use another --out, or the original command to resume it"
        )
    if settings["n_rows_planned"] < previous["n_rows_planned"]:
        raise SynthgenError(
            f"{root} holds {previous['n_rows_planned']} planned rows; a render can grow a dataset but not shrink it: "
            "use another --out for fewer rows"
        )


@contextmanager
def prepare_folder(root: Path, settings: dict[str, Any]) -> Iterator[None]:
    """Make ``root`` ready to render into and hold it while the ``with`` block renders.

    Creates it, or checks that it holds the same dataset (and grows it). Another render into the
    same folder, from any process, is refused while the block runs: the lock (``flock`` on
    :data:`LOCK_FILE`) goes with this process however it ends.

    Arguments:
        root: the dataset folder.
        settings: what the render is made with (``config``, ``source``, ``seed``, ``notes``,
            ``n_rows_planned``, ``chunk_size``, ...); JSON-ready.
    """
    settings = json.loads(json.dumps(settings))
    check_render_settings(settings)
    if root.exists() and not root.is_dir():
        raise SynthgenError(f"--out {root} is a file; give a folder for the dataset")
    strangers = root.exists() and any(p.name not in (MANIFEST_FILE + ".tmp", LOCK_FILE) for p in root.iterdir())
    if strangers and not _holds_dataset(root):
        raise SynthgenError(f"--out {root} is not empty and holds no synthgen dataset; give a new folder")
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_FILE).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SynthgenError(f"another render is writing to {root}: let it finish, or give another --out") from None
        _start_or_grow(root, settings)
        yield


def _start_or_grow(root: Path, settings: dict[str, Any]) -> None:
    """Write the manifest of a new dataset, or check an existing one's and grow it to ``settings``."""
    if _holds_dataset(root):
        previous = _read_settings(root)
        _check_same_dataset(root, previous, settings)
        if settings["n_rows_planned"] > previous["n_rows_planned"]:
            # The last shard may be short under the old size: it is rendered again, full, before the manifest grows.
            last_rows = previous["n_rows_planned"] % settings["chunk_size"]
            if last_rows:
                discard_shard(root, previous["n_rows_planned"] // settings["chunk_size"])
            _write_manifest(root, settings)
    else:
        _write_manifest(root, settings)
    (root / SHARD_DIR).mkdir(exist_ok=True)
