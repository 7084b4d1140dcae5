"""The built-in Faust synth: audible, every parameter matters, deterministic, clear errors."""

__all__: list[str] = []

import numpy as np
import pytest

from synthgen.config import Note, load_config
from synthgen.errors import SynthgenError
from synthgen.synths.faust import NOTE_PARAMETERS, FaustSynth

CONFIG = load_config("builtin")
SAMPLE_RATE = CONFIG.render.sample_rate
NOTE = CONFIG.render.note()


@pytest.fixture(scope="module")
def synth() -> FaustSynth:
    return FaustSynth(CONFIG.dsp, SAMPLE_RATE, batch_size=4)


def _mid_preset() -> dict[str, float]:
    """Learned parameters spread around the middle of their ranges (not all equal, so osc1 != osc2)."""
    # evenly between each range's ends, whatever the parameter's scale (classes snap)
    unit = np.linspace(0.35, 0.65, CONFIG.space.size)
    value = np.array([[s.low + u * (s.high - s.low) for s, u in zip(CONFIG.space.specs, unit, strict=True)]])
    return CONFIG.space.synth_values(CONFIG.space.to_unit(value)[0])


def _random_presets(n: int, seed: int) -> list[dict[str, float]]:
    return [CONFIG.space.synth_values(row) for row in CONFIG.space.sample(n, np.random.default_rng(seed))]


def _log_spectrogram(audio: np.ndarray) -> np.ndarray:
    """Log magnitude ``(B, n_frames, 513)`` of 1024-sample Hann frames every 512 samples."""
    frames = np.lib.stride_tricks.sliding_window_view(audio, 1024, axis=-1)[..., ::512, :]
    return np.log(np.abs(np.fft.rfft(frames * np.hanning(1024), axis=-1)) + 1e-4)


def test_config_loads_and_matches_the_synth(synth: FaustSynth) -> None:
    assert CONFIG.backend == "faust" and CONFIG.render.sample_rate == 22050
    names = set(synth.parameter_names())
    assert not names & set(NOTE_PARAMETERS)
    assert set(CONFIG.space.names) | set(CONFIG.space.fixed) == names
    infos = {p.name: p for p in synth.parameters()}
    for spec in CONFIG.space.specs:
        assert infos[spec.name].low <= spec.low < spec.high <= infos[spec.name].high, spec.name
    for p in infos.values():
        assert p.low <= p.default <= p.high, p.name


def test_note_has_energy_and_the_right_length(synth: FaustSynth) -> None:
    audio = synth.render([_mid_preset()], NOTE)
    assert audio.shape == (1, 88200) and audio.dtype == np.float32
    assert np.isfinite(audio).all()
    assert np.sqrt(np.mean(audio**2)) > 0.01
    assert np.abs(audio).max() < 1.0
    assert abs(float(audio.mean())) < 1e-3


def test_every_parameter_changes_the_sound(synth: FaustSynth) -> None:
    # Pitch 48, not the reference 60, so that key tracking is heard too.
    note = Note(48, 127, 3.0, 4.0)
    ranges = {p.name: (p.low, p.high) for p in synth.parameters()}
    ranges.update({s.name: (s.low, s.high) for s in CONFIG.space.specs})
    names = list(ranges)
    batch = [_mid_preset()]
    for name in names:
        batch.extend({**batch[0], name: value} for value in ranges[name])
    spectra = _log_spectrogram(synth.render(batch, note))
    distance = {name: float(np.abs(spectra[1 + 2 * j] - spectra[2 + 2 * j]).mean()) for j, name in enumerate(names)}
    inaudible = {name: round(d, 4) for name, d in distance.items() if d < 0.02}
    assert not inaudible, f"parameters that barely change the sound: {inaudible}"


def test_a_short_note_decays(synth: FaustSynth) -> None:
    note = Note(60, 127, note_duration_s=1.0, render_duration_s=3.0)
    audio = synth.render([_mid_preset()], note)[0]
    held = np.mean(audio[int(0.2 * SAMPLE_RATE) : SAMPLE_RATE] ** 2)
    tail = np.mean(audio[-SAMPLE_RATE // 2 :] ** 2)
    assert held > 1e-4
    assert tail < 1e-4 * held


def test_render_is_the_same_alone_in_a_batch_and_repeated(synth: FaustSynth) -> None:
    a, b, c = _random_presets(3, seed=1)
    alone = synth.render([a], NOTE)[0]
    assert np.sqrt(np.mean(alone**2)) > 1e-3
    # Position 1 of a chunk, then position 2 of the second (padded) chunk of batch size 4.
    in_batch = synth.render([b, a, c, c, b, c, a], NOTE)
    np.testing.assert_allclose(in_batch[1], alone, atol=1e-5)
    np.testing.assert_allclose(in_batch[6], alone, atol=1e-5)
    np.testing.assert_allclose(synth.render([a], NOTE)[0], alone, atol=1e-5)
    assert np.abs(in_batch[0] - alone).max() > 1e-3


def test_seeded_renders_reproduce(synth: FaustSynth) -> None:
    def summary(renderer: FaustSynth) -> np.ndarray:
        audio = renderer.render(_random_presets(5, seed=7), NOTE)
        spectrum = np.abs(np.fft.rfft(audio, axis=-1))
        centroid = (spectrum * np.arange(spectrum.shape[1])).sum(-1) / spectrum.sum(-1)
        return np.stack([np.sqrt(np.mean(audio**2, axis=-1)), np.abs(audio).max(-1), centroid])

    first = summary(synth)
    # A separately compiled engine (another batch size) gives the same numbers.
    second = summary(FaustSynth(CONFIG.dsp, SAMPLE_RATE, batch_size=2))
    assert (first[0] > 1e-3).all()
    np.testing.assert_allclose(first, second, rtol=1e-4)


def test_unknown_parameter_names_the_parameter_and_the_valid_ones(synth: FaustSynth) -> None:
    with pytest.raises(SynthgenError, match=r"unknown parameter 'cutof'.*cutoff"):
        synth.render([{"cutof": 80.0}], NOTE)
    with pytest.raises(SynthgenError, match="midi_pitch"):
        synth.render([{"midi_pitch": 60.0}], NOTE)


def test_compile_errors_give_the_first_faust_error_line() -> None:
    with pytest.raises(SynthgenError, match="does not compile: .*undefined symbol") as error:
        FaustSynth("voice = no_such_function(1);", SAMPLE_RATE, batch_size=1)
    assert "\n" not in str(error.value)
    with pytest.raises(SynthgenError, match="defines no 'voice'"):
        FaustSynth("process = os.osc(440);", SAMPLE_RATE, batch_size=1)
