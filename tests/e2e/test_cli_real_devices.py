"""The CLI with the real-device families: a Lovense on a serial line, BLE models via sim:."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .support import SimProcess, massagectl


@pytest.fixture
def lovense() -> Iterator[SimProcess]:
    """A simulated Lovense Domi on a pseudo-terminal (the oldest models spoke Bluetooth SPP)."""
    sim = SimProcess("lovense-domi", commands=True)
    yield sim
    sim.close()


def test_half_speed_on_a_lovense_sends_vibrate_10(lovense: SimProcess) -> None:
    done = massagectl("set", "--device", lovense.address(), "--speed", "50%")
    assert done.returncode == 0, done.stderr
    assert "speed 10/20" in done.stdout
    lovense.wait_for(lambda s: s.speed == 10)
    assert ("Vibrate", "10", "OK;") in lovense.commands
    # No watchdog on a Lovense: the person is told it keeps running.
    assert "no watchdog" in done.stderr
    assert massagectl("stop", "--device", lovense.address()).returncode == 0
    lovense.wait_for(lambda s: s.speed == 0)
    assert lovense.commands[-1] == ("Vibrate", "0", "OK;")


def test_lovense_connect_switches_on_stop_when_the_link_drops(lovense: SimProcess) -> None:
    assert massagectl("status", "--device", lovense.address()).returncode == 0
    words = [c[0] for c in lovense.commands]
    assert words[:3] == ["DeviceType", "Battery", "AutoSwith"]


def test_run_a_preset_on_a_simulated_gun_over_ble() -> None:
    done = massagectl("run", "quick-relief", "--device", "sim:theragun-pro", "--speedup", "300")
    assert done.returncode == 0, done.stderr
    assert "finished: quick-relief" in done.stdout
    assert "rpm" in done.stdout or "/3616" in done.stdout


def test_heat_on_a_gun_is_refused_before_anything_is_sent() -> None:
    done = massagectl("set", "--device", "sim:theragun-pro", "--heat", "low")
    assert done.returncode == 2
    assert "no heater" in done.stderr


def test_status_of_a_simulated_chair_as_json() -> None:
    done = massagectl("status", "--device", "sim:rongtai-rt8600s", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["speed_levels"], doc["heat_levels"]) == (6, 1)
    assert doc["speed"] == 0
