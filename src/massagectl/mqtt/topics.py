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
#: A prefix may have several levels, but stays short: every topic of a gateway starts with it
#: (and MQTT caps a topic at 65,535 bytes; brokers and Home Assistant want far less).
MAX_PREFIX_BYTES: Final = 128
#: How much of a bad value a message quotes: a 70,000-character name stays one readable line.
_QUOTE_CHARS: Final = 40


def quoted(value: str) -> str:
    """``value`` quoted for a one-line message, cut short (with its length) when long."""
    if len(value) <= _QUOTE_CHARS:
        return repr(value)
    return f"{value[:_QUOTE_CHARS]!r}... ({len(value)} characters)"


def check_id(value: str, what: str) -> str:
    """``value`` if it can be one topic level; a one-line :class:`UsageError` if not."""
    if not _ID.fullmatch(value):
        raise UsageError(
            f"{what} {quoted(value)}: use 1 to 64 letters, digits, '-' or '_' (no '/', '+', "
            "'#' or spaces: it is one level of an MQTT topic)"
        )
    return value


def check_prefix(value: str, what: str) -> str:
    """``value`` if it can start topics (one or more levels, no wildcards); else a one-line
    :class:`UsageError` naming the bad part."""
    problem = _prefix_problem(value)
    if problem:
        raise UsageError(f"{what} {quoted(value)}: {problem}")
    return value


def _prefix_problem(value: str) -> str:
    if not value:
        return "empty; give one or more topic levels such as 'massagectl' or 'home/massage'"
    for wildcard in ("+", "#"):
        if wildcard in value:
            # A wildcard would make every topic the gateway publishes to invalid, and every
            # subscription match other people's topics.
            return f"{wildcard!r} is an MQTT wildcard; a topic prefix cannot contain it"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "contains a control character"
    if value.startswith("$"):
        return "topics starting with '$' belong to the broker ($SYS)"
    if any(not level for level in value.split("/")):
        return "has an empty topic level (a leading, trailing or doubled '/')"
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_PREFIX_BYTES:
        return f"{size} bytes long; use at most {MAX_PREFIX_BYTES}"
    return ""


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
    """``(gateway, device, leaf)`` of a device topic, or None for any other topic.

    The prefix may have several levels (``home/massage``): it is matched as a whole.
    """
    parts = split_prefixed(topic, prefix)
    if parts is None or len(parts) != 3:
        return None
    return parts[0], parts[1], parts[2]


def split_prefixed(topic: str, prefix: str = DEFAULT_PREFIX) -> list[str] | None:
    """The levels of ``topic`` after ``prefix`` (matched as a whole), or None if it has
    another prefix."""
    head = f"{prefix}/"
    if not topic.startswith(head):
        return None
    return topic[len(head) :].split("/")
