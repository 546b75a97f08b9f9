"""Commands: fractions and names become levels, bad values never reach the device."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from massagectl import connect
from massagectl.device import Massager
from massagectl.errors import DeviceRefused, ValueOutOfRange

from .support import sim


@pytest.mark.parametrize(
    ("fraction", "level"),
    [
        (0.4, 5),  # 5.2 -> 5
        (0.5, 7),  # 6.5 -> 7: halves round up
        (0.5 / 13, 1),  # exactly half a level -> 1
        (0.01, 1),  # any speed at all is at least level 1
        (1.0, 13),
        (0.0, 0),
    ],
)
async def test_set_speed_maps_the_fraction_half_up_and_at_least_one(
    fraction: float, level: int
) -> None:
    async with connect("sim:omp-percussion-pro") as m:
        dev = sim(m)
        assert await m.set_speed(fraction) == level
        assert dev.state.speed == level
        assert m.state.speed == level
        last = dev.timeline.commands()[-1]
        assert (last.type, last.value, last.answer) == ("SET_SPEED", level, "OK")


async def test_set_speed_level_sets_that_level() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        for level in (10, 1, 0):
            await m.set_speed_level(level)
            assert dev.state.speed == level
            assert m.state.speed == level


@pytest.mark.parametrize(
    ("heat", "level"),
    [("low", 2), ("medium", 4), ("high", 6), ("HIGH", 6), (3, 3), ("off", 0), (0, 0)],
)
async def test_set_heat_by_name_or_level(heat: str | int, level: int) -> None:
    async with connect("sim:omp-heat-pad") as m:
        dev = sim(m)
        if level == 0:
            await m.set_heat(5)  # so that "off" is a visible change
        assert await m.set_heat(heat) == level
        assert dev.state.heat == level
        assert m.state.heat == level


async def test_heat_names_on_a_two_level_heater() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        assert await m.set_heat("low") == 1
        assert dev.state.heat == 1
        assert await m.set_heat("high") == 2
        assert dev.state.heat == 2


async def test_run_program_starts_the_built_in_program_and_zero_ends_it() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        await m.run_program(2)
        assert (dev.state.program, dev.state.speed) == (2, 4)  # Knead starts at level 4
        assert m.state.program == 2
        assert m.info.program_name(m.state.program) == "Knead"
        await m.run_program(0)
        assert (dev.state.program, dev.state.speed) == (0, 0)
        assert not m.state.active


async def test_stop_brings_everything_to_rest() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        await m.set_heat("high")
        await m.run_program(1)
        assert dev.state.active
        await m.stop()
        assert (dev.state.speed, dev.state.heat, dev.state.program) == (0, 0, 0)
        assert not m.state.active
        assert dev.timeline.commands()[-1].type == "STOP"


Call = Callable[[Massager], Awaitable[Any]]

OUT_OF_RANGE: list[tuple[str, Call, str]] = [
    ("speed above 1", lambda m: m.set_speed(1.5), "outside 0..1"),
    ("negative speed", lambda m: m.set_speed(-0.1), "outside 0..1"),
    ("speed NaN", lambda m: m.set_speed(float("nan")), "outside 0..1"),
    ("speed level too high", lambda m: m.set_speed_level(11), "outside 0..10"),
    ("negative speed level", lambda m: m.set_speed_level(-1), "outside 0..10"),
    ("fractional speed level", lambda m: m.set_speed_level(2.5), "not a whole number"),  # type: ignore[arg-type]
    ("heat level too high", lambda m: m.set_heat(3), "outside 0..2"),
    ("negative heat level", lambda m: m.set_heat(-1), "outside 0..2"),
    ("fractional heat level", lambda m: m.set_heat(1.5), "not a whole number"),  # type: ignore[arg-type]
    ("unknown heat name", lambda m: m.set_heat("scorching"), "scorching"),
    ("program too high", lambda m: m.run_program(4), "outside 0..3"),
    ("negative program", lambda m: m.run_program(-1), "outside 0..3"),
]


@pytest.mark.parametrize(
    ("call", "message"),
    [pytest.param(call, message, id=name) for name, call, message in OUT_OF_RANGE],
)
async def test_out_of_range_values_raise_and_send_nothing(call: Call, message: str) -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        before = dev.timeline.commands()
        with pytest.raises(ValueOutOfRange, match=message) as caught:
            await call(m)
        assert str(caught.value).startswith("sim:omp-wand-heat: ")  # names the device
        await asyncio.sleep(0.05)  # anything wrongly queued would have gone out by now
        assert dev.timeline.commands() == before
        assert not dev.state.active


@pytest.mark.parametrize("heat", ["low", "medium", "high", 1])
async def test_heat_on_a_device_without_a_heater_is_refused(heat: str | int) -> None:
    async with connect("sim:omp-percussion-pro") as m:
        dev = sim(m)
        before = dev.timeline.commands()
        with pytest.raises(ValueOutOfRange, match="no heater"):
            await m.set_heat(heat)
        await asyncio.sleep(0.05)
        assert dev.timeline.commands() == before


async def test_speed_and_program_are_refused_while_the_motor_is_faulty() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        dev.inject_motor_fault()
        with pytest.raises(DeviceRefused, match=r"SET_SPEED 5: REFUSED_FAULT.*MOTOR"):
            await m.set_speed(0.5)
        with pytest.raises(DeviceRefused, match=r"RUN_PROGRAM 1: REFUSED_FAULT.*MOTOR"):
            await m.run_program(1)
        assert (dev.state.speed, dev.state.program) == (0, 0)
        # The session goes on, and what the fault does not touch still works.
        assert await m.set_heat("high") == 2
        assert dev.state.heat == 2
        assert m.state.faults == ("MOTOR",)


async def test_heat_is_refused_while_overheated() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        dev.set_temperature(61.0)
        with pytest.raises(DeviceRefused, match=r"SET_HEAT 1: REFUSED_FAULT.*OVERHEAT"):
            await m.set_heat("low")
        assert dev.state.heat == 0
        assert "OVERHEAT" in m.state.faults
