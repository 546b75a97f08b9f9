"""How device facts look on a terminal and in JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from ..capabilities import Feature, FeatureKind, device_features, level_unit
from ..durations import format_duration

if TYPE_CHECKING:
    # Annotations only: `massagectl devices` lists profiles without loading the device stack.
    from ..device import DeviceInfo, DeviceState
    from ..profiles import Profile


def state_json(device: str, info: DeviceInfo, state: DeviceState) -> dict[str, Any]:
    """The ``status --json`` document."""
    return {
        "device": device,
        "speed": state.speed,
        "speed_levels": info.speed_levels,
        # What a speed counts in where a level is a physical speed (a Theragun's rpm), else "".
        "speed_unit": level_unit(info),
        "heat": state.heat,
        "heat_levels": info.heat_levels,
        "program": state.program or None,
        "program_name": info.program_name(state.program) if state.program else None,
        "temperature_c": state.temperature_c,
        "battery": state.battery,
        "faults": list(state.faults),
        "remaining_s": state.remaining_s,
    }


def state_line(info: DeviceInfo, state: DeviceState) -> str:
    """One line summing up a device's state."""
    parts = []
    if info.speed_levels:
        unit = level_unit(info)
        parts.append(f"speed {state.speed}/{info.speed_levels}" + (f" {unit}" if unit else ""))
    if info.heat_levels:
        parts.append(f"heat {state.heat}/{info.heat_levels}")
    if state.program:
        parts.append(f"program {state.program} ({info.program_name(state.program)})")
    if state.temperature_c is not None:
        parts.append(f"{state.temperature_c:.1f} °C")
    if state.battery is not None:
        parts.append(f"battery {state.battery}%")
    if state.remaining_s:
        parts.append(f"auto-off in {format_duration(state.remaining_s)}")
    parts.append("faults " + (", ".join(state.faults) if state.faults else "none"))
    return ", ".join(parts)


def state_table(device: str, info: DeviceInfo, state: DeviceState) -> Table:
    """``status`` as a table: a row per feature of the device, then its faults."""
    table = Table(title=device, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    for name, value in state_rows(info, state):
        table.add_row(name, value)
    return table


def state_rows(info: DeviceInfo, state: DeviceState) -> list[tuple[str, str]]:
    """The status table's rows: each feature of the device as a person reads it, and faults."""
    rows = [(f.name, _shown(f, state)) for f in device_features(info)]
    return [*rows, ("faults", ", ".join(state.faults) or "none")]


def _shown(feature: Feature, state: DeviceState) -> str:
    """A feature's value with its unit and range (``1200 of 3616 rpm``); ``-`` when unknown."""
    value = feature.read(state)
    if feature.kind is FeatureKind.SPEED:
        unit = f" {feature.unit}" if feature.unit else ""
        return f"{value} of {feature.maximum}{unit}"
    if feature.kind is FeatureKind.HEAT:
        # The level, as `set --heat` takes it too; the state's name for it follows.
        return f"{state.heat} of {feature.maximum}"
    if feature.kind is FeatureKind.DEVICE_PROGRAM:
        return f"{state.program} ({value})" if state.program else "-"
    if feature.kind is FeatureKind.CONNECTED:
        return "yes" if value else "no"
    if value is None:
        return "-"
    if feature.kind is FeatureKind.TEMPERATURE:
        return f"{float(value):.1f} {feature.unit}"
    if feature.kind is FeatureKind.TIME_LEFT:
        return format_duration(float(value)) if value else "-"
    return f"{value}{feature.unit}"


def profiles_table(profiles: list[Profile]) -> Table:
    """``devices`` as a table."""
    table = Table(title="Device profiles", title_justify="left")
    for column in (
        "profile",
        "kind",
        "speeds",
        "heat",
        "programs",
        "power",
        "watchdog",
        "auto-off",
        "source",
    ):
        table.add_column(column, no_wrap=column == "profile")
    for p in profiles:
        caps, limits = p.capabilities, p.limits
        if p.capabilities_from_device:
            table.add_row(
                p.name,
                p.kind,
                *(["from device"] + ["-"] * 2),
                p.power,
                "-",
                "-",
                p.provenance.kind.value,
            )
            continue
        table.add_row(
            p.name,
            p.kind,
            str(p.speed_levels or "-"),
            str(p.heat_levels or "-"),
            str(len(caps.programs) or "-"),
            p.power,
            f"{limits.watchdog_s:g} s" if limits.watchdog_s else "none",
            format_duration(limits.auto_off_s) if limits.auto_off_s else "-",
            p.provenance.kind.value,
        )
    return table
