"""End to end: the real CLI drives a simulated OMP/1 device on a real pseudo-terminal."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from .support import CLI, SimProcess, massagectl, spawn


def test_set_status_stop_on_a_heat_pad(heat_pad: SimProcess) -> None:
    done = massagectl("set", "--device", heat_pad.address(), "--heat", "medium")
    assert done.returncode == 0, done.stderr
    assert "heat 4/6" in done.stdout
    heat_pad.wait_for(lambda s: s.heat == 4 and s.cause == "SET_HEAT")

    status = massagectl("status", "--device", heat_pad.address(), "--json")
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["heat"] == 4
    assert doc["heat_levels"] == 6
    assert doc["speed"] == 0
    assert doc["program"] is None
    assert isinstance(doc["temperature_c"], float)
    assert doc["battery"] is None  # mains powered
    assert doc["faults"] == []

    stopped = massagectl("stop", "--device", heat_pad.address())
    assert stopped.returncode == 0, stopped.stderr
    heat_pad.wait_for(lambda s: s.heat == 0 and s.cause == "STOP")
    after = json.loads(massagectl("status", "--device", heat_pad.address(), "--json").stdout)
    assert after["heat"] == 0


def test_speed_as_percentage_maps_to_the_level(percussion: SimProcess) -> None:
    done = massagectl("set", "--device", percussion.address(), "--speed", "40%")
    assert done.returncode == 0, done.stderr
    assert "speed 5/13" in done.stdout
    percussion.wait_for(lambda s: s.speed == 5)
    # Without --for the command leaves the device to its watchdog, and says so.
    assert "watchdog" in done.stderr
    assert massagectl("stop", "--device", percussion.address()).returncode == 0
    doc = json.loads(massagectl("status", "--device", percussion.address(), "--json").stdout)
    assert doc["speed"] == 0


def test_builtin_program_by_name(percussion: SimProcess) -> None:
    done = massagectl("set", "--device", percussion.address(), "--program", "relax")
    assert done.returncode == 0, done.stderr
    assert "program 2 (Relax)" in done.stdout
    percussion.wait_for(lambda s: s.program == 2)


def test_set_for_holds_the_setting_then_stops(percussion: SimProcess) -> None:
    # 4 s is longer than the 3 s watchdog: only the host's keepalive keeps the device going.
    done = massagectl("set", "--device", percussion.address(), "--speed", "7", "--for", "4s")
    assert done.returncode == 0, done.stderr
    assert "stopped after 4s" in done.stdout
    started = percussion.wait_for(lambda s: s.speed == 7)
    ended = percussion.wait_for(lambda s: s.speed == 0)
    assert ended.cause == "STOP"
    assert "WATCHDOG_STOP" not in ended.faults
    assert 3.9 <= ended.t - started.t <= 6.0


def test_watchdog_stops_device_when_host_is_killed(percussion: SimProcess) -> None:
    host = spawn("set", "--device", percussion.address(), "--speed", "50%", "--for", "60s")
    try:
        percussion.wait_for(lambda s: s.speed == 7)
        time.sleep(1.0)
        assert not [s for s in percussion.drain() if s.speed == 0], "stopped while fed"
        host.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        host.wait(5)
    finally:
        if host.poll() is None:
            host.kill()
    stopped = percussion.wait_for(lambda s: s.speed == 0, timeout=10)
    assert stopped.cause == "watchdog"
    assert "WATCHDOG_STOP" in stopped.faults
    # Within the 3 s watchdog of the last frame the host sent (plus reading slack).
    assert stopped.seen_at - killed_at <= 3.0 + 0.75


def test_sigterm_stops_the_device_before_exit(percussion: SimProcess) -> None:
    host = spawn("set", "--device", percussion.address(), "--speed", "9", "--for", "60s")
    percussion.wait_for(lambda s: s.speed == 9)
    host.send_signal(signal.SIGTERM)
    _, err = host.communicate(timeout=10)
    assert host.returncode == 128 + signal.SIGTERM
    assert "SIGTERM" in err
    assert "Traceback" not in err
    stopped = percussion.wait_for(lambda s: s.speed == 0, timeout=2)
    assert stopped.cause == "STOP"


def test_ctrl_c_stops_the_device_before_exit(heat_pad: SimProcess) -> None:
    host = spawn("set", "--device", heat_pad.address(), "--heat", "high", "--for", "60s")
    heat_pad.wait_for(lambda s: s.heat == 6)
    host.send_signal(signal.SIGINT)
    _, err = host.communicate(timeout=10)
    assert host.returncode == 128 + signal.SIGINT
    assert "Traceback" not in err
    assert heat_pad.wait_for(lambda s: s.heat == 0, timeout=2).cause == "STOP"


def test_simulator_over_tcp() -> None:
    sim = subprocess.Popen(
        [*CLI, "sim", "omp-wand-heat", "--tcp", "127.0.0.1:0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        hostport = sim.stdout.readline().strip()
        assert hostport.startswith("127.0.0.1:")
        address = f"tcp:{hostport}?profile=omp-wand-heat"
        done = massagectl("set", "--device", address, "--speed", "30%", "--heat", "2")
        assert done.returncode == 0, done.stderr
        assert "speed 3/10, heat 2/2" in done.stdout
        doc = json.loads(massagectl("status", "--device", address, "--json").stdout)
        assert (doc["speed"], doc["heat"]) == (3, 2)
    finally:
        sim.terminate()
        sim.wait(5)
