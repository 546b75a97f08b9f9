"""MQTT: a command's way from a client, through a local Mosquitto and the gateway, to the device.

The value is the time from just before a client publishes ``{"speed_level": N}`` (QoS 1) on a
device's ``set`` topic to the moment the simulated device applies it (its own state callback,
inside the firmware). The baseline, on the same broker in the same run, is bare aiomqtt: one
client publishes, another subscribed client receives. The difference is the gateway and the
device layer: parsing and checking the command, the host's queue, the safety envelope, the
writer's pacing, the OMP/1 frame, and whatever the gateway's own traffic (the state it publishes
after each command) does to the next command's way.

The two kinds of sample take turns, one of each at a time with a pause after each, so that a
busy moment of a shared machine lands on both rather than on one; a command to the gateway thus
follows the previous one by about 50 ms. The broker runs with Mosquitto's defaults (Nagle's
algorithm on, as on most brokers people have).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt

from massagectl.address import parse_address
from massagectl.mqtt.broker import Broker
from massagectl.mqtt.gateway import Gateway, GatewayDevice
from massagesim import SimulatedDevice
from massagesim.recording import StateSnapshot

from .result import Result, latency_ms
from .support import BenchError, free_port, helper_process

PROFILE = "sim:omp-percussion-pro"
#: Two levels in turn, so that every command changes the device.
LEVELS = (4, 9)
#: Quiet time after each sample: longer than OMP/1's 20 ms frame gap, so that one command
#: never waits for the previous one, and nothing coalesces.
PAUSE_S = 0.025
#: Samples thrown away first (connections warming up, first-time imports and caches).
WARMUP = 20
#: How long one sample may take before the bench gives up.
SAMPLE_TIMEOUT_S = 5.0
QOS = 1


def _mosquitto_binary() -> str:
    found = shutil.which("mosquitto")
    if found:
        return found
    if Path("/usr/sbin/mosquitto").is_file():
        return "/usr/sbin/mosquitto"
    raise BenchError(
        "mqtt bench: no mosquitto on PATH nor at /usr/sbin/mosquitto "
        "(install the mosquitto package, e.g. apt-get install mosquitto)"
    )


@contextlib.contextmanager
def local_mosquitto() -> Iterator[int]:
    """An anonymous Mosquitto of the bench's own on a free loopback port; yields the port."""
    binary = _mosquitto_binary()
    with tempfile.TemporaryDirectory(prefix="massagectl-bench-") as folder:
        port = free_port()
        config = Path(folder) / "mosquitto.conf"
        # Logging to stderr, which (unlike stdout into a pipe) Mosquitto does not buffer: it
        # says "... running" once its listeners are open, the moment to start; and an error it
        # dies of is its last line.
        config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
        )
        with helper_process(
            [binary, "-c", str(config)],
            ready=r"mosquitto version \S+ running",
            what="mqtt bench: mosquitto",
        ):
            yield port


def _payload(i: int) -> bytes:
    return f'{{"speed_level": {LEVELS[i % 2]}}}'.encode()


class BareSampler:
    """One client publishes, another subscribed client receives: MQTT and nothing else."""

    TOPIC = "massagectl-bench/bare/set"

    def __init__(self, publisher: aiomqtt.Client, subscriber: aiomqtt.Client) -> None:
        self.publisher = publisher
        self.subscriber = subscriber

    async def start(self) -> None:
        """Subscribe."""
        await self.subscriber.subscribe(self.TOPIC, qos=QOS)

    async def sample(self, i: int) -> float:
        """Seconds from just before the publish to the subscriber having the message."""
        payload = _payload(i)
        started = time.perf_counter()
        await self.publisher.publish(self.TOPIC, payload, qos=QOS)
        async with asyncio.timeout(SAMPLE_TIMEOUT_S):
            message = await anext(aiter(self.subscriber.messages))
        arrived = time.perf_counter()
        if message.payload != payload:
            raise BenchError(f"mqtt bench: expected {payload!r}, got {message.payload!r}")
        return arrived - started


@contextlib.asynccontextmanager
async def running_gateway(broker: Broker) -> AsyncIterator[tuple[Gateway, SimulatedDevice]]:
    """A gateway serving one simulated device, on the broker and ready for commands."""
    gateway = Gateway(
        broker,
        [GatewayDevice("bench", parse_address(PROFILE))],
        gateway_id="bench",
        discovery_prefix=None,
    )
    host = gateway.hosts["bench"]
    task = asyncio.create_task(gateway.run(), name="bench gateway")
    try:
        async with asyncio.timeout(10):
            await gateway.connected.wait()
            await host.ready.wait()
        massager = host.massager
        assert massager is not None
        device = getattr(massager.transport, "device", None)
        if not isinstance(device, SimulatedDevice):
            raise BenchError(f"mqtt bench: {PROFILE} is not an in-process simulated device")
        yield gateway, device
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class GatewaySampler:
    """A client publishes speed commands on the device's ``set`` topic; the simulated device
    says when it applies each one."""

    def __init__(self, client: aiomqtt.Client, topic: str, device: SimulatedDevice) -> None:
        self.client = client
        self.topic = topic
        self.expected = -1
        self.applied: asyncio.Future[float] | None = None
        self.unsubscribe = device.on_change(self._on_change)

    def _on_change(self, snap: StateSnapshot) -> None:
        # Called by the firmware as it applies a change: the moment the device acts.
        if snap.speed == self.expected and self.applied is not None and not self.applied.done():
            self.applied.set_result(time.perf_counter())

    async def sample(self, i: int) -> float:
        """Seconds from just before the publish to the device applying the command."""
        self.expected = LEVELS[i % 2]
        applied: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.applied = applied
        started = time.perf_counter()
        await self.client.publish(self.topic, _payload(i), qos=QOS)
        async with asyncio.timeout(SAMPLE_TIMEOUT_S):
            done = await applied
        return done - started


async def _measure(samples: int) -> tuple[list[float], list[float]]:
    """Gateway and bare samples, interleaved one by one so that both see the same machine (a
    busy moment of the machine lands on both, not on one)."""
    ours: list[float] = []
    bare: list[float] = []
    with local_mosquitto() as port:
        broker = Broker("127.0.0.1", port)
        async with (
            running_gateway(broker) as (gateway, device),
            broker.client("massagectl-bench-commander") as commander,
            broker.client("massagectl-bench-pub") as publisher,
            broker.client("massagectl-bench-sub") as subscriber,
        ):
            command = GatewaySampler(commander, gateway.hosts["bench"].topics.set, device)
            plain = BareSampler(publisher, subscriber)
            await plain.start()
            try:
                for i in range(WARMUP + samples):
                    # Which goes first alternates, so that neither always follows the other.
                    order = (command, plain) if i % 2 else (plain, command)
                    for sampler in order:
                        took = await sampler.sample(i)
                        if i >= WARMUP:
                            (ours if sampler is command else bare).append(took)
                        await asyncio.sleep(PAUSE_S)
            finally:
                command.unsubscribe()
    return ours, bare


@functools.cache
def measure(quick: bool) -> tuple[list[float], list[float]]:
    """Both latency lists (gateway, bare) in seconds; measured once for both entries."""
    samples = 100 if quick else 1000
    try:
        return asyncio.run(_measure(samples))
    except BenchError as exc:
        raise SystemExit(str(exc)) from None
    except aiomqtt.MqttError as exc:
        raise SystemExit(f"mqtt bench: the local broker failed: {exc}") from None
    except TimeoutError:
        raise SystemExit(
            f"mqtt bench: a command or message took over {SAMPLE_TIMEOUT_S:g} s (or the gateway "
            "did not come up in 10 s)"
        ) from None


def _entry(name: str, p: float, quick: bool, goal: str) -> Result:
    ours, bare = measure(quick)
    return latency_ms(
        name,
        ours,
        bare,
        p,
        goal=goal,
        baseline_is=f"bare aiomqtt publish-to-receive p{p:g} (QoS 1), same local Mosquitto, "
        "samples interleaved with the gateway's in the same run",
    )


def command_p50(quick: bool) -> Result:
    """Median command-to-device latency through the gateway."""
    return _entry("mqtt_command_p50", 50, quick, goal="report only")


def command_p99(quick: bool) -> Result:
    """p99 command-to-device latency through the gateway."""
    return _entry("mqtt_command_p99", 99, quick, goal="ratio <= 2")
