"""Home Assistant MQTT discovery: one retained device-based config per device.

Home Assistant reads ``<discovery prefix>/device/<id>/config`` and makes one device with every
entity listed under ``cmps``. The entities talk to the gateway's own topics (``state`` to read,
``set`` to command); the templates here turn Home Assistant's values into the JSON commands of
:mod:`.commands` and pick fields out of the state document of :mod:`.payloads`, so those two
modules stay the only schema. Pure functions: the gateway publishes what they return.
"""

from __future__ import annotations

import re
from typing import Any, Final

from .commands import NO_PROGRAM
from .topics import DEFAULT_DISCOVERY_PREFIX, OFFLINE, ONLINE, DeviceTopics

#: Where people find massagectl (Home Assistant shows it as the origin's support link).
ORIGIN_URL: Final = "https://github.com/massagectl/massagectl"

# QoS 1 for every entity's subscriptions and commands: a stop pressed in Home Assistant must
# not be lost on a flaky link, and the copy QoS 1 may deliver twice does no harm, since every
# command these entities send sets a value rather than stepping one.
_QOS: Final = 1


def device_id(gateway: str, device: str) -> str:
    """The id of a device in Home Assistant (its identifier and the discovery node)."""
    return f"massagectl_{gateway}_{device}"


def discovery_topic(
    gateway: str, device: str, discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
) -> str:
    """The device's discovery config topic: ``<prefix>/device/massagectl_<gw>/<dev>/config``.

    The gateway is Home Assistant's node id (a topic level of its own), so that a broker's ACL
    can give each gateway ``<prefix>/device/massagectl_<gw>/#`` and nothing of the others.
    """
    return f"{discovery_prefix}/device/massagectl_{gateway}/{device}/config"


def removal_payload() -> bytes:
    """The payload that removes the device from Home Assistant (retained, on the config topic).

    An empty retained message also clears the retained config from the broker, so the device
    does not come back when Home Assistant restarts.
    """
    return b""


def discovery_config(info: dict[str, Any], topics: DeviceTopics) -> dict[str, Any]:
    """The device-based discovery payload for the device that ``info`` describes.

    ``info`` is the document of :func:`.payloads.info_payload`; ``topics`` are that device's
    topics. Entities appear only for what the device can do (a fan for a motor, a heat select
    for a heater, ...). Raises ValueError if ``info`` and ``topics`` name different devices,
    which would wire one device's entities to another's topics.
    """
    gateway, device = str(info["gateway"]), str(info["device"])
    if (gateway, device) != (topics.gateway, topics.device):
        raise ValueError(
            f"info is for {gateway}/{device} but the topics are {topics.gateway}/{topics.device}"
        )
    caps: dict[str, Any] = info["capabilities"]
    profile: dict[str, Any] = info["profile"]
    version = str(info["massagectl"])
    speed_levels = int(caps.get("speed_levels", 0))
    heat_levels = int(caps.get("heat_levels", 0))
    ident = device_id(gateway, device)

    def component(platform: str, key: str, name: str, **options: Any) -> dict[str, Any]:
        return {
            "p": platform,
            "unique_id": f"{ident}_{key}",
            # An entity id is lower case letters, digits and '_' (Home Assistant slugifies what
            # it gets); gateway and device ids may hold '-' and capitals, so slug them here and
            # what we send is the entity id it ends up with.
            "default_entity_id": f"{platform}.{_entity_slug(f'{ident}_{key}')}",
            "name": name,
            **options,
        }

    cmps: dict[str, dict[str, Any]] = {}
    if speed_levels > 0:
        cmps["fan"] = component("fan", "fan", "Motor", **_fan_options(topics, caps))
    if heat_levels > 0:
        cmps["heat"] = component(
            "select",
            "heat",
            "Heat",
            command_topic=topics.set,
            command_template='{"heat": {{ value | tojson }}}',
            state_topic=topics.state,
            value_template="{{ value_json.heat }}",
            options=list(info["heat_options"]),
            icon="mdi:heat-wave",
        )
    programs = [str(p) for p in info.get("programs", ()) if p != NO_PROGRAM]
    cmps["program"] = component(
        "select",
        "program",
        "Program",
        command_topic=topics.set,
        command_template='{"run": {{ value | tojson }}}',
        state_topic=topics.state,
        value_template="{{ value_json.program }}",
        # "none" first: it is what the state says when nothing runs, and picking it ends a run.
        options=[NO_PROGRAM, *programs],
        icon="mdi:playlist-play",
    )
    cmps["stop"] = component(
        "button",
        "stop",
        "Stop",
        command_topic=topics.set,
        payload_press='{"stop": true}',
        icon="mdi:stop-circle",
    )
    # A heater is watched through its temperature even when the profile does not list a
    # sensor: the gateway reports whatever the device says, and a null shows as unknown.
    if caps.get("temperature_sensor") or heat_levels > 0:
        cmps["temperature"] = component(
            "sensor",
            "temperature",
            "Temperature",
            state_topic=topics.state,
            # A null renders as "None", which an MQTT sensor takes as unknown.
            value_template="{{ value_json.temperature_c }}",
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
        )
    if caps.get("battery_powered"):
        cmps["battery"] = component(
            "sensor",
            "battery",
            "Battery",
            state_topic=topics.state,
            value_template="{{ value_json.battery }}",
            device_class="battery",
            unit_of_measurement="%",
            state_class="measurement",
        )
    cmps["time_left"] = component(
        "sensor",
        "time_left",
        "Time left",
        state_topic=topics.state,
        value_template="{{ value_json.time_left_s }}",
        device_class="duration",
        unit_of_measurement="s",
    )
    cmps["connected"] = component(
        "binary_sensor",
        "connected",
        "Connected",
        state_topic=topics.availability,
        payload_on=ONLINE,
        payload_off=OFFLINE,
        device_class="connectivity",
        entity_category="diagnostic",
        # A component's own availability replaces the device-wide one (Home Assistant merges
        # shared options only where the component has none). Only the gateway's status here:
        # with the device's availability too, a lost link would make this "unavailable"
        # instead of "off", hiding the very thing it reports.
        avty=[{"t": topics.gateway_status}],
    )

    return {
        "dev": {
            "ids": [ident],
            "name": info["name"],
            "mf": "massagectl",
            "mdl": profile.get("title") or profile.get("name", ""),
            "mdl_id": profile.get("name", ""),
            "sw": version,
        },
        "o": {"name": "massagectl", "sw": version, "url": ORIGIN_URL},
        "cmps": cmps,
        # Usable only while both the gateway runs and it has a link to the device; the
        # payloads online/offline are Home Assistant's defaults, so none are given.
        "avty": [{"t": topics.gateway_status}, {"t": topics.availability}],
        "avty_mode": "all",
        "qos": _QOS,
    }


def _fan_options(topics: DeviceTopics, caps: dict[str, Any]) -> dict[str, Any]:
    """The motor as a fan: on/off, speed as a percentage, the device's programs as presets."""
    options: dict[str, Any] = {
        "command_topic": topics.set,
        "command_template": '{"power": "{{ value }}"}',
        "state_topic": topics.state,
        "state_value_template": "{{ value_json.power }}",
        # Home Assistant maps its percentage onto 1..levels itself (and sends 0 for off), so
        # the command carries a level the device has, not a percentage to round again.
        "percentage_command_topic": topics.set,
        "percentage_command_template": '{"speed_level": {{ value }}}',
        "percentage_state_topic": topics.state,
        "percentage_value_template": "{{ value_json.speed_level }}",
        "speed_range_min": 1,
        "speed_range_max": int(caps["speed_levels"]),
    }
    names = [str(n) for n in caps.get("program_names", ())]
    if names:
        options |= {
            "preset_modes": names,
            "preset_mode_command_topic": topics.set,
            "preset_mode_command_template": '{"device_program": {{ value | tojson }}}',
            "preset_mode_state_topic": topics.state,
            # No program runs: give Home Assistant's preset reset payload ("None") outright
            # rather than rely on how a null happens to render.
            "preset_mode_value_template": (
                "{{ value_json.device_program if value_json.device_program is not none"
                ' else "None" }}'
            ),
        }
    return options


def _entity_slug(text: str) -> str:
    """``text`` as Home Assistant slugifies an object id: lower case, runs of anything but
    letters and digits as one ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
