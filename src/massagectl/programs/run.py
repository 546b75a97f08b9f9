"""Running a program from Python in one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

from ..address import DeviceAddress
from ..clock import Clock
from ..connection import connect
from ..device import Massager
from .loader import get_program
from .model import Program
from .scheduler import Event, Outcome, Scheduler


async def run_program(
    program: Program | str,
    devices: Sequence[Massager | str | DeviceAddress],
    *,
    intensity: float = 1.0,
    clock: Clock | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> Outcome:
    """Run ``program`` (a :class:`Program`, a preset name or a YAML path) on ``devices``.

    Devices may be connected :class:`Massager` objects or addresses, which are connected for the
    run and closed after it. Every device ends at rest, however the run ends.
    """
    prog = get_program(program) if isinstance(program, str) else program
    async with AsyncExitStack() as stack:
        massagers = [
            d
            if isinstance(d, Massager)
            else await stack.enter_async_context(connect(d, clock=clock))
            for d in devices
        ]
        scheduler = Scheduler(prog, massagers, clock=clock, intensity=intensity, on_event=on_event)
        return await scheduler.run()
