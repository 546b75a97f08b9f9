"""The envelope's count and what ends it: short breaks do not, a rest does; the count kept for a
real device across massagectl runs; and `check` saying what the run will do."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from massagectl.address import parse_address
from massagectl.device_types import CommandKind, DeviceInfo, DeviceState
from massagectl.safety import SafetyEnvelope, SafetyLimits
from massagectl.safety.memory import SafetyMemory
from massagectl.safety.memory_store import SafetyStore, device_key

PAD = DeviceInfo(0, 6, 0, 60, 5.0, False, True)
WAND = DeviceInfo(10, 2, 0, 60, 3.0, False, True)
LIMITS = SafetyLimits(max_continuous_heat_s=1800, heat_rest_s=600, session_rest_s=1800)


def _heat(envelope: SafetyEnvelope, level: int, t: float) -> None:
    envelope.observe(DeviceState(heat=level), t)


def test_a_break_shorter_than_the_rest_does_not_restart_the_heat_count() -> None:
    envelope = SafetyEnvelope(LIMITS, PAD)
    _heat(envelope, 6, 0.0)
    _heat(envelope, 0, 1200.0)  # the device's own auto-off
    _heat(envelope, 6, 1205.0)  # started again by the run
    assert envelope.next_deadline() == pytest.approx(1805.0)
    actions = envelope.due(1805.0)
    assert [a for a, _ in actions] == ["heat-off"]
    # The rest is honoured: heat asked for during it is refused, and allowed after it.
    assert envelope.admit(CommandKind.HEAT, 6, 1900.0)[0] == 0
    assert envelope.admit(CommandKind.HEAT, 6, 1805.0 + 601)[0] == 6
    # A break of the full rest starts the count afresh.
    _heat(envelope, 6, 2500.0)
    _heat(envelope, 0, 2600.0)
    _heat(envelope, 6, 3200.0)
    assert envelope.next_deadline() == pytest.approx(3200.0 + 1800)


def test_the_session_goes_on_across_short_rests_and_ends_after_a_long_one() -> None:
    limits = SafetyLimits(max_session_s=5400, session_rest_s=1800)
    envelope = SafetyEnvelope(limits, WAND)
    envelope.observe(DeviceState(speed=3), 0.0)
    envelope.observe(DeviceState(), 3000.0)
    envelope.observe(DeviceState(speed=3), 3060.0)  # a minute off: same session
    assert envelope.next_deadline() == pytest.approx(5400.0)
    assert [a for a, _ in envelope.due(5400.0)] == ["stop"]
    envelope.observe(DeviceState(), 5401.0)
    value, cut = envelope.admit(CommandKind.SPEED, 3, 6000.0)
    assert value == 0
    assert cut is not None
    assert "at rest" in cut.message
    assert "safety-reset" in cut.message
    # Thirty minutes at rest end it.
    assert envelope.admit(CommandKind.SPEED, 3, 5401.0 + 1800)[0] == 3


def test_a_reset_ends_the_session_but_not_the_heat_rest() -> None:
    envelope = SafetyEnvelope(LIMITS, PAD)
    _heat(envelope, 6, 0.0)
    envelope.due(1800.0)
    envelope.memory.session_over_at = 1800.0
    envelope.reset_session()
    assert envelope.session_refusal(1801.0) is None
    assert envelope.admit(CommandKind.HEAT, 6, 1801.0)[0] == 0


def test_the_store_keeps_a_devices_count_across_runs_in_wall_time(tmp_path: Path) -> None:
    store = SafetyStore(tmp_path / "safety.sqlite3")
    key = device_key(parse_address("serial:/dev/ttyUSB0?profile=omp-heat-pad&baud=9600"))
    assert key == "serial:/dev/ttyUSB0"
    assert device_key(parse_address("sim:omp-heat-pad")) is None
    now = time.monotonic()
    memory = SafetyMemory(
        heat_on_s=600.0, heat_on_since=now - 300, session_since=now - 900, seen_at=now - 100
    )
    store.save(key, memory)
    again = store.load(key)
    # The run that kept it was killed 100 s ago with the heat on: its heat ended when it last
    # saw the device (the device's watchdog stops it), and the time since is rest.
    assert again.heat_on_since is None
    assert again.heat_on_s == pytest.approx(800.0, abs=1.0)
    assert again.heat_off_since == pytest.approx(now - 100, abs=1.0)
    assert again.session_since == pytest.approx(now - 900, abs=1.0)
    assert again.idle_since == pytest.approx(now - 100, abs=1.0)
    assert store.forget_session(key) is True
    assert store.load(key).session_since is None
    assert store.load(key).heat_on_s == pytest.approx(800.0, abs=1.0)  # the heat's count stays


def test_a_damaged_row_counts_as_a_session_that_is_over(tmp_path: Path) -> None:
    path = tmp_path / "safety.sqlite3"
    store = SafetyStore(path)
    store.save("serial:/dev/ttyUSB0", SafetyMemory())
    with sqlite3.connect(path) as db:
        db.execute('UPDATE device_safety SET memory = \'{"heat_on_s": "lots"}\'')
    envelope = SafetyEnvelope(LIMITS, PAD, store.load("serial:/dev/ttyUSB0"))
    assert envelope.session_refusal(time.monotonic()) is not None


def test_check_counts_heat_across_breaks_shorter_than_the_rest(tmp_path: Path) -> None:
    program = tmp_path / "broken-heat.yaml"
    program.write_text(
        "name: broken-heat\ntitle: Heat with short breaks\nsteps:\n"
        "  - {name: a, duration: 20m, heat: high}\n"
        "  - {name: b, duration: 2m, heat: 'off'}\n"
        "  - {name: c, duration: 20m, heat: high}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "massagectl", "check", str(program), "--profile", "omp-heat-pad"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "switched off at 32m" in done.stdout + done.stderr
