"""One call that applies settings to a device, as ``massagectl set`` and the gateway's ``set``
topic both do: everything is checked against the device (ranges, the heater, the built-in
program's name or number) before anything is sent, so that one bad value changes nothing.

The ranges, the program lookup and the heat names are checked here and nowhere else; a surface
only reads what it was given into :class:`Settings` and names its own fields in the errors
(:class:`FieldNames`: ``--speed`` on the command line, ``speed level`` on MQTT).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..device import Massager
from ..errors import ValueOutOfRange
from ..mapping import fraction_to_level, heat_name_to_level


class NoSuchProgram(ValueOutOfRange):
    """A built-in program named that the device does not have; ``known`` are the ones it has,
    for a surface that lists them its own way."""

    def __init__(self, device: str, wanted: str, known: tuple[str, ...]) -> None:
        listed = ", ".join(f"{i} {n}" for i, n in enumerate(known, start=1)) or "none"
        super().__init__(f"{device}: no built-in program {wanted!r} (known: {listed})")
        self.wanted = wanted
        self.known = known


@dataclass(frozen=True, slots=True)
class Settings:
    """What to set on a device; None leaves that control as it is."""

    #: Speed as a fraction of the device's range, 0 (off) to 1.
    speed: float | None = None
    #: Speed as a device level (give this or :attr:`speed`).
    speed_level: int | None = None
    #: Heat: off, low, medium, high, or a level (a number, or its digits as text).
    heat: str | int | None = None
    #: A built-in program: its number (0 ends the running one), its digits, or its name.
    program: str | int | None = None


@dataclass(frozen=True, slots=True)
class FieldNames:
    """How a surface names each setting in its error messages."""

    speed: str = "speed level"
    heat: str = "heat level"
    program: str = "program"


@dataclass(frozen=True, slots=True)
class Levels:
    """Settings resolved to what the device is sent (None: not sent)."""

    program: int | None = None
    speed: int | None = None
    heat: int | None = None


def resolve_settings(m: Massager, s: Settings, names: FieldNames = FieldNames()) -> Levels:
    """The levels ``s`` means on ``m``; :class:`ValueOutOfRange` naming the first that cannot
    be. Sends nothing."""
    info = m.info
    speed = s.speed_level
    if s.speed is not None:
        try:
            speed = fraction_to_level(s.speed, info.speed_levels)
        except ValueOutOfRange as exc:
            raise ValueOutOfRange(f"{m.name}: speed {exc}") from None
        if s.speed > 0 and info.speed_levels == 0:
            raise ValueOutOfRange(f"{m.name}: this device has no motor")
    if speed is not None:
        _check(m, names.speed, speed, info.speed_levels, "motor")
    heat = _heat_level(m, s.heat, names) if s.heat is not None else None
    program = _program_index(m, s.program, names) if s.program is not None else None
    return Levels(program=program, speed=speed, heat=heat)


async def apply_settings(m: Massager, s: Settings, names: FieldNames = FieldNames()) -> Levels:
    """Check every setting in ``s`` against ``m``, then send them: the program first (it drives
    the motor), then speed, then heat. Nothing is sent when any of them is refused."""
    levels = resolve_settings(m, s, names)
    if levels.program is not None:
        await m.run_program(levels.program)
    if levels.speed is not None:
        await m.set_speed_level(levels.speed)
    if levels.heat is not None:
        await m.set_heat(levels.heat)
    return levels


def _heat_level(m: Massager, heat: str | int, names: FieldNames) -> int:
    levels = m.info.heat_levels
    if isinstance(heat, str) and _is_number(heat):
        heat = int(heat.strip())
    if isinstance(heat, str):
        if heat.strip().lower() != "off" and levels == 0:
            raise ValueOutOfRange(f"{m.name}: this device has no heater")
        try:
            return heat_name_to_level(heat.strip(), levels)
        except ValueOutOfRange as exc:
            raise ValueOutOfRange(f"{m.name}: {exc}") from None
    _check(m, names.heat, heat, levels, "heater")
    return heat


def _program_index(m: Massager, program: str | int, names: FieldNames) -> int:
    info = m.info
    if isinstance(program, str) and _is_number(program):
        program = int(program.strip())
    if isinstance(program, int):
        if isinstance(program, bool) or not 0 <= program <= info.program_count:
            raise ValueOutOfRange(
                f"{m.name}: {names.program} {program} is outside 0..{info.program_count}"
                + ("" if info.program_count else " (this device has no built-in programs)")
            )
        return program
    wanted = program.strip().lower()
    for i, name in enumerate(info.program_names, start=1):
        if name.lower() == wanted:
            return i
    raise NoSuchProgram(m.name, program, tuple(info.program_names))


def _check(m: Massager, what: str, value: int, top: int, lacking: str) -> None:
    if isinstance(value, bool):
        raise ValueOutOfRange(f"{m.name}: {what} {value!r} is not a whole number")
    if top == 0 and value != 0:
        raise ValueOutOfRange(f"{m.name}: this device has no {lacking}")
    if not 0 <= value <= top:
        raise ValueOutOfRange(f"{m.name}: {what} {value} is outside 0..{top}")


def _is_number(text: str) -> bool:
    # ASCII digits only: str.isdigit also takes "²", which int() refuses.
    t = text.strip()
    return t.isascii() and t.isdigit()
