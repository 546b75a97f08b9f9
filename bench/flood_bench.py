"""MQTT under a flood: how fast a stop reaches the device while the gateway is flooded.

The value is the p99 of the time from just before a client publishes ``{"stop": true}`` (QoS 1)
on a device's ``set`` topic to the moment the simulated device is at rest (speed, heat and
program 0, seen by its own state callback, inside the firmware), while another process
(:mod:`bench.flood`) floods the same topic with :data:`FLOOD_RATE` valid speed commands a second
(QoS 0). The baseline, in the same run, on the same gateway and broker, is the same stop with no
flood: the device is set going by one command, then stopped.

During the flood a stop is sent every :data:`STOP_EVERY_S`; the flood's next command may set
the device going again right after it, as it should: what is timed is how long the stop takes
to get through. Once the flood has ended, one more stop is sent and the device is watched for
:data:`SETTLE_S`: any setting it receives after that stop's STOP is a command from the flood
that was still queued somewhere in the gateway and ran after the stop (the goal is none). The
gateway's peak resident memory during the flood (this process: the gateway and the simulated
device, sampled every 20 ms) is reported beside the figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import resource
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt

from massagectl.mqtt.broker import Broker
from massagesim import CommandRecord, SimulatedDevice
from massagesim.firmware_state import FirmwareState

from .mqtt_bench import local_mosquitto, running_gateway
from .result import Result, latency_ms, percentile
from .support import BenchError

#: Valid commands a second in the flood.
FLOOD_RATE = 5000
#: A stop during the flood this often.
STOP_EVERY_S = 0.25
#: How long the device is watched after the final stop.
SETTLE_S = 1.0
#: How long one stop may take before the bench gives up.
STOP_TIMEOUT_S = 10.0
#: How often the resident memory is sampled.
RSS_EVERY_S = 0.02
REPO = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """This process's resident memory now, in MB (the peak so far where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class StopTimer:
    """Publishes stops and times each until the simulated device applies it."""

    def __init__(self, client: aiomqtt.Client, topic: str, device: SimulatedDevice) -> None:
        self.client = client
        self.topic = topic
        self.device = device
        self._stopped: asyncio.Future[float] | None = None
        self._changed = asyncio.Event()
        self.unsubscribe_commands = device.timeline.on_command(self._on_command)
        self.unsubscribe_states = device.on_change(lambda _snap: self._changed.set())

    def _on_command(self, record: CommandRecord) -> None:
        # Called by the firmware as it applies a frame: a STOP puts the device at rest then
        # (whether it was going or not: the flood may not have set it going again yet).
        if record.type == "STOP" and self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(time.perf_counter())

    async def stop(self) -> float:
        """Seconds from just before the publish to the device at rest."""
        stopped: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._stopped = stopped
        started = time.perf_counter()
        await self.client.publish(self.topic, b'{"stop": true}', qos=1)
        async with asyncio.timeout(STOP_TIMEOUT_S):
            done = await stopped
        return done - started

    async def until(self, check: Callable[[FirmwareState], bool]) -> None:
        """Wait until the device's state satisfies ``check``."""
        async with asyncio.timeout(STOP_TIMEOUT_S):
            while not check(self.device.state):
                self._changed.clear()
                await self._changed.wait()

    def close(self) -> None:
        """Stop listening to the device."""
        self.unsubscribe_commands()
        self.unsubscribe_states()


@contextlib.asynccontextmanager
async def flood(
    port: int, topic: str, seconds: float, *, rate: int = FLOOD_RATE, kind: str = "valid"
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The flood process, running once the block starts; waited for (or killed) at its end."""
    args = ["--port", str(port), "--topic", topic, "--rate", str(rate), "--kind", kind]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.flood",
        *args,
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if line.strip() != b"flooding":
            raise BenchError(f"flood bench: the flood did not start: {line!r}")
        yield proc
    finally:
        if proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds + 10):
                    await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


#: Settings a device can be sent (the ones that can set it going).
SETTINGS = frozenset({"SET_SPEED", "SET_HEAT", "RUN_PROGRAM"})


async def _measure(flood_s: float, quiet_samples: int) -> tuple[list[float], list[float], str]:
    """Stop latencies under the flood and without it, and a line of what else was seen."""
    with local_mosquitto() as port:
        broker = Broker("127.0.0.1", port)
        async with (
            running_gateway(broker) as (gateway, device),
            broker.client("massagectl-bench-stopper") as stopper,
        ):
            topic = gateway.hosts["bench"].topics.set
            timer = StopTimer(stopper, topic, device)
            try:
                quiet: list[float] = []
                for i in range(quiet_samples):
                    await stopper.publish(topic, f'{{"speed_level": {4 + i % 5}}}', qos=1)
                    await timer.until(lambda state: state.speed > 0)
                    # Past OMP/1's frame gap: the stop waits for nothing but its own way.
                    await asyncio.sleep(0.05)
                    quiet.append(await timer.stop())
                start_rss = peak_rss = rss_mb()
                flooded: list[float] = []
                async with flood(port, topic, flood_s) as proc:
                    next_stop = time.monotonic() + STOP_EVERY_S
                    while proc.returncode is None:
                        peak_rss = max(peak_rss, rss_mb())
                        if time.monotonic() >= next_stop:
                            flooded.append(await timer.stop())
                            next_stop = time.monotonic() + STOP_EVERY_S
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(RSS_EVERY_S):
                                await proc.wait()
                peak_rss = max(peak_rss, rss_mb())
                flooded.append(await timer.stop())
                final = len(device.timeline.commands())
                await asyncio.sleep(SETTLE_S)
                restarts = [c for c in device.timeline.commands()[final:] if c.type in SETTINGS]
                started = time.perf_counter()
                await stopper.publish(topic, b'{"speed_level": 2}', qos=1)
                await timer.until(lambda state: state.speed == 2)
                fresh = time.perf_counter() - started
                await timer.stop()
            finally:
                timer.close()
    note = (
        f"gateway peak RSS {peak_rss:.0f} MB during the flood ({start_rss:.0f} MB before); "
        f"{len(restarts)} settings reached the device after the final stop; a fresh command "
        f"after the flood took {fresh * 1000:.1f} ms"
    )
    return flooded, quiet, note


@functools.cache
def measure(quick: bool) -> tuple[list[float], list[float], str]:
    """Both latency lists (flooded, quiet) in seconds, and the note."""
    try:
        return asyncio.run(_measure(3.0 if quick else 10.0, 20 if quick else 100))
    except BenchError as exc:
        raise SystemExit(str(exc)) from None
    except aiomqtt.MqttError as exc:
        raise SystemExit(f"flood bench: the local broker failed: {exc}") from None
    except TimeoutError:
        raise SystemExit(
            f"flood bench: a stop or command took over {STOP_TIMEOUT_S:g} s to reach the device"
        ) from None


def stop_under_flood_p99(quick: bool) -> Result:
    """p99 of a stop's way to the device during a flood of 5,000 commands a second."""
    flooded, quiet, note = measure(quick)
    print(
        f"  stop under flood: {len(flooded)} stops, p50 {percentile(flooded, 50) * 1000:.1f} ms, "
        f"max {max(flooded) * 1000:.1f} ms; {note}",
        file=sys.stderr,
        flush=True,
    )
    result = latency_ms(
        "stop_under_flood_p99",
        flooded,
        quiet,
        99,
        goal="< 100 ms, no setting after the final stop",
        baseline_is="the same stop with no flood, same gateway and broker, same run",
    )
    return dataclasses.replace(result, note=note)
