"""The Mosquitto ACL example in docs/mqtt.md, on a real Mosquitto: each user can do what the docs
say it can, nothing more, and a real gateway works under it.

Mosquitto drops a publication the ACL denies without a word to the sender, and grants any
subscription (it filters on delivery). So a denial is shown by what an observer allowed to read
the topic does *not* receive: after the denied publications (each acknowledged by the broker,
which routes a message before it acknowledges it) an allowed one is sent, and once the observer
has that one, anything routed before it would have arrived too.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from massagectl.address import parse_address
from massagectl.connection import connect
from massagectl.mqtt.broker import PASSWORD_ENV, Broker
from massagectl.mqtt.fleet import read_fleet
from massagectl.mqtt.gateway import Gateway, GatewayDevice
from massagesim import SimulatedDevice

from .broker import Mosquitto

DOC = Path(__file__).resolve().parents[2] / "docs" / "mqtt.md"
MARKER = "<!-- acl-example -->"

GATEWAY = "chair-room"
GATEWAY_USER = "gw-chair-room"
HA_USER = "homeassistant"
CLIENT_USER = "therapist"
FLEET_USER = "fleet"
PASSWORDS = {
    GATEWAY_USER: "gw-pass-1",
    HA_USER: "ha-pass-2",
    CLIENT_USER: "th-pass-3",
    FLEET_USER: "fl-pass-4",
}

OWN = f"massagectl/{GATEWAY}"
OTHER = "massagectl/other-room"
WAIT_S = 5.0


def acl_example() -> str:
    """The fenced block that follows the marker in docs/mqtt.md."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC.name} lost its {MARKER} marker"
    found = re.search(r"```[a-z]*\n(.*?)```", text[text.index(MARKER) :], re.DOTALL)
    assert found is not None, f"no fenced block after {MARKER} in {DOC.name}"
    return found.group(1)


@pytest.fixture
def acl_broker() -> Iterator[Mosquitto]:
    """A broker with the four users and the docs' ACL."""
    b = Mosquitto(users=PASSWORDS, acl=acl_example())
    yield b
    b.close()


def broker_as(mosquitto: Mosquitto, user: str) -> Broker:
    """The loopback broker, logged in as ``user``."""
    return Broker("127.0.0.1", mosquitto.port, username=user, password=PASSWORDS[user])


class Inbox:
    """Everything one client receives, in order."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.received: list[tuple[str, bytes]] = []
        self._arrived = asyncio.Event()

    async def read(self) -> None:
        """Collect messages until cancelled."""
        async for message in self.client.messages:
            payload = message.payload
            data = bytes(payload) if isinstance(payload, (bytes, bytearray)) else b""
            self.received.append((message.topic.value, data))
            self._arrived.set()

    async def wait_for(self, topic: str, payload: bytes | None = None, *, nth: int = 1) -> bytes:
        """The ``nth`` message on ``topic`` (with ``payload``, if given); fails after WAIT_S."""
        async with asyncio.timeout(WAIT_S):
            while True:
                matching = [
                    got
                    for got_topic, got in self.received
                    if got_topic == topic and (payload is None or got == payload)
                ]
                if len(matching) >= nth:
                    return matching[nth - 1]
                self._arrived.clear()
                await self._arrived.wait()

    def topics(self) -> list[str]:
        """The topics received so far."""
        return [topic for topic, _ in self.received]


@asynccontextmanager
async def inbox(client: aiomqtt.Client, *subscriptions: str) -> AsyncIterator[Inbox]:
    """An :class:`Inbox` on ``client``, subscribed to ``subscriptions``."""
    box = Inbox(client)
    for topic in subscriptions:
        await client.subscribe(topic, qos=1)
    reader = asyncio.create_task(box.read())
    try:
        yield box
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


def test_the_docs_hold_an_acl_for_every_user() -> None:
    acl = acl_example()
    lines = [line.strip() for line in acl.splitlines() if line.strip()]
    assert all(line.split()[0] in ("#", "user", "topic", "pattern") for line in lines), lines
    users = [line.split()[1] for line in lines if line.startswith("user ")]
    assert users == [GATEWAY_USER, HA_USER, CLIENT_USER, FLEET_USER]


async def test_the_gateway_user_publishes_its_topics_and_reads_its_commands(
    acl_broker: Mosquitto,
) -> None:
    async with (
        broker_as(acl_broker, GATEWAY_USER).client("acl-gw") as gw,
        broker_as(acl_broker, HA_USER).client("acl-ha") as ha,
        inbox(gw, f"{OWN}/+/set", "homeassistant/status") as gw_in,
        inbox(ha, "massagectl/#", "homeassistant/#") as ha_in,
    ):
        await gw.publish(f"{OWN}/status", b"online", qos=1, retain=True)
        await gw.publish(f"{OWN}/chair/state", b'{"speed_level": 0}', qos=1, retain=True)
        await gw.publish(f"{OWN}/chair/events", b'{"event": "connected"}', qos=1)
        discovery = "homeassistant/device/massagectl_chair-room/chair/config"
        await gw.publish(discovery, b'{"dev": {}}', qos=1, retain=True)
        assert await ha_in.wait_for(f"{OWN}/status") == b"online"
        assert await ha_in.wait_for(f"{OWN}/chair/state") == b'{"speed_level": 0}'
        assert await ha_in.wait_for(f"{OWN}/chair/events") == b'{"event": "connected"}'
        assert await ha_in.wait_for(discovery) == b'{"dev": {}}'

        await ha.publish(f"{OWN}/chair/set", b'{"speed_level": 3}', qos=1)
        await ha.publish("homeassistant/status", b"online", qos=1)
        assert await gw_in.wait_for(f"{OWN}/chair/set") == b'{"speed_level": 3}'
        assert await gw_in.wait_for("homeassistant/status") == b"online"


async def test_the_gateway_user_cannot_publish_as_anyone_else(acl_broker: Mosquitto) -> None:
    denied = [
        f"{OTHER}/status",
        f"{OTHER}/chair/state",
        f"{OTHER}/chair/availability",
        f"{OTHER}/chair/set",
        "homeassistant/device/massagectl_other-room/chair/config",
        # Not under its own node id: another gateway's name that merely starts like its own.
        "homeassistant/device/massagectl_chair-room-2/chair/config",
        "homeassistant/status",
        "somewhere/else",
    ]
    async with (
        broker_as(acl_broker, GATEWAY_USER).client("acl-gw") as gw,
        broker_as(acl_broker, HA_USER).client("acl-ha") as ha,
        inbox(ha, "massagectl/#", "homeassistant/#") as ha_in,
    ):
        for topic in denied:
            await gw.publish(topic, b"forged", qos=1)
        # Allowed, from the same connection, after all of them: its arrival closes the window.
        await gw.publish("homeassistant/device/massagectl_chair-room/wand/config", b"x", qos=1)
        await gw.publish(f"{OWN}/status", b"sentinel", qos=1)
        await ha_in.wait_for("homeassistant/device/massagectl_chair-room/wand/config", b"x")
        await ha_in.wait_for(f"{OWN}/status", b"sentinel")
    leaked = [topic for topic, payload in ha_in.received if payload == b"forged"]
    assert leaked == []


async def test_the_gateway_user_reads_no_other_gateways_commands(acl_broker: Mosquitto) -> None:
    async with (
        broker_as(acl_broker, GATEWAY_USER).client("acl-gw") as gw,
        broker_as(acl_broker, HA_USER).client("acl-ha") as ha,
        inbox(gw, "massagectl/+/+/set", "massagectl/#") as gw_in,
    ):
        await ha.publish(f"{OTHER}/chair/set", b'{"speed": 90}', qos=1)
        await ha.publish(f"{OWN}/chair/set", b'{"speed": 10}', qos=1)
        await gw_in.wait_for(f"{OWN}/chair/set", b'{"speed": 10}')
    assert f"{OTHER}/chair/set" not in gw_in.topics()


async def test_home_assistant_commands_and_reads_but_cannot_forge_state(
    acl_broker: Mosquitto,
) -> None:
    async with (
        broker_as(acl_broker, GATEWAY_USER).client("acl-gw") as gw,
        broker_as(acl_broker, HA_USER).client("acl-ha") as ha,
        broker_as(acl_broker, FLEET_USER).client("acl-fleet") as fleet,
        inbox(gw, f"{OWN}/+/set") as gw_in,
        inbox(ha, f"{OWN}/+/state") as ha_in,
        inbox(
            fleet, "massagectl/+/status", "massagectl/+/+/availability", "massagectl/+/+/state"
        ) as fleet_in,
    ):
        await gw.publish(f"{OWN}/chair/state", b"real", qos=1)
        assert await ha_in.wait_for(f"{OWN}/chair/state") == b"real"
        await ha.publish(f"{OWN}/chair/set", b'{"stop": true}', qos=1)
        assert await gw_in.wait_for(f"{OWN}/chair/set") == b'{"stop": true}'

        for topic in (f"{OWN}/chair/state", f"{OWN}/chair/availability", f"{OWN}/status"):
            await ha.publish(topic, b"forged", qos=1)
        await gw.publish(f"{OWN}/chair/state", b"sentinel", qos=1)
        await fleet_in.wait_for(f"{OWN}/chair/state", b"sentinel")
    assert [p for _, p in fleet_in.received] == [b"real", b"sentinel"]


async def test_the_fleet_user_reads_but_cannot_write(acl_broker: Mosquitto) -> None:
    async with (
        broker_as(acl_broker, GATEWAY_USER).client("acl-gw") as gw,
        broker_as(acl_broker, HA_USER).client("acl-ha") as ha,
        broker_as(acl_broker, FLEET_USER).client("acl-fleet") as fleet,
        inbox(ha, "massagectl/#", "homeassistant/#") as ha_in,
        inbox(fleet, "massagectl/#") as fleet_in,
    ):
        await gw.publish(f"{OWN}/chair/state", b"real", qos=1)
        assert await fleet_in.wait_for(f"{OWN}/chair/state") == b"real"

        for topic in (
            f"{OWN}/chair/set",
            f"{OWN}/chair/state",
            f"{OWN}/status",
            "homeassistant/status",
        ):
            await fleet.publish(topic, b"forged", qos=1)
        # Each denied publication was acknowledged, so routed, before this one was sent.
        await ha.publish(f"{OWN}/chair/set", b"sentinel", qos=1)
        await gw.publish(f"{OWN}/chair/state", b"sentinel", qos=1)
        await ha_in.wait_for(f"{OWN}/chair/set", b"sentinel")
        await ha_in.wait_for(f"{OWN}/chair/state", b"sentinel")
        await fleet_in.wait_for(f"{OWN}/chair/state", b"sentinel")
    assert [t for t, p in ha_in.received if p == b"forged"] == []
    # It reads what `massagectl fleet` lists, not the commands people send.
    assert fleet_in.topics() == [f"{OWN}/chair/state", f"{OWN}/chair/state"]


def _sim_device(gateway: Gateway, name: str) -> SimulatedDevice:
    massager = gateway.hosts[name].massager
    assert massager is not None
    device = getattr(massager.transport, "device", None)
    assert isinstance(device, SimulatedDevice)
    return device


async def test_a_gateway_runs_under_the_acl(
    acl_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = Gateway(
        broker_as(acl_broker, GATEWAY_USER),
        [
            GatewayDevice("chair", parse_address("sim:omp-percussion-pro")),
            GatewayDevice("wand", parse_address("sim:omp-wand-heat")),
        ],
        gateway_id=GATEWAY,
    )
    chair_config = "homeassistant/device/massagectl_chair-room/chair/config"
    async with (
        broker_as(acl_broker, HA_USER).client("acl-ha") as ha,
        inbox(ha, f"{OWN}/#", "homeassistant/device/#") as ha_in,
    ):
        runner = asyncio.create_task(gateway.run())
        try:
            # On the broker, as Home Assistant sees it: online, both devices, discovery.
            assert await ha_in.wait_for(f"{OWN}/status", b"online")
            assert await ha_in.wait_for(f"{OWN}/chair/availability", b"online")
            assert await ha_in.wait_for(f"{OWN}/wand/availability", b"online")
            config = json.loads(await ha_in.wait_for(chair_config))
            assert config["cmps"]["fan"]["command_topic"] == f"{OWN}/chair/set"
            await ha_in.wait_for("homeassistant/device/massagectl_chair-room/wand/config")

            # A command from Home Assistant reaches the device, and the reply comes back.
            await ha.publish(f"{OWN}/chair/set", b'{"speed_level": 5, "id": "acl-1"}', qos=1)
            reply = json.loads(await ha_in.wait_for(f"{OWN}/chair/reply"))
            assert reply["id"] == "acl-1"
            assert reply["ok"] is True, reply
            chair = _sim_device(gateway, "chair")
            assert chair.state.speed == 5

            # Home Assistant's birth message reaches the gateway: discovery is sent again.
            configs_before = ha_in.topics().count(chair_config)
            await ha.publish("homeassistant/status", b"online", qos=1)
            await ha_in.wait_for(chair_config, nth=configs_before + 1)

            # massagectl fleet, as the fleet user, lists it all.
            fleet = await read_fleet(broker_as(acl_broker, FLEET_USER), wait_s=WAIT_S)
            listed = fleet.gateways[GATEWAY]
            assert listed.online
            assert sorted(listed.devices) == ["chair", "wand"]
            assert all(d.available for d in listed.devices.values())
            assert listed.devices["chair"].state["speed_level"] == 5

            # An mqtt:// client logged in as the therapist drives the other device.
            monkeypatch.setenv(PASSWORD_ENV, PASSWORDS[CLIENT_USER])
            address = f"mqtt://{CLIENT_USER}@127.0.0.1:{acl_broker.port}/{GATEWAY}/wand"
            wand = _sim_device(gateway, "wand")
            async with connect(address) as remote:
                await remote.set_heat("low")
                assert wand.state.heat == 1
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    # The gateway stopped what Home Assistant left running on its way out.
    assert chair.state.speed == 0
