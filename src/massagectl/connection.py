"""Turn a device address into a connected :class:`~massagectl.device.Massager`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from .address import DeviceAddress, parse_address
from .clock import Clock, MonotonicClock
from .device import Massager
from .errors import ProfileError, UsageError
from .plugins import SimDeviceRequest, simulator
from .profiles import Profile, get_profile
from .safety.memory import SafetyMemory
from .safety.memory_store import remembered
from .transports.base import Transport
from .transports.serial import SerialTransport
from .transports.tcp import TcpTransport


@asynccontextmanager
async def connect(
    address: str | DeviceAddress,
    *,
    clock: Clock | None = None,
    safety_memory: SafetyMemory | None = None,
) -> AsyncIterator[Massager]:
    """Connect to the device at ``address``; stop it and disconnect on the way out.

    ``sim:PROFILE`` starts a simulated device in this process for the duration of the block
    (it is then reachable as ``massager.transport.device``). It is reached the profile's usual
    way (``transports[0]``) or as ``?via=serial|ble`` says: over BLE through a simulated radio
    and bleak's real client (``massager.transport.radio``, ``.peripheral``), otherwise in
    process. ``ble:`` addresses use the platform's Bluetooth, or the simulator's process-wide
    radio when ``MASSAGECTL_BLE_BACKEND=sim``.

    ``safety_memory`` is what the safety envelope counts into (see :mod:`massagectl.safety`);
    without it, a real device in real time (serial, TCP, BLE) gets the memory kept for it
    across runs, and any other a fresh one.
    """
    addr = parse_address(address) if isinstance(address, str) else address
    if addr.scheme == "mqtt":
        async with _remote(addr, clock) as massager:
            yield massager
        return
    profile = get_profile(addr.profile)
    async with AsyncExitStack() as stack:
        transport = await _transport_for(addr, profile, clock, stack)
        if safety_memory is None and (clock is None or isinstance(clock, MonotonicClock)):
            safety_memory = remembered(addr)
        massager = Massager(transport, profile, name=str(addr), safety_memory=safety_memory)
        yield await stack.enter_async_context(massager)


@asynccontextmanager
async def _remote(addr: DeviceAddress, clock: Clock | None) -> AsyncIterator[Massager]:
    """A device behind a gateway: its profile comes from the gateway, so the link opens first."""
    from .mqtt.broker import broker_for_address
    from .mqtt.remote import MqttTransport, RemoteDriver

    transport = MqttTransport(addr, broker_for_address(addr), clock=clock)
    await transport.open()
    try:
        assert transport.profile is not None  # open() waits for it
        massager = Massager(
            transport, transport.profile, name=str(addr), driver_factory=RemoteDriver
        )
        async with massager:
            yield massager
    finally:
        await transport.close()


async def _transport_for(
    addr: DeviceAddress, profile: Profile, clock: Clock | None, stack: AsyncExitStack
) -> Transport:
    if addr.scheme == "sim":
        # The simulator is a plug-in (see massagectl.plugins): looked up first, so that without
        # it a `sim:` address says so rather than what it would have said about the profile.
        sim = simulator(str(addr))
        if not profile.simulatable:
            raise ProfileError(
                f"{addr}: profile {profile.name!r} stands for any device of its protocol; "
                "name a concrete model to simulate (see `massagectl devices`)"
            )
        request = SimDeviceRequest(addr, profile, _sim_via(addr, profile), clock)
        return await sim.open_device(request, stack)
    if addr.scheme == "ble":
        from .transports.ble import BleTransport, backend_from_env

        return BleTransport(addr.target, profile, backend=backend_from_env(), clock=clock)
    if addr.scheme == "serial":
        return SerialTransport(addr.target, addr.baud or profile.serial.baud, clock=clock)
    if addr.scheme == "tcp":
        return TcpTransport(addr.host, addr.port, clock=clock)
    raise UsageError(f"{addr}: {addr.scheme} devices are not supported by this version yet")


def _sim_via(addr: DeviceAddress, profile: Profile) -> str:
    """How to reach a simulated device: as asked, else the profile's usual way."""
    via = addr.via or profile.transports[0]
    if via not in profile.transports:
        raise ProfileError(
            f"{addr}: profile {profile.name!r} is not reachable over {via} "
            f"(it is over {', '.join(profile.transports)})"
        )
    if via != "ble":
        return via
    # Imported here: it pulls in bleak, which a serial or in-process simulator does not need.
    from .transports.ble import reachable_over_ble

    if not reachable_over_ble(profile):
        raise ProfileError(
            f"{addr}: profile {profile.name!r} does not say which GATT characteristics carry "
            "its protocol (ble.write_char, ble.notify_char)"
        )
    return via
