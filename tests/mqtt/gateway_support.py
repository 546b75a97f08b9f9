"""What the gateway tests share: a gateway running in this test's event loop, and an observer
on the broker that keeps every message it sees and can wait for the one a test expects.

Everything waits with a deadline, so a gateway that hangs or never says something fails the
test in seconds instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiomqtt

from massagectl.address import parse_address
from massagectl.mqtt.broker import parse_broker
from massagectl.mqtt.gateway import Gateway, GatewayDevice
from massagectl.mqtt.topics import DeviceTopics, GatewayTopics
from massagesim import SimulatedDevice

from .broker import Mosquitto

#: How long a test waits for anything the gateway should do at once.
WAIT_S = 5.0

_CLIENT_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Seen:
    """One message the observer received."""

    seq: int
    topic: str
    payload: bytes
    retain: bool

    @property
    def text(self) -> str:
        """The payload as text."""
        return self.payload.decode("utf-8", "replace")

    def json(self) -> Any:
        """The payload as JSON (a failing test if it is not)."""
        return json.loads(self.payload)


Predicate = Callable[[Seen], bool]


def json_has(**fields: object) -> Predicate:
    """A predicate: the payload is a JSON object with these values."""

    def check(message: Seen) -> bool:
        try:
            doc = message.json()
        except ValueError:
            return False
        return isinstance(doc, dict) and all(doc.get(k) == v for k, v in fields.items())

    return check


def text_is(text: str) -> Predicate:
    """A predicate: the payload is exactly this text."""
    return lambda message: message.payload == text.encode()


class Observer:
    """A client of its own on the broker that records what arrives on ``subscriptions``."""

    def __init__(
        self, broker: Mosquitto, *subscriptions: str, identifier: str | None = None
    ) -> None:
        self.broker = broker
        self.subscriptions = subscriptions or ("#",)
        self.messages: list[Seen] = []
        self._changed = asyncio.Event()
        client_id = identifier or f"observer-{next(_CLIENT_IDS)}"
        self._client = parse_broker(broker.url).client(client_id)
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        async with asyncio.timeout(WAIT_S):
            await self._client.__aenter__()
            for topic in self.subscriptions:
                await self._client.subscribe(topic, qos=1)
        self._reader = asyncio.create_task(self._read(), name="observer")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        try:
            async with asyncio.timeout(WAIT_S):
                await self._client.__aexit__(None, None, None)
        except (aiomqtt.MqttError, TimeoutError):
            pass  # the broker is gone (a test stopped it): nothing to say goodbye to

    async def _read(self) -> None:
        try:
            async for message in self._client.messages:
                payload = message.payload
                raw = payload if isinstance(payload, bytes) else str(payload).encode()
                self.messages.append(
                    Seen(len(self.messages), message.topic.value, raw, bool(message.retain))
                )
                self._changed.set()
        except aiomqtt.MqttError:
            return  # the broker went away; the test decides whether that matters

    def mark(self) -> int:
        """A position: :meth:`wait_for` with ``since=mark()`` looks only at later messages."""
        return len(self.messages)

    def on(self, topic: str, *, since: int = 0) -> list[Seen]:
        """Every message received on ``topic`` (from position ``since``)."""
        return [m for m in self.messages[since:] if m.topic == topic]

    async def wait_for(
        self,
        topic: str,
        predicate: Predicate | None = None,
        *,
        since: int = 0,
        within: float = WAIT_S,
    ) -> Seen:
        """The first message on ``topic`` from position ``since`` that satisfies ``predicate``,
        waiting up to ``within`` seconds for it; the test fails if none comes."""
        check = predicate or (lambda _m: True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            self._changed.clear()
            for message in self.messages[since:]:
                if message.topic == topic and check(message):
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [m.text[:160] for m in self.on(topic, since=since)][-5:]
                raise AssertionError(
                    f"nothing expected on {topic} within {within:g} s; last seen there: {seen}"
                )
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def wait_json(
        self,
        topic: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        since: int = 0,
        within: float = WAIT_S,
        **fields: object,
    ) -> dict[str, Any]:
        """The first JSON object on ``topic`` with ``fields`` that satisfies ``predicate``."""
        has = json_has(**fields)

        def check(message: Seen) -> bool:
            if not has(message):
                return False
            return predicate is None or predicate(message.json())

        doc: dict[str, Any] = (await self.wait_for(topic, check, since=since, within=within)).json()
        return doc

    async def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish (QoS 1) from this observer's client."""
        data = payload.encode() if isinstance(payload, str) else payload
        async with asyncio.timeout(WAIT_S):
            await self._client.publish(topic, data, qos=1, retain=retain)


async def retained_now(
    broker: Mosquitto,
    *topics: str,
    expect: Sequence[str] = (),
    settle_s: float = 0.2,
    within: float = WAIT_S,
) -> dict[str, bytes]:
    """What a client that subscribes now is given as retained on ``topics`` (a fresh client:
    what Home Assistant, or a fleet listing, would learn after the fact).

    Subscribes afresh until every topic in ``expect`` comes flagged as retained (a message
    published while a client is subscribed reaches it without the flag, so only a later
    subscription shows what the broker keeps); the test fails if that takes over ``within``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with Observer(broker, *topics) as fresh:
            await asyncio.sleep(settle_s)
            kept = {m.topic: m.payload for m in fresh.messages if m.retain}
        missing = [t for t in expect if t not in kept]
        if not missing:
            return kept
        if loop.time() > deadline:
            raise AssertionError(f"not retained within {within:g} s: {missing}")
        await asyncio.sleep(0.05)


async def eventually(
    condition: Callable[[], bool], what: str, *, within: float = WAIT_S, every: float = 0.01
) -> None:
    """Wait until ``condition()`` holds; the test fails with ``what`` if it does not in time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(every)


@dataclass
class RunningGateway:
    """A gateway serving its devices in this event loop (see :func:`running_gateway`)."""

    gateway: Gateway
    task: asyncio.Task[None]
    #: The simulated device behind each device name (kept after the gateway lets go of it).
    sims: dict[str, SimulatedDevice] = field(default_factory=dict)
    #: Whether the test itself shut the gateway down (rather than the end of its block).
    shut_down_by_test: bool = False

    @property
    def topics(self) -> GatewayTopics:
        """The gateway's topics."""
        return self.gateway.topics

    def device(self, name: str) -> DeviceTopics:
        """The topics of one of its devices."""
        return self.gateway.topics.device(name)

    def sim(self, name: str) -> SimulatedDevice:
        """The simulated device behind ``name``."""
        return self.sims[name]

    async def wait_ready(self, within: float = 10.0) -> None:
        """Until the gateway is on the broker and every device is connected (fails fast if the
        gateway task ends meanwhile)."""

        async def ready() -> None:
            await self.gateway.connected.wait()
            for host in self.gateway.hosts.values():
                await host.ready.wait()

        waiter = asyncio.ensure_future(ready())
        try:
            done, _ = await asyncio.wait(
                {waiter, self.task}, timeout=within, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        if self.task in done:
            raise AssertionError(f"the gateway ended while starting: {self.task!r}")
        if waiter not in done:
            not_ready = [n for n, h in self.gateway.hosts.items() if not h.ready.is_set()]
            raise AssertionError(
                f"gateway not ready within {within:g} s (broker connected: "
                f"{self.gateway.connected.is_set()}, devices not ready: {not_ready})"
            )
        for name, host in self.gateway.hosts.items():
            m = host.massager
            assert m is not None
            self.sims.setdefault(name, m.transport.device)  # type: ignore[attr-defined]

    def assert_alive(self) -> None:
        """The gateway task still runs (a bad payload must never end it)."""
        assert not self.task.done(), f"the gateway task ended: {self.task!r}"

    async def shut_down(self, within: float = 10.0) -> None:
        """Cancel the gateway task, as a signal does, and wait for it to finish its goodbye."""
        self.shut_down_by_test = True
        if self.task.done():
            return
        self.task.cancel()
        done, _ = await asyncio.wait({self.task}, timeout=within)
        if not done:
            stacks = io.StringIO()
            for task in asyncio.all_tasks():
                task.print_stack(limit=8, file=stacks)
            raise AssertionError(
                f"the gateway did not finish within {within:g} s of a cancel:\n{stacks.getvalue()}"
            )
        await asyncio.gather(self.task, return_exceptions=True)


def sim_devices(**addresses: str) -> list[GatewayDevice]:
    """``name=sim:profile`` pairs as gateway devices."""
    return [GatewayDevice(name, parse_address(text)) for name, text in addresses.items()]


@asynccontextmanager
async def running_gateway(
    broker: Mosquitto,
    devices: Sequence[GatewayDevice],
    *,
    gateway_id: str = "gw",
    **options: Any,
) -> AsyncIterator[RunningGateway]:
    """Run a :class:`Gateway` for ``devices`` on ``broker`` until the block ends (then it is
    cancelled and says goodbye, as on a signal)."""
    gateway = Gateway(parse_broker(broker.url), devices, gateway_id=gateway_id, **options)
    run = RunningGateway(gateway, asyncio.create_task(gateway.run(), name="gateway"))
    try:
        await run.wait_ready()
        yield run
    finally:
        await run.shut_down()


_REQUEST_IDS = itertools.count(1)

#: Frames that set what a simulated device does (keepalives and status requests do not).
SETTING_FRAMES = frozenset({"SET_SPEED", "SET_HEAT", "RUN_PROGRAM", "STOP"})


def settings_received(sim: SimulatedDevice) -> list[tuple[str, int | None]]:
    """Every setting a simulated device was sent, in order (type, value)."""
    return [(c.type, c.value) for c in sim.timeline.commands() if c.type in SETTING_FRAMES]


@dataclass
class Rig:
    """A running gateway and an observer that sees everything on the broker."""

    run: RunningGateway
    obs: Observer

    async def send(self, device: str, payload: str | bytes | dict[str, Any]) -> None:
        """Publish a command to ``device``'s ``set`` topic (as any client would)."""
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        await self.obs.publish(self.run.device(device).set, data)

    async def ask(
        self, device: str, command: dict[str, Any], *, within: float = WAIT_S
    ) -> dict[str, Any]:
        """Send ``command`` with a fresh ``id`` and return the reply to it."""
        request_id = f"req-{next(_REQUEST_IDS)}"
        since = self.obs.mark()
        await self.send(device, {**command, "id": request_id})
        return await self.obs.wait_json(
            self.run.device(device).reply, since=since, within=within, id=request_id
        )

    async def ok(self, device: str, command: dict[str, Any]) -> dict[str, Any]:
        """Send ``command`` and return the state in its reply, which must say ok."""
        reply = await self.ask(device, command)
        assert reply["ok"] is True, reply
        state: dict[str, Any] = reply["state"]
        return state


@asynccontextmanager
async def rig(
    broker: Mosquitto,
    *,
    gateway_id: str = "gw",
    options: dict[str, Any] | None = None,
    **addresses: str,
) -> AsyncIterator[Rig]:
    """An observer subscribed to everything, then a gateway serving ``name=sim:profile``."""
    async with (
        Observer(broker, "#") as obs,
        running_gateway(
            broker, sim_devices(**addresses), gateway_id=gateway_id, **(options or {})
        ) as run,
    ):
        yield Rig(run, obs)
