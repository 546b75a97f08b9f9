"""``massagectl sim``: a simulated device served on a pty or TCP, its life told on stdout.

The first line is the address to reach the device at; then one line per state change (and per
command received, when asked), and on stderr one line per fault as it is injected.
"""

from __future__ import annotations

import asyncio
import sys

from massagectl.address import parse_host_port
from massagectl.plugins import SimServeRequest
from massagectl.profiles import get_profile

from .device import SimulatedDevice
from .fault_specs import FaultSpec, parse_fault
from .recording import CommandRecord, StateSnapshot
from .serve import serve_pty, serve_tcp
from .sim_faults import fault_labels


async def serve_command(request: SimServeRequest) -> None:
    """Serve a device as ``request`` says until cancelled. Its faults (``--fault``) are injected
    at their times; each is told on stderr as it goes in."""
    prof = get_profile(request.profile)
    tcp = request.tcp
    host, port = (
        parse_host_port(tcp, what="--tcp", allow_any_port=True) if tcp is not None else ("", 0)
    )
    plan = [parse_fault(text) for text in request.faults]
    async with SimulatedDevice(prof) as device:
        origin = device.clock.now()
        for spec in plan:
            device.faults.check(spec)

        def show_fault(spec: FaultSpec, t: float) -> None:
            print(f"massagesim: fault {spec.text} injected at t={t - origin:.3f}", file=sys.stderr)

        if not request.quiet:
            device.on_change(lambda s: print(_state_line(s, origin), flush=True))
            if request.commands:
                device.timeline.on_command(lambda c: print(_command_line(c, origin), flush=True))
        # Kept referenced for as long as the device is served (a task nobody holds may vanish).
        injector = asyncio.create_task(device.faults.play(plan, show_fault)) if plan else None
        try:
            if request.pty:
                async with serve_pty(device) as path:
                    print(path, flush=True)
                    await asyncio.Event().wait()
            else:
                async with serve_tcp(device, host, port) as (bound_host, bound_port):
                    print(f"{bound_host}:{bound_port}", flush=True)
                    await asyncio.Event().wait()
        finally:
            if injector is not None:
                injector.cancel()


def _state_line(s: StateSnapshot, origin: float) -> str:
    faults = "|".join(fault_labels(s.faults)) or "none"
    battery = "mains" if s.battery_pct is None else f"{s.battery_pct:.0f}"
    return (
        f"t={s.t - origin:.3f} speed={s.speed} heat={s.heat} program={s.program} "
        f"temp={s.temperature_c:.1f} battery={battery} faults={faults} cause={s.cause}"
    )


def _command_line(c: CommandRecord, origin: float) -> str:
    value = "-" if c.value is None else str(c.value)
    return f"t={c.t - origin:.3f} command={c.type} value={value} answer={c.answer}" + (
        " retry" if c.retry else ""
    )
