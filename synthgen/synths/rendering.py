"""Render unit-space presets with a synth: the one path from parameter vectors to audio."""

__all__ = ["render_at_pitches", "render_note", "render_unit", "silence_broken", "split_among", "usable_cpus"]

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import numpy as np

from synthgen.config import Note, SynthConfig
from synthgen.synths.base import Synth

T = TypeVar("T")


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@cache
def _threads(n: int) -> ThreadPoolExecutor:
    """``n`` render threads, started once per process (a search renders a few dozen batches a second)."""
    return ThreadPoolExecutor(n, thread_name_prefix="synthgen-render")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_threads.cache_clear)  # a forked child has none of the parent's threads


def split_among(copies: Sequence[Synth], n_rows: int, work: Callable[[Synth, np.ndarray], T]) -> list[T]:
    """Split rows ``0 .. n_rows - 1`` into one contiguous share per synth instance and run
    ``work(instance, rows)`` for every share, each in a thread of its own; the results in row order.
    ``work`` must not call this function itself (its threads are shared)."""
    shares = np.array_split(np.arange(n_rows), len(copies))
    return list(_threads(len(copies)).map(work, copies, shares))


def render_unit(
    synth: Synth,
    config: SynthConfig,
    unit: np.ndarray,
    notes: Sequence[tuple[int, int]] | None = None,
    note_index: np.ndarray | None = None,
    authored: Sequence[Mapping[str, float]] | None = None,
    threads: int = 1,
    note_duration_s: float | None = None,
) -> np.ndarray:
    """Render presets given in unit space.

    Arguments:
        synth: the synth (built from ``config``).
        config: parameter space, fixed values and render settings.
        unit: presets ``(B, P)`` in ``[0, 1]``.
        notes: ``(midi_pitch, velocity)`` pairs; default: the config's note.
        note_index: which of ``notes`` each preset plays ``(B,)``; default: the first.
        authored: per preset, values of parameters the config does not learn that replace its
            fixed values (human presets rendered as their authors made them); default: none.
        threads: split the presets among up to this many instances of the synth (see
            :meth:`~synthgen.synths.base.Synth.copies`), each rendering in its own thread.
        note_duration_s: how long every key is held (default: the config's).

    Returns:
        Mono audio ``(B, n_samples)`` float32.
    """
    unit = np.atleast_2d(unit)
    notes = list(notes or [(config.render.midi_pitch, config.render.velocity)])
    note_index = np.zeros(len(unit), dtype=int) if note_index is None else np.asarray(note_index)
    # only when asked: a plugin's copies are processes of their own
    copies = synth.copies(min(threads, len(unit))) if threads > 1 and len(unit) > 1 else [synth]
    if len(copies) > 1:

        def render_share(copy: Synth, rows: np.ndarray) -> np.ndarray:
            own = [authored[r] for r in rows] if authored else None
            return render_unit(copy, config, unit[rows], notes, note_index[rows], own, note_duration_s=note_duration_s)

        return np.concatenate(split_among(copies, len(unit), render_share))
    audio = np.zeros((len(unit), Synth.n_samples(config.render.note(), synth.sample_rate)), dtype=np.float32)
    for k, (pitch, velocity) in enumerate(notes):
        rows = np.flatnonzero(note_index == k)
        if len(rows):
            batch = [{**config.space.synth_values(unit[r]), **(authored[r] if authored else {})} for r in rows]
            audio[rows] = synth.render(batch, config.render.note(pitch, velocity, note_duration_s))
    return audio


def render_note(synth: Synth, config: SynthConfig, unit: np.ndarray, note: Note) -> np.ndarray:
    """Render presets ``(B, P)`` at one ``note`` for its own render length, whatever the config's;
    a sound that is not finite comes back silent."""
    longer = dataclasses.replace(config, render=dataclasses.replace(config.render, render_duration_s=note.render_duration_s))
    return silence_broken(render_unit(synth, longer, unit, [(note.midi_pitch, note.velocity)], note_duration_s=note.note_duration_s))


def silence_broken(audio: np.ndarray) -> np.ndarray:
    """``audio`` ``(B, n_samples)`` with every sound that is not finite (a plugin's NaN render) made silent,
    for uses that play or measure what they render; datasets keep the NaN to count and replace it."""
    return np.where(np.isfinite(audio).all(axis=1, keepdims=True), audio, np.float32(0.0))


def render_at_pitches(
    synth: Synth, config: SynthConfig, unit: np.ndarray, midi_pitch: np.ndarray, note_duration_s: np.ndarray | None = None
) -> np.ndarray:
    """Render presets ``(N, P)``, each at its own note ``(N,)`` (the config's velocity), each key held
    for its own time ``(N,)`` in seconds (default: the config's); a sound that is not finite comes back silent."""
    unit = np.atleast_2d(unit)
    held = np.full(len(unit), config.render.note_duration_s) if note_duration_s is None else np.asarray(note_duration_s, dtype=float)
    audio = np.zeros((len(unit), Synth.n_samples(config.render.note(), synth.sample_rate)), dtype=np.float32)
    for seconds in np.unique(held):
        rows = np.flatnonzero(held == seconds)
        pitches, note_index = np.unique(np.asarray(midi_pitch, dtype=int)[rows], return_inverse=True)
        notes = [(int(p), config.render.velocity) for p in pitches]
        audio[rows] = render_unit(synth, config, unit[rows], notes, note_index, note_duration_s=float(seconds))
    return silence_broken(audio)
