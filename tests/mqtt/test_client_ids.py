"""Client ids on the broker: another user cannot take over the gateway's connection or a
client's, and a gateway whose connection is taken anyway comes straight back, without a
traceback.

The broker is a real Mosquitto configured as docs/mqtt.md says: its password file and ACL
(the same users as ``test_acl_example``) and the options of the documented ``mosquitto.conf``
(listener, certificate and file lines are the test's own).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from massagectl.mqtt.broker import PASSWORD_ENV

from .broker import Mosquitto
from .support import BridgeProcess, SimProcess, finish, mqtt_address, spawn_cli, speed_is
from .test_acl_example import (
    CLIENT_USER,
    FLEET_USER,
    GATEWAY,
    GATEWAY_USER,
    HA_USER,
    PASSWORDS,
    acl_example,
    broker_as,
    inbox,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "mqtt.md"
MARKER = "<!-- broker-config -->"
#: Lines of the documented configuration that name this machine's files or ports: the test
#: broker has its own.
_OWN_LINES = ("listener", "cafile", "certfile", "keyfile", "password_file", "acl_file")
OWN = f"massagectl/{GATEWAY}"


def documented_options() -> tuple[str, ...]:
    """The ``mosquitto.conf`` lines of docs/mqtt.md, less those naming files and ports."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC.name} lost its {MARKER} marker"
    found = re.search(r"```[a-z]*\n(.*?)```", text[text.index(MARKER) :], re.DOTALL)
    assert found is not None, f"no fenced block after {MARKER} in {DOC.name}"
    lines = [line.strip() for line in found.group(1).splitlines() if line.strip()]
    return tuple(line for line in lines if line.split()[0] not in _OWN_LINES)


@pytest.fixture
def documented_broker() -> Iterator[Mosquitto]:
    """A broker configured as the docs say."""
    b = Mosquitto(users=PASSWORDS, acl=acl_example(), options=documented_options())
    yield b
    b.close()


def _client_ids(broker: Mosquitto, user: str) -> set[str]:
    """The client ids the broker logged for ``user``'s connections."""
    pattern = re.compile(rf" as (\S+) \(.*u'{re.escape(user)}'\)")
    return set(pattern.findall(broker.log.read_text()))


async def _take_over(broker: Mosquitto, user: str, client_id: str, times: int) -> None:
    """Connect as ``user`` with ``client_id``, ``times`` times (a refusal is fine too)."""
    for _ in range(times):
        try:
            async with broker_as(broker, user).client(client_id, timeout=3):
                await asyncio.sleep(0.05)
        except aiomqtt.MqttError:
            pass


async def test_another_user_cannot_take_over_the_gateway_or_a_client(
    documented_broker: Mosquitto,
) -> None:
    port = documented_broker.port
    sim = SimProcess("omp-percussion-pro", commands=True)
    gateway_env = {PASSWORD_ENV: PASSWORDS[GATEWAY_USER]}
    try:
        with BridgeProcess(
            f"mqtt://{GATEWAY_USER}@127.0.0.1:{port}",
            [f"chair={sim.address()}"],
            gateway=GATEWAY,
            env=gateway_env,
        ) as bridge:
            address = mqtt_address(port, GATEWAY, "chair", user=CLIENT_USER)
            holding = spawn_cli(
                "set",
                "--device",
                address,
                "--speed",
                "5",
                "--for",
                "6s",
                env={PASSWORD_ENV: PASSWORDS[CLIENT_USER]},
            )
            try:
                sim.wait_for(speed_is(5), timeout=10)
                async with (
                    broker_as(documented_broker, HA_USER).client("watch") as ha,
                    inbox(ha, f"{OWN}/status", f"{OWN}/chair/state") as seen,
                ):
                    # The device may report speed 5 before the gateway publishes the state
                    # that names who set it: read states until one does (or WAIT_S fails it).
                    for nth in itertools.count(1):
                        state = json.loads(await seen.wait_for(f"{OWN}/chair/state", nth=nth))
                        if state["owner"] is not None:
                            break
                    owner = state["owner"]
                    gateway_ids = _client_ids(documented_broker, GATEWAY_USER)
                    client_ids = _client_ids(documented_broker, CLIENT_USER)
                    assert gateway_ids
                    assert client_ids
                    # What the state tells everyone is not an id the client is connected with.
                    assert owner not in client_ids
                    stops_before = [c for c in sim.commands if c[0] == "STOP"]

                    # The read-only user tries every id it could know or guess: the one the
                    # gateway asks for, the ones the broker really uses, and the owner.
                    for client_id in (
                        f"massagectl-{GATEWAY}",
                        *gateway_ids,
                        *client_ids,
                        owner,
                    ):
                        await _take_over(documented_broker, FLEET_USER, client_id, times=10)
                    await asyncio.sleep(1.0)  # time for a will, had one been published

                    statuses = [p for t, p in seen.received if t == f"{OWN}/status"]
                    assert b"offline" not in statuses, statuses
                # The client still holds the device: no will stopped it, its link stayed up.
                assert holding.poll() is None, "the set --for client ended early"
                assert [c for c in sim.commands if c[0] == "STOP"] == stops_before
                code, _out, err = finish(holding, timeout=15)
                assert code == 0, err
                sim.wait_for(speed_is(0), timeout=5)
            finally:
                if holding.poll() is None:
                    holding.kill()
                    holding.wait(5)
            lines = "\n".join(bridge.lines)
            assert "Traceback" not in lines
            assert "reconnecting" not in lines, lines
    finally:
        sim.close()


async def test_a_gateway_whose_connection_is_taken_comes_straight_back(
    broker: Mosquitto,
) -> None:
    """On a broker that binds nothing (anonymous), a client with the gateway's id can still
    close its connection; the gateway is back within a second every time, however often."""
    with BridgeProcess(broker.url, ["chair=sim:omp-percussion-pro"], gateway="gw1") as bridge:
        async with (
            aiomqtt.Client("127.0.0.1", broker.port, identifier="watch") as watcher,
            inbox(watcher, "massagectl/gw1/status") as seen,
        ):
            await seen.wait_for("massagectl/gw1/status", b"online")
            for round_ in range(1, 6):
                async with aiomqtt.Client("127.0.0.1", broker.port, identifier="massagectl-gw1"):
                    pass
                taken = time.monotonic()
                await seen.wait_for("massagectl/gw1/status", b"online", nth=round_ + 1)
                back_after = time.monotonic() - taken
                assert back_after < 1.5, f"round {round_}: back after {back_after:.1f} s"
        assert bridge.proc.poll() is None
    assert "Traceback" not in "\n".join(bridge.lines)
