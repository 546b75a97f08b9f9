"""``massagectl scan``: BLE peripherals that fit a profile, and serial ports, with addresses."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from ..durations import parse_duration
from ..errors import LinkError, UsageError
from ..scan import BleSighting, SerialPort, list_serial_ports, scan_ble
from ..transports.ble import backend_from_env


async def scan_command(
    *, listen: str, as_json: bool, ble: bool, serial: bool, all_devices: bool
) -> None:
    """Scan, then print a table (or JSON) of what was found."""
    seconds = parse_duration(listen, what="--timeout")
    if seconds <= 0:
        raise UsageError("--timeout must be longer than 0 s")
    if not ble and not serial:
        raise UsageError("scan: --no-ble and --no-serial leave nothing to scan")
    ports = list_serial_ports() if serial else []
    sightings: list[BleSighting] = []
    if ble:
        try:
            sightings = await scan_ble(
                seconds, backend=backend_from_env(), include_unknown=all_devices
            )
        except LinkError as exc:
            hint = " (--no-ble lists the serial ports only)" if serial else ""
            raise LinkError(f"{exc}{hint}") from None
    if as_json:
        document = {
            "ble": [s.as_json() for s in sightings],
            "serial": [p.as_json() for p in ports],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if not sightings and not ports:
        scanned = f"listened {seconds:g} s for BLE" if ble else "BLE not scanned"
        print(f"no devices found ({scanned}; no serial ports)")
        return
    Console(width=None if sys.stdout.isatty() else 160).print(_table(sightings, ports))


def _table(sightings: list[BleSighting], ports: list[SerialPort]) -> Table:
    table = Table(title="devices found", title_justify="left")
    table.add_column("via")
    table.add_column("name")
    table.add_column("signal", justify="right")
    table.add_column("fits profiles")
    table.add_column("address to use")
    for s in sightings:
        table.add_row(
            "BLE",
            s.name or "-",
            f"{s.rssi} dBm",
            ", ".join(s.profiles) or "-",
            s.suggested_address or f"(unknown device at {s.address})",
        )
    for p in ports:
        table.add_row("serial", p.description or "-", "", "any OMP/1 device", p.suggested_address)
    return table
