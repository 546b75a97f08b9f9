"""``massagectl sim --fault``: a simulated device that misbehaves, for people testing their apps."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator

import pytest

from ..e2e.support import CLI, massagectl


@pytest.fixture
def stalled_wand() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``massagectl sim omp-wand-heat --pty --fault motor@0.2`` running, and its pty path."""
    proc = subprocess.Popen(
        [*CLI, "sim", "omp-wand-heat", "--pty", "--fault", "motor@0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    path = proc.stdout.readline().strip()
    assert path.startswith("/dev/"), path
    yield path, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)


def test_a_timed_fault_goes_in_and_an_app_is_told_why_it_is_refused(
    stalled_wand: tuple[str, subprocess.Popen[str]],
) -> None:
    path, proc = stalled_wand
    assert proc.stdout is not None
    # The state line the simulator prints when the motor stalls, 0.2 s after the start.
    for line in proc.stdout:
        if "faults=MOTOR" in line:
            assert re.search(r"t=0\.2\d* speed=0 .* cause=motor fault", line), line
            break
    done = massagectl("set", "--device", f"serial:{path}?profile=omp-wand-heat", "--speed", "5")
    assert done.returncode == 3
    assert "refused SET_SPEED 5: REFUSED_FAULT (faults: MOTOR)" in done.stderr
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=5)
    assert re.search(r"massagesim: fault motor@0\.2 injected at t=0\.2", err)


@pytest.mark.parametrize(
    ("profile", "fault", "message"),
    [
        ("omp-wand-heat", "melt", "NAME one of garble"),
        ("lovense-domi", "overheat", "lovense-domi has no heater cut-out"),
        ("omp-wand-heat", "battery=5", "omp-wand-heat has no battery"),
    ],
)
def test_a_fault_the_device_cannot_have_is_refused_before_serving(
    profile: str, fault: str, message: str
) -> None:
    done = massagectl("sim", profile, "--pty", "--fault", fault, timeout=10)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
