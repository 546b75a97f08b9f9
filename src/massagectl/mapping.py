"""How fractions and heat names become device levels, the same everywhere in the project.

A fraction f > 0 becomes level ``round(f * levels)`` with halves rounded up, and at least 1;
0 is off. Heat names are fractions of the heat range: low = 1/3, medium = 2/3, high = 1.
"""

from __future__ import annotations

import math
import re
from typing import Final

from .errors import ValueOutOfRange

HEAT_NAMES: Final[dict[str, float]] = {"off": 0.0, "low": 1 / 3, "medium": 2 / 3, "high": 1.0}


def fraction_to_level(fraction: float, levels: int) -> int:
    """Map a fraction of the device's range (0..1) to a level (0..levels).

    >>> fraction_to_level(0.4, 13)
    5
    >>> fraction_to_level(0.01, 13)
    1
    """
    if not 0.0 <= fraction <= 1.0 or math.isnan(fraction):
        raise ValueOutOfRange(f"fraction {fraction!r} is outside 0..1")
    if levels <= 0 or fraction == 0.0:
        return 0
    # Rounding to 9 places first keeps 0.35 * 10 (3.4999999999999996 in binary) at 3.5, so that
    # "halves round up" holds for the percentages people actually type.
    scaled = round(fraction * levels, 9)
    return max(1, min(levels, math.floor(scaled + 0.5)))


def heat_name_to_level(name: str, levels: int) -> int:
    """Map ``off``, ``low``, ``medium`` or ``high`` to a heat level of a device with ``levels``."""
    try:
        fraction = HEAT_NAMES[name.lower()]
    except KeyError:
        raise ValueOutOfRange(
            f"heat {name!r} is not one of {', '.join(HEAT_NAMES)} or a level number"
        ) from None
    return fraction_to_level(fraction, levels)


def level_to_fraction(level: int, levels: int) -> float:
    """The fraction a level stands for (its inverse for display, not an exact round trip)."""
    return 0.0 if levels <= 0 else level / levels


_PERCENT = re.compile(r"\s*(-?)(\d+(?:\.\d+)?)\s*%\s*")


def percent_fraction(text: str, *, signed: bool = False) -> float | None:
    """``40%`` as the fraction 0.4; None if ``text`` is not a percentage (a negative one is
    one only when ``signed``, for a caller whose own range check then names it).

    >>> percent_fraction(" 80 % ")
    0.8
    >>> percent_fraction("-5%") is None
    True
    """
    match = _PERCENT.fullmatch(text)
    if match is None or (match.group(1) and not signed):
        return None
    return float(match.group(1) + match.group(2)) / 100
