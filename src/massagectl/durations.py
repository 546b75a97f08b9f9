"""Durations as people write them: ``90s``, ``5m``, ``1m30s``, ``1h``, or a number of seconds."""

from __future__ import annotations

import math
import re

from .errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: str | float | int, *, what: str = "duration") -> float:
    """Seconds from ``90s``, ``5m``, ``1m30s``, ``1h``, ``250ms`` or a plain number."""
    if isinstance(value, bool):
        raise UsageError(f"{what} {value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        if text.startswith("-"):
            raise UsageError(f"{what} {value!r} must not be negative")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT_S[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise UsageError(
                    f"{what} {value!r} is not a duration (try 90s, 5m, 1m30s or seconds)"
                ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"{what} {value!r} must be zero or more seconds")
    return seconds


def format_duration(seconds: float) -> str:
    """``1m30s`` style, for display."""
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s or not total else ""]
    return "".join(parts)
