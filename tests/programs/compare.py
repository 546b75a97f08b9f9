"""Comparing what a simulated device did with what a program's timeline planned.

The plan is ``Timeline(program, range).changes()``: program times at which the levels change.
The record is the simulator's :class:`~massagesim.recording.Recording`: clock times at which the
device's state changed. ``origin`` (the clock time at which the scheduler's run started) turns
one into the other.

Two directions, both within ``tolerance`` (0.1 s by default):

* every planned change is *reached*: somewhere in ``[t, t + tolerance]`` the device is in exactly
  the planned state, unless the plan moves on again within that window (then the device may
  skip the short-lived state: its writer coalesces, 50 frames/s at most);
* every change the host caused is *planned*: its new values belong to a planned change in
  ``[t - tolerance, t]`` (the device may lag the plan, never lead it). Speed and heat due at
  the same moment arrive a frame (20 ms) apart, so the state in between is checked per field.

While a device program runs the firmware moves the speed by itself; the plan says only which
program, so speed is not compared then, and the firmware's own steps are not host changes.

A device that switches itself off (its auto-off) is started again by the run at once: within
:data:`RESTART_WINDOW_S` after that, a host change to the levels the plan has in force is planned.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from massagectl.programs.timeline import Change, Levels
from massagesim.recording import StateSnapshot

DEFAULT_TOLERANCE_S = 0.1
#: Snapshot causes that are the host's doing (the firmware's own are "program step", ...).
HOST_CAUSES = frozenset({"SET_SPEED", "SET_HEAT", "RUN_PROGRAM", "STOP"})
#: Float noise between program time plus origin and the clock's sums.
EPS = 1e-6
#: How long after a device's own auto-off the run's restart may take (a few paced writes).
RESTART_WINDOW_S = 1.0


@dataclass
class Comparison:
    """The outcome of comparing a plan with a record."""

    #: The largest lag of the device behind the plan, in seconds, over every matched change.
    max_error: float = 0.0
    matched: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the device followed the plan."""
        return not self.problems

    def report(self, limit: int = 15) -> str:
        """The first problems, one a line."""
        more = len(self.problems) - limit
        lines = self.problems[:limit] + ([f"... and {more} more"] if more > 0 else [])
        return "\n".join(lines)


def _fields(levels: Levels) -> tuple[int | None, int, int]:
    # With a device program running, the firmware owns the speed.
    return (None if levels.program else levels.speed, levels.heat, levels.program)


def _state(snap: StateSnapshot) -> Levels:
    return Levels(snap.speed, snap.heat, snap.program)


def _same(device: Levels, planned: Levels) -> bool:
    want = _fields(planned)
    got = (device.speed, device.heat, device.program)
    return all(w is None or w == g for w, g in zip(want, got, strict=True))


def compare(
    planned: Sequence[Change],
    states: Sequence[StateSnapshot],
    origin: float,
    *,
    tolerance: float = DEFAULT_TOLERANCE_S,
    until: float | None = None,
) -> Comparison:
    """Compare planned changes (program time) with device snapshots (clock time).

    Snapshots before ``origin`` (power-on, connecting) only set the state the run starts from;
    snapshots after ``until`` (clock time, default: the end of the plan plus the tolerance,
    e.g. a STOP on the way out) are not host changes to account for.
    """
    result = Comparison()
    times = [s.t for s in states]
    if until is None:
        until = origin + (planned[-1].t if planned else 0.0) + tolerance

    def state_at(t: float) -> Levels:
        i = bisect.bisect_right(times, t + EPS) - 1
        return _state(states[max(i, 0)]) if states else Levels(0, 0, 0)

    # Every planned change is reached within the tolerance.
    for i, change in enumerate(planned):
        due = origin + change.t
        window_end = due + tolerance
        nxt = planned[i + 1].t + origin if i + 1 < len(planned) else None
        reached: float | None = None
        if _same(state_at(due), change.levels):
            reached = due
        else:
            lo = bisect.bisect_right(times, due + EPS)
            for snap in states[lo:]:
                if snap.t > window_end + EPS:
                    break
                if _same(_state(snap), change.levels):
                    reached = snap.t
                    break
        if reached is None:
            if nxt is not None and nxt <= window_end + EPS:
                continue  # superseded within the window; the device may skip it
            result.problems.append(
                f"planned {change.levels} at t={change.t:.3f} (clock {due:.3f}) not reached "
                f"within {tolerance} s; the device was at {state_at(window_end)}"
            )
            continue
        result.matched += 1
        result.max_error = max(result.max_error, reached - due)

    # Every change the host made is one the plan asked for, at most ``tolerance`` late.
    planned_t = [c.t for c in planned]
    previous: Levels | None = None
    auto_off_at = -float("inf")
    for snap in states:
        now = _state(snap)
        before, previous = previous, now
        if snap.cause == "auto-off":
            auto_off_at = snap.t
        if snap.t < origin - EPS or snap.t > until + EPS or before is None:
            continue
        if snap.cause not in HOST_CAUSES:
            continue
        t = snap.t - origin
        changed = [
            k
            for k, (a, b) in enumerate(
                zip(
                    (before.speed, before.heat, before.program),
                    (now.speed, now.heat, now.program),
                    strict=True,
                )
            )
            if a != b
        ]
        lo = bisect.bisect_left(planned_t, t - tolerance - EPS)
        hi = bisect.bisect_right(planned_t, t + EPS)
        candidates = planned[lo:hi]
        in_force = bisect.bisect_right(planned_t, t + EPS) - 1
        if snap.t - auto_off_at <= RESTART_WINDOW_S + EPS and in_force >= 0:
            candidates = [*candidates, planned[in_force]]
        if not any(
            all(_fields(c.levels)[k] in (None, _value(now, k)) for k in changed) for c in candidates
        ):
            result.problems.append(
                f"device went to {now} ({snap.cause}) at t={t:.3f} (clock {snap.t:.3f}); "
                f"planned in [{t - tolerance:.3f}, {t:.3f}]: "
                f"{[(round(c.t, 3), c.levels) for c in candidates] or 'nothing'}"
            )
    return result


def _value(levels: Levels, k: int) -> int:
    return (levels.speed, levels.heat, levels.program)[k]
