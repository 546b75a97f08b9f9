"""Device addresses: one syntax for the CLI, the Python API and (later) the MQTT bridge.

    sim:PROFILE[?via=serial|ble]             an in-process simulated device (reached the
                                             profile's usual way, or as told)
    serial:PATH[?profile=NAME&baud=N]        a serial line (USB, UART, Bluetooth SPP, a pty)
    tcp:HOST:PORT[?profile=NAME]             a TCP socket carrying the serial protocol
    ble:ADDRESS_OR_NAME[?profile=NAME]       a BLE peripheral, by address or advertised name
                                             (``any``: the first that fits the profile)
    mqtt://[USER[:PASS]@]BROKER[:PORT]/GATEWAY/DEVICE
                                             a device behind a massagectl bridge
                                             (mqtts:// for TLS; MASSAGECTL_MQTT_CA names a CA
                                             file, MASSAGECTL_MQTT_PASSWORD the password)

The profile is ``omp`` (any OMP/1 device, capabilities read from it) when not given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl

from .errors import AddressError, UsageError
from .mqtt.topics import check_id, quoted

Scheme = Literal["sim", "serial", "tcp", "ble", "mqtt"]
DEFAULT_PROFILE = "omp"

_ALLOWED_OPTIONS: dict[str, set[str]] = {
    "sim": {"via"},
    "serial": {"profile", "baud"},
    "tcp": {"profile"},
    "ble": {"profile"},
    "mqtt": set(),
}

#: The ways a ``sim:`` device can be reached.
_VIA: dict[str, Literal["serial", "ble"]] = {"serial": "serial", "ble": "ble"}


@dataclass(frozen=True, slots=True)
class DeviceAddress:
    """A parsed device address."""

    scheme: Scheme
    #: The profile name for ``sim:``, the port path, ``HOST:PORT``, the BLE address or name, or
    #: for ``mqtt://`` the broker.
    target: str
    profile: str = DEFAULT_PROFILE
    baud: int | None = None
    host: str = ""
    port: int = 0
    gateway: str = ""
    device: str = ""
    #: For ``sim:``: how to reach the simulated device (None: the profile's usual way).
    via: Literal["serial", "ble"] | None = None
    #: For ``mqtt://``: TLS to the broker (``mqtts://``).
    tls: bool = False
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.text or self.target


def parse_address(text: str) -> DeviceAddress:
    """Parse a device address; an :class:`AddressError` says what is wrong with it."""
    raw = text.strip()
    if raw.startswith(("mqtt://", "mqtts://")):
        return _parse_mqtt(raw)
    scheme, sep, rest = raw.partition(":")
    if not sep or scheme not in _ALLOWED_OPTIONS:
        raise AddressError(
            f"device address {text!r}: expected sim:PROFILE, serial:PATH, tcp:HOST:PORT, "
            "ble:ADDRESS or mqtt://BROKER/GATEWAY/DEVICE"
        )
    target, _, query = rest.partition("?")
    if not target:
        raise AddressError(f"device address {text!r}: nothing after '{scheme}:'")
    options = _parse_query(text, scheme, query)
    if scheme == "sim":
        via = options.get("via")
        if via is not None and via not in _VIA:
            raise AddressError(f"device address {text!r}: via must be serial or ble")
        return DeviceAddress("sim", target, profile=target, via=_VIA.get(via or ""), text=raw)
    profile = options.get("profile", DEFAULT_PROFILE)
    if scheme == "serial":
        baud = None
        if "baud" in options:
            try:
                baud = int(options["baud"])
            except ValueError:
                baud = 0
            if baud <= 0:
                raise AddressError(f"device address {text!r}: baud must be a positive number")
        return DeviceAddress("serial", target, profile=profile, baud=baud, text=raw)
    if scheme == "tcp":
        host, port = _host_port(text, target)
        return DeviceAddress("tcp", target, profile=profile, host=host, port=port, text=raw)
    return DeviceAddress("ble", target, profile=profile, text=raw)


def _parse_query(text: str, scheme: str, query: str) -> dict[str, str]:
    if not query:
        return {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise AddressError(f"device address {text!r}: cannot read options {query!r}") from None
    options: dict[str, str] = {}
    for key, value in pairs:
        if key not in _ALLOWED_OPTIONS[scheme]:
            allowed = ", ".join(sorted(_ALLOWED_OPTIONS[scheme])) or "none"
            raise AddressError(
                f"device address {text!r}: unknown option {key!r} (allowed: {allowed})"
            )
        if not value:
            raise AddressError(f"device address {text!r}: option {key!r} has no value")
        options[key] = value
    return options


def parse_host_port(
    hostport: str, *, what: str = "address", allow_any_port: bool = False
) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6HOST]:PORT``; an :class:`AddressError` says what is wrong.

    ``allow_any_port`` admits port 0 (a server's "pick a free port").
    """
    if hostport.startswith("["):  # [::1]:7000
        host, sep, port_text = hostport[1:].partition("]:")
    else:
        host, sep, port_text = hostport.rpartition(":")
    if not sep or not host:
        raise AddressError(f"{what} {hostport!r}: expected HOST:PORT")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    lowest = 0 if allow_any_port else 1
    if not lowest <= port < 65536:
        raise AddressError(f"{what} {hostport!r}: port must be a number from {lowest} to 65535")
    return host, port


def _host_port(text: str, hostport: str) -> tuple[str, int]:
    try:
        return parse_host_port(hostport)
    except AddressError as exc:
        reason = str(exc).partition(": ")[2]
        raise AddressError(f"device address {text!r}: {reason}") from None


def _short(text: str) -> str:
    """The address quoted for a message; a very long one is cut short."""
    return quoted(text) if len(text) > 200 else repr(text)


def _parse_mqtt(text: str) -> DeviceAddress:
    scheme, _, rest = text.partition("://")
    parts = rest.split("/")
    # Shown in messages and device names: the text as typed, but never the password.
    credentials, at, hostport = parts[0].rpartition("@")
    user = credentials.partition(":")[0]
    path = rest[len(parts[0]) :]
    shown = f"{scheme}://{user}{at}{hostport}{path}"
    if len(parts) != 3 or not all(parts) or not hostport:
        raise AddressError(
            f"device address {shown!r}: expected mqtt://BROKER[:PORT]/GATEWAY/DEVICE"
        )
    broker, gateway, device = parts
    # Each becomes one level of the topics the client subscribes and publishes to: a wildcard
    # or an over-long name would make those invalid (or match other gateways' topics).
    for value, what in ((gateway, "gateway"), (device, "device")):
        try:
            check_id(value, what)
        except UsageError as exc:
            raise AddressError(f"device address {_short(shown)}: {exc}") from None
    tls = scheme == "mqtts"
    if hostport.startswith("[") or ":" in hostport:
        host, port = _host_port(shown, hostport)
    else:
        host, port = hostport, 8883 if tls else 1883
    return DeviceAddress(
        "mqtt",
        broker,
        host=host,
        port=port,
        gateway=gateway,
        device=device,
        tls=tls,
        text=shown,
    )
