"""Bad input: one line naming the problem, a non-zero exit, no traceback, the device untouched."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Iterator

import pytest

from .support import SimProcess, massagectl


def assert_one_line_error(done: object, code: int, *fragments: str) -> None:
    returncode = getattr(done, "returncode", None)
    stderr: str = getattr(done, "stderr", "")
    assert returncode == code, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("massagectl: error:")]
    assert len(errors) == 1, stderr
    for fragment in fragments:
        assert fragment in errors[0]


def test_out_of_range_level_changes_nothing(percussion: SimProcess) -> None:
    done = massagectl("set", "--device", percussion.address(), "--speed", "20")
    assert_one_line_error(done, 2, "--speed 20", "0..13")
    time.sleep(0.3)
    assert not [s for s in percussion.drain() if s.speed != 0]


def test_speed_over_100_percent_is_refused_before_connecting() -> None:
    done = massagectl("set", "--device", "sim:omp-wand-heat", "--speed", "150%")
    assert_one_line_error(done, 2, "150%")


def test_heat_on_a_device_without_heater_is_refused(percussion: SimProcess) -> None:
    done = massagectl("set", "--device", percussion.address(), "--heat", "high")
    assert_one_line_error(done, 2, "no heater")


def test_unknown_profile() -> None:
    done = massagectl("status", "--device", "sim:omp-toaster")
    assert_one_line_error(done, 2, "omp-toaster")


def test_generic_profile_cannot_be_simulated() -> None:
    assert_one_line_error(massagectl("sim", "omp", "--pty"), 2, "concrete model")


def test_address_that_does_not_parse() -> None:
    assert_one_line_error(massagectl("stop", "--device", "usb:/dev/x"), 2, "usb:/dev/x")


def test_port_that_does_not_exist() -> None:
    done = massagectl("status", "--device", "serial:/dev/no-such-massager")
    assert_one_line_error(done, 3, "/dev/no-such-massager", "No such file")


def test_nothing_to_set() -> None:
    assert_one_line_error(massagectl("set", "--device", "sim:omp-wand-heat"), 2, "--speed")


@pytest.fixture
def silent_pty() -> Iterator[tuple[str, int]]:
    """A pseudo-terminal with nobody behind it: a device that never answers."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield os.ttyname(slave), master
    finally:
        os.close(slave)
        os.close(master)


def test_device_that_never_answers_hello(silent_pty: tuple[str, int]) -> None:
    path, _ = silent_pty
    started = time.monotonic()
    done = massagectl("status", "--device", f"serial:{path}")
    assert_one_line_error(done, 3, "no answer to HELLO")
    assert time.monotonic() - started >= 1.5  # three tries of 500 ms, as the spec says


def test_garbage_on_the_line(silent_pty: tuple[str, int]) -> None:
    path, master = silent_pty
    stop = threading.Event()

    def babble() -> None:
        noise = bytes(range(1, 256)) + b"\x00\x13\x37\x00"
        while not stop.is_set():
            try:
                os.write(master, noise)
            except OSError:
                return
            time.sleep(0.05)

    threading.Thread(target=babble, daemon=True).start()
    try:
        done = massagectl("status", "--device", f"serial:{path}")
    finally:
        stop.set()
    assert_one_line_error(done, 3, "no answer to HELLO", "broken frames")
