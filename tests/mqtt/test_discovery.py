"""Home Assistant discovery: the config a person's Home Assistant builds its device from.

The configs are made from real info documents (shipped profiles through ``info_payload``), and
every template is rendered with Jinja the way Home Assistant renders it: a command template
with ``value``, a value template with ``value_json`` (the state document as it arrives). What
a command template makes must be a command the gateway accepts and means what the person
picked; what a value template reads must be what the device is doing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massagectl.device_types import DeviceInfo, DeviceState
from massagectl.mapping import heat_name_to_level
from massagectl.mqtt import payloads
from massagectl.mqtt.commands import NO_PROGRAM, SetCommand, parse_command
from massagectl.mqtt.discovery import discovery_config, discovery_topic, removal_payload
from massagectl.mqtt.topics import OFFLINE, ONLINE, DeviceTopics, GatewayTopics
from massagectl.profiles import all_profiles, get_profile
from massagectl.programs.loader import all_programs

GATEWAY = "living-room"
VERSION = "9.8.7"
PRESETS = [p.name for p in all_programs()]
PROFILES = [p.name for p in all_profiles()]
MOTOR_PROFILES = [p.name for p in all_profiles() if p.speed_levels > 0]

# StrictUndefined: Home Assistant would render a misspelt field as an empty string and log a
# warning; here it fails the test instead.
_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined)

#: The platforms Home Assistant's device discovery accepts that this module uses.
PLATFORMS = {"fan", "select", "button", "sensor", "binary_sensor"}


def device_info(profile_name: str, **changes: Any) -> DeviceInfo:
    """What a device of that profile can do (``changes`` stand in for what a device says)."""
    info = DeviceInfo.from_profile(get_profile(profile_name))
    return dataclasses.replace(info, **changes) if changes else info


def info_doc(profile_name: str, device: str = "dev1", **changes: Any) -> dict[str, Any]:
    """The info document the gateway publishes for a device of that profile, as received."""
    doc = payloads.info_payload(
        gateway=GATEWAY,
        device=device,
        name=f"Massager {device}",
        address="sim:" + profile_name,
        profile=get_profile(profile_name),
        info=device_info(profile_name, **changes),
        programs=PRESETS,
        version=VERSION,
    )
    return json.loads(payloads.dumps(doc))  # type: ignore[no-any-return]


def config_for(profile_name: str, device: str = "dev1", **changes: Any) -> dict[str, Any]:
    """The discovery config, as Home Assistant receives it (through JSON)."""
    config = discovery_config(
        info_doc(profile_name, device, **changes), DeviceTopics(GATEWAY, device)
    )
    return json.loads(json.dumps(config))  # type: ignore[no-any-return]


def state_doc(profile_name: str, state: DeviceState, **kwargs: Any) -> dict[str, Any]:
    """The state document for ``state`` of a device of that profile, as received."""
    doc = payloads.state_payload(state, device_info(profile_name), **kwargs)
    return json.loads(payloads.dumps(doc))  # type: ignore[no-any-return]


def command(template: str, value: object) -> SetCommand:
    """What the gateway makes of the payload a command template renders for ``value``."""
    return parse_command(_JINJA.from_string(template).render(value=value).encode())


def read(template: str, state: dict[str, Any]) -> str:
    """What a value template reads from a state document (Home Assistant strips it too)."""
    raw = json.dumps(state)
    return _JINJA.from_string(template).render(value=raw, value_json=state).strip()


def all_keys(node: object) -> set[str]:
    """Every key anywhere in a JSON document."""
    if isinstance(node, dict):
        return set(node).union(*(all_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(all_keys(v) for v in node))
    return set()


def ha_percentage_to_level(percentage: int, levels: int) -> int:
    """The value Home Assistant puts in a percentage command for a speed range of 1..levels
    (its documented mapping: the percentage scaled onto the range, rounded up; 0 stays 0)."""
    return math.ceil(levels * percentage / 100)


# --- topic and removal -----------------------------------------------------------------------


def test_discovery_topic_is_device_based_and_a_valid_discovery_topic() -> None:
    topic = discovery_topic(GATEWAY, "wand")
    assert topic == "homeassistant/device/massagectl_living-room/wand/config"
    assert (
        discovery_topic("gw", "pad", discovery_prefix="ha") == "ha/device/massagectl_gw/pad/config"
    )
    # <prefix>/device/<node id>/<object id>/config; Home Assistant drops a config whose node or
    # object id holds anything but these characters.
    _prefix, component, node, object_id, leaf = topic.split("/")
    assert (component, leaf) == ("device", "config")
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", node)
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", object_id)
    # Gateway and device are separate levels: "a_b"/"c" and "a"/"b_c" cannot collide.
    assert discovery_topic("a_b", "c") != discovery_topic("a", "b_c")


def test_removal_is_an_empty_payload() -> None:
    assert removal_payload() == b""


# --- the shape of every config ---------------------------------------------------------------


@pytest.mark.parametrize("profile_name", PROFILES)
def test_every_component_is_well_formed(profile_name: str) -> None:
    config = config_for(profile_name)
    topics = DeviceTopics(GATEWAY, "dev1")
    own_topics = {topics.set, topics.state, topics.availability, topics.gateway_status}
    assert config["cmps"], "a device with no entities"
    for key, comp in config["cmps"].items():
        assert comp["p"] in PLATFORMS, key
        assert comp["unique_id"] == f"massagectl_{GATEWAY}_dev1_{key}"
        domain, _, object_id = comp["default_entity_id"].partition(".")
        assert domain == comp["p"], key
        # What Home Assistant accepts as an entity id (the gateway id has a '-').
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", object_id), comp["default_entity_id"]
        assert isinstance(comp["name"], str), key
        assert comp["name"], key
        for option, value in comp.items():
            if option.endswith("topic"):
                assert value in own_topics, (key, option, value)
        # Every entity names its own topics: nothing is inherited from the device level.
        assert "state_topic" in comp or "command_topic" in comp, key
        if "command_topic" in comp:
            assert comp["command_topic"] == topics.set, key
    assert "state_topic" not in config
    assert "command_topic" not in config
    # object_id is deprecated (Home Assistant stops reading it in 2026.4); never sent.
    assert "object_id" not in all_keys(config)


def test_unique_ids_and_entity_ids_are_unique_across_devices_of_a_gateway() -> None:
    configs = [config_for("omp-wand-heat", "a"), config_for("omp-wand-heat", "b")]
    comps = [comp for config in configs for comp in config["cmps"].values()]
    assert len({c["unique_id"] for c in comps}) == len(comps)
    assert len({c["default_entity_id"] for c in comps}) == len(comps)


def test_device_origin_and_availability() -> None:
    config = config_for("omp-wand-heat", "wand")
    topics = GatewayTopics(GATEWAY).device("wand")
    assert config["dev"]["ids"] == [f"massagectl_{GATEWAY}_wand"]
    assert config["dev"]["name"] == "Massager wand"
    assert config["dev"]["mf"] == "massagectl"
    assert config["dev"]["mdl"] == get_profile("omp-wand-heat").title
    assert config["dev"]["sw"] == VERSION
    assert config["o"] == {
        "name": "massagectl",
        "sw": VERSION,
        "url": "https://github.com/massagectl/massagectl",
    }
    # Entities are usable only while the gateway runs and holds a link to the device.
    assert config["avty"] == [{"t": topics.gateway_status}, {"t": topics.availability}]
    assert config["avty_mode"] == "all"
    assert config["qos"] == 1
    # No payloads are given for availability: what the gateway says must be HA's defaults.
    assert (ONLINE, OFFLINE) == ("online", "offline")
    assert all(set(entry) == {"t"} for entry in config["avty"])


def test_info_and_topics_of_different_devices_are_refused() -> None:
    with pytest.raises(ValueError, match="topics"):
        discovery_config(info_doc("omp-wand-heat", "a"), DeviceTopics(GATEWAY, "b"))


# --- which entities a device gets ------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile_name", "present", "absent"),
    [
        # Motor, heater, temperature sensor and programs of its own; mains powered.
        ("omp-wand-heat", {"fan", "heat", "temperature"}, {"battery"}),
        # A massage gun: a motor on a battery, no heater.
        ("theragun-pro", {"fan", "battery"}, {"heat", "temperature"}),
        # A heating pad: heat and its temperature, no motor.
        ("omp-heat-pad", {"heat", "temperature"}, {"fan", "battery"}),
        # A vibrator on a battery with programs of its own, no heater.
        ("lovense-domi", {"fan", "battery"}, {"heat", "temperature"}),
        # A heater without a temperature sensor still gets the sensor (unknown until it says).
        ("omp-neck-rest", {"fan", "heat", "temperature", "battery"}, set()),
        # Capabilities from the device: none known from the profile alone.
        ("omp", set(), {"fan", "heat", "temperature", "battery"}),
    ],
)
def test_components_follow_the_capabilities(
    profile_name: str, present: set[str], absent: set[str]
) -> None:
    cmps = config_for(profile_name)["cmps"]
    always = {"program", "stop", "time_left", "connected"}
    assert present | always <= set(cmps)
    assert not absent & set(cmps)


@pytest.mark.parametrize("profile_name", MOTOR_PROFILES)
def test_fan_speed_range_is_the_devices_levels(profile_name: str) -> None:
    fan = config_for(profile_name)["cmps"]["fan"]
    assert fan["speed_range_min"] == 1
    assert fan["speed_range_max"] == get_profile(profile_name).speed_levels
    names = list(DeviceInfo.from_profile(get_profile(profile_name)).program_names)
    if names:
        assert fan["preset_modes"] == names
    else:
        assert not any(option.startswith("preset_mode") for option in fan)


def test_capabilities_the_device_reports_win_over_the_profile() -> None:
    # The generic OMP profile knows nothing; the device says it has 7 speeds and a heater.
    cmps = config_for("omp", speed_levels=7, heat_levels=4)["cmps"]
    assert cmps["fan"]["speed_range_max"] == 7
    assert cmps["heat"]["options"] == ["off", "1", "2", "3", "4"]


# --- the fan: commands it sends, state it reads ----------------------------------------------


def test_fan_on_and_off() -> None:
    fan = config_for("omp-wand-heat")["cmps"]["fan"]
    assert command(fan["command_template"], "ON").power == "ON"
    assert command(fan["command_template"], "OFF").power == "OFF"
    idle = state_doc("omp-wand-heat", DeviceState())
    running = state_doc("omp-wand-heat", DeviceState(speed=4))
    assert read(fan["state_value_template"], idle) == "OFF"
    assert read(fan["state_value_template"], running) == "ON"


@pytest.mark.parametrize("profile_name", MOTOR_PROFILES)
@pytest.mark.parametrize("percentage", [0, 1, 33, 50, 100])
def test_fan_percentage_becomes_a_level_the_device_has(profile_name: str, percentage: int) -> None:
    fan = config_for(profile_name)["cmps"]["fan"]
    levels = fan["speed_range_max"]
    sent = command(fan["percentage_command_template"], ha_percentage_to_level(percentage, levels))
    assert sent.speed_level is not None
    assert 0 <= sent.speed_level <= levels
    assert sent.speed is None
    if percentage == 0:
        assert sent.speed_level == 0  # off
    elif percentage == 100:
        assert sent.speed_level == levels
    else:
        assert sent.speed_level >= 1  # any percentage above zero runs the motor


def test_fan_percentage_value_3_is_speed_level_3() -> None:
    fan = config_for("omp-wand-heat")["cmps"]["fan"]
    sent = command(fan["percentage_command_template"], 3)
    assert sent.speed_level == 3
    assert sent.is_manual


@pytest.mark.parametrize("profile_name", ["omp-wand-heat", "lovense-domi", "rongtai-rt8600s"])
def test_fan_presets_run_the_devices_own_programs(profile_name: str) -> None:
    fan = config_for(profile_name)["cmps"]["fan"]
    info = device_info(profile_name)
    for number, name in enumerate(info.program_names, start=1):
        assert command(fan["preset_mode_command_template"], name).device_program == name
        # And the fan shows the preset while the device runs it.
        running = state_doc(profile_name, DeviceState(speed=1, program=number))
        assert read(fan["preset_mode_value_template"], running) == name
    idle = state_doc(profile_name, DeviceState(speed=2))
    # Home Assistant's reset payload: no preset while no device program runs.
    assert read(fan["preset_mode_value_template"], idle) == "None"


def test_a_preset_name_with_quotes_still_makes_valid_json() -> None:
    name = 'Deep "tissue" \\ it\'s <b>'
    fan = config_for("omp-wand-heat", program_names=(name, "Plain"))["cmps"]["fan"]
    assert fan["preset_modes"] == [name, "Plain"]
    assert command(fan["preset_mode_command_template"], name).device_program == name


# --- heat, programs, stop --------------------------------------------------------------------


def test_heat_low_sends_heat_low() -> None:
    heat = config_for("omp-wand-heat")["cmps"]["heat"]
    assert heat["options"] == payloads.heat_options(2)
    assert command(heat["command_template"], "low").heat == "low"
    assert command(heat["command_template"], "off").heat == "off"


@pytest.mark.parametrize("profile_name", ["omp-wand-heat", "omp-heat-pad", "omp-neck-rest"])
def test_heat_shown_is_an_option_that_sets_the_same_level(profile_name: str) -> None:
    heat = config_for(profile_name)["cmps"]["heat"]
    levels = device_info(profile_name).heat_levels
    for level in range(levels + 1):
        shown = read(heat["value_template"], state_doc(profile_name, DeviceState(heat=level)))
        assert shown in heat["options"], (level, shown)
        sent = command(heat["command_template"], shown).heat
        assert sent is not None
        value = payloads.heat_value(sent)
        back = value if isinstance(value, int) else heat_name_to_level(value, levels)
        assert back == level, (shown, sent)


def test_program_select_runs_a_preset_or_ends_the_run() -> None:
    select = config_for("omp-wand-heat")["cmps"]["program"]
    assert select["options"] == [NO_PROGRAM, *PRESETS]
    assert "classic-back" in select["options"]
    assert command(select["command_template"], "classic-back").run == "classic-back"
    ending = command(select["command_template"], "none")
    assert ending.run == NO_PROGRAM
    assert not ending.is_manual


def test_program_select_shows_what_runs() -> None:
    select = config_for("omp-wand-heat")["cmps"]["program"]
    run = {"program": "classic-back", "remaining_s": 754.6}
    running = state_doc("omp-wand-heat", DeviceState(speed=5), run=run)
    idle = state_doc("omp-wand-heat", DeviceState())
    assert read(select["value_template"], running) == "classic-back"
    assert read(select["value_template"], idle) == "none"
    assert read(select["value_template"], idle) in select["options"]


def test_stop_button_stops() -> None:
    stop = config_for("theragun-pro")["cmps"]["stop"]
    sent = parse_command(stop["payload_press"].encode())
    assert sent.stop is True
    assert sent.model_dump(exclude_none=True) == {"stop": True}


# --- sensors ---------------------------------------------------------------------------------


def test_temperature_reads_degrees_and_unknown() -> None:
    sensor = config_for("omp-heat-pad")["cmps"]["temperature"]
    assert sensor["device_class"] == "temperature"
    assert sensor["unit_of_measurement"] == "°C"
    assert sensor["state_class"] == "measurement"
    warm = state_doc("omp-heat-pad", DeviceState(heat=3, temperature_c=41.5))
    assert float(read(sensor["value_template"], warm)) == 41.5
    # An MQTT sensor takes the text "None" as unknown (not as 0 °C, not as an error).
    unknown = state_doc("omp-heat-pad", DeviceState(heat=3, temperature_c=None))
    assert read(sensor["value_template"], unknown) == "None"


def test_battery_reads_percent() -> None:
    sensor = config_for("theragun-pro")["cmps"]["battery"]
    assert (sensor["device_class"], sensor["unit_of_measurement"]) == ("battery", "%")
    assert (
        read(sensor["value_template"], state_doc("theragun-pro", DeviceState(battery=80))) == "80"
    )
    assert read(sensor["value_template"], state_doc("theragun-pro", DeviceState())) == "None"


def test_time_left_reads_seconds_of_a_run_or_of_the_device() -> None:
    sensor = config_for("omp-wand-heat")["cmps"]["time_left"]
    assert (sensor["device_class"], sensor["unit_of_measurement"]) == ("duration", "s")
    run = {"program": "classic-back", "remaining_s": 754.6}
    running = state_doc("omp-wand-heat", DeviceState(speed=5), run=run)
    assert read(sensor["value_template"], running) == "755"
    device_timer = state_doc("omp-wand-heat", DeviceState(speed=2, program=1, remaining_s=300))
    assert read(sensor["value_template"], device_timer) == "300"


def test_connected_shows_off_rather_than_unavailable_when_the_link_is_down() -> None:
    topics = DeviceTopics(GATEWAY, "dev1")
    sensor = config_for("omp-wand-heat")["cmps"]["connected"]
    assert sensor["p"] == "binary_sensor"
    assert sensor["device_class"] == "connectivity"
    assert sensor["entity_category"] == "diagnostic"
    assert sensor["state_topic"] == topics.availability
    assert (sensor["payload_on"], sensor["payload_off"]) == (ONLINE, OFFLINE)
    # Its own availability replaces the device's: it depends on the gateway only.
    assert sensor["avty"] == [{"t": topics.gateway_status}]
    others = [c for k, c in config_for("omp-wand-heat")["cmps"].items() if k != "connected"]
    assert all("avty" not in c for c in others)


@pytest.mark.parametrize("profile_name", PROFILES)
def test_every_value_template_reads_every_state(profile_name: str) -> None:
    config = config_for(profile_name)
    states = [
        state_doc(profile_name, DeviceState()),
        state_doc(profile_name, DeviceState(speed=1, heat=1, program=1, temperature_c=30.0)),
        state_doc(profile_name, DeviceState(battery=5), run={"program": "x", "remaining_s": 1}),
    ]
    for comp in config["cmps"].values():
        for option, template in comp.items():
            if option.endswith("value_template"):
                for state in states:
                    assert read(template, state) != "", (comp["unique_id"], option)


# --- property --------------------------------------------------------------------------------


@st.composite
def motor_and_level(draw: st.DrawFn) -> tuple[str, int]:
    profile_name = draw(st.sampled_from(MOTOR_PROFILES))
    level = draw(st.integers(0, get_profile(profile_name).speed_levels))
    return profile_name, level


_FANS = {name: config_for(name)["cmps"]["fan"] for name in MOTOR_PROFILES}


@settings(max_examples=200, deadline=None)
@given(motor_and_level())
def test_fan_percentage_reads_back_the_speed_level(case: tuple[str, int]) -> None:
    profile_name, level = case
    fan = _FANS[profile_name]
    shown = read(
        fan["percentage_value_template"], state_doc(profile_name, DeviceState(speed=level))
    )
    assert int(shown) == level
    assert fan["speed_range_min"] <= level <= fan["speed_range_max"] or level == 0
    # What Home Assistant sends back for that level is the level itself.
    assert command(fan["percentage_command_template"], level).speed_level == level
