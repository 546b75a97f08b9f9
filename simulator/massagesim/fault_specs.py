"""The ``--fault NAME[=VALUE][@SECONDS]`` form of the simulator's faults, for ``massagectl sim``.

The same faults as :class:`~massagesim.fault_injection.FaultInjector`'s methods, for people
testing their own apps against a served device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from massagectl.errors import UsageError

from .lies import LIE_FAULTS


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One ``--fault NAME[=VALUE][@SECONDS]``: which fault, its value, and when (from the start)."""

    name: str
    value: float | None = None
    at: float = 0.0

    @property
    def text(self) -> str:
        """The fault as it would be written on the command line."""
        value = "" if self.value is None else f"={self.value:g}"
        at = f"@{self.at:g}" if self.at else ""
        return f"{self.name}{value}{at}"

    def __str__(self) -> str:
        return self.text


#: Every fault ``--fault`` knows: whether its value is required (True), optional (None) or not
#: taken (False), and what it does.
FAULTS: Final[dict[str, tuple[bool | None, str]]] = {
    "garble": (None, "garble what the device sends, each chunk with probability P (default 1)"),
    "late": (True, "answers go out SECONDS late (wall time)"),
    "mute": (False, "the device sends nothing, and keeps obeying"),
    "refuse": (None, "refuse the next N commands that start something (default 1)"),
    "drop": (False, "drop the link (give @SECONDS)"),
    "overheat": (False, "the heater hits its cut-out: heat cut, OVERHEAT"),
    "runaway": (True, "a failed thermostat: the heater aims for CELSIUS while on"),
    "motor": (False, "the motor stalls: MOTOR, it cannot start"),
    "battery": (True, "set the battery to PERCENT"),
    "low-battery": (False, "run the battery down to the profile's low-battery level"),
    "auto-off": (True, "the device's auto-off after SECONDS of continuous activity"),
    **{name: (True, text) for name, (_, text) in LIE_FAULTS.items()},
}

_SPEC = re.compile(r"^(?P<name>[a-z-]+)(?:=(?P<value>[^@]+))?(?:@(?P<at>.+))?$")


def parse_fault(text: str) -> FaultSpec:
    """Parse ``NAME[=VALUE][@SECONDS]``; raise :class:`~massagectl.errors.UsageError` naming
    what is wrong."""
    m = _SPEC.match(text.strip())
    known = ", ".join(FAULTS)
    if m is None or m["name"] not in FAULTS:
        raise UsageError(f"--fault {text!r}: expected NAME[=VALUE][@SECONDS], NAME one of {known}")
    name = m["name"]
    wants, _ = FAULTS[name]
    value = _number(text, m["value"], "value") if m["value"] is not None else None
    if wants is True and value is None:
        raise UsageError(f"--fault {text!r}: {name} needs a value ({name}=...)")
    if wants is False and value is not None:
        raise UsageError(f"--fault {text!r}: {name} takes no value")
    if name == "garble" and value is not None and not 0 <= value <= 1:
        raise UsageError(f"--fault {text!r}: the garble probability must be within 0..1")
    if name == "refuse" and value is not None and (value < 1 or value != int(value)):
        raise UsageError(f"--fault {text!r}: refuse takes a whole number of commands, 1 or more")
    if value is not None and value < 0:
        raise UsageError(f"--fault {text!r}: the value must not be negative")
    at = _number(text, m["at"], "time") if m["at"] is not None else 0.0
    if at < 0:
        raise UsageError(f"--fault {text!r}: the time must not be negative")
    if name == "drop" and at == 0:
        raise UsageError(f"--fault {text!r}: a drop needs a time (drop@SECONDS): no link yet")
    return FaultSpec(name, value, at)


def _number(text: str, raw: str, what: str) -> float:
    try:
        value = float(raw.strip().removesuffix("s"))
    except ValueError:
        raise UsageError(f"--fault {text!r}: the {what} {raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"--fault {text!r}: the {what} {raw!r} is not a finite number")
    return value


__all__ = ["FAULTS", "FaultSpec", "parse_fault"]
