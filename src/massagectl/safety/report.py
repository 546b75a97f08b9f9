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
    lines.extend(_heat_cuts(timeline, limits))
    if timeline.duration > limits.max_session_s:
        lines.append(
            f"the program lasts {format_duration(timeline.duration)}, longer than the longest "
            f"session ({format_duration(limits.max_session_s)}): the device is stopped at "
            f"{format_duration(limits.max_session_s)}"
        )
    return lines


def _heat_cuts(timeline: Timeline, limits: SafetyLimits) -> list[str]:
    """Where the heat will be cut, by the envelope's own rule: heat time adds up across breaks
    shorter than the rest, and a break of at least the rest starts the count afresh. After a
    cut the heat stays off until the program next changes it, after the rest; the session's
    end stops everything."""
    lines: list[str] = []
    end = min(timeline.duration, limits.max_session_s)
    counted = 0.0  # heat time since the last rest, not counting the stretch now on
    since = 0.0  # when that count began
    on_since: float | None = None
    off_since: float | None = None
    rest_until = -1.0
    asked = 0  # the heat level the program asked for last
    steps = [(c.t, c.levels.heat) for c in timeline.changes() if c.t < end]
    for t, heat in [*steps, (end, 0)]:
        changed, asked = heat != asked, heat
        if on_since is not None:
            cut_at = on_since + limits.max_continuous_heat_s - counted
            if cut_at <= t:
                lines.append(_heat_cut(since, cut_at, limits))
                counted, on_since, off_since = 0.0, None, cut_at
                rest_until = cut_at + limits.heat_rest_s
            elif heat == 0:
                counted += t - on_since
                on_since, off_since = None, t
        if heat > 0 and on_since is None and t < end:
            # Heat is sent when the program changes it (a refusal in the rest is not sent again).
            if t < rest_until or (off_since == rest_until - limits.heat_rest_s and not changed):
                continue
            if off_since is None or t - off_since >= limits.heat_rest_s:
                counted, since = 0.0, t
            on_since = t
    return lines


def _heat_cut(since: float, cut_at: float, limits: SafetyLimits) -> str:
    return (
        f"heat on from {format_duration(since)} without a break of "
        f"{format_duration(limits.heat_rest_s)}: switched off at "
        f"{format_duration(cut_at)} (longest continuous heat "
        f"{format_duration(limits.max_continuous_heat_s)}), then off for at least "
        f"{format_duration(limits.heat_rest_s)}"
    )
