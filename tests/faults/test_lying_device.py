"""A device that reports what cannot be, on every family whose messages can carry it.

The simulated device obeys the host, but its status lies (``device.lies``): an OMP/1
STATUS with speed 255 of 10 or 900 °C, a Theragun gun at 9999 rpm, a RongTai chair at speed 7
or in program 9, a Lovense battery at 250 %. Each is a device fault: a run ends with the
device stopped (by its own record), naming the value; ``Massager.status()`` raises. The BLE
families go through massagesim's bleak backend and bleak's real client, OMP/1 in process and
over a real pseudo-terminal.
"""

from __future__ import annotations

import asyncio

import pytest

from massagectl.clock import VirtualClock
from massagectl.device import Massager
from massagectl.drivers.checks import BadDeviceReport
from massagectl.profiles import get_profile
from massagectl.programs.events import event_name
from massagectl.programs.faults import DeviceFault
from massagesim import SimulatedDevice
from massagesim.ble import SimBleRadio, SimBleTransport

from .harness import FaultRun, Inject, Link, run_with_fault

#: The lie goes in at program time 90 s (speed and heat on); the device must be at rest soon
#: after: the next status of an active device comes within a second.
LIE_AT = 90.0
AT_REST_WITHIN_S = 1.5


def _lie(**lies: float) -> Inject:
    def inject(device: SimulatedDevice) -> None:
        for field, value in lies.items():
            setattr(device.lies, field, value)

    return inject


def _ended_by(run: FaultRun, fault: str, says: str) -> None:
    assert isinstance(run.error, DeviceFault), run.error
    assert run.error.fault == fault
    assert says in str(run.error), str(run.error)
    assert "every device stopped" in str(run.error)
    assert any(event_name(e) == "fault" and says in e.message for e in run.events)
    rest = run.at_rest_from()
    assert rest is not None, "the device was left running"
    assert rest <= LIE_AT + AT_REST_WITHIN_S, rest
    assert not run.final.active


@pytest.mark.parametrize(
    ("lies", "says"),
    [
        ({"speed": 255}, "speed 255 is outside 0..10"),
        ({"heat": 255}, "heat 255 is outside 0..2"),
        ({"program": 200}, "program 200 is outside 0..3"),
        ({"temperature_c": 900.0}, "temperature 900.0 °C is outside -40..125 °C"),
        # Within the profile's cut-out (60 °C) no more than any reading is: a sensor that says
        # -50 °C is broken, and so is what the heat control knows.
        ({"temperature_c": -50.0}, "temperature -50.0 °C is outside -40..125 °C"),
    ],
)
@pytest.mark.parametrize("link", ["inproc", "pty"])
async def test_an_omp_run_ends_on_a_value_that_cannot_be(
    lies: dict[str, float], says: str, link: Link
) -> None:
    run = await run_with_fault("omp-wand-heat", link, _lie(**lies), at=LIE_AT)
    _ended_by(run, "BAD_REPORT", says)


async def test_an_omp_battery_above_full_ends_the_run() -> None:
    run = await run_with_fault("omp-neck-rest", "inproc", _lie(battery=250), at=LIE_AT)
    _ended_by(run, "BAD_REPORT", "battery 250 % is outside 0..100 %")


async def test_an_omp_fault_bit_nobody_defined_ends_the_run_named_by_its_number() -> None:
    run = await run_with_fault("omp-wand-heat", "inproc", _lie(fault_bits=1 << 6), at=LIE_AT)
    _ended_by(run, "FAULT_BIT6", "a fault massagectl does not know")


async def test_a_theragun_gun_faster_than_it_can_run_ends_the_run() -> None:
    run = await run_with_fault("theragun-pro", "ble", _lie(speed=9999), at=LIE_AT)
    _ended_by(run, "BAD_REPORT", "speed 9999 is outside 0..3616")


@pytest.mark.parametrize(
    ("lies", "says"),
    [
        # The status's speed field has room for 7; the chair has 6 speeds.
        ({"speed": 7}, "speed 7 is outside 0..6"),
        # Room for 15 programs; the chair has 6 (and 7 for a manual massage). Reported, not
        # read as "no program".
        ({"program": 9}, "program 9 is outside 0..6"),
    ],
)
async def test_a_rongtai_chair_in_a_state_it_cannot_be_in_ends_the_run(
    lies: dict[str, float], says: str
) -> None:
    run = await run_with_fault("rongtai-rt8600s", "ble", _lie(**lies), at=LIE_AT)
    _ended_by(run, "BAD_REPORT", says)


async def test_a_lovense_battery_above_full_ends_the_run_before_it_starts() -> None:
    # Lovense reports its battery when asked: at connect.
    run = await run_with_fault("lovense-domi", "ble", _lie(battery=250), phase="connect")
    assert isinstance(run.error, DeviceFault), run.error
    assert run.error.fault == "BAD_REPORT"
    assert "battery 250 % is outside 0..100 %" in str(run.error)
    assert "before the run started" in str(run.error)
    assert not any(s.active for s in run.states), "the device was started"


@pytest.mark.parametrize(
    ("profile", "lies", "says"),
    [
        ("theragun-pro", {"speed": 5000}, "speed 5000 is outside 0..3616"),
        ("lovense-domi", {"battery": 101}, "battery 101 % is outside 0..100 %"),
        ("rongtai-rt8600s", {"program": 12}, "program 12 is outside 0..6"),
    ],
)
async def test_status_over_ble_raises_naming_the_value_and_the_device_is_stopped(
    profile: str, lies: dict[str, float], says: str
) -> None:
    clock = VirtualClock()
    prof = get_profile(profile)
    async with asyncio.timeout(20), clock.running(), SimulatedDevice(prof, clock) as device:
        name = f"sim:{profile}"
        transport = SimBleTransport(SimBleRadio().add(device), description=name, clock=clock)
        async with Massager(transport, prof, clock=clock, name=name) as m:
            await m.set_speed_level(2)
            await m.status()
            _lie(**lies)(device)
            # A chair has no request: its status() waits for the next status it sends.
            with pytest.raises(BadDeviceReport) as raised:
                await m.status()
        assert str(raised.value) == f"{name}: the device reported what cannot be: {says}"
        await clock.sleep(1.0)
        assert not device.timeline.states()[-1].active
