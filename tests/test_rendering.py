"""Rendering on several instances of a synth at once: the same sounds, in the same order."""

import threading

import numpy as np

from synthgen.config import load_config
from synthgen.synths.faust import FaustSynth
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit

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


@requires_amsynth
def test_a_plugin_renders_in_one_thread_only() -> None:
    config = load_config("amsynth")
    synth = load_synth(config)
    assert synth.copies(2) == [synth]  # its instances may share native state
    audio = render_unit(synth, config, config.space.sample(3, np.random.default_rng(4)), threads=2)
    assert audio.shape == (3, synth.n_samples(config.render.note(), config.render.sample_rate))


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
