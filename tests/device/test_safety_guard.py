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
from massagectl.safety.envelope import Cut, SafetyEnvelope
from massagectl.safety.limits import Heat, SafetyLimits

INFO = DeviceInfo(
    speed_levels=10,
    heat_levels=3,
    program_count=0,
    max_temp_c=45,
    watchdog_s=0.0,
    battery_powered=False,
    temperature_sensor=False,
)


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
        stop=asked.stop,
        heat_off=asked.heat_off,
    )
    return guard, asked, cuts


def test_a_heat_above_the_limit_is_capped_and_said() -> None:
    guard, asked, cuts = guard_for(SafetyLimits(max_heat=Heat(name="low")), VirtualClock())
    assert guard.admit(CommandKind.HEAT, 3) == 1
    assert [c.kind for c in cuts] == ["heat"]
    assert guard.admit(CommandKind.HEAT, 1) == 1
    assert guard.admit(CommandKind.SPEED, 10) == 10
    assert len(cuts) == 1
    assert asked.calls == []


async def test_heat_left_on_past_its_longest_is_turned_off_on_time() -> None:
    clock = VirtualClock()
    guard, asked, cuts = guard_for(SafetyLimits(max_continuous_heat_s=60, heat_rest_s=30), clock)
    async with clock.running():
        task = asyncio.create_task(guard.run())
        start = clock.now()
        guard.observe(DeviceState(heat=2))
        await clock.sleep_until(start + 90)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [what for what, _ in asked.calls] == ["heat-off"]
    assert asked.calls[0][1] - start == pytest.approx(60, abs=0.5)
    assert [c.kind for c in cuts] == ["heat-time"]


async def test_a_session_past_its_longest_is_stopped_on_time() -> None:
    clock = VirtualClock()
    guard, asked, cuts = guard_for(SafetyLimits(max_session_s=120), clock)
    async with clock.running():
        task = asyncio.create_task(guard.run())
        start = clock.now()
        guard.observe(DeviceState(speed=4))
        await clock.sleep_until(start + 150)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [what for what, _ in asked.calls] == ["stop"]
    assert asked.calls[0][1] - start == pytest.approx(120, abs=0.5)
    assert [c.kind for c in cuts] == ["session"]
