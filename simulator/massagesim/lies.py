"""A device that lies: values a simulated firmware reports in place of the true ones.

A broken sensor, a firmware bug or a device that is not the model its profile describes can
report what cannot be: speed 255 of 10, 900 °C, a battery at 250 %, fault bits the protocol does
not define. :class:`Lies` holds what the firmware says instead; every firmware has one as
``firmware.lies`` (``device.lies`` on the :class:`~massagesim.SimulatedDevice` handle), and puts
it into each status it sends. The device itself goes on as before: it obeys the host, and its
own record (the timeline, ``massagectl sim``'s state lines) keeps the truth.

``massagectl sim --fault lie-speed=255`` and the other :data:`LIE_FAULTS` set the same from the
command line. What each family can be made to lie about is what its messages carry
(:data:`CARRIED`): an OMP/1 STATUS carries every field; a Theragun status only the speed; a
Lovense device only its battery answer; a RongTai status the speed and the program.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from massagectl.profiles import Profile
from massagectl.protocols.omp import NO_SENSOR, Fault, Status
from massagectl.protocols.rongtai import RongTaiStatus
from massagectl.protocols.theragun import TheragunStatus


@dataclass
class Lies:
    """What the firmware reports instead of the truth; None (0 for the fault bits): the truth."""

    speed: int | None = None
    heat: int | None = None
    program: int | None = None
    temperature_c: float | None = None
    battery: int | None = None
    #: Fault bits reported on top of the true ones (OMP/1's STATUS ``faults`` byte).
    fault_bits: int = 0

    def clear(self) -> None:
        """Tell the truth again."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, f.default)

    def omp(self, status: Status) -> Status:
        """An OMP/1 STATUS with the lies put in."""
        if self == _TRUTH:
            return status
        temp_dc = status.temp_dc
        if self.temperature_c is not None:
            temp_dc = max(-0x8000, min(NO_SENSOR - 1, round(self.temperature_c * 10)))
        return dataclasses.replace(
            status,
            speed=_or(self.speed, status.speed),
            heat=_or(self.heat, status.heat),
            program=_or(self.program, status.program),
            temp_dc=temp_dc,
            battery=_or(self.battery, status.battery),
            faults=Fault(int(status.faults) | self.fault_bits),
        )

    def theragun(self, status: TheragunStatus) -> TheragunStatus:
        """A Theragun status with the speed lie put in (a gun that says it runs at that speed)."""
        if self.speed is None:
            return status
        return TheragunStatus(running=True, rpm=self.speed)

    def rongtai(self, status: RongTaiStatus) -> RongTaiStatus:
        """A RongTai status with the speed and program lies put in."""
        if self.speed is None and self.program is None:
            return status
        return dataclasses.replace(
            status,
            speed=_or(self.speed, status.speed),
            auto_program=_or(self.program, status.auto_program),
        )

    def lovense_battery(self, percent: int) -> int:
        """The battery charge a Lovense device answers ``Battery;`` with."""
        return _or(self.battery, percent)


_TRUTH: Final = Lies()


def _or(lie: int | None, truth: int) -> int:
    return truth if lie is None else lie


#: The ``--fault`` names that make a device lie: the :class:`Lies` field each sets, and help.
LIE_FAULTS: Final[dict[str, tuple[str, str]]] = {
    "lie-speed": ("speed", "report speed N, whatever the motor does"),
    "lie-heat": ("heat", "report heat level N"),
    "lie-program": ("program", "report built-in program N running"),
    "lie-temperature": ("temperature_c", "report CELSIUS as the temperature"),
    "lie-battery": ("battery", "report PERCENT as the battery charge"),
    "lie-fault-bits": ("fault_bits", "report fault bits N (a number) on top of the true ones"),
}

#: Per protocol: the largest value each field its messages carry can hold.
CARRIED: Final[dict[str, dict[str, float]]] = {
    "omp": {
        "speed": 0xFF,
        "heat": 0xFF,
        "program": 0xFF,
        "temperature_c": (NO_SENSOR - 1) / 10,
        "battery": 0xFE,  # 0xFF means mains powered
        "fault_bits": 0xFF,
    },
    "theragun": {"speed": 0xFFFF},
    "lovense": {"battery": 999},
    "rongtai": {"speed": 7, "program": 15},
}


def lie_problem(profile: Profile, name: str, value: float | None) -> str | None:
    """What ``profile``'s device lacks to tell the lie ``--fault name=value`` (it completes
    "PROFILE has ..."); None when it can tell it."""
    field = LIE_FAULTS[name][0]
    top = CARRIED.get(profile.protocol, {}).get(field)
    if top is None:
        return f"no {field.removesuffix('_c')} in what it reports, to lie about"
    if value is None or value > top or (field != "temperature_c" and value != int(value)):
        shown = "nothing" if value is None else f"{value:g}"
        kind = "a number" if field == "temperature_c" else "a whole number"
        return f"room for {kind} from 0 to {top:g} there, not {shown}"
    return None


def tell(lies: Lies, name: str, value: float) -> None:
    """Set the lie ``--fault name=value`` (checked first with :func:`lie_problem`)."""
    field = LIE_FAULTS[name][0]
    setattr(lies, field, float(value) if field == "temperature_c" else int(value))


__all__ = ["CARRIED", "LIE_FAULTS", "Lies", "lie_problem", "tell"]
