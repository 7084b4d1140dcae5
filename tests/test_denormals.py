"""Denormals flushed while the built-in synth renders: faster, the same audio, and nothing outside the block touched."""

import numpy as np
import pytest

from synthgen.config import load_config
from synthgen.denormals import DENORMALS_FLUSHABLE, flushing_denormals
from synthgen.synths.faust import FaustSynth
from synthgen.synths.rendering import render_unit

TINY = np.float32(1e-39)  # a denormal float32
pytestmark = pytest.mark.skipif(not DENORMALS_FLUSHABLE, reason="denormals are flushed on x86-64 Linux only")


def test_denormals_are_flushed_inside_the_block_only() -> None:
    assert np.array([TINY])[0] * np.float32(1) == TINY
    with flushing_denormals():
        assert np.array([TINY])[0] * np.float32(1) == 0
        with flushing_denormals(False):
            assert np.array([TINY])[0] * np.float32(1) == 0  # disabled: the outer setting holds
    assert np.array([TINY])[0] * np.float32(1) == TINY


def test_flushing_keeps_the_builtin_audio_to_the_smallest_normal_float() -> None:
    config = load_config("builtin")
    unit = config.space.sample(12, np.random.default_rng(5))
    flushed = render_unit(FaustSynth(config.dsp, config.render.sample_rate), config, unit)
    exact = render_unit(FaustSynth(config.dsp, config.render.sample_rate, flush_denormals=False), config, unit)
    assert np.abs(flushed).max() > 0.01
    np.testing.assert_allclose(flushed, exact, rtol=0, atol=float(np.finfo(np.float32).tiny))
    assert np.array([TINY])[0] * np.float32(1) == TINY  # the render restored this thread's setting
