"""Home Assistant MQTT discovery: one retained device-based config per device.

Home Assistant reads ``<discovery prefix>/device/<id>/config`` and makes one device with every
entity listed under ``cmps``. The entities talk to the gateway's own topics (``state`` to read,
``set`` to command); the templates here turn Home Assistant's values into the JSON commands of
:mod:`.commands` and pick fields out of the state document of :mod:`.payloads`, so those two
modules stay the only schema. Pure functions: the gateway publishes what they return.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..capabilities import Feature, FeatureKind, device_features, find
from .commands import NO_PROGRAM
from .payloads import info_from_capabilities
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


#: One entity's config, as Home Assistant reads it.
Component = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Entities:
    """What every component builder needs: the device's id and its topics."""

    ident: str
    topics: DeviceTopics

    def component(self, platform: str, key: str, name: str, **options: Any) -> Component:
        """One entity on ``platform``, with ids made from the device's and ``key``."""
        return {
            "p": platform,
            "unique_id": f"{self.ident}_{key}",
            # An entity id is lower case letters, digits and '_' (Home Assistant slugifies what
            # it gets); gateway and device ids may hold '-' and capitals, so slug them here and
            # what we send is the entity id it ends up with.
            "default_entity_id": f"{platform}.{_entity_slug(f'{self.ident}_{key}')}",
            "name": name,
            **options,
        }

    def sensor(self, key: str, feature: Feature, name: str, **options: Any) -> Component:
        """A sensor that reads ``feature`` from the state document, in the feature's unit."""
        return self.component(
            "sensor",
            key,
            name,
            state_topic=self.topics.state,
            # A null renders as "None", which an MQTT sensor takes as unknown.
            value_template=f"{{{{ value_json.{feature.id} }}}}",
            unit_of_measurement=feature.unit,
            **options,
        )


def discovery_config(info: dict[str, Any], topics: DeviceTopics) -> dict[str, Any]:
    """The device-based discovery payload for the device that ``info`` describes.

    ``info`` is the document of :func:`.payloads.info_payload`; ``topics`` are that device's
    topics. Entities appear only for what the device can do: one per feature of
    :func:`massagectl.capabilities.device_features` (the device's own programs are the motor's
    presets), and the gateway's program select and stop button. Raises ValueError if ``info``
    and ``topics`` name different devices, which would wire one device's entities to another's
    topics.
    """
    gateway, device = str(info["gateway"]), str(info["device"])
    if (gateway, device) != (topics.gateway, topics.device):
        raise ValueError(
            f"info is for {gateway}/{device} but the topics are {topics.gateway}/{topics.device}"
        )
    entities = _Entities(device_id(gateway, device), topics)
    features = device_features(info_from_capabilities(info["capabilities"]))
    cmps: dict[str, Component] = {}
    for feature in features:
        cmps |= _BUILDERS[feature.kind](entities, feature)
    programs = find(features, FeatureKind.DEVICE_PROGRAM)
    if programs is not None and programs.options and "fan" in cmps:
        cmps["fan"] |= _preset_options(topics)
        cmps["fan"]["preset_modes"] = list(programs.options)
    cmps |= _gateway_components(entities, info)
    return _device_document(entities.ident, info, topics) | {"cmps": cmps}


def _device_document(ident: str, info: dict[str, Any], topics: DeviceTopics) -> dict[str, Any]:
    """The device, the origin and the availability every entity shares."""
    profile: dict[str, Any] = info["profile"]
    version = str(info["massagectl"])
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
        # Usable only while both the gateway runs and it has a link to the device; the
        # payloads online/offline are Home Assistant's defaults, so none are given.
        "avty": [{"t": topics.gateway_status}, {"t": topics.availability}],
        "avty_mode": "all",
        "qos": _QOS,
    }


def _gateway_components(entities: _Entities, info: dict[str, Any]) -> dict[str, Component]:
    """What the gateway adds to any device: its programs to run, and a stop."""
    topics = entities.topics
    programs = [str(p) for p in info.get("programs", ()) if p != NO_PROGRAM]
    program = entities.component(
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
    stop = entities.component(
        "button",
        "stop",
        "Stop",
        command_topic=topics.set,
        payload_press='{"stop": true}',
        icon="mdi:stop-circle",
    )
    return {"program": program, "stop": stop}


def _fan(entities: _Entities, feature: Feature) -> dict[str, Component]:
    """The motor as a fan: on/off, and the speed as a level of 1..levels."""
    topics = entities.topics
    options: dict[str, Any] = {
        "command_topic": topics.set,
        "command_template": '{"power": "{{ value }}"}',
        "state_topic": topics.state,
        "state_value_template": "{{ value_json.power }}",
        # Home Assistant maps its percentage onto 1..levels itself (and sends 0 for off), so
        # the command carries a level the device has, not a percentage to round again.
        "percentage_command_topic": topics.set,
        "percentage_command_template": f'{{"{feature.setting}": {{{{ value }}}}}}',
        "percentage_state_topic": topics.state,
        "percentage_value_template": f"{{{{ value_json.{feature.id} }}}}",
        "speed_range_min": 1,
        "speed_range_max": feature.maximum,
    }
    return {"fan": entities.component("fan", "fan", "Motor", **options)}


def _preset_options(topics: DeviceTopics) -> dict[str, Any]:
    """The device's own programs as the fan's presets."""
    return {
        "preset_mode_command_topic": topics.set,
        "preset_mode_command_template": '{"device_program": {{ value | tojson }}}',
        "preset_mode_state_topic": topics.state,
        # No program runs: give Home Assistant's preset reset payload ("None") outright
        # rather than rely on how a null happens to render.
        "preset_mode_value_template": (
            '{{ value_json.device_program if value_json.device_program is not none else "None" }}'
        ),
    }


def _heat(entities: _Entities, feature: Feature) -> dict[str, Component]:
    """The heater as a select of its options (names, or level numbers)."""
    state, command = entities.topics.state, entities.topics.set
    options = {
        "command_topic": command,
        "command_template": f'{{"{feature.setting}": {{{{ value | tojson }}}}}}',
        "state_topic": state,
        "value_template": f"{{{{ value_json.{feature.id} }}}}",
        "options": list(feature.options),
        "icon": "mdi:heat-wave",
    }
    return {"heat": entities.component("select", "heat", "Heat", **options)}


def _presets(_entities: _Entities, _feature: Feature) -> dict[str, Component]:
    """The device's programs are no entity of their own: the fan carries them as presets."""
    return {}


def _temperature(entities: _Entities, feature: Feature) -> dict[str, Component]:
    """The temperature in °C (unknown until the device says)."""
    return {
        "temperature": entities.sensor(
            "temperature",
            feature,
            "Temperature",
            device_class="temperature",
            state_class="measurement",
        )
    }


def _battery(entities: _Entities, feature: Feature) -> dict[str, Component]:
    """The battery's charge in %."""
    return {
        "battery": entities.sensor(
            "battery", feature, "Battery", device_class="battery", state_class="measurement"
        )
    }


def _time_left(entities: _Entities, feature: Feature) -> dict[str, Component]:
    """Seconds left of a run, or of the device's own program."""
    return {
        "time_left": entities.sensor("time_left", feature, "Time left", device_class="duration")
    }


def _connected(entities: _Entities, feature: Feature) -> dict[str, Component]:
    """Whether the gateway holds a link to the device (off, not unavailable, when it has not)."""
    topics = entities.topics
    connected = entities.component(
        "binary_sensor",
        "connected",
        "Connected",
        state_topic=topics.availability,
        payload_on=ONLINE,
        payload_off=OFFLINE,
        device_class="connectivity",
        entity_category=feature.category.value,
        # A component's own availability replaces the device-wide one (Home Assistant merges
        # shared options only where the component has none). Only the gateway's status here:
        # with the device's availability too, a lost link would make this "unavailable"
        # instead of "off", hiding the very thing it reports.
        avty=[{"t": topics.gateway_status}],
    )
    return {"connected": connected}


_BUILDERS: Final[dict[FeatureKind, Callable[[_Entities, Feature], dict[str, Component]]]] = {
    FeatureKind.SPEED: _fan,
    FeatureKind.HEAT: _heat,
    FeatureKind.DEVICE_PROGRAM: _presets,
    FeatureKind.TEMPERATURE: _temperature,
    FeatureKind.BATTERY: _battery,
    FeatureKind.TIME_LEFT: _time_left,
    FeatureKind.CONNECTED: _connected,
}


def _entity_slug(text: str) -> str:
    """``text`` as Home Assistant slugifies an object id: lower case, runs of anything but
    letters and digits as one ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
