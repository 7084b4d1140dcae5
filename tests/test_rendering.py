"""Rendering on several instances of a synth at once: the same sounds, in the same order."""

import dataclasses
import multiprocessing
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.synths import plugin_process
from synthgen.synths.faust import FaustSynth
from synthgen.synths.loading import load_synth
from synthgen.synths.plugin_process import PluginProcess, _Crashed
from synthgen.synths.rendering import render_note, render_unit, split_among

from .conftest import requires_amsynth


def test_threads_give_the_same_builtin_sounds_in_order() -> None:
    config = load_config("builtin")
    synth = load_synth(config)
    unit = config.space.sample(7, np.random.default_rng(2))
    notes = [(48, 100), (67, 127)]
    note_index = np.array([0, 1, 1, 0, 1, 0, 0])
    one = render_unit(synth, config, unit, notes, note_index)
    three = render_unit(synth, config, unit, notes, note_index, threads=3)
    np.testing.assert_allclose(three, one, rtol=0, atol=1e-6)
    copies = synth.copies(3)
    assert copies[0] is synth and len({id(c) for c in copies}) == 3
    assert synth.copies(3) == copies  # made once, kept
    assert synth.copies(1) == [synth]
    # each instance has its own engine, so renders on them do not wait for each other
    assert all(isinstance(c, FaustSynth) for c in copies)
    assert len({id(c._compiled().lock) for c in copies}) == 3


def test_a_note_longer_than_the_configs_renders_for_its_own_length() -> None:
    config = load_config("builtin")
    synth, rate = load_synth(config), config.render.sample_rate
    unit = config.space.sample(2, np.random.default_rng(4))
    note = dataclasses.replace(config.render.note(), render_duration_s=6.5)  # the config's 3 s key, then 3.5 s
    longer = render_note(synth, config, unit, note)
    assert longer.shape == (2, round(6.5 * rate))
    # the same key press: the config's render is its first 4 s
    np.testing.assert_allclose(longer[:, : 4 * rate], render_unit(synth, config, unit), atol=1e-4)


def test_split_among_gives_shares_in_row_order_on_threads_it_keeps() -> None:
    threads: set[threading.Thread] = set()

    def work(copy: str, rows: np.ndarray) -> list[str]:
        threads.add(threading.current_thread())
        return [f"{copy}{r}" for r in rows]

    for _ in range(4):  # as a search's batches
        assert split_among(["a", "b", "c"], 7, work) == [["a0", "a1", "a2"], ["b3", "b4"], ["c5", "c6"]]
    assert threading.main_thread() not in threads
    assert len(threads) <= 3  # the same threads for every batch


def _shares_in_a_child(queue: multiprocessing.Queue) -> None:
    queue.put(split_among(["a", "b"], 3, lambda copy, rows: f"{copy}{len(rows)}"))


def test_split_among_works_in_a_child_forked_after_it_ran() -> None:
    both = threading.Barrier(2)  # two threads at once: then both are idle, and a fork would count on them

    def work(copy: str, rows: np.ndarray) -> str:
        both.wait(timeout=10)
        return f"{copy}{len(rows)}"

    assert split_among(["a", "b"], 3, work) == ["a2", "b1"]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_shares_in_a_child, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=30) == ["a2", "b1"]  # the child's own threads, not the parent's (gone in a fork)
    finally:
        child.join(5)
        child.kill()


def amsynth_batch(config, n: int, seed: int) -> list[dict[str, float]]:
    return [config.space.synth_values(u) for u in config.space.sample(n, np.random.default_rng(seed))]


@requires_amsynth
def test_a_plugin_copies_itself_into_processes_of_its_own() -> None:
    config = load_config("amsynth")
    synth = load_synth(config)
    batch, note = amsynth_batch(config, 3, 4), config.render.note()
    expected = synth.render(batch, note)  # a fresh instance's first render: amsynth's later ones drift
    copies = synth.copies(2)
    assert all(isinstance(c, PluginProcess) for c in copies) and synth.copies(2) == copies
    assert len({c.pid for c in copies} | {os.getpid()}) == 3
    assert copies[1].parameter_names() == synth.parameter_names()
    np.testing.assert_allclose(copies[1].render(batch, note), expected, rtol=0, atol=1e-5)
    # both instances render at once (in one process, two amsynth instances trip its assertions)
    audio = render_unit(synth, config, config.space.sample(6, np.random.default_rng(5)), threads=2)
    assert audio.shape == (6, synth.n_samples(note, config.render.sample_rate))
    assert np.isfinite(audio).all() and (np.abs(audio).max(axis=1) > 0).all()
    process = copies[1]._process
    copies[1].close()
    assert process.poll() is not None
    # a render without threads makes no process
    other = load_synth(config)
    render_unit(other, config, config.space.sample(3, np.random.default_rng(6)))
    assert "_copies" not in other.__dict__


@requires_amsynth
def test_a_plugin_renders_a_preset_the_same_after_any_other() -> None:
    config = load_config("amsynth")
    synth, note, space = load_synth(config), config.render.note(), config.space
    unit = space.sample(1, np.random.default_rng(11))[0]
    # tonal waveforms (amsynth's noise draws from one generator that never restarts), the LFO on pitch and filter
    for name, value in {
        "osc1_waveform": 0.5,
        "osc2_waveform": 0.25,
        "lfo_waveform": 0.0,
        "freq_mod_amount": 0.8,
        "filter_mod_amount": 0.8,
    }.items():
        unit[space.names.index(name)] = value
    preset = space.synth_values(unit)
    renders = []
    for before in amsynth_batch(config, 3, 12):
        synth.render([before], note)
        renders.append(synth.render([preset], note)[0])
    assert np.abs(renders[0]).max() > 0.05
    for other in renders[1:]:
        np.testing.assert_allclose(other, renders[0], rtol=0, atol=0.01)


@requires_amsynth
@pytest.mark.parametrize("failure", ["killed mid-batch", "hung"])
def test_a_plugin_process_that_dies_or_hangs_is_replaced_and_the_batch_rendered(failure: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config("amsynth")
    copy = load_synth(config).copies(1)[0]
    note = config.render.note()
    copy.render(amsynth_batch(config, 1, 7), note)  # loaded and rendering
    first = copy.pid
    if failure == "hung":
        monkeypatch.setattr(plugin_process, "RENDER_TIMEOUT_S", 2.0)
        os.kill(first, signal.SIGSTOP)  # as a plugin stuck in a render
        batch = amsynth_batch(config, 3, 10)
    else:
        batch = amsynth_batch(config, 40, 8)  # about 0.4 s of rendering
        threading.Timer(0.1, os.kill, (first, signal.SIGKILL)).start()
    audio = copy.render(batch, note)
    assert copy.crashes == 1 and copy.pid != first
    assert np.isfinite(audio).all() and (np.abs(audio).max(axis=1) > 0).all()


@requires_amsynth
def test_presets_that_crash_the_plugin_come_back_as_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config("amsynth")
    copy = load_synth(config).copies(1)[0]
    batch = amsynth_batch(config, 4, 9)
    batch[2]["filter_cutoff"] = 0.123  # the preset this plugin "crashes" on
    render = PluginProcess._render

    def crashing(self, presets, note):
        if any(values.get("filter_cutoff") == 0.123 for values in presets):
            os.kill(self.pid, signal.SIGKILL)  # as the plugin aborting in the middle of the batch
            self._process.wait()
            raise _Crashed
        return render(self, presets, note)

    monkeypatch.setattr(PluginProcess, "_render", crashing)
    audio = copy.render(batch, config.render.note())
    assert copy.crashes == 2  # the batch, then that preset alone
    assert np.isnan(audio[2]).all()
    assert np.isfinite(audio[[0, 1, 3]]).all()


@requires_amsynth
def test_a_plugin_that_cannot_load_in_its_process_is_one_clear_error(tmp_path: Path) -> None:
    copy = load_synth(load_config("amsynth")).copies(1)[0]
    copy.close()
    copy.path = tmp_path / "gone.so"
    copy._start()
    with pytest.raises(SynthgenError, match="gone.so"):
        copy.render([{}], load_config("amsynth").render.note())


@requires_amsynth
def test_copies_made_after_a_state_loads_play_that_state(tmp_path: Path) -> None:
    config = load_config("amsynth")
    source = load_synth(config)
    source.set_parameters(amsynth_batch(config, 1, 8)[0])
    state = source.save_state(tmp_path / "preset")
    note = config.render.note()
    fresh = load_synth(config)
    fresh.load_state(state)
    expected = fresh.render([{}], note)
    assert not np.allclose(load_synth(config).render([{}], note), expected, atol=1e-3)  # the state is not the default
    synth = load_synth(config)
    old_twin = synth.copies(1)[0]
    synth.load_state(state)
    assert old_twin._process.poll() is not None  # made with the previous state: stopped
    twin = synth.copies(1)[0]
    assert twin is not old_twin
    np.testing.assert_allclose(twin.render([{}], note), expected, rtol=0, atol=1e-5)


def test_threads_asked_for_off_the_first_engines_thread_render_without_copies() -> None:
    # A server resynthesizes on a thread of its own: an engine built there would wait forever.
    config = load_config("builtin")
    synth = load_synth(config)
    unit = config.space.sample(3, np.random.default_rng(6))
    expected = render_unit(synth, config, unit)
    result: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: result.append(render_unit(synth, config, unit, threads=2)), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive() and len(result) == 1
    np.testing.assert_allclose(result[0], expected, rtol=0, atol=1e-6)
