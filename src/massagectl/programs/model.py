"""The program format, as pydantic models: the same model for YAML files and Python code.

A program is device-independent: speed is a fraction of the device's range (``40%``) or a level
(``{level: 5}``), heat a named level (``off``, ``low``, ``medium``, ``high``) or a level, and
durations are ``90s``, ``5m``, ``1m30s`` or seconds. Steps can glide in (``ramp``), follow a
``pattern`` (steady, pulse, wave), be a ``hold`` the person can extend or end, or run the
device's own program. ``repeat`` nests steps; ``use`` repeats an earlier step by name.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from ..durations import parse_duration
from ..errors import UsageError
from ..mapping import percent_fraction


def _duration(value: Any) -> float:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return parse_duration(value)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError("a duration is 90s, 5m, 1m30s or a number of seconds")


#: Seconds, written as ``90s``, ``5m``, ``1m30s`` or a number.
Duration = Annotated[float, BeforeValidator(_duration)]


def _percent(value: Any) -> float:
    if isinstance(value, str):
        fraction = percent_fraction(value, signed=True)
        if fraction is not None:
            return fraction
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # A fraction, as Python code naturally writes it (Wave(low=0.4, ...)).
        return float(value)
    raise ValueError(f"{value!r} is not a percentage such as 40% (or a fraction such as 0.4)")


#: A fraction of a range, written as a percentage (``40%``).
Percent = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Speed(_Model):
    """A speed: a fraction of the device's range, or one of its levels."""

    fraction: Annotated[float, Field(ge=0, le=1)] | None = None
    level: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"fraction": _percent(value)}
        if isinstance(value, dict) and set(value) == {"level"}:
            return value
        if isinstance(value, dict | Speed):
            return value
        raise ValueError("speed is a percentage such as 40% or {level: N}")

    @model_validator(mode="after")
    def _one_of(self) -> Speed:
        if (self.fraction is None) == (self.level is None):
            raise ValueError("speed is either a percentage or a level")
        return self


HeatName = Literal["off", "low", "medium", "high"]


class Heat(_Model):
    """A heat setting: a named level, or one of the device's levels."""

    name: HeatName | None = None
    level: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted ``off`` as false; it still means off.
        if value is False or value is None:
            return {"name": "off"}
        if isinstance(value, str):
            return {"name": value.strip().lower()}
        if isinstance(value, dict | Heat):
            return value
        raise ValueError("heat is off, low, medium, high or {level: N}")

    @model_validator(mode="after")
    def _one_of(self) -> Heat:
        if (self.name is None) == (self.level is None):
            raise ValueError("heat is either a name or a level")
        return self

    @property
    def is_off(self) -> bool:
        """Whether this heat setting is off."""
        return self.name == "off" or self.level == 0


HEAT_OFF = Heat(name="off")


class Steady(_Model):
    """The speed held as it is."""

    kind: Literal["steady"] = "steady"


class Pulse(_Model):
    """The speed on for ``on`` seconds, then off for ``off`` seconds, over and over: tapping."""

    kind: Literal["pulse"] = "pulse"
    on: Annotated[Duration, Field(gt=0)]
    off: Annotated[Duration, Field(gt=0)]


class Wave(_Model):
    """The speed swells between ``low`` and ``high`` and back once a ``period``: kneading."""

    kind: Literal["wave"] = "wave"
    period: Annotated[Duration, Field(gt=0)]
    low: Percent
    high: Percent

    @model_validator(mode="after")
    def _ordered(self) -> Wave:
        if self.low > self.high:
            raise ValueError("a wave's low must not be above its high")
        return self


Pattern = Annotated[Steady | Pulse | Wave, Field(discriminator="kind")]


def _pattern(value: Any) -> Any:
    if isinstance(value, str):
        return {"kind": value}
    if isinstance(value, dict) and len(value) == 1:
        ((kind, params),) = value.items()
        if isinstance(params, dict):  # {wave: {period: 6s, low: 40%, high: 80%}}
            return {"kind": kind, **params}
    return value


class Step(_Model):
    """One phase of a program."""

    name: Annotated[str, Field(min_length=1)]
    duration: Annotated[Duration, Field(gt=0)]
    #: Unset means the motor is off (a heat-only step), unless ``pattern`` is a wave.
    speed: Speed | None = None
    heat: Heat = HEAT_OFF
    #: Glide from the previous step's values over this long.
    ramp: Annotated[Duration, Field(ge=0)] = 0.0
    pattern: Annotated[Pattern, BeforeValidator(_pattern)] = Steady()
    #: What the person should do during the step.
    cue: str = ""
    #: A hold on a sensitive spot: the person can extend it up to ``max_duration`` or end it.
    hold: bool = False
    max_duration: Annotated[Duration, Field(gt=0)] | None = None
    #: Run the device's own program N for the step instead of a speed.
    device_program: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        if self.hold and self.max_duration is None:
            raise ValueError("a hold needs max_duration (how long the person may extend it)")
        if self.max_duration is not None:
            if not self.hold:
                raise ValueError("max_duration is only for a hold: true step")
            if self.max_duration < self.duration:
                raise ValueError("max_duration must be at least the step's duration")
        if self.ramp > self.duration:
            raise ValueError("ramp must not be longer than the step")
        if self.device_program is not None and (
            self.speed is not None or not isinstance(self.pattern, Steady)
        ):
            raise ValueError("a device_program step takes no speed or pattern")
        if isinstance(self.pattern, Pulse) and self.speed is None:
            raise ValueError("a pulse needs a speed for its on phase")
        if isinstance(self.pattern, Wave) and self.speed is not None:
            raise ValueError("a wave takes its speeds from low and high, not speed")
        return self


class Use(_Model):
    """Repeat an earlier step, by name (a finish that goes back through the gentle phases)."""

    use: Annotated[str, Field(min_length=1)]


def _item_kind(value: Any) -> str:
    # Pick the model by its key, so that an error speaks of the right fields.
    if isinstance(value, dict):
        return "repeat" if "repeat" in value else "use" if "use" in value else "step"
    if isinstance(value, Repeat):
        return "repeat"
    return "use" if isinstance(value, Use) else "step"


StepItem = Annotated[
    Annotated[Step, Tag("step")] | Annotated["Repeat", Tag("repeat")] | Annotated[Use, Tag("use")],
    Discriminator(_item_kind),
]


class Repeat(_Model):
    """A block of steps done ``repeat`` times."""

    repeat: Annotated[int, Field(ge=1)]
    steps: Annotated[list[StepItem], Field(min_length=1)]


class LocatedError(ValueError):
    """A program-wide check that failed at one place; ``loc`` is where, as in pydantic."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class StepReferenceError(LocatedError):
    """A ``use`` or a step name that does not resolve."""


#: The most steps a program may run once every ``repeat`` is unrolled: far more than any
#: massage, and few enough that unrolling them (check, show, run) costs no noticeable time or
#: memory. ``repeat: 1000000000`` would otherwise take every byte of memory there is.
MAX_STEPS: Final = 10_000


Need = Literal["speed", "heat"]


class Program(_Model):
    """A massage program."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: Annotated[str, Field(min_length=1)]
    summary: str = ""
    #: The routine it follows.
    based_on: str = ""
    needs: list[Need] = ["speed"]
    #: When not to use it.
    cautions: list[str] = []
    steps: Annotated[list[StepItem], Field(min_length=1)]

    @field_validator("needs", mode="before")
    @classmethod
    def _needs_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _uses_resolve(self) -> Program:
        _check_names(self.steps, set(), ("steps",))
        _count_steps(self.steps, ("steps",))
        return self

    def step_definitions(self) -> dict[str, Step]:
        """Every step defined in the program, by name (``use`` refers to these)."""
        out: dict[str, Step] = {}
        _collect(self.steps, out)
        return out


def _check_names(items: list[StepItem], defined: set[str], loc: tuple[str | int, ...]) -> None:
    for i, item in enumerate(items):
        if isinstance(item, Step):
            if item.name in defined:
                raise StepReferenceError(
                    (*loc, i, "name"),
                    f"step name {item.name!r} is defined twice; repeat a step with use:",
                )
            defined.add(item.name)
        elif isinstance(item, Use):
            if item.use not in defined:
                raise StepReferenceError(
                    (*loc, i, "use"), f"use: {item.use!r} names no earlier step"
                )
        else:
            _check_names(item.steps, defined, (*loc, i, "steps"))


def _count_steps(items: list[StepItem], loc: tuple[str | int, ...]) -> int:
    """How many steps ``items`` run, repeats unrolled; LocatedError beyond :data:`MAX_STEPS`."""
    total = 0
    for i, item in enumerate(items):
        if isinstance(item, Repeat):
            total += item.repeat * _count_steps(item.steps, (*loc, i, "steps"))
        else:
            total += 1
        if total > MAX_STEPS:
            where = (*loc, i, "repeat") if isinstance(item, Repeat) else (*loc, i)
            raise LocatedError(
                where, f"the program would run more than {MAX_STEPS} steps (repeats unrolled)"
            )
    return total


def _collect(items: list[StepItem], out: dict[str, Step]) -> None:
    for item in items:
        if isinstance(item, Step):
            out[item.name] = item
        elif isinstance(item, Repeat):
            _collect(item.steps, out)


Repeat.model_rebuild()
Program.model_rebuild()
