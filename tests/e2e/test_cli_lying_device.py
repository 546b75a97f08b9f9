"""End to end: the real CLI against a simulated OMP/1 device that reports what cannot be.

The device is ``massagectl sim PROFILE --pty --commands --fault lie-...`` on a real
pseudo-terminal: it obeys the host as usual, but its STATUS says speed 255 of 10, 900 °C, a
battery at 250 % or fault bits OMP/1 does not define. ``status`` must refuse to show such a
state (one error line naming the value, exit 3, the device stopped); a ``run`` must end with the
device stopped; unknown fault bits must be named by their number, not dropped.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from .support import CLI, massagectl

_FIELDS = re.compile(r"(\w+)=(\S+)")


class LyingSim:
    """``massagectl sim PROFILE --pty --commands --fault ...``: its commands and state lines."""

    def __init__(self, profile: str, *faults: str) -> None:
        args = [arg for fault in faults for arg in ("--fault", fault)]
        self.proc = subprocess.Popen(
            [*CLI, "sim", profile, "--pty", "--commands", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdout is not None
        path = self.proc.stdout.readline().strip()
        assert path.startswith("/dev/"), path
        self.address = f"serial:{path}?profile={profile}"
        #: ``(command, value)`` of every command the device received, in order.
        self.commands: list[tuple[str, str]] = []
        #: The device's own record: ``(speed, heat, program)`` after each change.
        self.states: list[tuple[int, int, int]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            fields = dict(_FIELDS.findall(line))
            if "command" in fields:
                self.commands.append((fields["command"], fields["value"]))
            elif "speed" in fields:
                self.states.append(
                    (int(fields["speed"]), int(fields["heat"]), int(fields["program"]))
                )

    def close(self) -> None:
        """Stop the simulator and wait until everything it printed is read."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)


@contextmanager
def lying(profile: str, *faults: str) -> Iterator[LyingSim]:
    sim = LyingSim(profile, *faults)
    try:
        yield sim
    finally:
        sim.close()


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("massagectl: error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("profile", "lie", "says"),
    [
        ("omp-wand-heat", "lie-speed=255", "speed 255 is outside 0..10"),
        ("omp-wand-heat", "lie-heat=255", "heat 255 is outside 0..2"),
        ("omp-wand-heat", "lie-program=200", "program 200 is outside 0..3"),
        # Physical bounds: no sensor of a massager reads 900 °C, no battery holds 250 %.
        ("omp-wand-heat", "lie-temperature=900", "temperature 900.0 °C is outside -40..125 °C"),
        ("omp-neck-rest", "lie-battery=250", "battery 250 % is outside 0..100 %"),
    ],
)
def test_status_of_a_lying_device_names_the_value_exits_3_and_leaves_it_stopped(
    profile: str, lie: str, says: str
) -> None:
    with lying(profile, lie) as sim:
        done = massagectl("status", "--device", sim.address)
        sim.close()
    assert done.returncode == 3, (done.stdout, done.stderr)
    line = _one_error_line(done)
    assert says in line, line
    assert "the device reported what cannot be" in line
    # The state that cannot be is not shown as if it were one.
    assert done.stdout == ""
    # Greeted, asked, then stopped: nothing it says about itself can be trusted.
    kinds = [command for command, _ in sim.commands]
    assert set(kinds) <= {"HELLO", "GET_STATUS", "STOP"}, sim.commands
    assert kinds[-1] == "STOP", sim.commands


def test_status_json_of_a_lying_device_is_an_error_too() -> None:
    with lying("omp-wand-heat", "lie-speed=255", "lie-heat=9") as sim:
        done = massagectl("status", "--device", sim.address, "--json")
    assert done.returncode == 3
    line = _one_error_line(done)
    assert "speed 255 is outside 0..10, heat 9 is outside 0..2" in line
    assert done.stdout == ""


def test_unknown_fault_bits_are_named_by_their_number() -> None:
    # Bits 5 and 7 of the STATUS faults byte, which OMP/1 version 1 does not define.
    with lying("omp-wand-heat", "lie-fault-bits=160") as sim:
        table = massagectl("status", "--device", sim.address)
        doc = massagectl("status", "--device", sim.address, "--json")
    assert table.returncode == 0, table.stderr
    assert "FAULT_BIT5, FAULT_BIT7" in table.stdout
    assert json.loads(doc.stdout)["faults"] == ["FAULT_BIT5", "FAULT_BIT7"]


def _run_against(sim: LyingSim) -> subprocess.CompletedProcess[str]:
    return massagectl("run", "quick-relief", "--device", sim.address, timeout=60)


def _ended_at_rest(sim: LyingSim) -> None:
    started = [i for i, (command, value) in enumerate(sim.commands) if command == "SET_SPEED"]
    assert started, "the run never started the device"
    assert sim.commands[-1][0] == "STOP", sim.commands[-5:]
    assert sim.states[-1] == (0, 0, 0), sim.states[-5:]


def test_a_run_on_a_device_that_starts_lying_ends_with_it_stopped() -> None:
    # The run is well under way (speed and heat on) when the device starts to lie.
    with lying("omp-wand-heat", "lie-speed=255@4") as sim:
        done = _run_against(sim)
        sim.close()
    assert done.returncode == 3, (done.stdout[-500:], done.stderr)
    line = _one_error_line(done)
    assert "BAD_REPORT" in line, line
    assert "speed 255 is outside 0..10" in line, line
    assert "every device stopped" in line
    _ended_at_rest(sim)


def test_a_run_on_a_device_with_an_impossible_temperature_ends_with_it_stopped() -> None:
    with lying("omp-wand-heat", "lie-temperature=900@4") as sim:
        done = _run_against(sim)
        sim.close()
    assert done.returncode == 3, (done.stdout[-500:], done.stderr)
    assert "temperature 900.0 °C is outside -40..125 °C" in _one_error_line(done)
    _ended_at_rest(sim)


def test_a_run_ends_on_a_fault_bit_nobody_defined() -> None:
    with lying("omp-wand-heat", "lie-fault-bits=32@4") as sim:
        done = _run_against(sim)
        sim.close()
    assert done.returncode == 3, (done.stdout[-500:], done.stderr)
    line = _one_error_line(done)
    assert "FAULT_BIT5" in line, line
    assert "a fault massagectl does not know" in line, line
    _ended_at_rest(sim)


def test_set_for_ends_the_hold_when_the_device_starts_lying() -> None:
    # Held for a minute; 3 s in, the device says it runs at speed 255.
    with lying("omp-wand-heat", "lie-speed=255@3") as sim:
        done = massagectl("set", "--device", sim.address, "--speed", "4", "--for", "60s")
        sim.close()
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "speed 255 is outside 0..10" in _one_error_line(done)
    assert "stopped after" not in done.stdout
    assert ("SET_SPEED", "4") in sim.commands
    _ended_at_rest(sim)


@pytest.mark.parametrize(
    ("profile", "lie", "says"),
    [
        # OMP/1's STATUS carries the speed in one byte.
        ("omp-wand-heat", "lie-speed=300", "room for a whole number from 0 to 255 there, not 300"),
        # A Lovense device reports no speed, only its battery.
        ("lovense-domi", "lie-speed=5", "lovense-domi has no speed in what it reports"),
    ],
)
def test_a_lie_the_device_cannot_tell_is_refused_before_serving(
    profile: str, lie: str, says: str
) -> None:
    done = massagectl("sim", profile, "--pty", "--fault", lie, timeout=10)
    assert done.returncode == 2
    assert says in _one_error_line(done)
    assert done.stdout == ""
