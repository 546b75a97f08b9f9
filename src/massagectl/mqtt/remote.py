"""``mqtt://BROKER/GATEWAY/DEVICE``: a device behind a gateway, driven like one on this machine.

:class:`MqttTransport` is the link: one broker connection that listens to the device's topics
and publishes to its ``set`` topic. :class:`RemoteDriver` speaks the gateway's JSON: each
command carries an ``id`` and waits for its reply, so errors come back as they would from a
local device, and the state arrives as the gateway publishes it. Everything above (coalescing,
the safety envelope, the scheduler, the journal) is the same :class:`~massagectl.device.Massager`
as for a local device.

The client's last will asks the gateway to stop the device if this client made it active, so a
client that dies mid-program does not leave a device running far away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

import aiomqtt

from ..address import DeviceAddress
from ..clock import Clock
from ..device_types import Command, CommandKind, DeviceInfo, DeviceState
from ..drivers.base import Driver
from ..errors import DeviceRefused, LinkError, LinkLost, ValueOutOfRange
from ..profiles import Profile
from ..transports.base import Transport
from . import payloads
from .broker import Broker, broker_error
from .topics import OFFLINE, ONLINE, DeviceTopics

_log = logging.getLogger(__name__)

#: How long to wait for the gateway's retained info, state and availability on connecting.
DISCOVER_TIMEOUT_S: Final = 3.0
#: How long a command waits for the gateway's reply.
REPLY_TIMEOUT_S: Final = 5.0
#: What the transport hands the driver: one message per chunk, ``leaf`` NUL ``payload``.
_SEP: Final = b"\x00"


class MqttTransport(Transport):
    """The link to one device behind a gateway, through a broker."""

    backoff_max_s = 8.0

    def __init__(
        self, address: DeviceAddress, broker: Broker, *, clock: Clock | None = None
    ) -> None:
        super().__init__(str(address), clock=clock)
        self.address = address
        self.broker = broker
        self.topics = DeviceTopics(address.gateway, address.device)
        #: The MQTT client id: random, and told to nobody but the broker. Whoever knows a
        #: connection's client id can take it over (the broker then closes it and publishes
        #: its will), so it is never the name the commands carry. A broker configured as
        #: docs/mqtt.md says replaces it with the user name anyway.
        self.client_id = f"massagectl-{uuid.uuid4().hex}"
        #: The name this client gives itself in its commands and its will (the gateway's
        #: ``owner``): public, and no use for taking over the connection.
        self.owner = f"client-{uuid.uuid4().hex[:12]}"
        self.profile: Profile | None = None
        self.info: DeviceInfo | None = None
        self.state: DeviceState | None = None
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._gateway_online: bool | None = None
        self._device_online: bool | None = None
        self._seen = asyncio.Event()
        #: True from a successful connect until the link is lost: open() then has work to do.
        self._fresh = False

    async def open(self) -> None:
        """Connect to the broker and read the device's info, state and availability."""
        if self._client is not None and self._fresh:
            return  # opened early by connect(), which needs the profile first
        if self._client is not None:
            await self._drop_client()  # a reconnect: the old connection is gone or going
        will = aiomqtt.Will(
            self.topics.set,
            payloads.dumps({"stop": True, "if_owner": self.owner, "client": self.owner}),
            qos=1,
        )
        client = self.broker.client(self.client_id, will=will)
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise LinkError(f"{self.description}: {self._broker_error(exc)}") from None
        self._client = client
        self._fresh = True
        self._gateway_online = self._device_online = None
        self.info = None
        self.state = None
        self._seen.clear()
        try:
            for topic in (
                self.topics.gateway_status,
                self.topics.availability,
                self.topics.info,
                self.topics.state,
                self.topics.reply,
            ):
                await client.subscribe(topic, qos=1)
            self._reader = asyncio.create_task(self._read(client), name=f"{self.description} mqtt")
            try:
                async with asyncio.timeout(DISCOVER_TIMEOUT_S):
                    await self._seen.wait()
            except TimeoutError:
                raise LinkError(self._missing()) from None
            if not self._gateway_online:
                raise LinkError(f"{self.description}: gateway {self.address.gateway} is offline")
            if not self._device_online:
                raise LinkError(
                    f"{self.description}: gateway {self.address.gateway} has no link to "
                    f"{self.address.device} now"
                )
        except BaseException:
            await self.close()
            raise

    def _broker_error(self, exc: BaseException) -> str:
        """Why the broker failed us, without naming the broker again (the address names it)."""
        return broker_error(self.broker, exc).removeprefix(f"{self.broker}: ")

    def _missing(self) -> str:
        gw, dev = self.address.gateway, self.address.device
        if self._gateway_online is None:
            return (
                f"{self.description}: no gateway {gw!r} on {self.broker} (is `massagectl bridge "
                f"--id {gw}` running there?)"
            )
        if self._gateway_online is False:
            return f"{self.description}: gateway {gw} is offline"
        if self._device_online is None:
            return f"{self.description}: gateway {gw} has no device {dev!r}"
        return f"{self.description}: gateway {gw} published no info or state for {dev}"

    async def _read(self, client: aiomqtt.Client) -> None:
        try:
            async for message in client.messages:
                self._on_message(message.topic.value, _bytes(message.payload))
        except aiomqtt.MqttError as exc:
            self._mark_lost(f"broker connection lost: {self._broker_error(exc)}")

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.gateway_status:
            self._gateway_online = payload.strip() == ONLINE.encode()
            if payload.strip() == OFFLINE.encode() and self._seen.is_set():
                self._mark_lost(f"gateway {self.address.gateway} went offline")
        elif topic == self.topics.availability:
            self._device_online = payload.strip() == ONLINE.encode()
            if payload.strip() == OFFLINE.encode() and self._seen.is_set():
                self._mark_lost(f"gateway {self.address.gateway} lost its link to the device")
        elif topic == self.topics.info:
            self._read_info(payload)
        else:
            leaf = topic.rpartition("/")[2]
            if leaf == "state":
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    self.state = payloads.state_from_payload(json.loads(payload))
            self._deliver(leaf.encode() + _SEP + payload)
        if not self._seen.is_set() and self._all_known():
            self._seen.set()

    def _all_known(self) -> bool:
        """Whether the retained topics say enough to go on (or to give up at once).

        A device that is online must have its ``state`` too, not only its ``info``: a client
        that went on without it would report the device at rest (``status``) whatever it does.
        """
        if self._gateway_online is None:
            return False
        if not self._gateway_online:
            return True  # gateway offline: nothing more to wait for
        if self._device_online is None:
            return False
        if not self._device_online:
            return True  # no link to the device now
        return self.info is not None and self.state is not None

    def _read_info(self, payload: bytes) -> None:
        if not payload:
            return
        try:
            self.profile, self.info = payloads.info_from_payload(json.loads(payload))
        except (ValueError, KeyError, TypeError) as exc:
            _log.warning("%s: cannot read the gateway's info: %s", self.description, exc)

    async def write(self, data: bytes) -> None:
        """Publish a command to the device's ``set`` topic."""
        self._check_open()
        client = self._client
        if client is None:
            raise LinkLost(f"{self.description}: not connected")
        try:
            await client.publish(self.topics.set, data, qos=1)
        except aiomqtt.MqttError as exc:
            self._mark_lost(f"broker connection lost: {self._broker_error(exc)}")
            raise LinkLost(f"{self.description}: {self._broker_error(exc)}") from None

    def _mark_lost(self, reason: str) -> None:
        self._fresh = False
        super()._mark_lost(reason)

    async def close(self) -> None:
        """Disconnect cleanly (no last will)."""
        await self._drop_client()
        self._mark_lost("closed")

    async def _drop_client(self) -> None:
        self._fresh = False
        reader, self._reader = self._reader, None
        client, self._client = self._client, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, Exception):
                await client.__aexit__(None, None, None)


@dataclass
class RemoteDriver(Driver):
    """The gateway's JSON commands, one at a time, each answered by a reply."""

    _counter: int = 0
    _waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    @property
    def min_gap_s(self) -> float:
        """None here: the gateway paces the device; each command waits for its reply."""
        return 0.0

    def keepalive_s(self, info: DeviceInfo) -> float | None:
        """None: the gateway keeps the device fed."""
        return None

    @property
    def _link(self) -> MqttTransport:
        assert isinstance(self.transport, MqttTransport)
        return self.transport

    async def start(self) -> DeviceInfo:
        """What the gateway published about the device on connecting."""
        link = self._link
        if link.info is None:
            raise LinkLost(f"{self.name}: the gateway published no device info")
        if link.state is not None:
            self.publish(link.state)
        return link.info

    async def execute(self, command: Command) -> None:
        """Publish one command and wait for the gateway's reply."""
        if command.kind in (CommandKind.STATUS, CommandKind.PING):
            return  # the gateway publishes the state; it also keeps the device fed
        self._counter += 1
        request_id = f"{self._link.owner}-{self._counter}"
        body: dict[str, Any] = {"id": request_id, "client": self._link.owner}
        body.update(_fields(command))
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        try:
            await self.write(payloads.dumps(body))
            reply = await self.wait_answer(waiter, command.kind.name, REPLY_TIMEOUT_S)
        finally:
            self._waiting.pop(request_id, None)
        if not reply.get("ok"):
            error = str(reply.get("error", "refused"))
            if reply.get("kind") == "usage":
                raise ValueOutOfRange(error)
            raise DeviceRefused(f"{self.name}: {error}")
        state = reply.get("state")
        if isinstance(state, dict):
            self.publish(payloads.state_from_payload(state))

    def feed(self, data: bytes) -> None:
        """A message from the device's topics."""
        leaf, _, payload = data.partition(_SEP)
        try:
            doc = json.loads(payload)
        except ValueError:
            self.bad_frames += 1
            return
        if not isinstance(doc, dict):
            self.bad_frames += 1
            return
        if leaf == b"state":
            try:
                self.publish(payloads.state_from_payload(doc))
            except (ValueError, TypeError):
                self.bad_frames += 1
        elif leaf == b"reply":
            waiter = self._waiting.get(str(doc.get("id")))
            if waiter is not None and not waiter.done():
                waiter.set_result(doc)

    def link_lost(self, exc: LinkLost) -> None:
        """Fail whatever waits on a reply."""
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(exc)

    def unanswered_stop(self) -> bytes | None:
        """A stop for the gateway, published without waiting for its reply."""
        return payloads.dumps({"stop": True, "client": self._link.owner})


def _fields(command: Command) -> dict[str, Any]:
    kind = command.kind
    if kind is CommandKind.SPEED:
        return {"speed_level": command.value}
    if kind is CommandKind.HEAT:
        return {"heat": command.value}
    if kind is CommandKind.PROGRAM:
        return {"device_program": command.value}
    return {"stop": True}


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    return str(payload if payload is not None else "").encode()
