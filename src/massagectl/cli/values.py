"""Reading what people type for speed, heat and programs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError
from ..mapping import HEAT_NAMES, percent_fraction


@dataclass(frozen=True, slots=True)
class Amount:
    """A speed or heat given either as a fraction of the range or as a device level."""

    fraction: float | None = None
    level: int | None = None
    name: str | None = None


#: A level number: ASCII digits only (``str.isdigit`` also takes ``²``, which ``int`` refuses).
_LEVEL = re.compile(r"[0-9]+")


def is_level(text: str) -> bool:
    """Whether ``text`` is a level number (``5``), which ``int`` reads."""
    return _LEVEL.fullmatch(text) is not None


def parse_speed(text: str) -> Amount:
    """``40%`` (a fraction of the range) or ``5`` (a level)."""
    t = text.strip()
    fraction = percent_fraction(t)
    if fraction is not None:
        if fraction > 1:
            raise UsageError(f"--speed {text!r}: a percentage is at most 100%")
        return Amount(fraction=fraction)
    if is_level(t):
        return Amount(level=int(t))
    raise UsageError(f"--speed {text!r}: use a percentage such as 40% or a level number such as 5")


def parse_heat(text: str) -> Amount:
    """``off``, ``low``, ``medium``, ``high`` or a level number."""
    t = text.strip().lower()
    if t in HEAT_NAMES:
        return Amount(name=t)
    if is_level(t):
        return Amount(level=int(t))
    raise UsageError(f"--heat {text!r}: use off, low, medium, high or a level number")


def parse_intensity(text: str) -> float:
    """``80%`` → 0.8; from 0 % to 150 %."""
    value = percent_fraction(text)
    if value is None:
        raise UsageError(f"--intensity {text!r}: use a percentage such as 80%")
    if value > 1.5:
        raise UsageError(f"--intensity {text!r}: from 0% to 150%")
    return value
