"""Turning what bleak, BlueZ and D-Bus raise into one-line :class:`LinkError` messages.

bleak's failures come in many shapes: its own exceptions, D-Bus error names, and plain OS errors
from the D-Bus socket (on a Linux machine without BlueZ, connecting to the system bus raises
``FileNotFoundError`` before bleak sees anything). A person needs to know one of a few things:
there is no Bluetooth here, it is switched off, they may not use it, the device is not there,
or something else went wrong, in one line that names the device.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)

from ..errors import LinkError

#: What to tell a person whose machine has no usable Bluetooth.
NO_ADAPTER_HINT = "is there a Bluetooth adapter, and is BlueZ (bluetoothd) running?"
#: What to tell a person who may not use Bluetooth.
PERMISSION_HINT = (
    "on Linux, run as a user in the 'bluetooth' group or allow D-Bus access to org.bluez; "
    "on macOS, allow the terminal to use Bluetooth"
)

# D-Bus error names, and words in messages, that say what went wrong. BlueZ and D-Bus give
# names (org.bluez.Error.NotPermitted); other paths only leave the words in a message.
_NO_ADAPTER_DBUS = frozenset(
    {
        "org.freedesktop.DBus.Error.ServiceUnknown",  # org.bluez is not on the bus
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoServer",
        "org.bluez.Error.NoSuchAdapter",
    }
)
_POWERED_OFF_DBUS = frozenset({"org.bluez.Error.NotReady"})
_PERMISSION_DBUS = frozenset(
    {
        "org.freedesktop.DBus.Error.AccessDenied",
        "org.bluez.Error.NotPermitted",
        "org.bluez.Error.NotAuthorized",
        "org.bluez.Error.AuthenticationFailed",
    }
)
_NO_ADAPTER_WORDS = (
    "no bluetooth adapter",
    "no powered bluetooth adapter",
    "adapter not found",
    "org.bluez was not provided",
    "bluetooth device is turned off",
)
_PERMISSION_WORDS = (
    "notpermitted",
    "not permitted",
    "not authorized",
    "notauthorized",
    "access denied",
    "accessdenied",
    "permission denied",
)


def classify_bleak_error(
    exc: BaseException,
    *,
    where: str = "Bluetooth",
    target: str | None = None,
    scanned_s: float | None = None,
) -> LinkError:
    """A one-line :class:`LinkError` for a failure from bleak (or the D-Bus socket under it).

    ``where`` starts the message (the transport's description); ``target`` names the device
    that was sought and ``scanned_s`` how long it was looked for, for "not found" messages.
    """
    kind = error_kind(exc)
    device = f"device {target!r}" if target else "the device"
    if kind == "no-adapter":
        message = f"no Bluetooth adapter available ({_detail(exc)}): {NO_ADAPTER_HINT}"
    elif kind == "powered-off":
        message = "Bluetooth is switched off: turn it on and try again"
    elif kind == "permission":
        message = f"permission denied using Bluetooth ({_detail(exc)}): {PERMISSION_HINT}"
    elif kind == "not-found":
        message = not_found_message(target, scanned_s)
    elif kind == "timeout":
        message = f"no connection to {device}: it did not answer in time"
    else:
        message = f"cannot talk to {device}: {_detail(exc)}"
    return LinkError(_one_line(f"{where}: {message}"))


def not_found_message(target: str | None, scanned_s: float | None) -> str:
    """``device 'X' not found (scanned N s)``, with what to check."""
    device = f"device {target!r}" if target else "the device"
    scanned = f" (scanned {scanned_s:g} s)" if scanned_s is not None else ""
    return f"{device} not found{scanned}: is it on, in range, and not connected to another host?"


def error_kind(exc: BaseException) -> str:
    """One of ``no-adapter``, ``powered-off``, ``permission``, ``not-found``, ``timeout``,
    ``other``: what a person must do about ``exc``."""
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return _not_available_kind(exc.reason)
    if isinstance(exc, PermissionError):
        return "permission"
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        # The system bus socket is missing or nobody listens on it: no D-Bus, so no BlueZ.
        return "no-adapter"
    kind = _dbus_kind(exc)
    if kind is not None:
        return kind
    if isinstance(exc, BleakDeviceNotFoundError) or type(exc).__name__ == "BleakNotFoundError":
        return "not-found"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, BleakError | OSError):
        return _kind_from_words(str(exc).lower())
    return "other"


def _dbus_kind(exc: BaseException) -> str | None:
    """What a D-Bus error name says, from bleak's own error or from dbus_fast's leaking through."""
    if isinstance(exc, BleakDBusError):
        kinds = {**_by_name(_POWERED_OFF_DBUS, "powered-off")}
        name: object = exc.dbus_error
    else:
        kinds = {}
        name = getattr(exc, "type", None)  # dbus_fast.DBusError, when it leaks through bleak
    if not isinstance(name, str):
        return None
    kinds.update(_by_name(_NO_ADAPTER_DBUS, "no-adapter"))
    kinds.update(_by_name(_PERMISSION_DBUS, "permission"))
    return kinds.get(name)


def _by_name(names: Iterable[str], kind: str) -> dict[str, str]:
    return dict.fromkeys(names, kind)


def _kind_from_words(text: str) -> str:
    if any(word in text for word in _PERMISSION_WORDS):
        return "permission"
    if any(word in text for word in _NO_ADAPTER_WORDS):
        return "no-adapter"
    return "other"


def _not_available_kind(reason: BleakBluetoothNotAvailableReason) -> str:
    if reason is BleakBluetoothNotAvailableReason.POWERED_OFF:
        return "powered-off"
    if reason in (
        BleakBluetoothNotAvailableReason.DENIED_BY_USER,
        BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
        BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
    ):
        return "permission"
    return "no-adapter"


def _detail(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError) and not exc.filename:
        # bleak reaches BlueZ over the system D-Bus; this is the socket's own errno.
        return f"cannot reach the system D-Bus: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return str(exc.args[0])
    text = str(exc)
    return text if text else type(exc).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())
