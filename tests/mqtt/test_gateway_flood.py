"""Floods against the gateway: a stop still gets through, nothing queued before it runs after it,
memory stays bounded, the broker connection holds, and a fresh command is still answered.

A real Mosquitto on the loopback interface, the gateway in this event loop with a simulated
wand behind it, and the flood from a process of its own (``python -m bench.flood``, QoS 0, a
bounded count over a few seconds). The observer here listens only to the gateway's answers,
not to the flood (which would cost this event loop, the gateway's, as much as the flood
itself). Bounds on time are generous sanity limits; the figures live in the benchmark
(``python -m bench --only stop_under_flood_p99``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bench.flood_bench import rss_mb

from massagesim import CommandRecord, SimulatedDevice

from .broker import Mosquitto
from .gateway_support import Observer, Rig, eventually, running_gateway, sim_devices

REPO = Path(__file__).resolve().parents[2]
FLOOD_S = 3.0
#: What a stop may take to reach the device in a flood (a sanity bound, not a figure: the
#: benchmark's goal is 100 ms; before the intake was bounded it took 41 s).
STOP_WITHIN_S = 5.0
#: Growth of this process's memory over a flood (the gateway holds at most 256 unread
#: messages and 16 commands per device).
RSS_GROWTH_MB = 40.0
SETTINGS = frozenset({"SET_SPEED", "SET_HEAT", "RUN_PROGRAM"})


@contextlib.asynccontextmanager
async def answers_rig(broker: Mosquitto) -> AsyncIterator[Rig]:
    """A gateway ``gw`` with a wand, and an observer of its answers only."""
    async with (
        Observer(
            broker, "massagectl/gw/+/reply", "massagectl/gw/+/error", "massagectl/gw/error"
        ) as obs,
        running_gateway(broker, sim_devices(wand="sim:omp-wand-heat")) as run,
    ):
        yield Rig(run, obs)
        run.assert_alive()


@contextlib.asynccontextmanager
async def flood(
    broker: Mosquitto, topic: str, rate: int, kind: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``rate`` messages a second on ``topic`` for :data:`FLOOD_S` from another process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.flood",
        *("--port", str(broker.port), "--topic", topic, "--rate", str(rate)),
        *("--seconds", str(FLOOD_S), "--kind", kind),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(10):
            assert (await proc.stdout.readline()).strip() == b"flooding"
        yield proc
    finally:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLOOD_S + 10):
                await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class Watch:
    """What the test samples while a flood runs: memory, and the gateway's broker connection."""

    def __init__(self, rig_: Rig) -> None:
        self.rig = rig_
        self.start_mb = self.peak_mb = rss_mb()
        self.disconnected = False
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, rss_mb())
            if not self.rig.run.gateway.connected.is_set():
                self.disconnected = True
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def stop_reaches(rig_: Rig, sim: SimulatedDevice) -> None:
    """Publish a stop and wait until the device receives STOP."""
    got = asyncio.get_running_loop().create_future()

    def on_command(record: CommandRecord) -> None:
        if record.type == "STOP" and not got.done():
            got.set_result(None)

    remove = sim.timeline.on_command(on_command)
    try:
        await rig_.send("wand", {"stop": True})
        async with asyncio.timeout(STOP_WITHIN_S):
            await got
    finally:
        remove()


async def assert_nothing_runs_after_a_final_stop(rig_: Rig, sim: SimulatedDevice) -> None:
    """The flood is over: one more stop, and no setting reaches the device for a second."""
    await stop_reaches(rig_, sim)
    seen = len(sim.timeline.commands())
    await asyncio.sleep(1.0)
    late = [(c.type, c.value) for c in sim.timeline.commands()[seen:] if c.type in SETTINGS]
    assert late == [], f"{len(late)} settings reached the device after the final stop"
    assert not sim.state.active


@pytest.mark.parametrize(
    ("rate", "kind"), [(500, "valid"), (10_000, "valid"), (10_000, "with-ids")]
)
async def test_a_stop_gets_through_a_flood_of_commands_and_nothing_queued_runs_after_it(
    broker: Mosquitto, rate: int, kind: str
) -> None:
    async with answers_rig(broker) as r:
        sim = r.run.sim("wand")
        since = r.obs.mark()
        watch = Watch(r)
        try:
            async with flood(broker, r.run.device("wand").set, rate, kind) as proc:
                await eventually(lambda: sim.state.active, "the flood sets the wand going")
                await asyncio.sleep(FLOOD_S / 3)
                await stop_reaches(r, sim)
                await proc.wait()
            await assert_nothing_runs_after_a_final_stop(r, sim)
            # A fresh command is carried out at once, not after a backlog.
            state = await r.ok("wand", {"speed_level": 2})
            assert state["speed_level"] == sim.state.speed == 2
        finally:
            await watch.close()
        assert not watch.disconnected, "the gateway lost its broker in the flood"
        grew = watch.peak_mb - watch.start_mb
        assert grew < RSS_GROWTH_MB, f"memory grew by {grew:.0f} MB in the flood"
        if kind == "with-ids":
            # Commands replaced before they ran are said dropped, at most 100 a second.
            replies = [m.json() for m in r.obs.on(r.run.device("wand").reply, since=since)]
            dropped = [doc for doc in replies if doc.get("kind") == "dropped"]
            assert dropped, replies[-3:]
            assert dropped[0]["error"].startswith("dropped: ")
            assert len(dropped) <= 100 + 100 * (FLOOD_S + 2), len(dropped)


async def test_a_flood_of_bad_payloads_keeps_the_broker_and_the_error_topic_calm(
    broker: Mosquitto,
) -> None:
    async with answers_rig(broker) as r:
        sim = r.run.sim("wand")
        error_topic = r.run.device("wand").error
        await r.ok("wand", {"speed_level": 4})
        since = r.obs.mark()
        watch = Watch(r)
        try:
            async with flood(broker, r.run.device("wand").set, 10_000, "invalid") as proc:
                await asyncio.sleep(FLOOD_S / 3)
                await stop_reaches(r, sim)
                assert not sim.state.active
                await proc.wait()
            # The count of what was held back comes within a second or so of the flood's end.
            summary = await r.obs.wait_json(
                error_topic, lambda doc: "suppressed" in doc, since=since, within=3.0
            )
            assert "more refused commands were not reported one by one" in summary["error"]
            state = await r.ok("wand", {"speed_level": 3})
            assert state["speed_level"] == 3
        finally:
            await watch.close()
        assert not watch.disconnected, "the gateway lost its broker in the flood"
        errors = r.obs.on(error_topic, since=since)
        # 30,000 bad payloads; at most 20 errors a second (bursts of 20) and the counts.
        assert len(errors) <= 20 + 20 * (FLOOD_S + 3) + 10, len(errors)
        assert sum(e.json().get("suppressed", 0) for e in errors) + len(errors) > 1000
        grew = watch.peak_mb - watch.start_mb
        assert grew < RSS_GROWTH_MB, f"memory grew by {grew:.0f} MB in the flood"
