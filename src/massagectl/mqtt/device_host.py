"""One device on a gateway: kept connected, its state published, its commands carried out.

The host owns the link to its device for the gateway's whole life: it connects, publishes what
the device is (``info``, retained) and does (``state``, retained), carries out the commands its
:class:`~.dispatch.Dispatcher` takes from the ``set`` topic (``stop`` at once, ahead of them),
runs massagectl programs on the device in real time, and when the link drops it says so
(``availability`` offline) and reconnects with backoff. Its command worker and poller are
watched: when one of them ends unexpectedly the device is stopped, the host says so (an
``offline`` event) and starts over as after a lost link. The device is stopped on every way
out, as everywhere in massagectl.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ..address import DeviceAddress
from ..connection import connect
from ..device import DeviceState, Massager
from ..errors import DeviceError, LinkLost, MassagectlError, ProgramError, TaskFailed, UsageError
from ..programs.events import (
    Finished,
    HoldChanged,
    IntensityChanged,
    LevelsSent,
    Paused,
    Resumed,
    RunEvent,
    SafetyCut,
    StepStarted,
    Stopped,
    event_name,
)
from ..programs.loader import all_programs, load_program_text
from ..programs.model import Program
from ..runtime.program_run import ProgramRun
from ..runtime.settings import NoSuchProgram, Settings, apply_settings
from ..safety.envelope import Cut
from ..safety.memory import SafetyMemory
from . import payloads
from .answers import Answers
from .commands import NO_PROGRAM, SetCommand
from .discovery import discovery_config, discovery_topic, removal_payload
from .dispatch import Dispatcher
from .outbox import Outbox
from .session_refusal import refused_if_held
from .topics import OFFLINE, ONLINE, DeviceTopics

_log = logging.getLogger(__name__)

#: Reconnect backoff: doubling from the first to the last value, for as long as the gateway runs.
RECONNECT_INITIAL_S: Final = 0.5
RECONNECT_MAX_S: Final = 30.0
#: How often the device is asked for its state (temperature, battery) while connected.
POLL_S: Final = 5.0
#: How long a stop waits for the device to confirm.
STOP_TIMEOUT_S: Final = 2.0


class DeviceHost:
    """Keeps one device connected and on the broker."""

    def __init__(
        self,
        *,
        name: str,
        address: DeviceAddress,
        topics: DeviceTopics,
        outbox: Outbox,
        version: str,
        discovery_prefix: str | None = None,
        poll_s: float = POLL_S,
        journal: Path | None = None,
        connector: Callable[[DeviceAddress], contextlib.AbstractAsyncContextManager[Massager]]
        | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.topics = topics
        self.outbox = outbox
        self.version = version
        self.discovery_prefix = discovery_prefix
        self.poll_s = poll_s
        #: The session journal that records programs run here (None: not recorded).
        self.journal = journal
        #: What the safety envelope counted for this device: kept across reconnects (each makes
        #: a new Massager), so that a link drop ends neither the heat count nor the session.
        self.safety_memory: SafetyMemory | None = None
        self._connect = connector or (lambda addr: connect(addr, safety_memory=self.safety_memory))
        self.massager: Massager | None = None
        #: Set while the device is connected and taking commands.
        self.ready = asyncio.Event()
        #: The ``client`` whose command last made the device active (None: nobody named).
        self.owner: str | None = None
        self.info_doc: dict[str, Any] | None = None
        self.last_error = ""
        self._last_speed_level = 0
        #: Takes this device's commands from the ``set`` topic and hands them to :meth:`apply`.
        self.dispatch = Dispatcher(self, Answers(topics, outbox))
        self._scheduler: ProgramRun | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._program: Program | None = None
        self._presets = {p.name: p for p in all_programs()}
        self.outbox.retain(self.topics.availability, OFFLINE.encode())

    # --- the link's life ---------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, and reconnect with backoff, until cancelled (the device then stops)."""
        delay = RECONNECT_INITIAL_S
        while True:
            try:
                async with self._connect(self.address) as m:
                    delay = RECONNECT_INITIAL_S
                    await self._serve(m)
            except MassagectlError as exc:
                self._went_offline(str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _serve(self, m: Massager) -> None:
        self.massager = m
        self.safety_memory = m.envelope.memory
        self.last_error = ""
        self.info_doc = payloads.info_payload(
            gateway=self.topics.gateway,
            device=self.name,
            name=self.name,
            address=str(self.address),
            profile=m.profile,
            info=m.info,
            programs=sorted(self._presets),
            version=self.version,
        )
        self.outbox.retain(self.topics.info, payloads.dumps(self.info_doc))
        self.publish_discovery()
        unsubscribe = [
            m.subscribe(lambda _state: self.publish_state()),
            m.subscribe_safety(self._on_safety),
        ]
        self.publish_state()
        self.outbox.retain(self.topics.availability, ONLINE.encode())
        self._event("connected", f"{m.profile.title} at {self.address}")
        self.ready.set()
        worker = asyncio.create_task(self.dispatch.work(), name=f"{self.name} commands")
        poller = asyncio.create_task(self._poll(m), name=f"{self.name} poll")
        lost = asyncio.ensure_future(m.link_lost.wait())
        try:
            await asyncio.wait({lost, worker, poller}, return_when=asyncio.FIRST_COMPLETED)
            for task, what in ((worker, "command worker"), (poller, "poller")):
                if task.done():
                    # Neither ends by itself: serving on without it would pretend. The device
                    # is stopped on the way out of the link (as always) and served afresh.
                    raise TaskFailed(f"{self.name}: its {what} ended unexpectedly ({_why(task)})")
            raise LinkLost(str(m.lost_reason or f"{self.address}: link lost"))
        finally:
            lost.cancel()
            self.ready.clear()
            worker.cancel()
            poller.cancel()
            await self._end_run()
            for stop_listening in unsubscribe:
                stop_listening()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(worker, poller, return_exceptions=True)
                await self.dispatch.settle()
            self.massager = None

    def _went_offline(self, why: str) -> None:
        if why != self.last_error:
            _log.warning("%s: %s", self.name, why)
            self._event("offline", why)
        self.last_error = why
        self.outbox.retain(self.topics.availability, OFFLINE.encode())
        self.publish_state()
        # Every command still queued is answered: the device cannot take it now.
        self.dispatch.refuse_waiting(why)

    async def _poll(self, m: Massager) -> None:
        """Ask for the state now and then (temperature and battery move on their own), and keep
        a running program's time left fresh."""
        while True:
            await asyncio.sleep(self.poll_s)
            with contextlib.suppress(DeviceError):
                await m.status()
            if self._scheduler is not None:
                self.publish_state()

    # --- publishing --------------------------------------------------------------------------

    def publish_state(self) -> None:
        """Publish the device's state (retained)."""
        m = self.massager
        if m is None:
            doc = payloads.state_payload(DeviceState(connected=False), None, run=None)
            if self.info_doc is not None:
                doc["speed_levels"] = self.info_doc["capabilities"]["speed_levels"]
                doc["heat_levels"] = self.info_doc["capabilities"]["heat_levels"]
        else:
            doc = payloads.state_payload(m.state, m.info, run=self._run_doc())
        doc["owner"] = self.owner
        # QoS 0: a newer state replaces it soon anyway, and every reconnect publishes it again;
        # at QoS 1 each state waited for the broker's acknowledgement, which (with delayed TCP
        # ACKs) held the command replies queued behind it for tens of milliseconds.
        self.outbox.retain(self.topics.state, payloads.dumps(doc), qos=0)

    def publish_discovery(self, *, again: bool = False) -> None:
        """Publish the Home Assistant discovery document (retained), if discovery is on;
        ``again``: even if it is unchanged (Home Assistant restarted and asks for it)."""
        if self.discovery_prefix is None or self.info_doc is None:
            return
        topic = discovery_topic(self.topics.gateway, self.name, self.discovery_prefix)
        config = payloads.dumps(discovery_config(self.info_doc, self.topics))
        self.outbox.retain(topic, config, again=again)

    def remove_discovery(self) -> None:
        """Take the device out of Home Assistant (an empty retained discovery document)."""
        if self.discovery_prefix is None:
            return
        topic = discovery_topic(self.topics.gateway, self.name, self.discovery_prefix)
        self.outbox.retain(topic, removal_payload())

    def _event(self, kind: str, message: str = "", **extra: Any) -> None:
        self.outbox.send(
            self.topics.events, payloads.dumps(payloads.event_payload(kind, message, **extra))
        )

    def _on_safety(self, cut: Cut) -> None:
        self._event("safety", cut.message)

    def _run_doc(self) -> dict[str, Any] | None:
        scheduler, program = self._scheduler, self._program
        if scheduler is None or program is None:
            return None
        progress = scheduler.progress()
        return {
            "program": program.name,
            "title": program.title,
            "step": progress.segment.label,
            "step_index": progress.segment.index + 1,
            "steps": len(scheduler.timeline.segments),
            "position_s": round(progress.position, 1),
            "duration_s": round(progress.duration, 1),
            "remaining_s": round(progress.total_left, 1),
            "paused": progress.paused,
            "intensity": round(progress.intensity * 100),
        }

    # --- commands ----------------------------------------------------------------------------

    def not_ready_because(self) -> str | None:
        """Why commands cannot be carried out now (None: they can)."""
        if self.massager is None or not self.ready.is_set():
            return self.last_error or "connecting"
        return None

    async def apply(self, command: SetCommand) -> None:
        """Carry out one command on the device (the dispatcher answers it)."""
        m = self.massager
        if m is None:
            raise LinkLost(f"{self.name} is not connected")
        # A device whose session is over starts nothing: the sender is told why, not ok.
        async with refused_if_held(m, command, self.name):
            await self._apply(m, command)

    async def _apply(self, m: Massager, c: SetCommand) -> None:
        if c.if_owner is not None and c.if_owner != self.owner:
            return  # a will (or a careful client) that only stops what it started itself
        if c.stop:
            await self.stop(f"stop from {c.client or 'a command'}")
            return
        if c.safety_reset:
            m.envelope.reset_session()
            self._event("safety", f"session reset by {c.client or 'a command'}")
            return
        if c.run is not None:
            await self._start_run(m, c)
            return
        if c.control is not None or c.intensity is not None:
            self._control(c)
            return
        # Setting the device by hand ends a running massagectl program first.
        await self._end_run()
        try:
            await apply_settings(m, self._settings_of(c))
        except NoSuchProgram as exc:
            # The bridge has always listed a device's programs by name, under its own name.
            known = ", ".join(exc.known) or "(none)"
            raise UsageError(
                f"{self.name}: no device program {exc.wanted!r}; it has: {known}"
            ) from None
        if (c.speed is not None or c.speed_level is not None) and m.state.speed > 0:
            # What ON comes back to: a speed the person set, not whatever level a device
            # program happened to be at.
            self._last_speed_level = m.state.speed
        self.owner = c.client if m.state.active else None
        self.publish_state()

    def _settings_of(self, c: SetCommand) -> Settings:
        """What a ``set`` command asks, as the settings call takes it (which checks it all)."""
        program = c.device_program
        if isinstance(program, str) and program.lower() == NO_PROGRAM:
            program = 0
        # The schema takes "on" and "off" in either case (a bare word typed at mosquitto_pub).
        power = c.power.upper() if c.power is not None else None
        # The fan's off: the motor (and a device program) stop; the heat is its own control.
        # On comes back to the last speed set here (or the lowest).
        level = {"OFF": 0, "ON": self._last_speed_level or 1}.get(power or "", c.speed_level)
        speed = None if power is not None or c.speed is None else c.speed / 100
        return Settings(speed=speed, speed_level=level, heat=c.heat, program=program)

    # --- massagectl programs on the gateway -----------------------------------------------

    async def _start_run(self, m: Massager, c: SetCommand) -> None:
        program = self._program_from(c.run)
        await self._end_run()
        if program is None:
            return
        intensity = 1.0 if c.intensity is None else c.intensity / 100
        source = "preset" if isinstance(c.run, str) else f"inline, from {self.topics.set}"
        # Recorded like a run from the command line; a journal that cannot take it refuses the
        # run (the sender is told) before anything is sent.
        run = ProgramRun(program, [m], intensity=intensity, journal=self.journal, source=source)
        await run.open()
        run.subscribe(self._on_run_event)
        self._scheduler, self._program = run, program
        self.owner = c.client
        self._run_task = asyncio.create_task(self._run(run, program), name=f"{self.name} run")
        self._event("started", f"program {program.name}", program=program.name)
        self.publish_state()

    def _program_from(self, run: str | dict[str, Any] | None) -> Program | None:
        if isinstance(run, dict):
            # The same format as a YAML file (JSON is YAML); errors name the field.
            return load_program_text(json.dumps(run), f"{self.topics.set} run")
        if run is None or run.lower() == NO_PROGRAM:
            return None
        # Presets by name only: a remote payload never names a file on the gateway.
        try:
            return self._presets[run]
        except KeyError:
            known = ", ".join(sorted(self._presets))
            raise ProgramError(f"unknown program {run!r}; the presets are: {known}") from None

    async def _run(self, run: ProgramRun, program: Program) -> None:
        error: BaseException | None = None
        try:
            outcome = await run.run()
            self._event(outcome, f"program {program.name} {outcome}", program=program.name)
        except MassagectlError as exc:
            error = exc
            self._event("error", str(exc), program=program.name)
        except BaseException as exc:
            error = exc
            raise
        finally:
            await run.close(error)
            if self._scheduler is run:
                self._scheduler, self._program, self._run_task = None, None, None
                m = self.massager
                if m is None or not m.state.active:
                    self.owner = None
                self.publish_state()

    def _on_run_event(self, event: RunEvent) -> None:
        if isinstance(event, LevelsSent | Finished | Stopped | SafetyCut):
            # The state says what was sent; how the run ended is told once, by _run; safety
            # cuts come from the device layer already (_on_safety).
            return
        extra: dict[str, Any] = {"program": self._program.name if self._program else None}
        if isinstance(event, StepStarted):
            extra["step"] = event.segment.label
            extra["step_index"] = event.segment.index + 1
            if event.segment.step.cue:
                extra["cue"] = event.segment.step.cue
        self._event(event_name(event), event.message, **extra)
        if isinstance(event, StepStarted | Paused | Resumed | IntensityChanged | HoldChanged):
            self.publish_state()

    def _control(self, c: SetCommand) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            raise UsageError(f"{self.name}: no program is running")
        if c.intensity is not None:
            scheduler.set_intensity(c.intensity / 100)
        actions: dict[str, Callable[[], object]] = {
            "pause": scheduler.pause,
            "resume": scheduler.resume,
            "next": scheduler.next_step,
            "previous": scheduler.previous_step,
            "extend_hold": scheduler.extend_hold,
            "end_hold": scheduler.end_hold,
        }
        if c.control is not None:
            actions[c.control]()
        self.publish_state()

    async def _end_run(self) -> None:
        scheduler, task = self._scheduler, self._run_task
        if scheduler is None or task is None:
            return
        scheduler.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    # --- stopping ----------------------------------------------------------------------------

    async def stop(self, why: str) -> None:
        """Stop the device now, and any program running on it."""
        m = self.massager
        if self._scheduler is not None:
            self._scheduler.stop()
        if m is not None:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await m.stop()
        await self._end_run()
        self.owner = None
        _log.info("%s: stopped (%s)", self.name, why)
        self.publish_state()

    def broker_lost(self) -> None:
        """The gateway lost the broker: a device driven by a remote client that can no longer
        reach it (nor stop it) is stopped; programs running here go on, ending at rest."""
        if self.owner is None or self.massager is None:
            return
        owner = self.owner
        self._event("stopped", f"the broker went away while {owner} drove this device")
        # Nothing accepted before the loss may restart the device after this stop.
        self.dispatch.overtake()

        async def stop_quietly() -> None:
            with contextlib.suppress(MassagectlError, TimeoutError):
                await self.stop(f"broker lost while {owner} drove it")

        asyncio.get_running_loop().create_task(stop_quietly())


def _why(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return "returned" if exc is None else f"{type(exc).__name__}: {exc}"
