"""Fractions and heat names to levels: the one rule used everywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massagectl.errors import ValueOutOfRange
from massagectl.mapping import fraction_to_level, heat_name_to_level


@pytest.mark.parametrize(
    ("fraction", "levels", "level"),
    [
        (0.0, 13, 0),
        (0.4, 13, 5),  # 5.2
        (0.5, 13, 7),  # 6.5: halves round up
        (0.35, 10, 4),  # 3.5 exactly as typed, not 3.4999...
        (0.25, 10, 3),  # 2.5
        (0.01, 13, 1),  # above zero is at least level 1
        (1.0, 13, 13),
        (0.5, 20, 10),
    ],
)
def test_fraction_to_level(fraction: float, levels: int, level: int) -> None:
    assert fraction_to_level(fraction, levels) == level


@pytest.mark.parametrize(
    ("name", "levels", "level"),
    [
        ("low", 2, 1),
        ("medium", 2, 1),
        ("high", 2, 2),
        ("low", 6, 2),
        ("medium", 6, 4),
        ("high", 6, 6),
        ("low", 1, 1),
        ("off", 6, 0),
    ],
)
def test_heat_names(name: str, levels: int, level: int) -> None:
    assert heat_name_to_level(name, levels) == level


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_out_of_range_fraction_is_refused(bad: float) -> None:
    with pytest.raises(ValueOutOfRange):
        fraction_to_level(bad, 10)


def test_unknown_heat_name_is_refused() -> None:
    with pytest.raises(ValueOutOfRange, match="scorching"):
        heat_name_to_level("scorching", 2)


@given(st.floats(0, 1), st.integers(1, 255))
def test_level_is_always_in_range_and_only_zero_is_off(fraction: float, levels: int) -> None:
    level = fraction_to_level(fraction, levels)
    assert 0 <= level <= levels
    assert (level == 0) == (fraction == 0)
