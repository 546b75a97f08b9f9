"""Topic names, the one place that knows them (docs/mqtt.md lists them for people).

<prefix>/<gateway>/status              gateway availability: online / offline (retained, will)
<prefix>/<gateway>/error               answers to payloads for devices it does not have
<prefix>/<gateway>/<device>/availability   online / offline (retained)
<prefix>/<gateway>/<device>/info       what the device is and can do (retained JSON)
<prefix>/<gateway>/<device>/state      what it is doing (retained JSON)
<prefix>/<gateway>/<device>/set        commands (JSON)
<prefix>/<gateway>/<device>/reply      the outcome of each command that carries an ``id``
<prefix>/<gateway>/<device>/events     program steps, safety cuts, faults, link changes
<prefix>/<gateway>/<device>/error      what was wrong with a command
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ..errors import UsageError

DEFAULT_PREFIX: Final = "massagectl"
DEFAULT_DISCOVERY_PREFIX: Final = "homeassistant"
ONLINE: Final = "online"
OFFLINE: Final = "offline"

#: Gateway and device ids: one topic level, readable, and safe as a Home Assistant object id.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_id(value: str, what: str) -> str:
    """``value`` if it can be one topic level; a one-line :class:`UsageError` if not."""
    if not _ID.fullmatch(value):
        raise UsageError(
            f"{what} {value!r}: use 1 to 64 letters, digits, '-' or '_' (no '/', '+', '#' or "
            "spaces: it is one level of an MQTT topic)"
        )
    return value


def slug(text: str) -> str:
    """A usable id made from any text (a hostname, a port path, a profile name)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:64]
    return cleaned or "device"


@dataclass(frozen=True, slots=True)
class GatewayTopics:
    """The topics of one gateway."""

    gateway: str
    prefix: str = DEFAULT_PREFIX

    @property
    def base(self) -> str:
        """``<prefix>/<gateway>``."""
        return f"{self.prefix}/{self.gateway}"

    @property
    def status(self) -> str:
        """Gateway availability (the gateway's last will says offline)."""
        return f"{self.base}/status"

    @property
    def error(self) -> str:
        """Errors about topics of no device of this gateway."""
        return f"{self.base}/error"

    @property
    def all_set(self) -> str:
        """Subscription for every device's command topic."""
        return f"{self.base}/+/set"

    def device(self, device: str) -> DeviceTopics:
        """The topics of one of its devices."""
        return DeviceTopics(self.gateway, device, self.prefix)


@dataclass(frozen=True, slots=True)
class DeviceTopics:
    """The topics of one device behind one gateway."""

    gateway: str
    device: str
    prefix: str = DEFAULT_PREFIX

    @property
    def base(self) -> str:
        """``<prefix>/<gateway>/<device>``."""
        return f"{self.prefix}/{self.gateway}/{self.device}"

    @property
    def gateway_status(self) -> str:
        """The gateway's availability."""
        return f"{self.prefix}/{self.gateway}/status"

    @property
    def availability(self) -> str:
        """online / offline: whether the gateway has a link to the device."""
        return f"{self.base}/availability"

    @property
    def info(self) -> str:
        """What the device is and can do (retained)."""
        return f"{self.base}/info"

    @property
    def state(self) -> str:
        """What it is doing (retained)."""
        return f"{self.base}/state"

    @property
    def set(self) -> str:
        """Commands."""
        return f"{self.base}/set"

    @property
    def reply(self) -> str:
        """Outcomes of commands that carry an ``id``."""
        return f"{self.base}/reply"

    @property
    def events(self) -> str:
        """What happens: steps, safety cuts, faults, link changes."""
        return f"{self.base}/events"

    @property
    def error(self) -> str:
        """What was wrong with a command."""
        return f"{self.base}/error"


def split_device_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, str, str] | None:
    """``(gateway, device, leaf)`` of a device topic, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != prefix:
        return None
    return parts[1], parts[2], parts[3]
