"""A device's features, and the three surfaces made from them: the MQTT state document, Home
Assistant's discovery and the CLI's status table. Each is generated from the same features, so
what a device has appears in all three, in the same unit."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from massagectl.capabilities import Category, Feature, FeatureKind, device_features, find
from massagectl.cli.render import state_rows
from massagectl.device_types import DeviceInfo, DeviceState
from massagectl.mqtt import payloads
from massagectl.mqtt.discovery import discovery_config
from massagectl.mqtt.topics import DeviceTopics
from massagectl.profiles import all_profiles, get_profile

PROFILES = [p.name for p in all_profiles()]


def features_of(profile_name: str) -> tuple[Feature, ...]:
    return device_features(DeviceInfo.from_profile(get_profile(profile_name)))


def kinds(profile_name: str) -> set[FeatureKind]:
    return {f.kind for f in features_of(profile_name)}


def discovery_for(profile_name: str) -> dict[str, Any]:
    """The discovery config Home Assistant receives for a device of that profile."""
    profile = get_profile(profile_name)
    doc = payloads.info_payload(
        gateway="gw",
        device="dev",
        name="Massager",
        address=f"sim:{profile_name}",
        profile=profile,
        info=DeviceInfo.from_profile(profile),
        programs=["none"],
        version="1.0",
    )
    received = json.loads(payloads.dumps(doc))
    config = discovery_config(received, DeviceTopics("gw", "dev"))
    return json.loads(json.dumps(config))  # type: ignore[no-any-return]


@pytest.mark.parametrize("profile_name", ["theragun-pro", "theragun-elite", "theragun-prime"])
def test_a_gun_has_its_speed_in_rpm_and_a_battery(profile_name: str) -> None:
    features = features_of(profile_name)
    speed = find(features, FeatureKind.SPEED)
    assert speed is not None
    assert speed.unit == "rpm"
    assert (speed.minimum, speed.maximum) == (0, get_profile(profile_name).speed_levels)
    assert speed.maximum in (3616, 3584)
    assert speed.category is Category.CONTROL
    assert speed.setting == "speed_level"
    assert speed.read(DeviceState(speed=2400)) == 2400
    battery = find(features, FeatureKind.BATTERY)
    assert battery is not None
    assert (battery.unit, battery.category) == ("%", Category.SENSOR)
    assert (battery.minimum, battery.maximum) == (0, 100)
    assert battery.read(DeviceState(battery=64)) == 64
    assert not {FeatureKind.HEAT, FeatureKind.TEMPERATURE} & kinds(profile_name)


def test_the_heat_pad_has_heat_levels_and_a_temperature_and_no_speed() -> None:
    features = features_of("omp-heat-pad")
    heat = find(features, FeatureKind.HEAT)
    assert heat is not None
    assert heat.maximum == 6
    assert heat.options == ("off", "1", "2", "3", "4", "5", "6")
    assert heat.read(DeviceState(heat=4)) == "4"
    assert heat.setting == "heat"
    temperature = find(features, FeatureKind.TEMPERATURE)
    assert temperature is not None
    assert temperature.unit == "°C"
    assert temperature.read(DeviceState(temperature_c=41.5)) == 41.5
    assert not {FeatureKind.SPEED, FeatureKind.BATTERY} & kinds("omp-heat-pad")


def test_steps_with_a_speed_each_are_levels_not_the_speed_unit() -> None:
    # Level 3 of the wand is 2100 percussions/min: "3 percussions/min" would be wrong.
    speed = find(features_of("omp-wand-heat"), FeatureKind.SPEED)
    assert speed is not None
    assert (speed.unit, speed.maximum) == ("", 10)
    domi = find(features_of("lovense-domi"), FeatureKind.SPEED)
    assert domi is not None
    assert domi.unit == ""  # its unit is "level"


def test_device_programs_are_named_features_of_the_devices_that_have_them() -> None:
    programs = find(features_of("lovense-domi"), FeatureKind.DEVICE_PROGRAM)
    assert programs is not None
    info = DeviceInfo.from_profile(get_profile("lovense-domi"))
    assert programs.options == info.program_names
    assert programs.read(DeviceState(program=2)) == info.program_names[1]
    assert programs.read(DeviceState()) is None
    assert FeatureKind.DEVICE_PROGRAM not in kinds("theragun-pro")


@pytest.mark.parametrize("profile_name", PROFILES)
def test_every_device_has_a_time_left_and_a_link(profile_name: str) -> None:
    assert {FeatureKind.TIME_LEFT, FeatureKind.CONNECTED} <= kinds(profile_name)
    ids = [f.id for f in features_of(profile_name)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("profile_name", PROFILES)
def test_state_discovery_and_table_show_the_same_features(profile_name: str) -> None:
    info = DeviceInfo.from_profile(get_profile(profile_name))
    state = DeviceState(speed=1, heat=1, program=1, temperature_c=30.0, battery=70, remaining_s=9)
    doc = json.loads(payloads.dumps(payloads.state_payload(state, info)))
    config = discovery_for(profile_name)
    templates = " ".join(
        str(value)
        for comp in config["cmps"].values()
        for option, value in comp.items()
        if option.endswith("value_template")
    )
    read_keys = set(re.findall(r"value_json\.(\w+)", templates))
    rows = dict(state_rows(info, state))
    for feature in device_features(info):
        # The state document holds what the feature reads (time left: the device's program).
        assert feature.id in doc, feature
        if feature.kind is not FeatureKind.TIME_LEFT:
            assert doc[feature.id] == feature.read(state), feature
        # Home Assistant shows it: its templates read that key, or the link's own topic.
        if feature.kind is FeatureKind.CONNECTED:
            assert config["cmps"]["connected"]["device_class"] == "connectivity"
        else:
            assert feature.id in read_keys, feature
        # And the status table has a row for it.
        assert feature.name in rows, feature
    # Nothing shows what the device does not have.
    if FeatureKind.BATTERY not in kinds(profile_name):
        assert "battery" not in rows
        assert "battery" not in config["cmps"]
    if FeatureKind.SPEED not in kinds(profile_name):
        assert "speed" not in rows
        assert "fan" not in config["cmps"]


def test_the_table_reads_a_guns_speed_in_rpm_and_its_battery_in_percent() -> None:
    info = DeviceInfo.from_profile(get_profile("theragun-pro"))
    rows = dict(state_rows(info, DeviceState(speed=2400, battery=64)))
    assert rows["speed"] == "2400 of 3616 rpm"
    assert rows["battery"] == "64%"
    # A battery the gun has not reported is unknown, never mains.
    assert dict(state_rows(info, DeviceState()))["battery"] == "-"
