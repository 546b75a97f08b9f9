"""What may arrive on a device's ``set`` topic, checked before anything reaches a device.

A command is a JSON object; bare ``stop``, ``ON`` and ``OFF`` are accepted too, for people typing
at ``mosquitto_pub``. Any other payload is refused with one line naming the field and the
problem (sent to the error topic); the device is not touched.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

#: Larger than any sensible inline program, small enough that a hostile payload costs nothing.
MAX_PAYLOAD_BYTES: Final = 64 * 1024
#: How deep objects and lists may nest in a command. An inline program needs five or six
#: levels; hundreds would exhaust the recursion of the program loader (PyYAML) further on.
MAX_DEPTH: Final = 32

Control = Literal["pause", "resume", "next", "previous", "extend_hold", "end_hold"]

#: The ``run`` value that ends a running program (Home Assistant's program select offers it).
NO_PROGRAM: Final = "none"


class CommandError(ValueError):
    """A command that cannot be carried out as sent; the message is one line."""

    def __init__(self, message: str, request_id: str | int | None = None) -> None:
        super().__init__(message)
        #: The command's ``id`` when it could be read, so that the sender hears back.
        self.request_id = request_id


#: Fields that take numbers (or names) but never true or false, and what they take instead.
_NOT_BOOLEAN: Final[dict[str, str]] = {
    "id": "a string or a whole number",
    "speed": "a percentage from 0 to 100",
    "speed_level": "a level from 0",
    "heat": "off, low, medium, high or a level",
    "device_program": "a program name or number",
    "intensity": "a percentage from 0 to 150",
}


class SetCommand(BaseModel):
    """One command. Fields combine where it makes sense (speed with heat); ``stop``, ``run``
    and ``control`` stand alone."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    #: Echoed in the reply (on the ``reply`` topic) so that a client can match it.
    id: Annotated[str, Field(max_length=128)] | int | None = None
    #: Who sends it (``mqtt://`` clients name themselves; Home Assistant does not).
    client: Annotated[str, Field(max_length=128)] | None = None
    #: Carry out only if ``if_owner`` made the device active last (a client's last will uses
    #: it, so that a dead client stops what it started and nothing else).
    if_owner: Annotated[str, Field(max_length=128)] | None = None

    stop: Literal[True] | None = None
    #: The person ends the device's session before its rest is over (see docs/safety.md).
    safety_reset: Literal[True] | None = None
    #: The fan's on/off: ON resumes the last speed set here (or the lowest), OFF stops.
    power: Literal["ON", "OFF", "on", "off"] | None = None
    #: Percent of the device's speed range, 0 (off) to 100.
    speed: Annotated[float, Field(ge=0, le=100)] | None = None
    #: A speed level, 0 (off) to the device's top level.
    speed_level: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    #: off, low, medium, high, or a level.
    heat: Annotated[str, Field(max_length=16)] | Annotated[int, Field(ge=0, le=255)] | None = None
    #: One of the device's own programs, by name or number (1-based); 0 or "none" ends it.
    device_program: Annotated[str, Field(max_length=64)] | Annotated[int, Field(ge=0)] | None = None
    #: A massagectl program to run on the gateway: a preset name, an inline program (the YAML
    #: format as JSON), or "none" to end the running one.
    run: Annotated[str, Field(max_length=64)] | dict[str, Any] | None = None
    #: A live control of the running program.
    control: Control | None = None
    #: The running program's intensity, percent (0 to 150).
    intensity: Annotated[float, Field(ge=0, le=150)] | None = None

    @field_validator(*_NOT_BOOLEAN, mode="before")
    @classmethod
    def _no_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        # JSON true and false are numbers to pydantic (1 and 0): {"heat": true} would heat at
        # level 1, {"speed": true} run at 1 %. A sender that means something else is told.
        if isinstance(value, bool):
            raise ValueError(f"must be {_NOT_BOOLEAN[str(info.field_name)]}, not true or false")
        return value

    @model_validator(mode="after")
    def _one_intent(self) -> SetCommand:
        manual = [
            name
            for name in ("power", "speed", "speed_level", "heat", "device_program")
            if getattr(self, name) is not None
        ]
        program = [
            name for name in ("run", "control", "intensity") if getattr(self, name) is not None
        ]
        if self.stop and (manual or program):
            raise ValueError(f"stop takes no other field (got {', '.join(manual + program)})")
        if self.safety_reset and (self.stop or manual or program):
            others = (["stop"] if self.stop else []) + manual + program
            raise ValueError(f"safety_reset takes no other field (got {', '.join(others)})")
        if manual and program:
            raise ValueError(f"{', '.join(program)} cannot be combined with {', '.join(manual)}")
        if self.run is not None and self.control is not None:
            raise ValueError("run starts a program; send control on its own afterwards")
        if self.power is not None and self.device_program is not None:
            raise ValueError("a device program sets its own speed: give power or device_program")
        if self.speed is not None and self.speed_level is not None:
            raise ValueError("give speed (percent) or speed_level, not both")
        if self.power is not None and (self.speed is not None or self.speed_level is not None):
            raise ValueError("give power or a speed, not both")
        if self.device_program is not None and (
            self.speed is not None or self.speed_level is not None
        ):
            raise ValueError("a device program sets its own speed: give one or the other")
        if not (self.stop or self.safety_reset or manual or program):
            raise ValueError("nothing to do: give stop, speed, heat, device_program, run, ...")
        return self

    @property
    def is_manual(self) -> bool:
        """Whether it sets the device directly (ending a running massagectl program)."""
        return any(
            getattr(self, name) is not None
            for name in ("power", "speed", "speed_level", "heat", "device_program")
        )


def parse_command(payload: bytes) -> SetCommand:
    """Read one command; :class:`CommandError` says what is wrong in one line."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CommandError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("payload is not UTF-8 text") from None
    word = text.strip()
    if word in ("stop", "STOP"):
        return SetCommand(stop=True)
    if word in ("ON", "OFF", "on", "off"):
        return SetCommand(power=word)  # type: ignore[arg-type]  # checked just above
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deep"
        raise CommandError(
            f'payload is not JSON ({detail}); expected an object such as {{"speed": 40}}'
        ) from None
    except _DuplicateKey as exc:
        raise CommandError(f"{_shown_name(exc.key)}: given twice in one object") from None
    except ValueError as exc:
        # Python refuses integers of more than 4300 digits (int_max_str_digits); no field
        # takes such a number, so the payload is refused like any other bad value.
        del exc
        limit = sys.get_int_max_str_digits()
        raise CommandError(f"payload holds a number of over {limit} digits") from None
    if not isinstance(raw, dict):
        raise CommandError('payload must be a JSON object such as {"speed": 40}')
    request_id = raw.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
        request_id = None
    if _too_deep(raw):
        message = f"payload nests lists and objects over {MAX_DEPTH} levels deep"
        raise CommandError(message, request_id)
    try:
        return SetCommand.model_validate(raw)
    except ValidationError as exc:
        raise CommandError(_one_line(exc), request_id) from None


class _DuplicateKey(ValueError):
    """A JSON object names a key twice (raised while parsing, turned into a CommandError)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys: {"stop": true, "stop": null, "speed": 50}
    # would read as a speed, though the sender wrote a stop first. Which one was meant cannot
    # be known, so neither is carried out (as the YAML loader refuses a key given twice).
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise _DuplicateKey(key)
        doc[key] = value
    return doc


def _too_deep(doc: object) -> bool:
    """Whether lists and objects nest in ``doc`` over :data:`MAX_DEPTH` levels (no recursion:
    the point is to refuse what recursion cannot take)."""
    pending: list[tuple[object, int]] = [(doc, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > MAX_DEPTH:
            return True
        pending.extend((child, level + 1) for child in children)
    return False


#: Fields that take one of several types: pydantic reports each alternative; people want one.
_EITHER: Final[dict[str, str]] = {
    "id": "must be a string or a whole number",
    "client": "must be a string",
    "if_owner": "must be a string",
    "heat": "must be off, low, medium, high or a level from 0 to 255",
    "device_program": "must be one of the device's program names or a number from 0",
    "run": 'must be a preset name, an inline program (a JSON object) or "none"',
}


#: A field name shown as it is; anything else (an unknown field named by the sender) is quoted
#: and cut short, so that the message stays one short line.
_PLAIN_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = first["loc"]
    field = str(loc[0]) if loc else ""
    if field:
        field = _shown_name(field)
    value = first.get("input")
    if first["type"] == "extra_forbidden":
        return f"{field}: unknown field"
    if field in _EITHER and (len(loc) > 1 or first["type"] != "value_error"):
        message = _EITHER[field]
    else:
        message = first["msg"].removeprefix("Value error, ")
    shown = ""
    if field and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        shown = f" (got {json.dumps(value)[:40]})"
    elif field and isinstance(value, bool):
        shown = f" (got {json.dumps(value)})"
    return f"{field}: {message}{shown}" if field else message


def _shown_name(field: str) -> str:
    """A field name as it is when it is a plain name, else quoted and cut short."""
    if _PLAIN_NAME.fullmatch(field):
        return field
    return json.dumps(field if len(field) <= 32 else f"{field[:32]}...")
