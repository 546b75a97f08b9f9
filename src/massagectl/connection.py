"""Turn a device address into a connected :class:`~massagectl.device.Massager`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from .address import DeviceAddress, parse_address
from .clock import Clock
from .device import Massager
from .errors import ProfileError, UsageError
from .profiles import Profile, get_profile
from .transports.base import Transport
from .transports.serial import SerialTransport
from .transports.tcp import TcpTransport


@asynccontextmanager
async def connect(
    address: str | DeviceAddress, *, clock: Clock | None = None
) -> AsyncIterator[Massager]:
    """Connect to the device at ``address``; stop it and disconnect on the way out.

    ``sim:PROFILE`` starts a simulated device in this process for the duration of the block
    (it is then reachable as ``massager.transport.device``).
    """
    addr = parse_address(address) if isinstance(address, str) else address
    profile = get_profile(addr.profile)
    async with AsyncExitStack() as stack:
        transport = await _transport_for(addr, profile, clock, stack)
        massager = Massager(transport, profile, clock=clock, name=str(addr))
        yield await stack.enter_async_context(massager)


async def _transport_for(
    addr: DeviceAddress, profile: Profile, clock: Clock | None, stack: AsyncExitStack
) -> Transport:
    if addr.scheme == "sim":
        from massagesim import SimulatedDevice

        from .transports.inprocess import InProcessTransport

        if not profile.simulatable:
            raise ProfileError(
                f"{addr}: profile {profile.name!r} stands for any device of its protocol; "
                "name a concrete model to simulate (see `massagectl devices`)"
            )
        device = await stack.enter_async_context(SimulatedDevice(profile, clock))
        return InProcessTransport(device, str(addr))
    if addr.scheme == "serial":
        return SerialTransport(addr.target, addr.baud or profile.serial.baud)
    if addr.scheme == "tcp":
        return TcpTransport(addr.host, addr.port)
    raise UsageError(f"{addr}: {addr.scheme} devices are not supported by this version yet")
