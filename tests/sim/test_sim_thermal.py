"""The first-order heater model."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massagectl.profiles import HeatCapability, get_profile
from massagesim import ThermalModel


def model() -> ThermalModel:
    return ThermalModel(HeatCapability(levels=2, celsius=[40, 50], time_constant_s=100), 20.0)


def test_temperature_approaches_level_target_exponentially() -> None:
    m = model()
    m.set_level(2)
    assert m.target_c == 50
    m.advance(100)  # one time constant: 1 - 1/e of the way there
    assert m.temperature_c == pytest.approx(50 - 30 * math.exp(-1))
    m.advance(900)
    assert m.temperature_c == pytest.approx(50, abs=2e-3)


def test_heat_off_cools_towards_ambient() -> None:
    m = model()
    m.set_temperature(60)
    m.advance(100)
    assert m.temperature_c == pytest.approx(20 + 40 * math.exp(-1))


@given(st.lists(st.floats(min_value=0.0, max_value=50.0), min_size=1, max_size=20))
def test_many_small_steps_equal_one_big_step(steps: list[float]) -> None:
    a, b = model(), model()
    a.set_level(1)
    b.set_level(1)
    for dt in steps:
        a.advance(dt)
    b.advance(sum(steps))
    assert a.temperature_c == pytest.approx(b.temperature_c, abs=1e-9)


def test_time_until_threshold_is_exact() -> None:
    m = model()
    m.set_level(2)
    dt = m.time_until_above(45)
    assert dt == pytest.approx(100 * math.log(30 / 5))
    assert dt is not None
    assert m.temperature_after(dt) == pytest.approx(45)
    assert m.time_until_above(55) is None  # the level settles at 50
    assert m.time_until_above(10) == 0.0  # already above
    assert m.time_until_below(10) is None  # heading up, never gets there


def test_runaway_target_applies_only_while_heating() -> None:
    m = model()
    m.runaway_c = 90
    assert m.target_c == 20
    m.set_level(1)
    assert m.target_c == 90


def test_level_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        model().set_level(3)


def test_model_from_profile_uses_its_heater_and_ambient() -> None:
    m = ThermalModel.from_profile(get_profile("omp-heat-pad"))
    assert m.levels == 6
    assert m.time_constant_s == 180
    assert m.temperature_c == m.ambient_c == 22.0
