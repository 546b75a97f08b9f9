"""``massagectl sim``: served by the simulator plug-in, when it is installed."""

from __future__ import annotations

from ..plugins import SimServeRequest, simulator


async def sim_command(request: SimServeRequest) -> None:
    """Serve a simulated device as asked: the address on the first line, then one line per
    state change (and per command received, with ``commands``)."""
    await simulator("sim").serve(request)
