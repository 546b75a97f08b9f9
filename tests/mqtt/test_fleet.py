"""End to end: ``massagectl fleet`` over two real gateways on one real broker."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .broker import Mosquitto
from .support import BridgeProcess, cli, finish, mqtt_address, one_error_line, spawn_cli

GW_A = {"omp-wand-heat": "omp-wand-heat", "theragun-pro": "theragun-pro"}
GW_B = {
    "omp-heat-pad": "omp-heat-pad",
    "lovense-domi": "lovense-domi",
    "omp-percussion-pro": "omp-percussion-pro",
}
GHOST = "serial:/dev/massagectl-test-no-such-port?profile=omp-percussion-pro"


@pytest.fixture
def fleet(broker: Mosquitto) -> Iterator[tuple[BridgeProcess, BridgeProcess]]:
    """gw-a and gw-b, each with simulated devices (named after their profiles)."""
    # gw-a also has a device it cannot reach (no such port): offline while gw-a is online.
    a = BridgeProcess(
        broker.url,
        [*(f"sim:{p}" for p in GW_A.values()), f"ghost={GHOST}"],
        gateway="gw-a",
        wait=False,
        online=list(GW_A),
    )
    try:
        b = BridgeProcess(
            broker.url, [f"sim:{p}" for p in GW_B.values()], gateway="gw-b", wait=False
        )
        try:
            a.wait_online()
            b.wait_online()
            yield a, b
        finally:
            b.close()
    finally:
        a.close()


def _fleet_json(broker: Mosquitto) -> dict[str, dict[str, Any]]:
    done = cli("fleet", "--broker", broker.url, "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return {gw["gateway"]: gw for gw in json.loads(done.stdout)}


def _devices(gateway: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["device"]: d for d in gateway["devices"]}


def test_fleet_lists_every_gateway_and_device_with_its_state(
    broker: Mosquitto, fleet: tuple[BridgeProcess, BridgeProcess]
) -> None:
    _, gw_b = fleet
    sets = [
        spawn_cli("set", "--device", mqtt_address(broker.port, "gw-a", "omp-wand-heat"),
                  "--speed", "50%", "--heat", "low"),
        spawn_cli("set", "--device", mqtt_address(broker.port, "gw-b", "lovense-domi"),
                  "--speed", "10"),
    ]  # fmt: skip
    for proc in sets:
        code, _, err = finish(proc, timeout=15)
        assert code == 0, err

    gateways = _fleet_json(broker)
    assert sorted(gateways) == ["gw-a", "gw-b"]
    ghost = _devices(gateways["gw-a"]).pop("ghost")
    assert ghost["online"] is False
    gateways["gw-a"]["devices"].remove(ghost)
    for name, profiles in (("gw-a", GW_A), ("gw-b", GW_B)):
        assert gateways[name]["online"] is True
        devices = _devices(gateways[name])
        assert sorted(devices) == sorted(profiles)
        for device, profile in profiles.items():
            assert devices[device]["online"] is True
            assert devices[device]["profile"] == profile
            assert devices[device]["address"] == f"sim:{profile}"
            assert devices[device]["state"]["connected"] is True
    wand = _devices(gateways["gw-a"])["omp-wand-heat"]["state"]
    assert (wand["speed_level"], wand["speed"], wand["heat"]) == (5, 50.0, "low")
    domi = _devices(gateways["gw-b"])["lovense-domi"]["state"]
    assert (domi["speed_level"], domi["speed"], domi["power"]) == (10, 50.0, "ON")
    idle = _devices(gateways["gw-b"])["omp-percussion-pro"]["state"]
    assert (idle["speed_level"], idle["power"]) == (0, "OFF")

    table = cli("fleet", "--broker", broker.url)
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()
    for gateway, profiles in (("gw-a", GW_A), ("gw-b", GW_B)):
        for device in profiles:
            [row] = [r for r in rows if f" {device} " in r]
            assert f" {gateway} " in row
            assert " online " in row
    assert "50%" in next(r for r in rows if " omp-wand-heat " in r)
    [ghost_row] = [r for r in rows if " ghost " in r]
    assert " gw-a " in ghost_row
    assert " offline " in ghost_row

    # A client for the device the gateway cannot reach is told so at once.
    started = time.monotonic()
    done = cli("status", "--device", mqtt_address(broker.port, "gw-a", "ghost"))
    assert done.returncode == 3
    assert "gateway gw-a has no link to ghost now" in one_error_line(done.stderr)
    assert time.monotonic() - started < 2.5

    # gw-b stopped: it and its devices offline; gw-a goes on as it was.
    gw_b.send_signal(signal.SIGTERM)
    assert gw_b.wait(5) == 143
    gateways = _fleet_json(broker)
    assert gateways["gw-b"]["online"] is False
    assert sorted(_devices(gateways["gw-b"])) == sorted(GW_B)
    assert not [d for d in gateways["gw-b"]["devices"] if d["online"]]
    assert gateways["gw-a"]["online"] is True
    assert [d["device"] for d in gateways["gw-a"]["devices"] if not d["online"]] == ["ghost"]
    assert _devices(gateways["gw-a"])["omp-wand-heat"]["state"]["speed_level"] == 5

    table = cli("fleet", "--broker", broker.url)
    rows = table.stdout.splitlines()
    for device in GW_B:
        [row] = [r for r in rows if f" {device} " in r]
        assert "gw-b (offline)" in row
        assert " offline " in row.replace("gw-b (offline)", "")
    for device in GW_A:
        [row] = [r for r in rows if f" {device} " in r]
        assert " gw-a " in row
        assert " online " in row
        assert "offline" not in row


def test_an_empty_broker_has_no_gateways(broker: Mosquitto) -> None:
    table, as_json = (
        spawn_cli("fleet", "--broker", broker.url, "--wait", "1s"),
        spawn_cli("fleet", "--broker", broker.url, "--wait", "1s", "--json"),
    )
    code, out, err = finish(table, timeout=10)
    assert (code, out.strip(), err) == (0, f"no gateways on {broker.url}", "")
    code, out, err = finish(as_json, timeout=10)
    assert (code, json.loads(out), err) == (0, [], "")
