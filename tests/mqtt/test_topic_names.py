"""Names and topics, end to end through the real CLI: a prefix of several levels works, and a
wildcard or an over-long name in a prefix, a gateway id, a device name or an ``mqtt://`` address
is refused at once (exit 2, one line naming it), before anything reaches the broker.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiomqtt
import pytest

from massagectl.mqtt.broker import parse_broker

from .broker import Mosquitto
from .support import BridgeProcess, SimProcess, cli, one_error_line, speed_is

#: A refusal comes at once: well before the 5 s broker timeout that used to end these.
QUICK_S = 3.0
LONG_NAME = "n" * 70_000


def _refused(*args: str) -> str:
    """Run ``massagectl ARGS``; it must fail with exit 2 and one line, quickly."""
    started = time.monotonic()
    done = cli(*args, timeout=15)
    took = time.monotonic() - started
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr[-2000:])
    assert took < QUICK_S, f"took {took:.1f} s"
    line = one_error_line(done.stderr)
    assert len(line) < 400, line
    return line


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--prefix", "a/+", "--prefix 'a/+': '+' is an MQTT wildcard"),
        ("--prefix", "home/#", "--prefix 'home/#': '#' is an MQTT wildcard"),
        ("--discovery-prefix", "#", "--discovery-prefix '#': '#' is an MQTT wildcard"),
        ("--prefix", "/massagectl", "empty topic level"),
        ("--prefix", "p" * 70_000, "(70000 characters)"),
        ("--id", LONG_NAME, "gateway id 'nnnn"),
    ],
)
def test_a_bad_bridge_option_is_refused_at_once(
    broker: Mosquitto, option: str, value: str, named: str
) -> None:
    args = ["bridge", "--broker", broker.url, "--device", "sim:omp-wand-heat"]
    if option != "--id":
        args += ["--id", "gw1"]
    line = _refused(*args, option, value)
    assert named in line


def test_a_bad_device_name_is_refused_at_once(broker: Mosquitto) -> None:
    line = _refused(
        "bridge",
        "--broker",
        broker.url,
        "--id",
        "gw1",
        "--device",
        f"{LONG_NAME}=sim:omp-wand-heat",
    )
    assert "device name 'nnnn" in line
    assert "(70000 characters)" in line


def test_a_wildcard_fleet_prefix_is_refused_at_once(broker: Mosquitto) -> None:
    line = _refused("fleet", "--broker", broker.url, "--prefix", "a/+")
    assert "--prefix 'a/+'" in line


@pytest.mark.parametrize(
    ("gateway", "device", "named"),
    [
        ("gw2", "+", "device '+'"),
        ("gw2", "#", "device '#'"),
        ("+", "chair", "gateway '+'"),
        ("gw2", LONG_NAME, "device 'nnnn"),
    ],
)
def test_a_wildcard_or_long_name_in_an_mqtt_address_is_refused_at_once(
    broker: Mosquitto, gateway: str, device: str, named: str
) -> None:
    address = f"mqtt://127.0.0.1:{broker.port}/{gateway}/{device}"
    line = _refused("status", "--device", address)
    assert line.startswith("massagectl: error: device address 'mqtt://127.0.0.1:")
    assert named in line


async def _command(client: aiomqtt.Client, topic: str, body: bytes, reply_id: str) -> None:
    """Publish a command on ``topic`` and wait for the gateway's reply to it."""
    await client.publish(topic, body, qos=1)
    async with asyncio.timeout(5):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            doc = json.loads(message.payload)
            if doc.get("id") == reply_id:
                assert doc["ok"] is True, doc
                return


async def test_a_gateway_with_a_prefix_of_two_levels_takes_commands_and_stop(
    broker: Mosquitto,
) -> None:
    sim = SimProcess("omp-percussion-pro", commands=True)
    try:
        with BridgeProcess(
            broker.url,
            [f"chair={sim.address()}"],
            gateway="gw1",
            extra=["--prefix", "home/massage", "--no-discovery"],
        ) as bridge:
            base = "home/massage/gw1/chair"
            async with parse_broker(broker.url).client("prefix-test") as client:
                await client.subscribe(f"{base}/reply", qos=1)
                await _command(client, f"{base}/set", b'{"speed_level": 6, "id": "p1"}', "p1")
                sim.wait_for(speed_is(6), timeout=5)
                # The bare word, as `mosquitto_pub -m stop` sends it, and the JSON stop.
                await client.publish(f"{base}/set", b"stop", qos=1)
                sim.wait_for(speed_is(0), timeout=5)
                await _command(client, f"{base}/set", b'{"speed_level": 4, "id": "p2"}', "p2")
                sim.wait_for(speed_is(4), timeout=5)
                await _command(client, f"{base}/set", b'{"stop": true, "id": "p3"}', "p3")
                sim.wait_for(speed_is(0), timeout=5)
            listed = cli("fleet", "--broker", broker.url, "--prefix", "home/massage", "--json")
            assert listed.returncode == 0, listed.stderr
            [gateway] = json.loads(listed.stdout)
            assert (gateway["gateway"], gateway["online"]) == ("gw1", True)
            assert [d["device"] for d in gateway["devices"]] == ["chair"]
        assert "Traceback" not in "\n".join(bridge.lines)
    finally:
        sim.close()
