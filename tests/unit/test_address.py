"""Device addresses: one syntax, clear errors."""

from __future__ import annotations

import pytest

from massagectl.address import parse_address
from massagectl.errors import AddressError


def test_sim_address_names_its_profile() -> None:
    a = parse_address("sim:omp-wand-heat")
    assert (a.scheme, a.profile) == ("sim", "omp-wand-heat")


def test_serial_address_with_options() -> None:
    a = parse_address("serial:/dev/ttyUSB0?profile=omp-heat-pad&baud=9600")
    assert (a.scheme, a.target, a.profile, a.baud) == (
        "serial",
        "/dev/ttyUSB0",
        "omp-heat-pad",
        9600,
    )


def test_profile_defaults_to_omp() -> None:
    assert parse_address("serial:/dev/pts/3").profile == "omp"
    assert parse_address("tcp:localhost:7000").profile == "omp"


def test_tcp_address_with_ipv6_host() -> None:
    a = parse_address("tcp:[::1]:7000?profile=omp-percussion-pro")
    assert (a.host, a.port, a.profile) == ("::1", 7000, "omp-percussion-pro")


def test_ble_address_keeps_colons() -> None:
    a = parse_address("ble:AA:BB:CC:DD:EE:FF?profile=omp-neck-rest")
    assert (a.scheme, a.target, a.profile) == ("ble", "AA:BB:CC:DD:EE:FF", "omp-neck-rest")


def test_mqtt_address() -> None:
    a = parse_address("mqtt://broker.local:1884/chair-pi/wand")
    assert (a.scheme, a.host, a.port, a.gateway, a.device) == (
        "mqtt",
        "broker.local",
        1884,
        "chair-pi",
        "wand",
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("usb:/dev/x", "expected sim:PROFILE"),
        ("serial:", "nothing after"),
        ("serial:/dev/x?speed=3", "unknown option 'speed'"),
        ("serial:/dev/x?baud=fast", "baud"),
        ("tcp:localhost", "HOST:PORT"),
        ("tcp:localhost:99999", "port"),
        ("mqtt://broker/only-gateway", "GATEWAY/DEVICE"),
        ("just-a-word", "expected"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(AddressError, match=complaint) as info:
        parse_address(text)
    assert text in str(info.value)
