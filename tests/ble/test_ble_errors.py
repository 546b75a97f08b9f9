"""What a person reads when Bluetooth fails: one line that says what to do."""

from __future__ import annotations

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)
from bleak_retry_connector import BleakNotFoundError

from massagectl.errors import LinkError
from massagectl.transports.ble_errors import classify_bleak_error, error_kind


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(2, "No such file or directory"),  # no system D-Bus socket (this box)
        ConnectionRefusedError(111, "Connection refused"),
        BleakBluetoothNotAvailableError(
            "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
        ),
        BleakDBusError(
            "org.freedesktop.DBus.Error.ServiceUnknown",
            ["The name org.bluez was not provided by any .service files"],
        ),
        BleakError("No Bluetooth adapters found."),
    ],
    ids=["no-dbus-socket", "dbus-refused", "bleak-no-bluetooth", "no-bluez", "bleak-text"],
)
def test_missing_adapter_says_no_bluetooth_adapter(exc: BaseException) -> None:
    error = classify_bleak_error(exc, where="ble:OMP-WAND-0001")
    assert isinstance(error, LinkError)
    assert error.exit_code == 3
    text = str(error)
    assert text.startswith("ble:OMP-WAND-0001: no Bluetooth adapter available")
    assert "BlueZ" in text
    assert "\n" not in text


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError(13, "Permission denied"),
        BleakDBusError("org.bluez.Error.NotPermitted", ["Operation not permitted"]),
        BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["Rejected send message"]),
        BleakError("[org.bluez.Error.NotAuthorized] not authorized"),
        BleakBluetoothNotAvailableError(
            "Bluetooth access denied", BleakBluetoothNotAvailableReason.DENIED_BY_USER
        ),
    ],
    ids=["os", "bluez-not-permitted", "dbus-access-denied", "text", "denied-by-user"],
)
def test_refused_access_says_permission_denied(exc: BaseException) -> None:
    text = str(classify_bleak_error(exc))
    assert text.startswith("Bluetooth: permission denied using Bluetooth")
    assert "'bluetooth' group" in text
    assert "\n" not in text


def test_switched_off_adapter_says_turn_it_on() -> None:
    exc = BleakBluetoothNotAvailableError(
        "No powered Bluetooth adapters found.", BleakBluetoothNotAvailableReason.POWERED_OFF
    )
    assert "switched off" in str(classify_bleak_error(exc))
    assert error_kind(BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"])) == (
        "powered-off"
    )


@pytest.mark.parametrize(
    "exc",
    [
        BleakDeviceNotFoundError("AA:BB:CC:DD:EE:FF", "Device with address … was not found."),
        BleakNotFoundError("x - AA:BB: Failed to connect after 4 attempt(s): not found"),
    ],
    ids=["bleak", "retry-connector"],
)
def test_missing_device_names_it_and_the_scan_time(exc: BaseException) -> None:
    text = str(
        classify_bleak_error(exc, where="ble:AA:BB:CC:DD:EE:FF", target="OMP-X", scanned_s=7.5)
    )
    assert text == (
        "ble:AA:BB:CC:DD:EE:FF: device 'OMP-X' not found (scanned 7.5 s): "
        "is it on, in range, and not connected to another host?"
    )


def test_timeout_and_anything_else_stay_one_line() -> None:
    assert "did not answer in time" in str(classify_bleak_error(TimeoutError()))
    other = classify_bleak_error(BleakError("weird\nmulti-line\n  failure"), target="OMP-X")
    assert str(other) == "Bluetooth: cannot talk to device 'OMP-X': weird multi-line failure"
