"""What the broker knows about every gateway and device: their retained status, info and state.

``massagectl fleet`` reads it. A gateway whose last will fired shows offline, and so do its
devices, whatever their own (now stale) retained availability says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

import aiomqtt

from ..errors import LinkError
from .broker import Broker, broker_error
from .topics import DEFAULT_PREFIX, ONLINE, check_prefix, split_prefixed

#: Retained messages arrive at once; this much quiet after the last one means "that was all".
QUIET_S: Final = 0.3


@dataclass
class FleetDevice:
    """One device as the broker last heard of it."""

    gateway: str
    name: str
    available: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    def as_json(self, gateway_online: bool) -> dict[str, Any]:
        """For ``fleet --json``."""
        profile = self.info.get("profile", {})
        return {
            "device": self.name,
            "online": gateway_online and self.available,
            "address": self.info.get("address"),
            "profile": profile.get("name") if isinstance(profile, dict) else None,
            "state": self.state or None,
        }


@dataclass
class FleetGateway:
    """One gateway and its devices."""

    name: str
    online: bool = False
    devices: dict[str, FleetDevice] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """For ``fleet --json``."""
        return {
            "gateway": self.name,
            "online": self.online,
            "devices": [d.as_json(self.online) for d in sorted_devices(self)],
        }


def sorted_devices(gateway: FleetGateway) -> list[FleetDevice]:
    """Its devices by name."""
    return [gateway.devices[n] for n in sorted(gateway.devices)]


@dataclass
class Fleet:
    """Everything seen, by gateway name."""

    prefix: str = DEFAULT_PREFIX
    gateways: dict[str, FleetGateway] = field(default_factory=dict)

    def take(self, topic: str, payload: bytes) -> None:
        """One retained message."""
        # The prefix may have several levels: it is cut off whole, the rest is GW[/DEV]/LEAF.
        parts = split_prefixed(topic, self.prefix)
        if parts is None or len(parts) < 2:
            return
        gateway = self.gateways.setdefault(parts[0], FleetGateway(parts[0]))
        if len(parts) == 2 and parts[1] == "status":
            gateway.online = payload.strip() == ONLINE.encode()
            return
        if len(parts) != 3:
            return
        leaf = parts[2]
        if leaf not in ("availability", "info", "state"):
            return
        if not payload:  # a cleared topic: the device is gone
            gateway.devices.pop(parts[1], None)
            return
        device = gateway.devices.setdefault(parts[1], FleetDevice(parts[0], parts[1]))
        if leaf == "availability":
            device.available = payload.strip() == ONLINE.encode()
            return
        with contextlib.suppress(ValueError):
            doc = json.loads(payload)
            if isinstance(doc, dict):
                setattr(device, leaf, doc)

    def as_json(self) -> list[dict[str, Any]]:
        """For ``fleet --json``."""
        return [self.gateways[n].as_json() for n in sorted(self.gateways)]


async def read_fleet(broker: Broker, *, prefix: str = DEFAULT_PREFIX, wait_s: float = 3.0) -> Fleet:
    """Collect the retained fleet from the broker: until quiet, at most ``wait_s`` seconds."""
    check_prefix(prefix, "--prefix")
    fleet = Fleet(prefix)
    try:
        async with broker.client(f"massagectl-fleet-{uuid.uuid4().hex[:8]}") as client:
            await client.subscribe(f"{prefix}/+/status", qos=1)
            for leaf in ("availability", "info", "state"):
                await client.subscribe(f"{prefix}/+/+/{leaf}", qos=1)
            # A task reads the messages into a queue: the quiet timeout below then cancels only a
            # wait on the queue, never the message iterator (which a cancellation would end).
            received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
            reader = asyncio.create_task(_pump(client, received), name="fleet reader")
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        await _collect(fleet, received, reader)
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            lost = None if reader.cancelled() else reader.exception()
            if lost is not None:
                raise lost  # the broker went away while we listened
    except aiomqtt.MqttError as exc:
        raise LinkError(broker_error(broker, exc)) from None
    return fleet


async def _pump(client: aiomqtt.Client, into: asyncio.Queue[tuple[str, bytes]]) -> None:
    async for topic, payload in aiomqtt_messages(client):
        into.put_nowait((topic, payload))


async def _collect(
    fleet: Fleet, received: asyncio.Queue[tuple[str, bytes]], reader: asyncio.Task[None]
) -> None:
    """Take messages until a quiet spell after some gateway was heard of (or the reader ends)."""
    while True:
        try:
            async with asyncio.timeout(QUIET_S):
                topic, payload = await received.get()
        except TimeoutError:
            if fleet.gateways or reader.done():
                return
            continue
        fleet.take(topic, payload)


async def aiomqtt_messages(client: aiomqtt.Client) -> AsyncIterator[tuple[str, bytes]]:
    """The client's messages as ``(topic, payload bytes)``."""
    async for message in client.messages:
        payload = message.payload
        yield message.topic.value, payload if isinstance(payload, bytes) else str(payload).encode()
