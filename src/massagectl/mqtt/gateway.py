"""The gateway (``massagectl bridge``): devices of this machine on an MQTT broker.

It keeps one :class:`~.device_host.DeviceHost` per device and one connection to the broker. The
broker connection comes back with backoff whenever it drops; the gateway's availability topic
carries a last will, so that when the gateway dies the broker itself says it is offline (and the
devices, no longer fed, stop by their own watchdogs). On the way out every device is stopped and
marked offline, and with ``remove_discovery`` taken out of Home Assistant.

Its long-lived tasks are watched: a device host's task, or the broker loop, that ends by
anything but a cancel ends the gateway with :class:`~massagectl.errors.TaskFailed` (every
device stopped, the gateway offline) rather than leaving it serving on with a part missing.
One message that cannot be handled is answered on an error topic and ends nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiomqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from .. import __version__
from ..address import DeviceAddress
from ..clock import first_of
from ..errors import LinkError, TaskFailed, UsageError
from . import payloads
from .answers import ErrorThrottle, suppressed_doc
from .broker import Broker, broker_error
from .device_host import DeviceHost
from .inbox import MAX_UNREAD, Inbox, inbox_for
from .outbox import Outbox
from .topics import (
    DEFAULT_DISCOVERY_PREFIX,
    DEFAULT_PREFIX,
    OFFLINE,
    ONLINE,
    GatewayTopics,
    check_id,
    split_device_topic,
)

_log = logging.getLogger(__name__)

BROKER_BACKOFF_INITIAL_S: Final = 0.5
BROKER_BACKOFF_MAX_S: Final = 30.0
#: How long the gateway tries to say goodbye (devices offline, its own status) on the way out.
GOODBYE_TIMEOUT_S: Final = 3.0


@dataclass(frozen=True, slots=True)
class GatewayDevice:
    """A device the gateway serves, and its name on the broker."""

    name: str
    address: DeviceAddress


class Gateway:
    """Serve ``devices`` on ``broker`` as gateway ``gateway_id``; call :meth:`run`."""

    def __init__(
        self,
        broker: Broker,
        devices: Sequence[GatewayDevice],
        *,
        gateway_id: str,
        prefix: str = DEFAULT_PREFIX,
        discovery_prefix: str | None = DEFAULT_DISCOVERY_PREFIX,
        remove_discovery: bool = False,
        poll_s: float = 5.0,
        journal: Path | None = None,
    ) -> None:
        check_id(gateway_id, "gateway id")
        names = [check_id(d.name, "device name") for d in devices]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise UsageError(f"device name {duplicates[0]!r} is given twice; name them NAME=ADDR")
        if not devices:
            raise UsageError("bridge: give at least one --device")
        self.broker = broker
        self.topics = GatewayTopics(gateway_id, prefix)
        self.discovery_prefix = discovery_prefix
        self.remove_discovery = remove_discovery
        self.outbox = Outbox()
        self.hosts = {
            d.name: DeviceHost(
                name=d.name,
                address=d.address,
                topics=self.topics.device(d.name),
                outbox=self.outbox,
                version=__version__,
                discovery_prefix=discovery_prefix,
                poll_s=poll_s,
                journal=journal,
            )
            for d in devices
        }
        #: Set while the broker connection is up (for tests and the status line).
        self.connected = asyncio.Event()
        self.broker_error = ""
        # Answers to commands for devices this gateway does not have are rate-limited too.
        self._errors = ErrorThrottle(self._report_suppressed)
        # Messages dropped unread in a flood are counted, and the count said once a second.
        self._unread_dropped = ErrorThrottle(self._report_unread_dropped, rate=0, burst=0)
        self._inbox = inbox_for(self._dropped_unread, self._inbox_opened)
        #: The inbox of the newest broker client (read directly when messages wait).
        self._unread: Inbox | None = None

    async def run(self) -> None:
        """Serve until cancelled; then stop every device and say goodbye on the broker."""
        self.outbox.retain(self.topics.status, ONLINE.encode())
        host_tasks = [
            asyncio.create_task(host.run(), name=f"device {host.name}")
            for host in self.hosts.values()
        ]
        broker_loop = asyncio.create_task(self._broker_loop(), name="broker")
        try:
            await asyncio.wait({broker_loop, *host_tasks}, return_when=asyncio.FIRST_COMPLETED)
            # Nothing of these ends by itself (a lost device or broker is retried for ever):
            # one that did is a failure, and the gateway ends rather than serve on without it.
            for task in (broker_loop, *host_tasks):
                if task.done():
                    raise TaskFailed(
                        f"gateway {self.topics.gateway}: its {task.get_name()} task ended "
                        f"unexpectedly ({_why(task)}); every device was stopped"
                    )
        finally:
            broker_loop.cancel()
            for task in host_tasks:
                task.cancel()
            # Each host stops its device as its task unwinds (the device layer's STOP on exit).
            await asyncio.gather(broker_loop, *host_tasks, return_exceptions=True)
            self._errors.close()
            self._unread_dropped.close()
            for host in self.hosts.values():
                host.dispatch.answers.close()
            await self._goodbye()

    async def _broker_loop(self) -> None:
        delay = BROKER_BACKOFF_INITIAL_S
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self._broker_lost(broker_error(self.broker, exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, BROKER_BACKOFF_MAX_S)
            if self.connected.is_set():
                delay = BROKER_BACKOFF_INITIAL_S

    def _broker_lost(self, why: str) -> None:
        was_up = self.connected.is_set()
        self.connected.clear()
        if why != self.broker_error or was_up:
            _log.warning("broker: %s (reconnecting)", why)
        self.broker_error = why
        for host in self.hosts.values():
            host.broker_lost()

    def _client(self) -> aiomqtt.Client:
        will = aiomqtt.Will(self.topics.status, OFFLINE.encode(), qos=1, retain=True)
        return self.broker.client(
            f"massagectl-{self.topics.gateway}",
            will=will,
            protocol=aiomqtt.ProtocolVersion.V5,
            incoming=self._inbox,
        )

    async def _session(self) -> None:
        """One broker connection: subscribe, publish everything retained again, serve."""
        client = self._client()
        async with client:
            self.outbox.all_again()
            # MQTT 5's retain-as-published: a command published with the retain flag while
            # the gateway listens still shows the flag, and is refused like any other.
            await client.subscribe(
                self.topics.all_set, options=SubscribeOptions(qos=1, retainAsPublished=True)
            )
            if self.discovery_prefix is not None:
                await client.subscribe(f"{self.discovery_prefix}/status", qos=1)
            _raise_if_cancelled()
            self.connected.set()
            self.broker_error = ""
            _log.info("broker: connected to %s as gateway %s", self.broker, self.topics.gateway)
            publisher = asyncio.create_task(self._publish_loop(client), name="publisher")
            try:
                listener = asyncio.ensure_future(self._listen(client))
                await first_of(listener, publisher)
                for task in (listener, publisher):
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
            finally:
                publisher.cancel()
                listener.cancel()
                await asyncio.gather(publisher, listener, return_exceptions=True)

    async def _publish_loop(self, client: aiomqtt.Client) -> None:
        while True:
            self.outbox.wake.clear()
            batch = self.outbox.take()
            for i, message in enumerate(batch):
                try:
                    await client.publish(
                        message.topic, message.payload, qos=message.qos, retain=message.retain
                    )
                except aiomqtt.MqttError:
                    self.outbox.put_back(batch[i:])
                    raise
                self.outbox.delivered(message)
                if _cancel_was_swallowed():
                    self.outbox.put_back(batch[i + 1 :])
                    raise asyncio.CancelledError
            if not batch:
                await self.outbox.wake.wait()

    async def _listen(self, client: aiomqtt.Client) -> None:
        inbox = self._unread
        async for first in client.messages:
            message: aiomqtt.Message | None = first
            while message is not None:
                self._read(message)
                # What else waits is read at once: aiomqtt's iterator costs a task and a wait
                # for each message, which in a flood left the gateway reading slower than the
                # broker delivered (and a stop waiting behind the backlog).
                message = inbox.take_nowait() if inbox is not None else None

    def _read(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = (
            message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        )
        try:
            self._handle(topic, payload, retained=bool(message.retain))
        except Exception as exc:  # one message must never end the listener
            _log.warning("%s: could not handle a message: %r", topic, exc)
            self._error(f"could not handle this message: {type(exc).__name__}", topic, payload)

    def _handle(self, topic: str, payload: bytes, *, retained: bool) -> None:
        """One message from the broker: Home Assistant's status, or a device's command."""
        if self.discovery_prefix is not None and topic == f"{self.discovery_prefix}/status":
            if payload.strip().lower() == ONLINE.encode():
                # Home Assistant restarted: it has forgotten the devices; tell it again
                # (the same documents as before, so they must be sent again regardless).
                for each in self.hosts.values():
                    each.publish_discovery(again=True)
            return
        parts = split_device_topic(topic, self.topics.prefix)
        if parts is None or parts[2] != "set":
            return
        host = self.hosts.get(parts[1])
        if host is None:
            self._error(
                f"gateway {self.topics.gateway} has no device {parts[1]!r} "
                f"(it has: {', '.join(self.hosts)})",
                topic,
                payload,
            )
            return
        host.dispatch.take(payload, retained=retained)

    def _error(self, message: str, topic: str, payload: bytes) -> None:
        """Say on the gateway's error topic what was wrong (rate-limited, as a device's)."""
        if self._errors.allow():
            doc = payloads.error_payload(message, topic=topic, payload=payload)
            self.outbox.send(self.topics.error, payloads.dumps(doc))

    def _inbox_opened(self, inbox: Inbox) -> None:
        self._unread = inbox

    def _dropped_unread(self, message: aiomqtt.Message) -> None:
        self._unread_dropped.allow()  # never allowed: only counted, and the count said

    def _report_unread_dropped(self, count: int) -> None:
        message = (
            f"{count} commands were dropped unread: overtaken by a stop, or more than "
            f"{MAX_UNREAD} were waiting to be read (a stop is never dropped)"
        )
        _log.warning("broker: %s", message)
        doc = payloads.error_payload(
            message, topic=f"{self.topics.prefix}/{self.topics.gateway}/+/set"
        )
        doc["dropped"] = count
        self.outbox.send(self.topics.error, payloads.dumps(doc))

    def _report_suppressed(self, count: int) -> None:
        doc = suppressed_doc(count, f"{self.topics.prefix}/{self.topics.gateway}/+/set")
        self.outbox.send(self.topics.error, payloads.dumps(doc))

    async def _goodbye(self) -> None:
        """Devices offline, discovery removed if asked, the gateway offline; then disconnect."""
        for host in self.hosts.values():
            host.outbox.retain(host.topics.availability, OFFLINE.encode())
            host.publish_state()
            if self.remove_discovery:
                host.remove_discovery()
        self.outbox.retain(self.topics.status, OFFLINE.encode())
        client = self._client()
        try:
            async with asyncio.timeout(GOODBYE_TIMEOUT_S), client:
                for message in self.outbox.take():
                    if message.retain:
                        await client.publish(message.topic, message.payload, qos=1, retain=True)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            _log.warning("broker: could not say goodbye: %s", broker_error(self.broker, exc))


def _why(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return "returned" if exc is None else f"{type(exc).__name__}: {exc}"


def _cancel_was_swallowed() -> bool:
    """Whether this task was cancelled but carries on: on Python 3.11, ``asyncio.wait_for``
    (which aiomqtt awaits every acknowledgement with) drops a cancel that arrives just as the
    acknowledgement does. The task still counts the request; without this check the publisher
    would wait for work for ever, and the gateway's shutdown (which stops the devices) with it.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _raise_if_cancelled() -> None:
    """Raise the cancel :func:`_cancel_was_swallowed` finds."""
    if _cancel_was_swallowed():
        raise asyncio.CancelledError


async def check_broker(broker: Broker) -> None:
    """Connect once, to turn a wrong host, port, login or certificate into a one-line error at
    start-up (later losses are retried forever)."""
    import aiomqtt

    try:
        async with broker.client(f"massagectl-check-{uuid.uuid4().hex[:8]}", timeout=5.0):
            pass
    except aiomqtt.MqttError as exc:
        raise LinkError(broker_error(broker, exc)) from None
