"""Running a program from Python in one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..address import DeviceAddress
from ..clock import Clock
from ..device import Massager
from ..programs.events import RunEvent
from ..programs.loader import get_program
from ..programs.model import Program
from ..programs.progress import Outcome
from .program_run import ProgramRun


async def run_program(
    program: Program | str,
    devices: Sequence[Massager | str | DeviceAddress],
    *,
    intensity: float = 1.0,
    clock: Clock | None = None,
    on_event: Callable[[RunEvent], None] | None = None,
) -> Outcome:
    """Run ``program`` (a :class:`Program`, a preset name or a YAML path) on ``devices``.

    Devices may be connected :class:`Massager` objects or addresses, which are connected for the
    run and closed after it. Every device ends at rest, however the run ends.
    """
    prog = get_program(program) if isinstance(program, str) else program
    async with ProgramRun(prog, devices, intensity=intensity, clock=clock) as run:
        if on_event is not None:
            run.subscribe(on_event)
        return await run.run()
