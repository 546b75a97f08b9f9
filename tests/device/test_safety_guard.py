"""The safety guard on its own: a real envelope on a virtual clock.

The guard's ``stop`` and ``heat_off`` are what it asks of the device; here they note when they
were asked, so that what the guard does and when can be read off.
"""

from __future__ import annotations

import asyncio

import pytest

from massagectl.clock import VirtualClock
from massagectl.device.safety_guard import SafetyGuard
from massagectl.device_types import CommandKind, DeviceInfo, DeviceState
from massagectl.profiles import get_profile
from massagectl.safety.envelope import Cut, SafetyEnvelope
from massagectl.safety.limits import Heat, SafetyLimits

INFO = DeviceInfo.from_profile(get_profile("omp-wand-heat"))  # 10 speeds, 2 heats


class Asked:
    """What the guard asked of the device, and when (clock time)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, float]] = []

    async def stop(self) -> None:
        self.calls.append(("stop", self.clock.now()))

    async def heat_off(self) -> None:
        self.calls.append(("heat-off", self.clock.now()))


def guard_for(limits: SafetyLimits, clock: VirtualClock) -> tuple[SafetyGuard, Asked, list[Cut]]:
    asked = Asked(clock)
    cuts: list[Cut] = []
    guard = SafetyGuard(
        SafetyEnvelope(limits, INFO),
        clock,
        "test",
        report=cuts.append,
        actions={"stop": asked.stop, "heat-off": asked.heat_off},
    )
    return guard, asked, cuts


def test_a_heat_above_the_limit_is_capped_and_said() -> None:
    guard, asked, cuts = guard_for(SafetyLimits(max_heat=Heat(name="low")), VirtualClock())
    assert guard.admit(CommandKind.HEAT, 2) == 1  # high, capped at low
    assert [c.kind for c in cuts] == ["heat"]
    assert guard.admit(CommandKind.HEAT, 1) == 1
    assert guard.admit(CommandKind.SPEED, 10) == 10
    assert len(cuts) == 1
    assert asked.calls == []


async def guard_over(
    limits: SafetyLimits, state: DeviceState, for_s: float
) -> tuple[Asked, list[Cut]]:
    """Run a guard over ``limits`` for ``for_s`` virtual seconds after the device reported
    ``state``; what it asked for (times from the report) and what it said."""
    clock = VirtualClock()
    guard, asked, cuts = guard_for(limits, clock)
    async with clock.running():
        task = asyncio.create_task(guard.run())
        start = clock.now()
        guard.observe(state)
        await clock.sleep_until(start + for_s)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asked.calls = [(what, t - start) for what, t in asked.calls]
    return asked, cuts


async def test_heat_left_on_past_its_longest_is_turned_off_on_time() -> None:
    limits = SafetyLimits(max_continuous_heat_s=60, heat_rest_s=30)
    asked, cuts = await guard_over(limits, DeviceState(heat=2), 90)
    assert [what for what, _ in asked.calls] == ["heat-off"]
    assert asked.calls[0][1] == pytest.approx(60, abs=0.5)
    assert [c.kind for c in cuts] == ["heat-time"]


async def test_a_session_past_its_longest_is_stopped_on_time() -> None:
    asked, cuts = await guard_over(SafetyLimits(max_session_s=120), DeviceState(speed=4), 150)
    assert [what for what, _ in asked.calls] == ["stop"]
    assert asked.calls[0][1] == pytest.approx(120, abs=0.5)
    assert [c.kind for c in cuts] == ["session"]
