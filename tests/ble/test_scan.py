"""Finding devices: BLE peripherals matched to profiles, serial ports, and ``massagectl scan``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from massagectl.cli.app import app
from massagectl.profiles import all_profiles
from massagectl.protocols.omp import BLE_SERVICE
from massagectl.scan import match_profiles, scan_ble, suggest_profile
from massagectl.transports.ble import BACKEND_ENV
from massagesim import SimulatedDevice
from massagesim.ble import SimBleRadio, SimPeripheral

CLI = [sys.executable, "-m", "massagectl"]
#: Where BlueZ would be reached; without it this machine has no usable Bluetooth.
_SYSTEM_BUS = Path("/var/run/dbus/system_bus_socket")
no_bluetooth_here = pytest.mark.skipif(
    _SYSTEM_BUS.exists() or "DBUS_SYSTEM_BUS_ADDRESS" in os.environ or sys.platform != "linux",
    reason="this machine may have Bluetooth (a system D-Bus is there)",
)


async def test_scan_lists_peripherals_that_fit_a_profile(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    async with SimulatedDevice("omp-heat-pad") as pad:
        radio.add(pad, rssi=-40)
        radio.add(pad, name="Phone", service_uuids=[], address="SI:MU:00:00:00:77")
        found = await scan_ble(0.05, backend=radio.backend())
        everything = await scan_ble(0.05, backend=radio.backend(), include_unknown=True)
    assert [s.name for s in found] == ["OMP-PAD-0002", "OMP-WAND-0001"]  # strongest first
    wand = found[1]
    assert wand.address == wand_peripheral.address
    assert wand.profiles == ("omp-wand-heat", "omp")
    assert wand.profile == "omp"  # OMP/1 devices describe themselves
    assert wand.suggested_address == "ble:SI:MU:00:00:00:01?profile=omp"
    assert wand.service_uuids == (BLE_SERVICE,)
    assert [s.name for s in everything][-1] == "Phone"
    assert everything[-1].suggested_address is None


def test_profiles_are_matched_by_name_first_then_by_service() -> None:
    profiles = all_profiles()
    names = [p.name for p in match_profiles("OMP-PERC-0001", [], profiles)]
    assert names == ["omp-percussion-pro", "omp"]
    assert [p.name for p in match_profiles("OMP-DIY", [BLE_SERVICE], profiles)] == ["omp"]
    # A name that contradicts the profile's names wins over a shared service UUID.
    assert "omp-wand-heat" not in [
        p.name for p in match_profiles("OMP-PAD-1", [BLE_SERVICE], profiles)
    ]
    nameless = match_profiles(None, [BLE_SERVICE], profiles)
    assert {p.name for p in nameless} == {p.name for p in profiles if p.protocol == "omp"}
    suggested = suggest_profile(nameless)
    assert suggested is not None
    assert suggested.name == "omp"
    assert match_profiles("JBL Flip", [], profiles) == []


def test_other_protocols_are_matched_too() -> None:
    profiles = all_profiles()
    assert [
        p.name for p in match_profiles("Pro", ["0000ffe0-0000-1000-8000-00805f9b34fb"], profiles)
    ] == ["theragun-pro"]
    lovense = match_profiles("LVS-Domi", [], profiles)
    assert [p.name for p in lovense] == ["lovense-domi"]
    # A nameless peripheral with the common 0xfff0 service: the profile expecting no name first.
    nameless = match_profiles(None, ["0000fff0-0000-1000-8000-00805f9b34fb"], profiles)
    assert nameless[0].name == "rongtai-rt8600s"


def test_scan_command_prints_the_sim_radios_peripherals_as_json(
    default_radio_cleared: SimBleRadio, monkeypatch: pytest.MonkeyPatch
) -> None:
    default_radio_cleared.add(SimulatedDevice("omp-neck-rest"))
    monkeypatch.setenv(BACKEND_ENV, "sim")
    result = CliRunner().invoke(app, ["scan", "--timeout", "0.2", "--json", "--no-serial"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["serial"] == []
    (neck,) = document["ble"]
    assert neck["name"].startswith("OMP-NECK-")
    assert neck["profiles"] == ["omp-neck-rest", "omp"]
    assert neck["suggested_address"] == f"ble:{neck['address']}?profile=omp"


def test_scan_command_prints_a_table(
    default_radio_cleared: SimBleRadio, monkeypatch: pytest.MonkeyPatch
) -> None:
    default_radio_cleared.add(SimulatedDevice("omp-percussion-pro"))
    monkeypatch.setenv(BACKEND_ENV, "sim")
    result = CliRunner().invoke(app, ["scan", "-t", "200ms", "--no-serial"])
    assert result.exit_code == 0, result.output
    assert "OMP-PERC-" in result.stdout
    assert "?profile=omp" in result.stdout


def test_scan_command_rejects_bad_input_and_an_unknown_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["scan", "--timeout", "0"]).exit_code == 2
    assert runner.invoke(app, ["scan", "--no-ble", "--no-serial"]).exit_code == 2
    monkeypatch.setenv(BACKEND_ENV, "carrier-pigeon")
    result = runner.invoke(app, ["scan", "--no-serial"])
    assert result.exit_code == 2
    assert "expected 'platform' or 'sim'" in result.stderr


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != BACKEND_ENV}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=30, env=env, check=False
    )


@no_bluetooth_here
def test_scan_without_an_adapter_is_one_line_and_exit_3() -> None:
    # On this machine bleak's BlueZ backend meets no system D-Bus socket: FileNotFoundError.
    result = _run("scan", "--timeout", "0.2")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "massagectl: error: BLE scan: no Bluetooth adapter available "
        "(cannot reach the system D-Bus: No such file or directory)"
    )
    assert "--no-ble lists the serial ports only" in result.stderr


@no_bluetooth_here
def test_connecting_to_a_ble_address_without_an_adapter_is_one_line_and_exit_3() -> None:
    result = _run("status", "-d", "ble:OMP-WAND-0001?profile=omp")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "massagectl: error: ble:OMP-WAND-0001: no Bluetooth adapter available"
    )


def test_serial_only_scan_works_without_bluetooth() -> None:
    result = _run("scan", "--no-ble", "--json")
    assert result.returncode == 0, result.stderr
    ports = json.loads(result.stdout)["serial"]
    assert all(p["suggested_address"].startswith("serial:") for p in ports)
