"""``massagectl bridge`` and ``massagectl fleet``."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..address import DeviceAddress, parse_address
from ..durations import parse_duration
from ..errors import LinkError, UsageError
from ..mqtt.broker import Broker, parse_broker
from ..mqtt.topics import check_id, slug

_log = logging.getLogger("massagectl")


def broker_from_options(
    url: str, tls_ca: list[str], tls_cert: str | None, tls_key: str | None
) -> Broker:
    """The broker as the options say; missing files are a one-line error."""
    for path in [*tls_ca, *(p for p in (tls_cert, tls_key) if p)]:
        if not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    return parse_broker(
        url,
        ca_files=[Path(p) for p in tls_ca],
        certfile=Path(tls_cert) if tls_cert else None,
        keyfile=Path(tls_key) if tls_key else None,
    )


def device_option(text: str) -> tuple[str, DeviceAddress]:
    """``[NAME=]ADDRESS``: a name on the broker (default: from the address) and an address."""
    name, sep, rest = text.partition("=")
    if sep and ":" not in name and "/" not in name:
        address = parse_address(rest)
        return check_id(name, "device name"), address
    address = parse_address(text)
    if address.scheme == "mqtt":
        raise UsageError(f"--device {text}: a bridge serves devices of its own machine")
    target = address.target.rstrip("/").rpartition("/")[2]
    return slug(target), address


async def bridge_command(
    *,
    broker: Broker,
    devices: list[str],
    gateway_id: str | None,
    prefix: str,
    discovery: bool,
    discovery_prefix: str,
    remove_discovery: bool,
    poll: str,
    journal: Path | None = None,
) -> None:
    """Run the gateway until a signal stops it (every device is stopped on the way out)."""
    from ..mqtt.gateway import Gateway, GatewayDevice, check_broker

    if not devices:
        raise UsageError("bridge: give at least one --device [NAME=]ADDRESS")
    poll_s = parse_duration(poll, what="--poll")
    if poll_s <= 0:
        raise UsageError(f"--poll {poll}: use a duration greater than 0")
    gateway_name = gateway_id or slug(socket.gethostname().split(".")[0])
    named = [device_option(d) for d in devices]
    gateway = Gateway(
        broker,
        [GatewayDevice(name, address) for name, address in named],
        gateway_id=gateway_name,
        prefix=prefix,
        discovery_prefix=discovery_prefix if discovery else None,
        remove_discovery=remove_discovery,
        poll_s=poll_s,
        journal=journal,
    )
    try:
        await check_broker(broker)
    except LinkError as exc:
        text = str(exc)
        if "refused the login" in text or "TLS failed" in text:
            raise  # that will not get better by waiting
        # A broker that is not up yet (a machine booting): the gateway retries on its own.
        print(f"massagectl: warning: {text}; retrying", file=sys.stderr, flush=True)
    runner = asyncio.create_task(gateway.run(), name="gateway")
    watcher = asyncio.create_task(_tell_progress(gateway), name="progress")
    try:
        await runner
    finally:
        watcher.cancel()
        runner.cancel()
        await asyncio.gather(runner, watcher, return_exceptions=True)


async def _tell_progress(gateway: object) -> None:
    """One line when the gateway is on the broker and when each device comes online; scripts
    (and the tests) wait for these."""
    from ..mqtt.gateway import Gateway

    assert isinstance(gateway, Gateway)
    told: set[str] = set()
    online = False
    while True:
        if gateway.connected.is_set() and not online:
            print(f"gateway {gateway.topics.gateway} online at {gateway.broker}", flush=True)
        online = gateway.connected.is_set()
        for name, host in gateway.hosts.items():
            # Only once the broker has the device's availability: a client connecting on this
            # line must find it online.
            published = gateway.outbox.published.get(host.topics.availability)
            if host.ready.is_set() and published == b"online" and name not in told:
                told.add(name)
                print(f"device {name} online ({host.address})", flush=True)
            elif not host.ready.is_set() and name in told:
                told.discard(name)
                print(f"device {name} offline: {host.last_error or 'link lost'}", flush=True)
        await asyncio.sleep(0.05)


async def fleet_command(*, broker: Broker, prefix: str, wait: str, as_json: bool) -> None:
    """List the gateways and devices the broker knows of."""
    from ..mqtt.fleet import read_fleet, sorted_devices

    wait_s = parse_duration(wait, what="--wait")
    fleet = await read_fleet(broker, prefix=prefix, wait_s=wait_s)
    if as_json:
        print(json.dumps(fleet.as_json(), indent=2, ensure_ascii=False))
        return
    if not fleet.gateways:
        print(f"no gateways on {broker}")
        return
    table = Table(title=f"massagectl fleet on {broker}")
    for column in (
        "gateway",
        "device",
        "link",
        "profile",
        "speed",
        "heat",
        "program",
        "temp",
        "battery",
        "faults",
    ):
        table.add_column(column)
    for gw_name in sorted(fleet.gateways):
        gateway = fleet.gateways[gw_name]
        if not gateway.devices:
            table.add_row(gw_name, "-", "online" if gateway.online else "offline", *[""] * 7)
        for device in sorted_devices(gateway):
            online = gateway.online and device.available
            profile = device.info.get("profile", {})
            table.add_row(
                gw_name + ("" if gateway.online else " (offline)"),
                device.name,
                "online" if online else "offline",
                profile.get("name", "") if isinstance(profile, dict) else "",
                # What an offline device last did is not what it does now (a dead gateway's
                # devices stop by their watchdogs): its state is not shown as if it were.
                *(_state_cells(device.state) if online else ["-"] * 6),
            )
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _state_cells(state: dict[str, Any]) -> list[str]:
    """Speed, heat, program, temperature, battery and faults of a state document."""
    run = state.get("run") or {}
    program = run.get("program") or state.get("device_program") or ""
    temp = state.get("temperature_c")
    battery = state.get("battery")
    return [
        f"{state.get('speed', 0):g}%" if state else "",
        str(state.get("heat", "")),
        str(program),
        f"{temp:.1f} °C" if isinstance(temp, (int, float)) else "",
        f"{battery}%" if isinstance(battery, int) else "",
        ", ".join(state.get("faults", [])),
    ]
