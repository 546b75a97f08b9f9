"""End to end: ``mqtt://BROKER/GATEWAY/DEVICE`` addresses through the real CLI.

A simulated device on a pseudo-terminal, a real ``massagectl bridge`` serving it over that
pty, a real Mosquitto between them and the client, and ``massagectl status/set/stop/run`` run
as a person would. What the device receives is read from the simulator's ``--commands`` lines.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .broker import Mosquitto, free_port
from .support import (
    BridgeProcess,
    SimProcess,
    cli,
    finish,
    mqtt_address,
    one_error_line,
    spawn_cli,
    speed_is,
    speeds_sent,
)

#: A program of three one-second steps at different speeds.
THREE_STEPS = """\
name: three-steps
title: Three steps up
steps:
  - name: low
    duration: 1s
    speed: 20%
  - name: middle
    duration: 1s
    speed: 60%
  - name: top
    duration: 1s
    speed: 100%
"""

#: One long step: a client killed during it has left the device running at level 7 of 13.
LONG_STEP = """\
name: long-step
title: One long step
steps:
  - name: steady
    duration: 20s
    speed: 50%
"""


@dataclass
class Site:
    """A broker and gateway ``gw1`` serving a 13-speed percussion massager as ``chair``."""

    broker: Mosquitto
    sim: SimProcess
    address: str


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """One broker, simulator and bridge for this module's tests (each leaves the device at
    rest; :func:`chair` hands the simulator over with no old lines)."""
    broker = Mosquitto()
    try:
        sim = SimProcess("omp-percussion-pro", commands=True)
        try:
            with BridgeProcess(broker.url, [f"chair={sim.address()}"], gateway="gw1"):
                yield Site(broker, sim, mqtt_address(broker.port, "gw1", "chair"))
        finally:
            sim.close()
    finally:
        broker.close()


@pytest.fixture
def chair(site: Site) -> SimProcess:
    """The simulator of ``site``, its earlier lines and commands forgotten."""
    site.sim.drain()
    site.sim.commands.clear()
    return site.sim


def _status(address: str) -> dict[str, object]:
    done = cli("status", "--device", address, "--json")
    assert done.returncode == 0, done.stderr
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def test_status_set_and_stop_through_the_gateway(site: Site, chair: SimProcess) -> None:
    address = site.address

    doc = _status(address)
    assert (doc["speed"], doc["speed_levels"], doc["heat_levels"]) == (0, 13, 0)
    assert doc["device"] == address

    done = cli("set", "--device", address, "--speed", "40%")
    assert done.returncode == 0, done.stderr
    assert "speed 5/13" in done.stdout
    # It stays on after the command exits (the gateway keeps it fed), and it says so.
    assert "left running" in done.stderr
    chair.wait_for(lambda s: s.speed == 5 and s.cause == "SET_SPEED", timeout=5)
    assert ("SET_SPEED", "5", "OK") in chair.commands

    # A fresh client sees what the device does now, in JSON and in the table.
    assert _status(address)["speed"] == 5
    table = cli("status", "--device", address)
    assert table.returncode == 0, table.stderr
    assert "5 of 13" in table.stdout

    stopped = cli("stop", "--device", address)
    assert stopped.returncode == 0, stopped.stderr
    assert f"{address}: stopped" in stopped.stdout
    chair.wait_for(lambda s: s.speed == 0 and s.cause == "STOP", timeout=5)
    assert _status(address)["speed"] == 0


def test_bad_values_change_nothing(site: Site, chair: SimProcess) -> None:
    address = site.address
    assert cli("set", "--device", address, "--speed", "40%").returncode == 0
    chair.wait_for(lambda s: s.speed == 5, timeout=5)
    sent_before = speeds_sent(chair)

    cases = {
        ("--speed", "150%"): "at most 100%",
        ("--speed", "14"): "outside 0..13",
        ("--heat", "high"): "no heater",
        ("--program", "9"): "outside 0..7",
    }
    procs = {args: spawn_cli("set", "--device", address, *args) for args in cases}
    for args, words in cases.items():
        code, out, err = finish(procs[args], timeout=15)
        assert code == 2, (args, out, err)
        assert words in one_error_line(err), err
        assert out == ""

    assert speeds_sent(chair) == sent_before
    assert not [c for c in chair.commands if c[0] in ("SET_HEAT", "RUN_PROGRAM", "STOP")]
    assert _status(address)["speed"] == 5
    assert not [s for s in chair.drain() if s.speed != 5]
    assert cli("stop", "--device", address).returncode == 0
    chair.wait_for(lambda s: s.speed == 0, timeout=5)


def test_nothing_there_is_one_line_and_exit_3(site: Site, chair: SimProcess) -> None:
    dead_port = free_port()
    port = site.broker.port
    cases = {
        mqtt_address(port, "nogw", "chair"): "no gateway 'nogw'",
        mqtt_address(port, "gw1", "nodev"): "gateway gw1 has no device 'nodev'",
        mqtt_address(dead_port, "gw1", "chair"): f"127.0.0.1:{dead_port}",
    }
    started = time.monotonic()
    procs = {address: spawn_cli("set", "--device", address, "--speed", "3") for address in cases}
    for address, words in cases.items():
        code, out, err = finish(procs[address], timeout=15)
        assert code == 3, (address, out, err)
        line = one_error_line(err)
        assert address in line
        assert words in line, line
        assert out == ""
    # Nobody waits long to hear it: a few seconds for the retained topics, no more.
    assert time.monotonic() - started < 8
    assert not [c for c in chair.commands if c[0] in ("SET_SPEED", "STOP")]


def test_a_program_on_devices_behind_two_gateways(
    site: Site, chair: SimProcess, tmp_path: Path
) -> None:
    program = tmp_path / "three-steps.yaml"
    program.write_text(THREE_STEPS)
    wand = SimProcess("omp-wand-heat", commands=True)
    try:
        with BridgeProcess(site.broker.url, [f"wand={wand.address()}"], gateway="gw-b"):
            done = cli(
                "run",
                str(program),
                "--device",
                site.address,
                "--device",
                mqtt_address(site.broker.port, "gw-b", "wand"),
                "--no-journal",
                timeout=20,
            )
            assert done.returncode == 0, done.stderr
            assert "finished: three-steps" in done.stdout
            # 20%, 60% and 100% of 13 and of 10 speeds, in order, one second apart; in step.
            assert [level for level in speeds_sent(chair) if level] == [3, 8, 13]
            assert [level for level in speeds_sent(wand) if level] == [2, 6, 10]
            onsets = [chair.wait_for(speed_is(level), 5) for level in (3, 8, 13)]
            gaps = [b.t - a.t for a, b in itertools.pairwise(onsets)]
            assert all(0.8 <= gap <= 1.4 for gap in gaps), gaps
            wand_top = wand.wait_for(lambda s: s.speed == 10, timeout=5)
            assert abs(onsets[-1].seen_at - wand_top.seen_at) < 0.5
            # Both end at rest, and a fresh client sees them at rest.
            assert chair.wait_for(lambda s: s.speed == 0, 5).t - onsets[-1].t < 1.5
            wand.wait_for(lambda s: s.speed == 0, timeout=5)
            assert _status(site.address)["speed"] == 0
            assert _status(mqtt_address(site.broker.port, "gw-b", "wand"))["speed"] == 0
    finally:
        wand.close()


def _kill(proc: subprocess.Popen[str]) -> float:
    """SIGKILL ``proc``; the time it was sent."""
    proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    proc.wait(5)
    return killed_at


def test_a_killed_client_has_its_device_stopped_by_its_last_will(
    site: Site, chair: SimProcess, tmp_path: Path
) -> None:
    program = tmp_path / "long-step.yaml"
    program.write_text(LONG_STEP)
    client = spawn_cli("run", str(program), "--device", site.address, "--no-journal")
    try:
        chair.wait_for(lambda s: s.speed == 7, timeout=10)
        time.sleep(0.5)
        assert not [s for s in chair.drain() if s.speed != 7], "it changed while the client ran"
        killed_at = _kill(client)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(5)
    # The gateway keeps the device fed, so only the client's will can stop it: a STOP from the
    # gateway (not the device's watchdog), within two seconds.
    stopped = chair.wait_for(lambda s: s.speed == 0, timeout=5)
    assert stopped.cause == "STOP", stopped
    assert "WATCHDOG_STOP" not in stopped.faults
    assert stopped.seen_at - killed_at < 2.0
    assert _status(site.address)["speed"] == 0


def test_a_will_stops_only_what_its_client_started(
    site: Site, chair: SimProcess, tmp_path: Path
) -> None:
    program = tmp_path / "long-step.yaml"
    program.write_text(LONG_STEP)
    client = spawn_cli("run", str(program), "--device", site.address, "--no-journal")
    try:
        chair.wait_for(lambda s: s.speed == 7, timeout=10)
        # Someone else sets the device by hand: it is theirs now (and they exit cleanly).
        done = cli("set", "--device", site.address, "--speed", "40%")
        assert done.returncode == 0, done.stderr
        chair.wait_for(lambda s: s.speed == 5, timeout=5)
        _kill(client)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(5)
    # The dead client's will names it, not the device's owner: nothing stops the device.
    time.sleep(2.0)
    assert [s for s in chair.drain() if s.speed != 5] == []
    assert _status(site.address)["speed"] == 5
    assert cli("stop", "--device", site.address).returncode == 0
    assert chair.wait_for(lambda s: s.speed == 0, timeout=5).cause == "STOP"
