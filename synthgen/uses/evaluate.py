"""Evaluate models by re-rendering what they infer, next to nearest-neighbour, mean and random baselines."""

__all__ = [
    "EVALUATION_FORMAT",
    "SEARCHES_KEPT",
    "TRUE_PRESET",
    "Evaluation",
    "Targets",
    "evaluate",
    "targets_from_audio_dir",
    "targets_from_dataset",
    "write_report",
]

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.audio_io import audio_files_in, prepare_folder, read_audio
from synthgen.config import SynthConfig
from synthgen.dataset import open_dataset
from synthgen.dataset.summary import data_fingerprint
from synthgen.errors import SynthgenError
from synthgen.features import log_mel
from synthgen.model import LoadedModel
from synthgen.progress import progress_bar
from synthgen.synths.base import Synth
from synthgen.synths.rendering import render_at_pitches
from synthgen.uses.index import SoundIndex, model_index
from synthgen.uses.metrics import AUDIO_METRICS, audio_metrics, param_mse
from synthgen.uses.note_length import held_time
from synthgen.uses.pitch import choose_note
from synthgen.uses.search import SearchResult, search_preset
from synthgen.uses.search_store import SearchStore
from synthgen.versions import provenance

#: ``format`` of ``results.json``
EVALUATION_FORMAT = "synthgen-evaluation-1"
#: the folder in an evaluation's output where its searches are kept until it is written
SEARCHES_KEPT = ".searches"
#: targets shown (and played) for each method in ``examples.png`` and ``examples.html``
EXAMPLES = 4

#: the row of a rendered test set's own presets, rendered once more: how close any method can come
#: (above 0 where the synth plays differently each time: noise, random LFOs, free-running oscillators)
TRUE_PRESET = "true preset (rendered again)"


@dataclass
class Targets:
    """The sounds to match: log-mels, audio, the note each is played at, and (for rendered sets) their true unit
    parameters and the dataset's fingerprint. ``held_s`` is how long each note's key is held (default: the
    config's note length)."""

    name: str
    mel: np.ndarray
    audio: np.ndarray
    unit: np.ndarray | None
    labels: list[str]
    midi_pitch: np.ndarray
    fingerprint: str | None = None
    held_s: np.ndarray | None = None


@dataclass
class Evaluation:
    """Per-method estimates (unit presets), log-mels of their re-renders, per-row metrics, seconds per sound and a summary.

    ``gains_db`` holds the output gain (dB, per sound) of the methods that fit one: a search's
    presets are played at the level it fitted, as ``resynth`` writes them. ``seconds`` holds wall
    time per sound; ``cpu_seconds`` the CPU time of this process per sound (what a busy machine does
    not inflate; a plugin's searches render in processes of their own, not counted). ``seed`` seeded the
    random-preset baseline and the searches. ``examples`` holds the audio, as played, of the targets'
    ``example_rows`` (spread over the set) for each method, to be looked at and listened to.
    """

    targets: str
    rows: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    estimates: dict[str, np.ndarray] = field(default_factory=dict)
    gains_db: dict[str, np.ndarray] = field(default_factory=dict)
    mels: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    train_data: str | None = None
    seed: int = 0
    example_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    examples: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{method: {metric: {"mean", "std"}}}``, with ``seconds_per_sound`` and ``cpu_seconds_per_sound`` (``{"mean"}``) where timed."""
        out = {
            method: {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in metrics.items()}
            for method, metrics in self.rows.items()
        }
        for method, seconds in self.seconds.items():
            out[method]["seconds_per_sound"] = {"mean": seconds}
            out[method]["cpu_seconds_per_sound"] = {"mean": self.cpu_seconds[method]}
        return out

    def markdown(self) -> str:
        """The results as a markdown table (mean ± std over the targets)."""
        metrics = [m for m in ("param_mse", *AUDIO_METRICS) if any(m in r for r in self.rows.values())]
        metrics += ["seconds_per_sound", "cpu_seconds_per_sound"] if self.seconds else []
        n_sounds = len(next(iter(next(iter(self.rows.values())).values())))
        lines = [
            f"Evaluation on {self.targets} (mean ± std over {n_sounds} sounds; lower is better)",
            "",
            "| method | " + " | ".join(metrics) + " |",
            "|---" * (len(metrics) + 1) + "|",
        ]
        for method, values in self.summary().items():
            cells = [_cell(values[m]) if m in values else "n/a" for m in metrics]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        return "\n".join(lines + [""] + [f"- {n}" for n in self.notes])


def _cell(value: dict[str, float]) -> str:
    return f"{value['mean']:.4g} ± {value['std']:.3g}" if "std" in value else f"{value['mean']:.3g}"


def targets_from_dataset(path: str | Path, config: SynthConfig, synth: Synth, max_rows: int, seed: int = 0) -> Targets:
    """Up to ``max_rows`` rows of a rendered dataset; audio is read if stored, else re-rendered."""
    with open_dataset(path) as data:
        if data.space.names != config.space.names or data.config.name != config.name:
            raise SynthgenError(f"{data.path} was rendered with synth '{data.config.name}', not the models' '{config.name}'")
        rows = np.sort(np.random.default_rng(seed).permutation(len(data))[:max_rows])
        unit = data.read("params_unit", rows)
        mel = data.read("mel", rows)
        pitch = data.read("midi_pitch", rows) if "midi_pitch" in data else np.full(len(rows), config.render.midi_pitch)
        audio = data.read("audio", rows) if "audio" in data else render_at_pitches(synth, config, unit, pitch)
        names = list(data.read("source_preset", rows))
        label, fingerprint = str(data.path), data_fingerprint(data)
    return Targets(label, mel, audio, unit, [str(n) for n in names], np.asarray(pitch, dtype=int), fingerprint)


def targets_from_audio_dir(folder: str | Path, config: SynthConfig) -> Targets:
    """Every audio file in a folder (no true parameters: audio metrics only), each played at its tracked pitch
    for as long as it sounds (see :func:`~synthgen.uses.note_length.held_time`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SynthgenError(f"--audio-dir {folder} is not a folder")
    files = audio_files_in(folder)
    audio = np.stack([read_audio(p, config.render.sample_rate, config.render.render_duration_s).audio for p in files])
    mel = log_mel(audio, config.render.sample_rate, config.features)
    rate = config.render.sample_rate
    pitch = [choose_note(a, rate, config.features.hop_length, config.render.midi_pitch).midi_pitch for a in audio]
    held = [held_time(a, rate, config.render.note_duration_s).seconds for a in audio]
    return Targets(str(folder), mel, audio, None, [p.name for p in files], np.asarray(pitch, dtype=int), held_s=np.asarray(held))


def _nearest_neighbour_presets(train_path: Path, targets: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Unit presets of the training rows whose log-mels are nearest (L2) to each target."""
    with open_dataset(train_path) as data:
        flat = targets.reshape(len(targets), -1).astype(np.float32)
        best = np.full(len(targets), np.inf)
        best_row = np.zeros(len(targets), dtype=np.int64)
        for start in range(0, len(data), chunk):
            mel = data.read("mel", slice(start, start + chunk)).reshape(-1, flat.shape[1])
            dist = (flat**2).sum(1)[:, None] - 2 * flat @ mel.T + (mel**2).sum(1)[None, :]
            arg = dist.argmin(axis=1)
            better = dist[np.arange(len(flat)), arg] < best
            best[better] = dist[np.arange(len(flat)), arg][better]
            best_row[better] = start + arg[better]
        return data.read("params_unit", best_row)


def _training_rows(model: LoadedModel, train_data: Path | None) -> tuple[Path | None, str]:
    """The training dataset for the baselines, and one line saying which one it is and why.

    ``train_data`` (the user's choice) wins; else the dataset the model recorded, only when the
    recorded path is absolute and the dataset there is the one the model was trained on.
    """
    if train_data is not None:
        return train_data, f"baselines (nearest neighbour, mean preset) from training data {train_data} (--train-data)"
    recorded = str(model.summary.get("data", ""))
    skipped = "nearest-neighbour and mean-preset baselines skipped: pass --train-data DATASET"
    if not recorded:
        return None, f"the model records no training data; {skipped}"
    path = Path(recorded)
    if not path.is_absolute():
        return None, f"the model records its training data as '{recorded}', relative to where it was trained; {skipped}"
    if not path.exists():
        return None, f"the model's training data {recorded} is not on this machine; {skipped}"
    with open_dataset(path) as data:
        if "data_fingerprint" in model.summary and data_fingerprint(data) != model.summary["data_fingerprint"]:
            return None, f"{recorded} has changed since the model was trained on it; {skipped}"
    return path, f"baselines (nearest neighbour, mean preset) from training data {recorded} (recorded in the model)"


def _searched(
    model: LoadedModel,
    index: SoundIndex | None,
    targets: Targets,
    synth: Synth,
    budget: int,
    seed: int,
    progress: bool,
    store: SearchStore | None,
) -> tuple[list[SearchResult], int]:
    """What a search of ``budget`` renders finds for each target, starting from ``index`` (the model's, if any), and
    how many were found in ``store`` from an earlier run (each search is kept there as it finishes, under a key of the
    model file, its synth config as loaded, the target, its note, the budget and the seed)."""
    held = [None] * len(targets.mel) if targets.held_s is None else [float(s) for s in targets.held_s]
    stat = model.path.stat()
    made_by = (str(model.path.resolve()), stat.st_size, stat.st_mtime_ns, json.dumps(model.config.to_dict(), sort_keys=True, default=str))
    found, reused = [], 0
    earlier = set() if store is None else store.keys()  # a sound twice in this run is searched twice, as it is timed
    rows = zip(targets.audio, targets.mel, targets.midi_pitch, held, strict=True)
    for audio, mel, pitch, seconds in progress_bar(rows, total=len(targets.mel), desc=f"search {model.name}", disable=not progress):
        key = SearchStore.key(*made_by, audio, int(pitch), seconds, budget, seed)
        if store is not None and key in earlier and (kept := store.get(key)) is not None:
            found.append(kept)
            reused += 1
            continue
        found.append(search_preset(model, synth, audio, mel, int(pitch), budget, index, seed, note_duration_s=seconds))
        if store is not None:
            store.put(key, found[-1])
    return found, reused


def evaluate(
    models: list[LoadedModel],
    targets: Targets,
    synth: Synth,
    train_data: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    budget: int = 0,
    store: SearchStore | None = None,
) -> Evaluation:
    """Infer, re-render and score every model and the baselines on the same targets.

    Rendered test sets (targets with their presets) also score their own presets rendered again
    (:data:`TRUE_PRESET`): the floor the synth's randomness leaves to every method.

    Every estimate is rendered at its target's note, held as long as the target's; a search's is
    scored on the render it found, at the output gain it fitted (as ``resynth`` writes it). Metrics
    are reported as played and level-matched.

    Arguments:
        models: models trained for the same synth.
        targets: the sounds to match.
        synth: that synth.
        train_data: the training dataset for the nearest-neighbour and mean-preset baselines (default:
            the one the first model recorded, when it is on this machine).
        seed: seeds the random-preset baseline and the searches.
        budget: with more than 0, each model is also scored with a search of that many renders per
            sound (as ``resynth --budget``), starting from its index of training sounds when it has one.
        store: where each search is kept as it finishes, and found again by an evaluation run again after an
            interruption (its time per sound is then the time the searches took when they ran).
    """
    if not models:
        raise SynthgenError("give at least one --model")
    config = models[0].config
    for m in models[1:]:
        if m.config.space.names != config.space.names or m.config.name != config.name:
            raise SynthgenError(f"models {models[0].path} and {m.path} were trained for different synths or parameters")
    picks = np.linspace(0, len(targets.mel) - 1, min(EXAMPLES, len(targets.mel))).astype(int)
    result = Evaluation(targets.name, seed=seed, example_rows=picks)
    played: dict[str, np.ndarray] = {}  # a search's renders at its fitted gains, as resynth writes them
    reused: dict[str, int] = {}  # searches found in the store, per method
    searches_s: dict[str, float] = {}  # the searches' own mean wall time, per method

    def timed(method: str, estimate: Callable[[], np.ndarray]) -> None:
        start, cpu_start = time.perf_counter(), time.process_time()
        result.estimates[method] = estimate()
        result.seconds[method] = (time.perf_counter() - start) / len(targets.mel)
        result.cpu_seconds[method] = (time.process_time() - cpu_start) / len(targets.mel)

    for m in models:
        label = m.name if sum(o.name == m.name for o in models) == 1 else f"{m.name} ({m.path.parent.name})"
        timed(label, lambda m=m: m.infer(targets.mel, targets.midi_pitch))
        if targets.fingerprint is not None and m.summary.get("data_fingerprint") == targets.fingerprint:
            result.notes.append(f"warning: {label} was trained on {targets.name}: its scores are not on held-out sounds")
        if budget > 0:
            index = model_index(m)
            if index is None:
                result.notes.append(f"{label}: no index.npz next to the model, so its search starts from the model alone")
            method = f"{label} + search ({budget} renders)"

            def searched(m: LoadedModel = m, method: str = method, index: SoundIndex | None = index) -> np.ndarray:
                found, reused[method] = _searched(m, index, targets, synth, budget, seed, progress, store)
                result.gains_db[method], played[method] = np.array([f.gain_db for f in found]), np.stack([f.audio for f in found])
                searches_s[method] = float(np.mean([f.seconds for f in found]))
                return np.stack([f.unit for f in found])

            timed(method, searched)
            if reused[method]:
                result.seconds[method], result.cpu_seconds[method] = searches_s[method], float("nan")
                result.notes.append(
                    f"{method}: {reused[method]} of {len(targets.mel)} searches were kept from an interrupted run; its time per "
                    "sound is the searches' own (CPU time not known)"
                )
    train_path, note = _training_rows(models[0], Path(train_data) if train_data else None)
    result.train_data = None if train_path is None else str(train_path)
    index = model_index(models[0]) if train_path is None else None
    result.notes.append(note)
    if index is not None:
        result.notes.append(
            f"instead, nearest neighbour and mean preset come from the index next to {models[0].path} (PCA-reduced log-mels)"
        )
    if train_path is not None:
        with open_dataset(train_path) as data:
            if data.config.name != config.name or data.space.names != config.space.names:
                raise SynthgenError(
                    f"training data {data.path} was rendered with synth '{data.config.name}', not the models' '{config.name}'"
                )
            mean = data.read("params_unit").mean(axis=0, keepdims=True)
        timed("nearest neighbour", lambda: _nearest_neighbour_presets(train_path, targets.mel))
    elif index is not None:
        timed("nearest neighbour", lambda: index.nearest(targets.mel, 1)[1][:, 0])
        mean = index.unit.mean(axis=0, keepdims=True)
    if train_path is not None or index is not None:
        result.estimates["mean preset"] = np.repeat(config.space.snap_unit(mean), len(targets.mel), axis=0)
    result.estimates["random preset"] = config.space.sample(len(targets.mel), np.random.default_rng(seed))
    if targets.unit is not None:
        result.estimates[TRUE_PRESET] = targets.unit
    for method, unit in progress_bar(result.estimates.items(), desc="re-render", disable=not progress):
        audio = played[method] if method in played else render_at_pitches(synth, config, unit, targets.midi_pitch, targets.held_s)
        mel = result.mels[method] = log_mel(audio, config.render.sample_rate, config.features)
        result.examples[method] = audio[result.example_rows]
        metrics = audio_metrics(targets.audio, audio, targets.mel, mel, config.features)
        if targets.unit is not None:
            metrics = {"param_mse": param_mse(targets.unit, unit), **metrics}
        result.rows[method] = metrics
    return result


def write_report(result: Evaluation, targets: Targets, config: SynthConfig, out: Path) -> dict:
    """Write ``results.md``, ``results.json``, ``examples.png`` and ``examples.html`` (example targets next to
    each method's re-render: to look at, and on the page to listen to as well)."""
    from synthgen.plots import plot_examples
    from synthgen.uses.html import write_examples_page

    out = prepare_folder(out)
    (out / "results.md").write_text(result.markdown())
    (out / "results.json").write_text(
        json.dumps(
            {
                **provenance(EVALUATION_FORMAT, config.name, result.seed),
                "targets": result.targets,
                "train_data": result.train_data,
                "summary": result.summary(),
                "notes": result.notes,
            },
            indent=1,
        )
    )
    picks = result.example_rows
    labels = [targets.labels[i] for i in picks]
    columns = {"target": targets.mel[picks], **{method: mel[picks] for method, mel in result.mels.items()}}
    plot_examples(columns, labels, out / "examples.png", config)
    sounds = {"target": targets.audio[picks], **result.examples}
    page = write_examples_page(columns, sounds, labels, config, f"{targets.name}: examples of each method", out / "examples.html")
    return {"markdown": out / "results.md", "json": out / "results.json", "figure": out / "examples.png", "page": page}
