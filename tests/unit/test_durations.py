"""Durations as people write them."""

from __future__ import annotations

import pytest

from massagectl.durations import format_duration, parse_duration
from massagectl.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("1m30s", 90),
        ("1h", 3600),
        ("250ms", 0.25),
        ("12", 12),
        ("2.5", 2.5),
        (45, 45),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5x", "m5", "-3", "1m-3s", "soon"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(bad)


def test_format_duration() -> None:
    assert format_duration(90) == "1m30s"
    assert format_duration(3600) == "1h"
    assert format_duration(0) == "0s"
