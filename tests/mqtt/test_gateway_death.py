"""End to end: the gateway process dies (SIGKILL) or is stopped (SIGTERM) with a device running.

Killed, it cannot say goodbye: the broker publishes its last will (the gateway offline), every
``fleet`` shows it and its devices offline, a remote client in the middle of a program hears it
and exits, and the device, no longer fed, stops by its own watchdog. Stopped by a signal, it
stops the device at once and says offline itself.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .broker import Mosquitto
from .support import (
    BridgeProcess,
    SimProcess,
    cli,
    finish,
    mqtt_address,
    one_error_line,
    spawn_cli,
)

#: The simulated percussion massager's watchdog (profile omp-percussion-pro); the gateway feeds
#: it every 0.8 s.
WATCHDOG_S = 3.0

LONG_STEP = """\
name: long-step
title: One long step
steps:
  - name: steady
    duration: 20s
    speed: 50%
"""


@pytest.fixture
def chair() -> Iterator[SimProcess]:
    """A simulated 13-speed percussion massager on a pty."""
    sim = SimProcess("omp-percussion-pro", commands=True)
    yield sim
    sim.close()


def _fleet(broker: Mosquitto) -> list[dict[str, Any]]:
    done = cli("fleet", "--broker", broker.url, "--json", "--wait", "2s")
    assert done.returncode == 0, done.stderr
    doc: list[dict[str, Any]] = json.loads(done.stdout)
    return doc


def test_a_killed_gateway_is_offline_and_its_device_stops_by_its_watchdog(
    broker: Mosquitto, chair: SimProcess, tmp_path: Path
) -> None:
    program = tmp_path / "long-step.yaml"
    program.write_text(LONG_STEP)
    address = mqtt_address(broker.port, "gw1", "chair")
    with BridgeProcess(broker.url, [f"chair={chair.address()}"], gateway="gw1") as bridge:
        client = spawn_cli("run", str(program), "--device", address, "--no-journal")
        try:
            chair.wait_for(lambda s: s.speed == 7, timeout=10)
            time.sleep(0.3)
            bridge.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            assert bridge.wait(5) == -signal.SIGKILL

            # The client running the program hears of it and ends with one line naming it.
            code, out, err = finish(client, timeout=10)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait(5)
    assert code == 3, (out, err)
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("massagectl: error:")]
    assert len(errors) == 1, err
    assert "gateway gw1 went offline" in errors[0]
    assert time.monotonic() - killed_at < 3.0

    # Nothing feeds the device any more: its own watchdog stops it, on time.
    stopped = chair.wait_for(lambda s: s.speed == 0, timeout=WATCHDOG_S + 3)
    assert stopped.cause == "watchdog", stopped
    assert "WATCHDOG_STOP" in stopped.faults
    # The last feed came at most one keepalive (0.8 s) before the kill.
    assert WATCHDOG_S - 1.0 <= stopped.seen_at - killed_at <= WATCHDOG_S + 1.5
    assert not [c for c in chair.commands if c[0] == "STOP"]

    # The broker said it for the dead gateway (its last will), and fleet shows it.
    [gateway] = _fleet(broker)
    assert (gateway["gateway"], gateway["online"]) == ("gw1", False)
    assert [(d["device"], d["online"]) for d in gateway["devices"]] == [("chair", False)]
    table = cli("fleet", "--broker", broker.url, "--wait", "2s")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "chair" in line)
    assert "gw1 (offline)" in row
    assert "offline" in row.replace("gw1 (offline)", "")
    # What it last did is no longer what it does: no speed shown for a device nobody hears.
    assert "53.8%" not in row

    # A client that comes now is told at once.
    late = cli("status", "--device", address, timeout=10)
    assert late.returncode == 3
    assert "gateway gw1 is offline" in one_error_line(late.stderr)


def test_sigterm_stops_the_device_at_once_and_says_offline(
    broker: Mosquitto, chair: SimProcess
) -> None:
    address = mqtt_address(broker.port, "gw1", "chair")
    with BridgeProcess(broker.url, [f"chair={chair.address()}"], gateway="gw1") as bridge:
        done = cli("set", "--device", address, "--speed", "40%")
        assert done.returncode == 0, done.stderr
        chair.wait_for(lambda s: s.speed == 5, timeout=5)
        bridge.send_signal(signal.SIGTERM)
        sent_at = time.monotonic()
        stopped = chair.wait_for(lambda s: s.speed == 0, timeout=3)
        assert bridge.wait(5) == 143
    assert stopped.cause == "STOP", stopped
    assert stopped.seen_at - sent_at < 1.0
    assert "Traceback" not in "\n".join(bridge.lines)
    assert "massagectl: stopped by SIGTERM" in bridge.stderr

    [gateway] = _fleet(broker)
    assert (gateway["gateway"], gateway["online"]) == ("gw1", False)
    [device] = gateway["devices"]
    assert (device["device"], device["online"]) == ("chair", False)
    assert device["state"]["speed_level"] == 0
    late = cli("status", "--device", address, timeout=10)
    assert late.returncode == 3
    assert "gateway gw1 is offline" in one_error_line(late.stderr)
