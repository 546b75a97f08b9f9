"""massagesim as a massagectl plug-in: what the ``massagectl.plugins`` entry point hands over.

massagectl never imports massagesim; it finds this module's :data:`SIMULATOR` through the entry
point (see :mod:`massagectl.plugins`) when a ``sim:`` address, ``MASSAGECTL_BLE_BACKEND=sim`` or
``massagectl sim`` needs it.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Final

from massagectl.plugins import SimDeviceRequest, SimServeRequest
from massagectl.transports.base import Transport
from massagectl.transports.inprocess import InProcessTransport

from .device import SimulatedDevice

if TYPE_CHECKING:
    from massagectl.plugins import Simulator
    from massagectl.transports.ble import BleBackend


class SimulatorPlugin:
    """Simulated devices for massagectl: in process, over a simulated BLE radio, or served."""

    async def open_device(self, request: SimDeviceRequest, stack: AsyncExitStack) -> Transport:
        """A new simulated device, reached in process or (``via="ble"``) over a radio of its
        own and bleak's real client code, as a BLE device is met."""
        addr, clock = request.addr, request.clock
        device = await stack.enter_async_context(SimulatedDevice(request.profile, clock))
        if request.via == "ble":
            # Imported here: it pulls in bleak, which the in-process simulator does not need.
            from .ble import SimBleRadio, SimBleTransport

            peripheral = SimBleRadio().add(device)
            return SimBleTransport(peripheral, description=str(addr), clock=clock)
        return InProcessTransport(device, str(addr), clock=clock)

    def ble_backend(self) -> BleBackend:
        """The bleak backend of the process-wide simulated radio."""
        from .ble import default_radio

        return default_radio().backend()

    async def serve(self, request: SimServeRequest) -> None:
        """``massagectl sim``: see :func:`massagesim.console.serve_command`."""
        from .console import serve_command

        await serve_command(request)


#: The entry point's object.
SIMULATOR: Final[Simulator] = SimulatorPlugin()
