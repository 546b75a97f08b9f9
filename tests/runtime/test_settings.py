"""The one "apply these settings" call under `set` on the command line and on MQTT: every value
is checked against the device before any is sent."""

from __future__ import annotations

import re

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.device import Massager
from massagectl.errors import ValueOutOfRange
from massagectl.runtime.settings import FieldNames, Settings, apply_settings

CLI = FieldNames(speed="--speed", heat="--heat", program="--program")


def settings_applied(m: Massager) -> list[tuple[str, int]]:
    """The settings the simulated device itself applied, oldest first (status asks left out)."""
    device = m.transport.device  # type: ignore[attr-defined]
    return [(c.type, c.value) for c in device.timeline.commands() if c.type != "GET_STATUS"]


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (Settings(speed=0.5, heat=3), "heat level 3 is outside 0..2"),
        (Settings(speed_level=4, heat="scorching"), "heat 'scorching' is not one of"),
        (Settings(speed_level=11, heat=1), "speed level 11 is outside 0..10"),
        (Settings(program="Knead", heat="9"), "heat level 9 is outside 0..2"),
        (Settings(program=7, heat=1), "program 7 is outside 0..3"),
        (Settings(program="Nap", heat="low"), "no built-in program 'Nap' (known: 1 Soothe"),
    ],
)
async def test_one_bad_value_sends_nothing_at_all(settings: Settings, says: str) -> None:
    clock = VirtualClock()
    async with clock.running(), connect("sim:omp-wand-heat", clock=clock) as m:
        before = settings_applied(m)
        with pytest.raises(ValueOutOfRange, match=f"^sim:omp-wand-heat: {re.escape(says)}"):
            await apply_settings(m, settings)
        assert settings_applied(m) == before
        assert (m.state.speed, m.state.heat, m.state.program) == (0, 0, 0)


async def test_good_settings_are_sent_program_speed_heat_and_errors_use_the_surface_names() -> None:
    clock = VirtualClock()
    async with clock.running(), connect("sim:omp-wand-heat", clock=clock) as m:
        levels = await apply_settings(m, Settings(speed=0.4, heat="high"))
        assert (levels.speed, levels.heat) == (4, 2)
        assert (m.state.speed, m.state.heat) == (4, 2)
        await apply_settings(m, Settings(program="2"))  # digits are the program's number
        assert m.state.program == 2
        with pytest.raises(ValueOutOfRange, match=re.escape("--heat 5 is outside 0..2")):
            await apply_settings(m, Settings(heat=5), CLI)


async def test_a_device_without_a_heater_takes_heat_off_but_refuses_heat() -> None:
    clock = VirtualClock()
    async with clock.running(), connect("sim:omp-percussion-pro", clock=clock) as m:
        await apply_settings(m, Settings(speed_level=1, heat="off"))
        assert m.state.speed == 1
        with pytest.raises(ValueOutOfRange, match="this device has no heater"):
            await apply_settings(m, Settings(speed_level=2, heat="low"))
        assert m.state.speed == 1
