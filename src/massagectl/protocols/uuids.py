"""Bluetooth UUIDs: 16-bit short forms expanded to the full 128-bit form hosts compare with."""

from __future__ import annotations

from typing import Final

#: The Bluetooth Base UUID; a 16-bit UUID ``0xNNNN`` stands for ``0000NNNN-`` + this tail.
BASE_UUID_TAIL: Final = "-0000-1000-8000-00805f9b34fb"


def bluetooth_uuid(short: int) -> str:
    """The full 128-bit form (lower case) of a 16-bit Bluetooth UUID: 0xffe0 -> 0000ffe0-…."""
    if not 0 <= short <= 0xFFFF:
        raise ValueError(f"0x{short:x} is not a 16-bit UUID")
    return f"0000{short:04x}{BASE_UUID_TAIL}"
