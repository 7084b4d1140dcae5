"""Parameter spaces: unit scaling both ways, class snapping, seeded sampling."""

import numpy as np
import pytest

from synthgen.params import ParameterSpace, ParameterSpec


@pytest.fixture
def space() -> ParameterSpace:
    return ParameterSpace(
        (
            ParameterSpec("cutoff", "continuous", 20.0, 2000.0),
            ParameterSpec("wave", "categorical", 0.0, 1.0, (0.0, 0.25, 0.5, 0.75, 1.0)),
            ParameterSpec("coarse", "discrete", -12.0, 12.0, tuple(float(v) for v in range(-12, 13))),
        ),
        {"gain": 0.5},
    )


def test_round_trip(space: ParameterSpace) -> None:
    raw = np.array([[20.0, 0.5, -12.0], [1010.0, 1.0, 3.0], [2000.0, 0.0, 12.0]])
    unit = space.to_unit(raw)
    assert unit.min() >= 0 and unit.max() <= 1
    np.testing.assert_allclose(unit[1], [0.5, 1.0, 15 / 24], rtol=1e-6)
    np.testing.assert_allclose(space.from_unit(unit), raw, rtol=1e-5)


def test_classes_snap(space: ParameterSpace) -> None:
    raw = space.from_unit(np.array([[0.3, 0.3, 0.51]]))
    assert raw[0, 1] == 0.25
    assert raw[0, 2] == 0.0


def test_sampling_is_seeded_and_covers_classes(space: ParameterSpace) -> None:
    a = space.sample(500, np.random.default_rng(7))
    b = space.sample(500, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a[:, 1])) == 5
    assert not np.array_equal(a, space.sample(500, np.random.default_rng(8)))


def test_sample_around_stays_near(space: ParameterSpace) -> None:
    center = space.sample(1, np.random.default_rng(0))
    cloud = space.sample_around(np.repeat(center, 200, axis=0), 0.05, np.random.default_rng(1))
    assert np.abs(cloud[:, 0] - center[0, 0]).mean() < 0.06
    assert (cloud[:, 1] == center[0, 1]).mean() > 0.8


def test_synth_values_include_fixed(space: ParameterSpace) -> None:
    unit = space.to_unit(np.array([[100.0, 0.5, 0.0]]))[0]
    assert space.synth_values(unit) == pytest.approx({"gain": 0.5, "cutoff": 100.0, "wave": 0.5, "coarse": 0.0})


def test_dict_round_trip(space: ParameterSpace) -> None:
    assert ParameterSpace.from_dict(space.to_dict()) == space


def test_log_scale_round_trip_and_spacing() -> None:
    """A log-scaled time maps unit 0.5 to the geometric mean, and unit <-> value round-trips."""
    space = ParameterSpace((ParameterSpec("decay_s", low=0.01, high=10.0, scale="log"), ParameterSpec("mix")))
    raw = space.from_unit(np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]))
    np.testing.assert_allclose(raw[:, 0], [0.01, np.sqrt(0.01 * 10.0), 10.0], rtol=1e-5)
    unit = space.sample(200, np.random.default_rng(0))
    np.testing.assert_allclose(space.to_unit(space.from_unit(unit)), unit, atol=1e-5)
    assert np.median(space.from_unit(unit)[:, 0]) < 1.0  # uniform in log: half the draws below the geometric mean
    assert ParameterSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "t", "range": [0.0, 1.0], "scale": "log"}, "range above 0"),
        ({"name": "t", "range": [0.1, 1.0], "scale": "cubic"}, "not one of linear, log"),
        ({"name": "t", "kind": "discrete", "steps": 3, "range": [1, 3], "scale": "log"}, "continuous"),
    ],
)
def test_bad_scale_is_one_clear_error(entry: dict, message: str) -> None:
    from synthgen.config import parse_config
    from synthgen.errors import SynthgenError

    with pytest.raises(SynthgenError, match=message):
        parse_config({"name": "x", "backend": "faust", "dsp": "process = 0;", "learned": [entry]})


def test_class_alternatives_switch_one_categorical_class_at_a_time(space: ParameterSpace) -> None:
    row = space.to_unit(np.array([[500.0, 0.5, 3.0]]))[0]
    switched = space.class_alternatives(row)
    assert switched.shape == (4, 3)
    np.testing.assert_allclose(switched[:, [0, 2]], np.repeat(row[None, [0, 2]], 4, axis=0))
    assert sorted(space.from_unit(switched)[:, 1]) == [0.0, 0.25, 0.75, 1.0]
    ordered_only = ParameterSpace(tuple(s for s in space.specs if s.kind != "categorical"))
    assert ordered_only.class_alternatives(row[[0, 2]]).shape == (0, 2)
