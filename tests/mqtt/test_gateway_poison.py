"""Payloads and failures that must not poison the gateway: each is answered, the device is left
as it was (or stopped), and the next command is carried out as usual.

Real Mosquitto, the gateway in this event loop, simulated devices behind it (as in
``test_gateway.py``). The last two tests end one of the gateway's own long-lived tasks from
outside (as a bug or an unexpected exception would) and check that the gateway does not go on
pretending: the device is stopped, the gateway says so, and the task is started again (a
device's command worker) or the gateway ends with every device stopped (a device's task).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest

from massagectl.errors import MassagectlError

from .broker import Mosquitto
from .gateway_support import WAIT_S, Rig, eventually, retained_now, rig, settings_received
from .support import BridgeProcess, SimProcess, cli, mqtt_address, speed_is, speeds_sent

WAND, PAD = "sim:omp-wand-heat", "sim:omp-heat-pad"


@pytest.fixture
async def wand(broker: Mosquitto) -> AsyncIterator[Rig]:
    """A gateway ``gw`` with one heated wand (10 speeds, 2 heat levels, 3 programs)."""
    async with rig(broker, wand=WAND) as r:
        yield r
        if not r.run.shut_down_by_test:
            r.run.assert_alive()


def nested_lists(depth: int) -> object:
    """``[[[ ... ]]]``, ``depth`` lists deep."""
    doc: object = []
    for _ in range(depth - 1):
        doc = [doc]
    return doc


async def test_an_inline_program_nested_600_deep_is_answered_and_the_next_command_runs(
    wand: Rig,
) -> None:
    sim = wand.run.sim("wand")
    program = {"name": "deep", "title": "Deep", "steps": nested_lists(600)}
    since = wand.obs.mark()
    reply = await wand.ask("wand", {"run": program})
    assert reply["ok"] is False
    assert reply["kind"] == "usage"
    assert reply["error"] == "payload nests lists and objects over 32 levels deep"
    error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
    assert error["error"] == reply["error"]
    assert settings_received(sim) == []
    # The worker is still there: the next command reaches the device.
    state = await wand.ok("wand", {"speed_level": 3})
    assert sim.state.speed == state["speed_level"] == 3


async def test_a_number_of_5000_digits_is_answered_and_the_next_command_runs(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    since = wand.obs.mark()
    await wand.send("wand", '{"speed_level": ' + "7" * 5000 + "}")
    error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
    assert error["error"] == "payload holds a number of over 4300 digits"
    assert settings_received(sim) == []
    state = await wand.ok("wand", {"speed_level": 2})
    assert sim.state.speed == state["speed_level"] == 2


async def test_a_key_given_twice_is_refused_and_the_motor_does_not_start(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    since = wand.obs.mark()
    await wand.send("wand", '{"stop": true, "stop": null, "speed": 50}')
    error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
    assert error["error"] == "stop: given twice in one object"
    reply = await wand.ask("wand", {"heat": "low"})
    assert reply["ok"] is True
    # Only the heat that came after: the doubled command did nothing.
    assert sim.state.speed == 0
    assert [kind for kind, _ in settings_received(sim)] == ["SET_HEAT"]


def _task_named(name: str) -> asyncio.Task[object]:
    found = [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]
    assert len(found) == 1, [t.get_name() for t in asyncio.all_tasks()]
    return found[0]


async def test_a_command_worker_that_ends_stops_the_device_and_is_started_again(
    wand: Rig,
) -> None:
    sim = wand.run.sim("wand")
    await wand.ok("wand", {"speed_level": 4, "heat": "low"})
    since = wand.obs.mark()
    # As an exception nobody expected would end it.
    _task_named("wand commands").cancel()
    event = await wand.obs.wait_json(
        "massagectl/gw/wand/events", since=since, within=WAIT_S, event="offline"
    )
    assert "command worker ended unexpectedly" in event["message"], event
    await eventually(lambda: not sim.state.active, "the device is stopped")
    await wand.obs.wait_for(
        "massagectl/gw/wand/availability", lambda m: m.text == "online", since=since
    )
    # Served afresh: commands are carried out again.
    state = await wand.ok("wand", {"speed_level": 2})
    assert state["speed_level"] == 2


async def test_a_device_task_that_ends_ends_the_gateway_with_every_device_stopped(
    broker: Mosquitto,
) -> None:
    async with rig(broker, wand=WAND, pad=PAD) as r:
        await r.ok("wand", {"speed_level": 4})
        await r.ok("pad", {"heat": "low"})
        wand, pad = r.run.sim("wand"), r.run.sim("pad")
        assert wand.state.active
        assert pad.state.active
        _task_named("device wand").cancel()
        done, _ = await asyncio.wait({r.run.task}, timeout=WAIT_S)
        assert done, "the gateway went on without one of its devices"
        r.run.shut_down_by_test = True
        with pytest.raises(MassagectlError, match="device wand task ended unexpectedly"):
            r.run.task.result()
        assert not wand.state.active
        assert not pad.state.active
    kept = await retained_now(broker, "massagectl/gw/#", expect=["massagectl/gw/status"])
    assert kept["massagectl/gw/status"] == b"offline"
    assert json.loads(kept["massagectl/gw/pad/state"])["connected"] is False


# --- end to end: the real bridge, payloads typed at mosquitto_pub ---------------------------

MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"


def test_poison_typed_at_mosquitto_pub_changes_nothing_and_the_bridge_goes_on(
    broker: Mosquitto,
) -> None:
    sim = SimProcess("omp-wand-heat", commands=True)
    try:
        with BridgeProcess(broker.url, [f"wand={sim.address()}"], gateway="gw-p") as bridge:
            topic = "massagectl/gw-p/wand/set"
            deep = json.dumps({"run": {"name": "d", "title": "D", "steps": nested_lists(600)}})
            for payload in (
                '{"stop": true, "stop": null, "speed": 50}',
                '{"speed_level": ' + "7" * 5000 + "}",
                deep,
            ):
                where = ["-h", "127.0.0.1", "-p", str(broker.port), "-t", topic]
                done = subprocess.run(
                    [MOSQUITTO_PUB, *where, "-m", payload],
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                assert done.returncode == 0, done.stderr
            # Carried out after all three: the bridge is still taking commands.
            done = cli("set", "--device", mqtt_address(broker.port, "gw-p", "wand"), "--speed", "2")
            assert done.returncode == 0, done.stderr
            sim.wait_for(speed_is(2))
            assert speeds_sent(sim) == [2], sim.commands
            assert bridge.proc.poll() is None
            assert "Traceback" not in "\n".join(bridge.lines)
    finally:
        sim.close()
