"""The gateway against a real Mosquitto, with simulated devices behind it.

Every test runs :class:`~massagectl.mqtt.gateway.Gateway` in this event loop with ``sim:``
devices and watches the broker with a client of its own, the way a person's Home Assistant or
``mosquitto_sub`` would. What is checked is what a person would notice: the device itself (the
simulator's own state and record of what it was sent), and what the broker says about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jinja2
import pytest

from massagectl.journal.store import Journal
from massagectl.mapping import fraction_to_level
from massagectl.mqtt.commands import MAX_PAYLOAD_BYTES
from massagectl.mqtt.discovery import discovery_topic
from massagectl.programs.loader import all_programs

from .broker import Mosquitto
from .gateway_support import (
    WAIT_S,
    Observer,
    Rig,
    eventually,
    json_has,
    retained_now,
    rig,
    settings_received,
)

WAND, GUN, PAD = "sim:omp-wand-heat", "sim:theragun-pro", "sim:omp-heat-pad"

# Home Assistant renders its templates with Jinja; StrictUndefined makes a misspelt field fail
# here instead of rendering empty.
_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined)


def render_command(template: str, value: object) -> str:
    """A command template rendered as Home Assistant renders it (``value`` is what was picked)."""
    return _JINJA.from_string(template).render(value=value)


def render_value(template: str, payload: bytes) -> str:
    """A value template applied to a state message as Home Assistant applies it."""
    text = payload.decode()
    return _JINJA.from_string(template).render(value=text, value_json=json.loads(text)).strip()


def ha_percentage_to_value(speed_range: tuple[int, int], percentage: int) -> int:
    """What Home Assistant's MQTT fan sends for a percentage (its percentage util: the share of
    the range's states, rounded up)."""
    low, high = speed_range
    return math.ceil((high - low + 1) * percentage / 100)


def ha_value_to_percentage(speed_range: tuple[int, int], value: int) -> int:
    """The percentage Home Assistant shows for a value read back from the device."""
    low, high = speed_range
    return (value - (low - 1)) * 100 // (high - low + 1)


def events(rig_: Rig, device: str, since: int = 0) -> list[dict[str, Any]]:
    """Every event the device's ``events`` topic carried (from position ``since``)."""
    return [m.json() for m in rig_.obs.on(rig_.run.device(device).events, since=since)]


async def latest_state(rig_: Rig, device: str, since: int, **fields: object) -> dict[str, Any]:
    """The device's newest state once a state message after position ``since`` has
    ``fields`` (what Home Assistant shows is the newest, so that must have them too)."""
    topic = rig_.run.device(device).state
    await rig_.obs.wait_for(topic, json_has(**fields), since=since)
    newest = rig_.obs.on(topic)[-1]
    assert json_has(**fields)(newest), (fields, newest.text)
    doc: dict[str, Any] = newest.json()
    return doc


@pytest.fixture
async def wand(broker: Mosquitto) -> AsyncIterator[Rig]:
    """A gateway ``gw`` with one heated wand (10 speeds, 2 heat levels, 3 programs)."""
    async with rig(broker, wand=WAND) as r:
        yield r
        if not r.run.shut_down_by_test:
            r.run.assert_alive()


# --- Home Assistant discovery ----------------------------------------------------------------


async def test_discovery_is_retained_with_the_components_each_device_calls_for(
    broker: Mosquitto,
) -> None:
    async with rig(broker, wand=WAND, gun=GUN, pad=PAD):
        topics = {name: discovery_topic("gw", name) for name in ("wand", "gun", "pad")}
        assert topics["wand"] == "homeassistant/device/massagectl_gw/wand/config"
        # A client that comes later (Home Assistant starting) is given them by the broker.
        seen = await retained_now(broker, "homeassistant/#", expect=list(topics.values()))
        configs = {name: json.loads(seen[topic]) for name, topic in topics.items()}
    cmps = {name: set(config["cmps"]) for name, config in configs.items()}
    always = {"program", "stop", "time_left", "connected"}
    assert cmps["wand"] == always | {"fan", "heat", "temperature"}
    assert cmps["gun"] == always | {"fan", "battery"}
    assert cmps["pad"] == always | {"heat", "temperature"}
    assert configs["wand"]["cmps"]["fan"]["speed_range_max"] == 10
    assert configs["wand"]["cmps"]["fan"]["preset_modes"] == ["Soothe", "Knead", "Tap"]
    assert configs["gun"]["cmps"]["fan"]["speed_range_max"] == 3616
    assert configs["pad"]["cmps"]["heat"]["options"] == ["off", "1", "2", "3", "4", "5", "6"]
    for name, config in configs.items():
        assert config["dev"]["ids"] == [f"massagectl_gw_{name}"]
        assert config["cmps"]["stop"]["command_topic"] == f"massagectl/gw/{name}/set"


async def test_home_assistant_fan_drives_the_device_and_reads_it_back(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    config = (await wand.obs.wait_for(discovery_topic("gw", "wand"))).json()
    fan = config["cmps"]["fan"]
    speed_range = (fan["speed_range_min"], fan["speed_range_max"])
    assert speed_range == (1, 10)

    # The person drags the slider to 35 %: Home Assistant sends level ceil(3.5) = 4.
    payload = render_command(
        fan["percentage_command_template"], ha_percentage_to_value(speed_range, 35)
    )
    since = wand.obs.mark()
    await wand.obs.publish(fan["percentage_command_topic"], payload)
    await eventually(lambda: sim.state.speed == 4, "the wand runs at level 4")
    assert ("SET_SPEED", 4) in settings_received(sim)
    state = await latest_state(wand, "wand", since, speed_level=4)
    shown = render_value(fan["percentage_value_template"], json.dumps(state).encode())
    assert ha_value_to_percentage(speed_range, int(shown)) == 40
    assert render_value(fan["state_value_template"], json.dumps(state).encode()) == "ON"
    assert fan["percentage_state_topic"] == fan["state_topic"] == wand.run.device("wand").state

    # A preset is one of the device's own programs.
    since = wand.obs.mark()
    await wand.obs.publish(
        fan["preset_mode_command_topic"], render_command(fan["preset_mode_command_template"], "Tap")
    )
    await eventually(lambda: sim.state.program == 3, "the wand runs its own program Tap")
    state = await latest_state(wand, "wand", since, device_program="Tap")
    assert render_value(fan["preset_mode_value_template"], json.dumps(state).encode()) == "Tap"

    # Off, then on again: the speed the person set comes back (not the program's last step).
    since = wand.obs.mark()
    await wand.obs.publish(fan["command_topic"], render_command(fan["command_template"], "OFF"))
    await eventually(
        lambda: sim.state.speed == 0 and sim.state.program == 0, "the wand's motor is off"
    )
    state = await latest_state(wand, "wand", since, power="OFF", device_program_number=0)
    assert render_value(fan["state_value_template"], json.dumps(state).encode()) == "OFF"
    assert render_value(fan["preset_mode_value_template"], json.dumps(state).encode()) == "None"
    await wand.obs.publish(fan["command_topic"], render_command(fan["command_template"], "ON"))
    await eventually(lambda: sim.state.speed == 4, "the wand is back at level 4")

    # 0 % is off.
    await wand.obs.publish(
        fan["percentage_command_topic"], render_command(fan["percentage_command_template"], 0)
    )
    await eventually(lambda: sim.state.speed == 0, "the wand stops at 0 %")


async def test_home_assistant_fan_on_a_gun_with_thousands_of_levels(broker: Mosquitto) -> None:
    async with rig(broker, gun=GUN) as r:
        sim = r.run.sim("gun")
        fan = (await r.obs.wait_for(discovery_topic("gw", "gun"))).json()["cmps"]["fan"]
        speed_range = (fan["speed_range_min"], fan["speed_range_max"])
        level = ha_percentage_to_value(speed_range, 50)
        assert level == 1808
        since = r.obs.mark()
        await r.obs.publish(
            fan["percentage_command_topic"],
            render_command(fan["percentage_command_template"], level),
        )
        await eventually(lambda: sim.state.speed == 1808, "the gun runs at 1808 rpm")
        state = await latest_state(r, "gun", since, speed_level=1808)
        shown = render_value(fan["percentage_value_template"], json.dumps(state).encode())
        assert ha_value_to_percentage(speed_range, int(shown)) == 50


async def test_home_assistant_heat_select_program_select_and_stop_button(
    broker: Mosquitto,
) -> None:
    async with rig(broker, wand=WAND, pad=PAD) as r:
        wand_sim, pad_sim = r.run.sim("wand"), r.run.sim("pad")
        wand_cmps = (await r.obs.wait_for(discovery_topic("gw", "wand"))).json()["cmps"]
        pad_cmps = (await r.obs.wait_for(discovery_topic("gw", "pad"))).json()["cmps"]

        heat = wand_cmps["heat"]
        assert heat["options"] == ["off", "low", "high"]
        since = r.obs.mark()
        await r.obs.publish(heat["command_topic"], render_command(heat["command_template"], "high"))
        await eventually(lambda: wand_sim.state.heat == 2, "the wand heats at its top level")
        state = await latest_state(r, "wand", since, heat_level=2)
        assert render_value(heat["value_template"], json.dumps(state).encode()) == "high"

        # A heater with more than three levels offers their numbers.
        pad_heat = pad_cmps["heat"]
        since = r.obs.mark()
        await r.obs.publish(
            pad_heat["command_topic"], render_command(pad_heat["command_template"], "4")
        )
        await eventually(lambda: pad_sim.state.heat == 4, "the pad heats at level 4")
        state = await latest_state(r, "pad", since, heat_level=4)
        assert render_value(pad_heat["value_template"], json.dumps(state).encode()) == "4"

        # The program select runs a preset on the gateway and shows it.
        program = wand_cmps["program"]
        assert program["options"] == ["none", *(p.name for p in all_programs())]
        since = r.obs.mark()
        await r.obs.publish(
            program["command_topic"], render_command(program["command_template"], "quick-relief")
        )
        state = await latest_state(r, "wand", since, program="quick-relief")
        assert render_value(program["value_template"], json.dumps(state).encode()) == (
            "quick-relief"
        )
        await eventually(lambda: wand_sim.state.active, "the program drives the wand")

        # Stop: the wand rests, heater included, and its program select says so.
        stop = wand_cmps["stop"]
        since = r.obs.mark()
        await r.obs.publish(stop["command_topic"], stop["payload_press"])
        await eventually(lambda: not wand_sim.state.active, "the wand is at rest")
        state = await latest_state(r, "wand", since, program="none", power="OFF", heat_level=0)
        assert render_value(program["value_template"], json.dumps(state).encode()) == "none"
        assert pad_sim.state.heat == 4, "a stop for the wand left the pad alone"


async def test_home_assistant_coming_online_gets_discovery_again(wand: Rig) -> None:
    topic = discovery_topic("gw", "wand")
    first = await wand.obs.wait_for(topic)
    since = wand.obs.mark()
    await wand.obs.publish("homeassistant/status", "online")
    again = await wand.obs.wait_for(topic, since=since)
    assert again.json() == first.json()
    # Anything else on the status topic (Home Assistant going offline) is no reason to.
    since = wand.obs.mark()
    await wand.obs.publish("homeassistant/status", "offline")
    await wand.ok("wand", {"speed_level": 1})  # a round trip through the gateway
    assert not wand.obs.on(topic, since=since)


async def test_remove_discovery_empties_the_config_on_the_way_out(broker: Mosquitto) -> None:
    topic = discovery_topic("gw", "wand")
    async with rig(broker, options={"remove_discovery": True}, wand=WAND):
        before = await retained_now(broker, topic, expect=[topic], settle_s=0.1)
        assert json.loads(before[topic])["cmps"]
    after = await retained_now(broker, "homeassistant/#", "massagectl/#")
    assert topic not in after, "Home Assistant would still find the device"
    assert after["massagectl/gw/status"] == b"offline"


# --- the way out -----------------------------------------------------------------------------


async def test_shutdown_stops_every_device_and_says_offline(broker: Mosquitto) -> None:
    async with rig(broker, wand=WAND, gun=GUN, pad=PAD) as r:
        sims = {name: r.run.sim(name) for name in ("wand", "gun", "pad")}
        await r.ok("wand", {"speed_level": 5, "heat": "high"})
        await r.ok("gun", {"speed_level": 1500})
        await r.ok("pad", {"heat": 3})
        assert all(sim.state.active for sim in sims.values())
        await r.run.shut_down()
        for name, sim in sims.items():
            assert (sim.state.speed, sim.state.heat, sim.state.program) == (0, 0, 0), name
        assert settings_received(sims["wand"])[-1][0] == "STOP"
        retained = await retained_now(
            broker,
            "massagectl/#",
            "homeassistant/#",
            expect=["massagectl/gw/status", "massagectl/gw/wand/state"],
        )
    assert retained["massagectl/gw/status"] == b"offline"
    for name in sims:
        assert retained[f"massagectl/gw/{name}/availability"] == b"offline", name
        state = json.loads(retained[f"massagectl/gw/{name}/state"])
        assert (state["connected"], state["power"], state["heat_level"]) == (False, "OFF", 0)
        # Without remove_discovery the device stays known to Home Assistant (unavailable).
        assert retained[discovery_topic("gw", name)]


async def test_shutdown_during_a_program_leaves_the_device_at_rest(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    await wand.ok("wand", {"run": _program("long", [_step("a", "60s", speed="60%")])})
    await eventually(lambda: sim.state.speed == 6, "the program drives the wand")
    await wand.run.shut_down()
    assert not sim.state.active
    assert settings_received(sim)[-1][0] == "STOP"


async def test_a_cancel_lost_in_a_publish_still_ends_the_publisher(
    broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On Python 3.11, asyncio.wait_for (which aiomqtt awaits each PUBACK with) drops a cancel
    # that lands just as the PUBACK does. Shutting the gateway down cancels its publisher; were
    # that cancel lost, the publisher would wait for work for ever, and the gateway would never
    # get to stopping its devices. Here the loss is made to happen every time.
    from massagectl.mqtt.broker import parse_broker
    from massagectl.mqtt.gateway import Gateway

    from .gateway_support import sim_devices

    gateway = Gateway(parse_broker(broker.url), sim_devices(wand=WAND), gateway_id="gw")
    async with parse_broker(broker.url).client("publisher-test") as client:
        real_publish = client.publish

        async def publish_losing_a_cancel(*args: Any, **kwargs: Any) -> None:
            await real_publish(*args, **kwargs)
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            # What wait_for does with it: the awaited result is there, so the cancel is dropped.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0)

        monkeypatch.setattr(client, "publish", publish_losing_a_cancel)
        gateway.outbox.take()  # the devices' "offline", queued as the gateway was made
        gateway.outbox.send("massagectl/gw/wand/events", b"one")
        gateway.outbox.send("massagectl/gw/wand/events", b"two")
        publisher = asyncio.create_task(gateway._publish_loop(client))
        done, _ = await asyncio.wait({publisher}, timeout=2)
        assert publisher in done, "the publisher went on after its cancel"
        assert publisher.cancelled()
        # What it had not published yet is kept for the next connection.
        assert [m.payload for m in gateway.outbox.take()] == [b"two"]


# --- commands --------------------------------------------------------------------------------


async def test_speed_by_percent_and_by_level(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    state = await wand.ok("wand", {"speed": 35})
    # 35 % of 10 levels is 3.5: halves round up.
    assert sim.state.speed == 4
    assert (state["speed_level"], state["speed"], state["power"]) == (4, 40.0, "ON")
    state = await wand.ok("wand", {"speed_level": 7})
    assert sim.state.speed == 7
    assert state["speed_level"] == 7
    await wand.ok("wand", {"speed": 0})
    assert sim.state.speed == 0
    assert [s for s in settings_received(sim) if s[0] == "SET_SPEED"] == [
        ("SET_SPEED", 4),
        ("SET_SPEED", 7),
        ("SET_SPEED", 0),
    ]


async def test_heat_by_name_and_by_level(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    state = await wand.ok("wand", {"heat": "low"})
    assert sim.state.heat == 1
    assert (state["heat"], state["heat_level"]) == ("low", 1)
    state = await wand.ok("wand", {"heat": 2})
    assert sim.state.heat == 2
    assert state["heat"] == "high"
    await wand.ok("wand", {"heat": "off"})
    assert sim.state.heat == 0
    # Speed and heat in one command.
    await wand.ok("wand", {"speed_level": 3, "heat": "high"})
    assert (sim.state.speed, sim.state.heat) == (3, 2)


async def test_device_program_by_name_and_by_number(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    state = await wand.ok("wand", {"device_program": "knead"})
    assert sim.state.program == 2
    assert (state["device_program"], state["device_program_number"]) == ("Knead", 2)
    assert state["power"] == "ON"
    state = await wand.ok("wand", {"device_program": 1})
    assert sim.state.program == 1
    assert state["device_program"] == "Soothe"
    await wand.ok("wand", {"device_program": "none"})
    assert sim.state.program == 0
    reply = await wand.ask("wand", {"device_program": "Pummel"})
    assert reply["ok"] is False
    assert "Soothe, Knead, Tap" in reply["error"]
    reply = await wand.ask("wand", {"device_program": 4})
    assert reply["ok"] is False
    assert sim.state.program == 0


async def test_power_off_stops_the_motor_not_the_heat_and_on_resumes_the_speed(
    wand: Rig,
) -> None:
    sim = wand.run.sim("wand")
    # Before any speed was set, ON starts the lowest.
    await wand.ok("wand", {"power": "ON"})
    assert sim.state.speed == 1
    await wand.ok("wand", {"speed_level": 6, "heat": "high"})
    # A device program in between sets speeds of its own; ON comes back to the person's.
    await wand.ok("wand", {"device_program": "Knead"})
    state = await wand.ok("wand", {"power": "OFF"})
    assert (sim.state.speed, sim.state.program, sim.state.heat) == (0, 0, 2)
    assert (state["power"], state["heat"]) == ("OFF", "high")
    state = await wand.ok("wand", {"power": "ON"})
    assert (sim.state.speed, sim.state.heat) == (6, 2)
    assert state["power"] == "ON"
    # People typing at mosquitto_pub: bare words, either case.
    for word, speed in (("off", 0), ("on", 6), ("OFF", 0), ("ON", 6)):
        since = wand.obs.mark()
        await wand.send("wand", word)
        await wand.obs.wait_json("massagectl/gw/wand/state", since=since, speed_level=speed)
        assert sim.state.speed == speed, word
    await wand.ok("wand", {"power": "off"})
    assert sim.state.speed == 0
    assert sim.state.heat == 2


async def test_stop_stops_motor_heat_and_program(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    await wand.ok("wand", {"device_program": "Tap", "heat": "low"})
    assert sim.state.active
    state = await wand.ok("wand", {"stop": True})
    assert not sim.state.active
    assert (state["power"], state["heat_level"], state["device_program"]) == ("OFF", 0, None)
    await wand.ok("wand", {"speed_level": 2})
    await wand.send("wand", "stop")
    await eventually(lambda: not sim.state.active, "a bare 'stop' stops it")


async def test_replies_carry_the_state_or_the_error_and_its_kind(wand: Rig) -> None:
    reply = await wand.ask("wand", {"speed_level": 2})
    assert set(reply) == {"id", "ok", "state"}
    assert reply["state"]["speed_level"] == 2
    reply = await wand.ask("wand", {"speed": "fast"})
    assert reply["ok"] is False
    assert reply["kind"] == "usage"
    assert reply["error"].startswith("speed:")
    # A whole-number id comes back as it was sent.
    since = wand.obs.mark()
    await wand.send("wand", {"stop": True, "id": 42})
    assert (await wand.obs.wait_json("massagectl/gw/wand/reply", since=since))["id"] == 42
    # Without an id there is no reply (but the command is carried out).
    since = wand.obs.mark()
    await wand.send("wand", {"speed_level": 3})
    await eventually(lambda: wand.run.sim("wand").state.speed == 3, "speed 3 without an id")
    await wand.ok("wand", {"speed_level": 3})  # this one has an id: every reply is in by now
    assert len(wand.obs.on("massagectl/gw/wand/reply", since=since)) == 1


async def test_a_level_the_device_does_not_have_is_refused_and_changes_nothing(
    wand: Rig,
) -> None:
    sim = wand.run.sim("wand")
    await wand.ok("wand", {"speed_level": 4})
    before = settings_received(sim)
    since = wand.obs.mark()
    reply = await wand.ask("wand", {"speed_level": 11})
    assert reply["ok"] is False
    assert reply["kind"] == "usage"
    assert "speed level 11 is outside 0..10" in reply["error"]
    error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
    assert "speed level 11" in error["error"]
    assert error["id"] == reply["id"]
    reply = await wand.ask("wand", {"heat": 3})
    assert reply["ok"] is False
    assert "heat level 3 is outside 0..2" in reply["error"]
    assert settings_received(sim) == before
    assert sim.state.speed == 4


async def test_a_bad_heat_with_a_good_speed_is_refused_whole_and_sends_nothing(
    wand: Rig,
) -> None:
    # The speed is fine and comes first; the heat is out of range: nothing at all may be sent,
    # as on the command line, rather than the speed going through and the heat refused.
    sim = wand.run.sim("wand")
    await wand.ok("wand", {"speed_level": 2})
    before = settings_received(sim)
    for payload in ({"speed": 80, "heat": 3}, {"speed_level": 7, "heat": "scorching"}):
        reply = await wand.ask("wand", payload)
        assert reply["ok"] is False, payload
        assert "heat" in reply["error"], reply
    reply = await wand.ask("wand", {"device_program": "Knead", "heat": 5})
    assert reply["ok"] is False
    assert "heat level 5 is outside 0..2" in reply["error"]
    reply = await wand.ask("wand", {"heat": 1, "device_program": "Nap"})
    assert reply["ok"] is False
    assert "no device program 'Nap'; it has: Soothe, Knead, Tap" in reply["error"]
    assert settings_received(sim) == before
    assert (sim.state.speed, sim.state.heat) == (2, 0)


#: Payloads that must be refused before anything reaches the device, and what the one-line
#: error must say about each.
BAD_PAYLOADS: list[tuple[bytes, str]] = [
    (b"speed 40", "payload is not JSON"),
    (b"", "payload is not JSON"),
    (b'{"speed": 40', "payload is not JSON"),
    (b"\xff\xfe{}", "payload is not UTF-8 text"),
    (b"[1, 2]", "payload must be a JSON object"),
    (b"40", "payload must be a JSON object"),
    (b"{}", "nothing to do"),
    (b'{"speed": "fast"}', "speed:"),
    (b'{"speed": true}', "speed:"),
    (b'{"speed_level": "three"}', "speed_level:"),
    (b'{"speed_level": 2.5}', "speed_level:"),
    (b'{"speed": 150}', "speed: Input should be less than or equal to 100"),
    (b'{"speed": -1}', "speed: Input should be greater than or equal to 0"),
    (b'{"speed_level": -3}', "speed_level:"),
    (b'{"heat": 300}', "heat: must be off, low, medium, high"),
    (b'{"heat": [1]}', "heat:"),
    (b'{"intensity": 200}', "intensity:"),
    (b'{"speed": NaN}', "speed: Input should be a finite number"),
    (b'{"colour": "red"}', "colour: unknown field"),
    (b'{"speed": 40, "run": "quick-relief"}', "run cannot be combined with speed"),
    (b'{"stop": true, "speed": 40}', "stop takes no other field"),
    (b'{"stop": false}', "stop:"),
    (b'{"control": "rewind"}', "control:"),
    (b'{"speed": 10, "speed_level": 1}', "not both"),
    (
        json.dumps({"run": {"name": "big", "title": "x" * (70 * 1024)}}).encode(),
        f"bytes is over {MAX_PAYLOAD_BYTES}",
    ),
]


async def test_bad_payloads_are_refused_and_the_gateway_goes_on(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    await wand.ok("wand", {"speed_level": 2, "heat": "low"})
    level = 2
    for payload, expected in BAD_PAYLOADS:
        before, snapshots = settings_received(sim), len(sim.timeline.states())
        since = wand.obs.mark()
        await wand.send("wand", payload)
        try:
            error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
        except AssertionError as exc:
            raise AssertionError(f"no error for {payload[:60]!r}") from exc
        assert expected in error["error"], (payload[:60], error)
        assert "\n" not in error["error"], payload[:60]
        assert error["topic"] == "massagectl/gw/wand/set"
        assert settings_received(sim) == before, f"{payload[:60]!r} reached the device"
        assert len(sim.timeline.states()) == snapshots
        assert (sim.state.speed, sim.state.heat) == (level, 1)
        wand.run.assert_alive()
        # The next good command is carried out as usual.
        level = 3 if level == 2 else 2
        state = await wand.ok("wand", {"speed_level": level})
        assert sim.state.speed == level == state["speed_level"]


async def test_a_bad_payload_with_an_id_is_answered_on_reply_too(wand: Rig) -> None:
    reply = await wand.ask("wand", {"speed": 101})
    assert reply["ok"] is False
    assert reply["kind"] == "usage"
    assert reply["error"] == "speed: Input should be less than or equal to 100 (got 101)"
    reply = await wand.ask("wand", {"heat": "warm"})
    assert reply["ok"] is False
    assert "warm" in reply["error"]
    assert wand.run.sim("wand").state.heat == 0


async def test_unreadable_text_in_a_payload_still_gets_an_error(wand: Rig) -> None:
    # Valid UTF-8 and valid JSON, but the id is half a surrogate pair: no text can hold it.
    since = wand.obs.mark()
    await wand.send("wand", b'{"id": "\\ud800", "speed": 10}')
    error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
    assert error["error"].startswith("id:")
    # The same in an inline program, which reaches the program loader.
    since = wand.obs.mark()
    await wand.send("wand", b'{"run": {"name": "\\udfff", "title": "t", "steps": []}}')
    error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
    assert "name" in error["error"]
    await wand.ok("wand", {"speed_level": 1})
    assert wand.run.sim("wand").state.speed == 1


async def test_a_device_the_gateway_does_not_have(wand: Rig) -> None:
    since = wand.obs.mark()
    await wand.obs.publish("massagectl/gw/sofa/set", '{"speed": 40}')
    error = await wand.obs.wait_json("massagectl/gw/error", since=since)
    assert "no device 'sofa'" in error["error"]
    assert "wand" in error["error"]
    assert error["topic"] == "massagectl/gw/sofa/set"
    assert not wand.obs.on("massagectl/gw/wand/error", since=since)
    await wand.ok("wand", {"speed_level": 1})


async def test_a_retained_command_is_ignored(broker: Mosquitto) -> None:
    wand_set = "massagectl/gw/wand/set"
    async with Observer(broker, "#") as obs:
        # Left on the broker (by mistake, with -r): it must not start the device, now or at any
        # reconnect later.
        await obs.publish(wand_set, '{"speed_level": 3}', retain=True)
        async with rig(broker, wand=WAND) as r:
            sim = r.run.sim("wand")
            error = await r.obs.wait_json("massagectl/gw/wand/error")
            assert "retained commands are ignored" in error["error"]
            assert error["payload"] == '{"speed_level": 3}'
            await r.ok("wand", {"heat": "low"})

            # Another client takes the gateway's client id: the broker drops the gateway, which
            # connects again and is handed the retained command again.
            since = r.obs.mark()
            async with Observer(broker, "nothing/here", identifier="massagectl-gw"):
                pass
            await eventually(lambda: not r.run.gateway.connected.is_set(), "dropped", within=2)
            await eventually(lambda: r.run.gateway.connected.is_set(), "back again")
            error = await r.obs.wait_json("massagectl/gw/wand/error", since=since)
            assert "retained commands are ignored" in error["error"]
            await r.ok("wand", {"heat": "off"})
            assert sim.state.speed == 0
            assert not [s for s in settings_received(sim) if s[0] == "SET_SPEED"]
            r.run.assert_alive()
        await obs.publish(wand_set, b"", retain=True)


async def test_a_command_published_with_retain_while_the_gateway_listens_is_ignored(
    wand: Rig,
) -> None:
    # MQTT 3.1.1 strips the flag for subscribers already listening; the gateway subscribes with
    # MQTT 5's retain-as-published, so it still sees it and refuses the command.
    sim = wand.run.sim("wand")
    since = wand.obs.mark()
    await wand.obs.publish("massagectl/gw/wand/set", '{"speed_level": 4}', retain=True)
    error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
    assert "retained commands are ignored" in error["error"]
    await wand.ok("wand", {"heat": "low"})
    assert sim.state.speed == 0
    await wand.obs.publish("massagectl/gw/wand/set", b"", retain=True)


# --- programs on the gateway -----------------------------------------------------------------


def _step(name: str, duration: str, **fields: object) -> dict[str, object]:
    return {"name": name, "duration": duration, **fields}


def _program(name: str, steps: list[dict[str, object]]) -> dict[str, object]:
    return {"name": name, "title": f"Test {name}", "steps": steps}


async def test_a_preset_runs_reports_its_steps_and_ends_with_run_none(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    since = wand.obs.mark()
    state = await wand.ok("wand", {"run": "quick-relief"})
    assert state["program"] == "quick-relief"
    started = await wand.obs.wait_json("massagectl/gw/wand/events", since=since, event="started")
    assert started["program"] == "quick-relief"
    step = await wand.obs.wait_json("massagectl/gw/wand/events", since=since, event="step")
    assert (step["step"], step["step_index"]) == ("circles on the tight spots", 1)
    assert step["cue"].startswith("Reach behind")
    # The first step heats low and kneads in a wave: the wand itself shows it.
    await eventually(lambda: sim.state.heat == 1 and sim.state.speed > 0, "the program runs")
    state = await latest_state(wand, "wand", since, program="quick-relief")
    run = state["run"]
    assert (run["program"], run["step"], run["steps"]) == (
        "quick-relief",
        "circles on the tight spots",
        9,
    )
    assert 590 < run["remaining_s"] <= 600
    assert state["time_left_s"] == round(run["remaining_s"])

    since = wand.obs.mark()
    state = await wand.ok("wand", {"run": "none"})
    assert not sim.state.active
    await eventually(lambda: not sim.state.active, "the wand rests")
    state = await latest_state(wand, "wand", since, program="none")
    assert (state["run"], state["power"], state["heat_level"]) == (None, "OFF", 0)
    await wand.obs.wait_json("massagectl/gw/wand/events", since=since, event="stopped")
    await wand.ok("wand", {"heat": "off"})  # all events of the stop are in by now
    endings = [e for e in events(wand, "wand", since) if e["event"] in ("stopped", "finished")]
    assert len(endings) == 1, endings


async def test_an_unknown_preset_is_refused(wand: Rig) -> None:
    reply = await wand.ask("wand", {"run": "back-to-front"})
    assert reply["ok"] is False
    assert "unknown program 'back-to-front'" in reply["error"]
    assert "quick-relief" in reply["error"]
    assert not wand.run.sim("wand").state.active


async def test_live_controls_change_what_the_device_does(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    program = _program(
        "two-steps",
        [_step("strong", "60s", speed="80%"), _step("gentle", "60s", speed="30%")],
    )
    since = wand.obs.mark()
    await wand.ok("wand", {"run": program, "client": "phone"})
    await eventually(lambda: sim.state.speed == 8, "step 1 at 80 %")

    state = await wand.ok("wand", {"intensity": 50})
    await eventually(lambda: sim.state.speed == 4, "half the intensity: 40 %")
    assert state["run"]["intensity"] == 50

    state = await wand.ok("wand", {"control": "pause"})
    await eventually(lambda: sim.state.speed == 0, "paused: the wand rests")
    assert state["run"]["paused"] is True
    state = await wand.ok("wand", {"control": "resume"})
    assert state["run"]["paused"] is False
    await eventually(lambda: sim.state.speed > 0, "resumed: the wand ramps back in")

    state = await wand.ok("wand", {"control": "next"})
    # 30 % at half intensity, without a ramp: a skip lands on the step's own level.
    gentle = fraction_to_level(0.15, 10)
    await eventually(lambda: sim.state.speed == gentle, f"step 2 at level {gentle}")
    assert (state["run"]["step"], state["run"]["step_index"]) == ("gentle", 2)
    step = await wand.obs.wait_json(
        "massagectl/gw/wand/events", since=since, event="step", step="gentle"
    )
    assert step["step_index"] == 2
    kinds = {e["event"] for e in events(wand, "wand", since)}
    assert {"started", "intensity", "paused", "resumed", "step"} <= kinds

    state = await wand.ok("wand", {"run": "none"})
    await eventually(lambda: not sim.state.active, "the run ended at rest")


async def test_a_control_without_a_program_is_an_error(wand: Rig) -> None:
    reply = await wand.ask("wand", {"control": "next"})
    assert reply["ok"] is False
    assert "no program is running" in reply["error"]


async def test_a_manual_speed_ends_the_program(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    program = _program("steady", [_step("a", "60s", speed="70%", heat="low")])
    since = wand.obs.mark()
    await wand.ok("wand", {"run": program})
    await eventually(lambda: sim.state.speed == 7, "the program runs")
    state = await wand.ok("wand", {"speed_level": 3})
    assert state["run"] is None
    assert state["program"] == "none"
    # The program's rest came before the person's speed, not after it.
    await asyncio.sleep(0.2)
    assert (sim.state.speed, sim.state.heat) == (3, 0)
    assert settings_received(sim)[-1] == ("SET_SPEED", 3)
    await wand.obs.wait_json("massagectl/gw/wand/events", since=since, event="stopped")


async def test_an_inline_program_runs_to_its_end(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    program = _program(
        "short",
        [
            _step("warm", "0.4s", speed="50%", heat="low"),
            _step("tap", "0.4s", speed="80%", pattern={"pulse": {"on": "0.1s", "off": "0.1s"}}),
            _step("ease", "0.4s", speed="20%"),
        ],
    )
    since = wand.obs.mark()
    state = await wand.ok("wand", {"run": program})
    assert state["run"]["steps"] == 3
    assert state["program"] == "short"
    finished = await wand.obs.wait_json(
        "massagectl/gw/wand/events", since=since, event="finished", within=5
    )
    assert finished["program"] == "short"
    await eventually(lambda: not sim.state.active, "the wand rests at the end")
    state = await latest_state(wand, "wand", since, program="none")
    assert state["run"] is None
    steps = [e["step"] for e in events(wand, "wand", since) if e["event"] == "step"]
    assert steps == ["warm", "tap", "ease"]
    endings = [e for e in events(wand, "wand", since) if e["event"] in ("stopped", "finished")]
    assert len(endings) == 1, endings
    # What the wand was sent: 50 % with heat, the taps at 80 % and off, then 20 %.
    speeds = [v for kind, v in settings_received(sim) if kind == "SET_SPEED"]
    assert speeds[0] == 5
    assert 8 in speeds
    assert 2 in speeds
    assert ("SET_HEAT", 1) in settings_received(sim)


async def test_a_malformed_inline_program_is_refused_and_nothing_runs(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    program = _program("bad", [_step("a", "1s", speed="40%"), _step("b", "1s", speed="150%")])
    since = wand.obs.mark()
    reply = await wand.ask("wand", {"run": program})
    assert reply["ok"] is False
    assert reply["kind"] == "usage"
    assert "steps[1].speed" in reply["error"]
    assert "\n" not in reply["error"]
    error = await wand.obs.wait_json("massagectl/gw/wand/error", since=since)
    assert "steps[1].speed" in error["error"]
    reply = await wand.ask("wand", {"run": {"name": "no-steps", "title": "x"}})
    assert reply["ok"] is False
    assert "steps" in reply["error"]
    assert not settings_received(sim)
    assert not sim.state.active
    assert not [e for e in events(wand, "wand", since) if e["event"] == "started"]


async def test_a_malformed_program_leaves_the_running_one_alone(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    since = wand.obs.mark()
    await wand.ok("wand", {"run": _program("ok", [_step("a", "60s", speed="50%")])})
    await eventually(lambda: sim.state.speed == 5, "the program runs")
    reply = await wand.ask("wand", {"run": {"name": "x", "title": "x", "steps": "none"}})
    assert reply["ok"] is False
    state = await latest_state(wand, "wand", since, program="ok")
    assert state["run"]["program"] == "ok"
    assert sim.state.speed == 5


# --- the broker going away -------------------------------------------------------------------


async def test_the_gateway_survives_a_broker_restart(broker: Mosquitto) -> None:
    async with rig(broker, wand=WAND, gun=GUN) as r:
        wand_sim, gun_sim = r.run.sim("wand"), r.run.sim("gun")
        gateway = r.run.gateway
        # Home Assistant sets the wand (no client name); a named client drives the gun.
        await r.ok("wand", {"speed_level": 4})
        state = await r.ok("gun", {"speed_level": 2000, "client": "x"})
        assert state["owner"] == "x"

        broker.stop()
        await eventually(lambda: not gateway.connected.is_set(), "the gateway notices")
        # The gun's driver can no longer reach it (nor stop it): the gateway stops it. The wand
        # set from Home Assistant goes on.
        await eventually(lambda: gun_sim.state.speed == 0, "the gun is stopped")
        await asyncio.sleep(0.3)
        assert wand_sim.state.speed == 4
        r.run.assert_alive()

        broker.start()  # the same port, and empty: it kept nothing
        await eventually(lambda: gateway.connected.is_set(), "the gateway is back", within=10)
        expected = [
            "massagectl/gw/status",
            *(f"massagectl/gw/{d}/{leaf}" for d in ("wand", "gun") for leaf in _RETAINED),
            discovery_topic("gw", "wand"),
            discovery_topic("gw", "gun"),
        ]
        seen = await retained_now(broker, "massagectl/#", "homeassistant/#", expect=expected)
        assert seen["massagectl/gw/status"] == b"online"
        assert seen["massagectl/gw/wand/availability"] == b"online"
        assert seen["massagectl/gw/gun/availability"] == b"online"
        assert json.loads(seen["massagectl/gw/wand/state"])["speed_level"] == 4
        gun_state = json.loads(seen["massagectl/gw/gun/state"])
        assert (gun_state["speed_level"], gun_state["owner"]) == (0, None)
        assert json.loads(seen["massagectl/gw/wand/info"])["capabilities"]["speed_levels"] == 10

        async with Observer(broker, "massagectl/#") as obs:
            since = obs.mark()
            await obs.publish("massagectl/gw/wand/set", '{"speed_level": 6, "id": "after"}')
            reply = await obs.wait_json("massagectl/gw/wand/reply", since=since, id="after")
            assert reply["ok"] is True
            assert wand_sim.state.speed == 6


_RETAINED = ("availability", "info", "state")


async def test_the_gateway_waits_for_a_broker_that_is_down(broker: Mosquitto) -> None:
    # The devices are served meanwhile; once the broker is there, everything is told.
    from massagectl.mqtt.broker import parse_broker
    from massagectl.mqtt.gateway import Gateway

    from .gateway_support import RunningGateway, sim_devices

    broker.stop()
    gateway = Gateway(parse_broker(broker.url), sim_devices(wand=WAND), gateway_id="gw")
    run = RunningGateway(gateway, asyncio.create_task(gateway.run(), name="gateway"))
    try:
        await eventually(lambda: gateway.hosts["wand"].ready.is_set(), "the wand connects")
        await asyncio.sleep(0.3)
        assert not gateway.connected.is_set()
        assert gateway.broker_error
        broker.start()
        await run.wait_ready()
        seen = await retained_now(
            broker, "massagectl/#", expect=["massagectl/gw/status", "massagectl/gw/wand/state"]
        )
        assert seen["massagectl/gw/status"] == b"online"
    finally:
        await run.shut_down()


# --- owners and last wills -------------------------------------------------------------------


async def test_if_owner_stops_only_what_that_client_started(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    state = await wand.ok("wand", {"speed_level": 3, "client": "a"})
    assert state["owner"] == "a"
    # Another client's will (or a careful client) does not stop what "a" started.
    await wand.ok("wand", {"stop": True, "if_owner": "b", "client": "b"})
    assert sim.state.speed == 3
    # "a"'s own will does.
    state = await wand.ok("wand", {"stop": True, "if_owner": "a", "client": "a"})
    assert sim.state.speed == 0
    assert state["owner"] is None

    # "a" starts it, then Home Assistant (no client) sets it last: "a"'s will leaves it be.
    await wand.ok("wand", {"speed_level": 3, "client": "a"})
    state = await wand.ok("wand", {"speed_level": 5})
    assert state["owner"] is None
    await wand.ok("wand", {"stop": True, "if_owner": "a", "client": "a"})
    assert sim.state.speed == 5

    # "b" takes over: "a" is no longer the owner, "b" is.
    await wand.ok("wand", {"speed_level": 2, "client": "b"})
    await wand.ok("wand", {"stop": True, "if_owner": "a"})
    assert sim.state.speed == 2
    await wand.ok("wand", {"stop": True, "if_owner": "b"})
    assert sim.state.speed == 0


async def test_a_real_last_will_stops_what_its_client_started(wand: Rig) -> None:
    sim = wand.run.sim("wand")
    will = json.dumps({"stop": True, "if_owner": "phone", "client": "phone"})
    # A client of another process with the will an mqtt:// client leaves; it dies unannounced.
    phone = await asyncio.create_subprocess_exec(
        "mosquitto_sub",
        *("-h", "127.0.0.1", "-p", str(wand.obs.broker.port), "-i", "phone", "-q", "1"),
        *("-t", "massagectl/gw/wand/state"),
        *("--will-topic", "massagectl/gw/wand/set", "--will-payload", will, "--will-qos", "1"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert phone.stdout is not None
        async with asyncio.timeout(WAIT_S):
            await phone.stdout.readline()  # connected: it got the retained state
        await wand.ok("wand", {"speed_level": 4, "client": "phone"})
        assert sim.state.speed == 4
        phone.kill()
        await eventually(lambda: sim.state.speed == 0, "the phone's will stops the wand")
    finally:
        if phone.returncode is None:
            phone.kill()
        await phone.wait()


async def test_programs_run_on_the_gateway_are_in_its_journal(
    broker: Mosquitto, tmp_path: Path
) -> None:
    journal_file = tmp_path / "journal.sqlite3"
    program = _program(
        "journaled",
        [_step("one", "0.3s", speed="40%"), _step("two", "0.3s", speed="70%")],
    )
    async with rig(broker, options={"journal": journal_file}, wand=WAND) as r:
        since = r.obs.mark()
        await r.ok("wand", {"run": program})
        await r.obs.wait_json("massagectl/gw/wand/events", since=since, event="finished", within=5)
        # A second run, ended early by a stop, is recorded with that outcome.
        since = r.obs.mark()
        await r.ok("wand", {"run": "classic-back"})
        await r.obs.wait_json("massagectl/gw/wand/events", since=since, event="step")
        await r.ok("wand", {"stop": True})
        await r.obs.wait_json("massagectl/gw/wand/events", since=since, event="stopped")
    journal = Journal(journal_file)
    try:
        runs = journal.runs()
        assert [(run.program, run.outcome) for run in runs] == [
            ("classic-back", "stopped"),
            ("journaled", "finished"),
        ]
        assert runs[1].source.startswith("inline, from massagectl/gw/wand/set")
        assert runs[0].source == "preset"
        steps = [e.step for e in journal.events(runs[1].id) if e.kind == "step"]
        assert steps == [1, 2]
    finally:
        journal.close()


async def test_a_journal_that_cannot_be_opened_refuses_the_run(
    broker: Mosquitto, tmp_path: Path
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    journal_file = tmp_path / "not-a-folder" / "journal.sqlite3"
    async with rig(broker, options={"journal": journal_file}, wand=WAND) as r:
        reply = await r.ask("wand", {"run": "classic-back"})
        assert reply["ok"] is False
        assert "journal" in reply["error"]
        assert r.run.sim("wand").state.speed == 0
        await r.ok("wand", {"speed_level": 2})


async def test_a_program_started_at_an_intensity_runs_softer(wand: Rig) -> None:
    program = _program("soft", [_step("one", "2s", speed="100%")])
    state = await wand.ok("wand", {"run": program, "intensity": 50})
    assert state["run"]["intensity"] == 50
    sim = wand.run.sim("wand")
    await eventually(lambda: sim.state.speed > 0, "the program runs")
    assert sim.state.speed == 5  # half of the wand's 10 levels
    await wand.ok("wand", {"stop": True})
