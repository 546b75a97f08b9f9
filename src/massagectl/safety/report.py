"""What the safety envelope will do to a program on a device, said before it runs (``check``)."""

from __future__ import annotations

from ..durations import format_duration
from ..programs.timeline import DeviceRange, Timeline
from .limits import SafetyLimits


def envelope_report(timeline: Timeline, device: DeviceRange, limits: SafetyLimits) -> list[str]:
    """One line for each way the envelope will cut the program on this device."""
    lines: list[str] = []
    max_speed = limits.max_speed_level(device.speed_levels)
    max_heat = limits.max_heat_level(device.heat_levels)
    capped_speed = sorted(
        {c.levels.speed for c in timeline.changes() if c.levels.speed > max_speed}
    )
    if capped_speed:
        lines.append(
            f"speed levels {', '.join(map(str, capped_speed))} will be capped at {max_speed} "
            f"(max intensity {limits.max_intensity:.0%})"
        )
    capped_heat = sorted({c.levels.heat for c in timeline.changes() if c.levels.heat > max_heat})
    if capped_heat:
        levels = ", ".join(map(str, capped_heat))
        lines.append(f"heat levels {levels} will be capped at {max_heat} (max heat)")
    on_since: float | None = None
    for change in timeline.changes():
        if change.levels.heat > 0 and on_since is None:
            on_since = change.t
        elif change.levels.heat == 0 and on_since is not None:
            if change.t - on_since > limits.max_continuous_heat_s:
                lines.append(_heat_cut(on_since, limits))
            on_since = None
    if timeline.duration > limits.max_session_s:
        lines.append(
            f"the program lasts {format_duration(timeline.duration)}, longer than the longest "
            f"session ({format_duration(limits.max_session_s)}): the device is stopped at "
            f"{format_duration(limits.max_session_s)}"
        )
    return lines


def _heat_cut(on_since: float, limits: SafetyLimits) -> str:
    cut_at = on_since + limits.max_continuous_heat_s
    return (
        f"heat on from {format_duration(on_since)} without a break: switched off at "
        f"{format_duration(cut_at)} (longest continuous heat "
        f"{format_duration(limits.max_continuous_heat_s)}), then off for at least "
        f"{format_duration(limits.heat_rest_s)}"
    )
