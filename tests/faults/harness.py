"""Running one program on one simulated device under virtual time, with a fault injected.

:func:`run_with_fault` reaches a simulated device the way its family is met, as
:func:`massagectl.connection.connect` does for ``sim:`` addresses: OMP/1 in process or over a
real pseudo-terminal and pyserial; Theragun, Lovense and RongTai through massagesim's bleak
backend and bleak's real client; Lovense also over its serial link. It runs :data:`PROGRAM` with
the :class:`~massagectl.programs.scheduler.Scheduler`, injects the fault at a chosen program time
(or before the host connects), and keeps what a test may look at afterwards in a
:class:`FaultRun`: the scheduler's events, how the run ended, and the simulator's own record.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from massagectl.clock import VirtualClock
from massagectl.device import Massager
from massagectl.errors import MassagectlError
from massagectl.journal.recorder import RunRecorder, outcome_of
from massagectl.journal.store import EventRecord, Journal, RunRecord
from massagectl.profiles import get_profile
from massagectl.programs.events import RunEvent, event_name
from massagectl.programs.model import Program
from massagectl.programs.scheduler import OnDisconnect, Outcome, Scheduler
from massagectl.transports.base import Transport
from massagectl.transports.inprocess import InProcessTransport
from massagectl.transports.serial import SerialTransport
from massagesim import SimulatedDevice, StateSnapshot, serve_pty
from massagesim.ble import SimBleRadio, SimBleTransport

#: How a simulated device is reached.
Link = Literal["inproc", "pty", "ble", "serial"]
#: Whether the fault goes in mid-run (at program time ``at``) or before the host connects.
Phase = Literal["run", "connect"]

#: Three minutes with speed and heat (the heat is left out on a device without a heater).
PROGRAM = Program.model_validate(
    {
        "name": "fault-matrix",
        "title": "Speed and heat for the fault matrix",
        "steps": [
            {"name": "warm", "duration": "60s", "speed": "30%", "heat": "low", "ramp": "5s"},
            {"name": "deep", "duration": "60s", "speed": "70%", "heat": "high"},
            {"name": "ease", "duration": "60s", "speed": "40%", "heat": "off"},
        ],
    }
)
#: The program's length, and when its last step (a speed change, the heat off) begins.
PROGRAM_S = 180.0
EASE_AT = 120.0
#: How long the device is watched after the run, on its own (a watchdog may still stop it).
AFTERWARDS_S = 30.0

Inject = Callable[[SimulatedDevice], None]


@dataclass
class FaultRun:
    """What one run with a fault left behind."""

    profile: str
    link: Link
    #: The device's name as the host calls it (``sim:PROFILE``, ``serial:/dev/pts/N``).
    name: str = ""
    #: Clock time of program time 0, and of the run's end.
    origin: float = 0.0
    end: float = 0.0
    #: Every scheduler event, in order (the journal's record of the run can be checked on it).
    events: list[RunEvent] = field(default_factory=list)
    outcome: Outcome | None = None
    #: The error the run (or the connection) ended with, if any.
    error: MassagectlError | None = None
    #: The simulator's own record of the device.
    states: list[StateSnapshot] = field(default_factory=list)
    #: The session journal's record of the run, as ``massagectl history`` would show it.
    journal: RunRecord | None = None
    journal_events: list[EventRecord] = field(default_factory=list)

    @property
    def final(self) -> StateSnapshot:
        """The device's state at the end, by its own record."""
        return self.states[-1]

    def told(self) -> list[RunEvent]:
        """The events that tell the person that something went wrong."""
        return [e for e in self.events if event_name(e) in ("refused", "lost", "fault", "warning")]

    def state_at(self, t: float) -> StateSnapshot:
        """The device's state at program time ``t``, by its own record."""
        return [s for s in self.states if s.t - self.origin <= t + 1e-9][-1]

    def at_rest_from(self) -> float | None:
        """Program time from which the device stayed at rest to the end (None: it did not)."""
        since: float | None = None
        for s in self.states:
            if s.active:
                since = None
            elif since is None:
                since = s.t
        return None if since is None else since - self.origin


async def run_with_fault(
    profile: str,
    link: Link,
    inject: Inject | None,
    *,
    at: float = 90.0,
    phase: Phase = "run",
    on_disconnect: OnDisconnect = "stop",
) -> FaultRun:
    """Run :data:`PROGRAM` with ``inject`` applied at program time ``at`` (or, with ``phase``
    "connect", before the host connects). A massagectl error is kept, not raised."""
    clock = VirtualClock()
    prof = get_profile(profile)
    run = FaultRun(profile, link)
    async with asyncio.timeout(20), clock.running(), SimulatedDevice(prof, clock) as device:
        try:
            async with contextlib.AsyncExitStack() as stack:
                if phase == "connect" and inject is not None:
                    inject(device)
                transport, run.name = await _transport(stack, device, link, clock)
                massager = Massager(transport, prof, clock=clock, name=run.name)
                await stack.enter_async_context(massager)
                scheduler = Scheduler(
                    PROGRAM,
                    [massager],
                    clock=clock,
                    on_event=run.events.append,
                    on_disconnect=on_disconnect,
                )
                journal = Journal(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "j")
                recorder = RunRecorder(journal, scheduler, [massager], source="preset")
                run.origin = clock.now()
                injector = None
                if phase == "run" and inject is not None:
                    injector = asyncio.ensure_future(
                        _inject_at(clock, run.origin + at, device, inject)
                    )
                error: BaseException | None = None
                try:
                    run.outcome = await scheduler.run()
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    if injector is not None:
                        injector.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await injector
                    recorder.end(*outcome_of(error, run.outcome))
                    (run.journal,) = journal.runs()
                    run.journal_events = journal.events(run.journal.id)
        except MassagectlError as exc:
            run.error = exc
        run.end = clock.now()
        # The host is gone; what the device does by itself from here counts too.
        await clock.sleep_until(run.end + AFTERWARDS_S)
        run.states = device.timeline.states()
    return run


async def _transport(
    stack: contextlib.AsyncExitStack, device: SimulatedDevice, link: Link, clock: VirtualClock
) -> tuple[Transport, str]:
    name = f"sim:{device.profile.name}"
    if link == "pty":
        path = await stack.enter_async_context(serve_pty(device))
        return SerialTransport(path, clock=clock), f"serial:{path}"
    if link == "ble":
        peripheral = SimBleRadio().add(device)
        return SimBleTransport(peripheral, description=name, clock=clock), name
    return InProcessTransport(device, name, clock=clock), name


async def _inject_at(
    clock: VirtualClock, t: float, device: SimulatedDevice, inject: Inject
) -> None:
    await clock.sleep_until(t)
    inject(device)
