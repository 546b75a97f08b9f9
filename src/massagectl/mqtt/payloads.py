"""The JSON the gateway publishes (state, info, events, replies, errors) and how a client reads
it back. Pure functions: the gateway and the ``mqtt://`` client share them, so the two cannot
drift apart."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Final

from .. import capabilities
from ..capabilities import BATTERY, CONNECTED, TEMPERATURE, TIME_LEFT, device_features, heat_label
from ..device_types import DeviceInfo, DeviceState
from ..profiles import Profile

#: Version of these payloads, in ``info``: a client can tell a gateway it does not understand.
SCHEMA_VERSION: Final = 1


def heat_options(levels: int) -> list[str]:
    """What a person can pick for heat, as the ``info`` document lists it."""
    return list(capabilities.heat_options(levels))


def heat_value(option: str | int) -> str | int:
    """A heat option as the device layer takes it (``"2"`` from a select is level 2)."""
    if isinstance(option, str) and option.strip().isascii() and option.strip().isdigit():
        return int(option.strip())
    return option


def percent(level: int, levels: int) -> float:
    """A level as a percentage of the range, one decimal."""
    return 0.0 if levels <= 0 else round(100.0 * level / levels, 1)


def state_payload(
    state: DeviceState,
    info: DeviceInfo | None,
    *,
    run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The retained ``state`` document.

    Every key is always there (Home Assistant's templates read them whatever the device has);
    the values of the device's features come from its features, the rest is derived for
    clients that want levels and ranges.
    """
    speed_levels = info.speed_levels if info else 0
    heat_levels = info.heat_levels if info else 0
    features = device_features(info) if info else (TIME_LEFT, CONNECTED)
    values = {f.id: f.read(state) for f in features}
    # Time left of a massagectl program, else of the device's own program (not its auto-off).
    time_left = run["remaining_s"] if run else state.remaining_s if state.program else 0
    return {
        "connected": values[CONNECTED.id],
        # The fan's on/off: the motor (or a device program driving it), not the heater.
        "power": "ON" if state.speed > 0 or state.program > 0 else "OFF",
        "speed": percent(state.speed, speed_levels),
        "speed_level": values.get("speed_level", state.speed),
        "speed_levels": speed_levels,
        "heat": values["heat"] if "heat" in values else heat_label(state.heat, heat_levels),
        "heat_level": state.heat,
        "heat_levels": heat_levels,
        "device_program": (
            values["device_program"] if "device_program" in values else _program_name(state, info)
        ),
        "device_program_number": state.program,
        "device_remaining_s": state.remaining_s,
        # What a device says beyond its features is passed on as it said it (a lying device's
        # report is the fault's evidence), not hidden.
        "temperature_c": values.get(TEMPERATURE.id, state.temperature_c),
        "battery": values.get(BATTERY.id, state.battery),
        "faults": list(state.faults),
        "run": run,
        "program": run["program"] if run else "none",
        "time_left_s": round(time_left),
    }


def state_from_payload(doc: dict[str, Any]) -> DeviceState:
    """A :class:`DeviceState` from a ``state`` document (what an ``mqtt://`` client sees)."""
    return DeviceState(
        speed=int(doc.get("speed_level", 0)),
        heat=int(doc.get("heat_level", 0)),
        program=int(doc.get("device_program_number", 0)),
        temperature_c=_number_or_none(doc.get("temperature_c")),
        battery=_int_or_none(doc.get("battery")),
        faults=tuple(str(f) for f in doc.get("faults", ())),
        remaining_s=int(doc.get("device_remaining_s", 0)),
        connected=bool(doc.get("connected", False)),
    )


def info_payload(
    *,
    gateway: str,
    device: str,
    name: str,
    address: str,
    profile: Profile,
    info: DeviceInfo,
    programs: list[str],
    version: str,
) -> dict[str, Any]:
    """The retained ``info`` document: what the device is and can do, and what runs on it."""
    return {
        "schema": SCHEMA_VERSION,
        "gateway": gateway,
        "device": device,
        "name": name,
        "address": address,
        "massagectl": version,
        "capabilities": dataclasses.asdict(info),
        "heat_options": heat_options(info.heat_levels),
        "programs": programs,
        "profile": profile.model_dump(mode="json"),
    }


def info_from_payload(doc: dict[str, Any]) -> tuple[Profile, DeviceInfo]:
    """The profile and capabilities from an ``info`` document; ValueError if it is unusable."""
    if doc.get("schema") != SCHEMA_VERSION:
        raise ValueError(
            f"payload schema {doc.get('schema')!r}, this version reads {SCHEMA_VERSION}"
        )
    return Profile.model_validate(doc["profile"]), info_from_capabilities(doc["capabilities"])


def info_from_capabilities(caps: dict[str, Any]) -> DeviceInfo:
    """The :class:`DeviceInfo` that an ``info`` document's ``capabilities`` hold."""
    fields = dict(caps)
    # JSON has lists where the dataclass holds tuples.
    fields["program_names"] = tuple(fields.get("program_names", ()))
    fields["speed_values"] = tuple(fields.get("speed_values", ()))
    return DeviceInfo(**fields)


def event_payload(kind: str, message: str = "", **extra: Any) -> dict[str, Any]:
    """One ``events`` message."""
    return {"event": kind, "message": message, "time": round(time.time(), 3), **extra}


def reply_payload(
    request_id: str | int,
    *,
    error: str | None = None,
    kind: str = "",
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The outcome of a command that carried an ``id``."""
    if error is None:
        return {"id": request_id, "ok": True, "state": state}
    return {"id": request_id, "ok": False, "error": error, "kind": kind}


def error_payload(
    error: str, *, topic: str, request_id: str | int | None = None, payload: bytes = b""
) -> dict[str, Any]:
    """What was wrong with a payload, for the error topic."""
    return {
        "error": error,
        "topic": topic,
        "id": request_id,
        "payload": payload[:200].decode("utf-8", "replace"),
        "time": round(time.time(), 3),
    }


def dumps(doc: dict[str, Any]) -> bytes:
    """Compact JSON bytes (UTF-8; escaped ASCII if some text cannot be UTF-8, such as half a
    surrogate pair echoed back from a payload: the answer must go out whatever it holds)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(doc, separators=(",", ":")).encode()


def _program_name(state: DeviceState, info: DeviceInfo | None) -> str | None:
    return info.program_name(state.program) if info and state.program else None


def _number_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
