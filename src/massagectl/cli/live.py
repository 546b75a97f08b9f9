"""Watching and steering a running program: a live terminal view with keys, or one line per step.

On a terminal (stdin and stdout both ttys) ``massagectl run`` shows a live view (rich) and reads
single keys: the terminal goes into cbreak mode (no echo, no line buffering; Ctrl-C still sends
SIGINT) for the run and is put back as it was on every way out — the end, ``q``, an error, or a
signal, which the runner turns into a cancellation that passes through the ``finally`` blocks
here. Without a terminal it prints one line per step and a final line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..programs import events as ev
from ..programs.check import CheckReport
from ..programs.progress import Outcome, Progress
from ..programs.timeline import DeviceRange
from ..runtime.program_run import ProgramRun
from .program_render import (
    clock_text,
    heat_text,
    levels_text,
    speed_text,
    step_heat_part,
    step_speed_part,
    step_text,
)

#: How often the live view redraws, wall seconds.
REFRESH_S: Final = 0.2
#: How long a message (a refused setting, a hold extended) stays on the live view, wall seconds.
MESSAGE_S: Final = 4.0
#: One press of ``+`` or ``-``.
INTENSITY_STEP: Final = 0.1

KEYS_HELP: Final = (
    "space pause/resume · n next · p previous · +/- intensity · h longer hold · "
    "Enter end hold · q stop"
)


@dataclass(frozen=True, slots=True)
class DeviceView:
    """One device of a run, as the views show it."""

    name: str
    device: DeviceRange
    report: CheckReport
    program_names: tuple[str, ...] = ()


def interactive() -> bool:
    """Whether to show the live view and read keys (stdin and stdout are terminals)."""
    try:
        return os.isatty(sys.stdin.fileno()) and os.isatty(sys.stdout.fileno())
    except (OSError, ValueError):  # closed or replaced streams
        return False


def step_summary(index: int, views: list[DeviceView]) -> str:
    """``speed 30% (3/10), heat low (1/2)``: what a step asks, and what each device gets."""
    step = views[0].report.steps[index].step
    speeds = [
        part
        for v in views
        if (part := step_speed_part(v.report.steps[index], v.device, v.program_names))
    ]
    heats = [part for v in views if (part := step_heat_part(v.report.steps[index], v.device))]
    if step.device_program is not None:
        speed = " | ".join(speeds)
    else:
        speed = f"speed {speed_text(step)}" + (f" ({' | '.join(speeds)})" if speeds else "")
    heat = f"heat {heat_text(step)}"
    if heats and not step.heat.is_off:
        heat += f" ({' | '.join(heats)})"
    return f"{speed}, {heat}"


def _refused(event: ev.Refused | ev.DeviceWarning) -> None:
    print(f"massagectl: warning: {event.message}", file=sys.stderr, flush=True)


def _final_line(outcome: Outcome | None, scheduler: ProgramRun, hours: bool) -> str:
    program = scheduler.program
    if outcome == "finished":
        return f"finished: {program.name}, {clock_text(scheduler.duration, hours=hours)}"
    progress = scheduler.progress()
    return (
        f"stopped at {clock_text(progress.position, hours=hours)} of "
        f"{clock_text(progress.duration, hours=hours)} "
        f"(step {progress.segment.index + 1}/{len(scheduler.timeline.segments)} "
        f"{progress.segment.label})"
    )


class LineView:
    """One line per step on stdout, refused settings on stderr, and a final line."""

    def __init__(self, scheduler: ProgramRun, views: list[DeviceView], out: TextIO | None = None):
        self.scheduler = scheduler
        self.views = views
        self.out = out or sys.stdout
        self.hours = scheduler.duration >= 3600

    def on_event(self, event: ev.RunEvent) -> None:
        """Print what a person following along needs."""
        match event:
            case ev.StepStarted(segment=seg):
                total = len(self.scheduler.timeline.segments)
                line = (
                    f"[{clock_text(seg.start, hours=self.hours)}] step {seg.index + 1}/{total} "
                    f"{seg.label} — {step_summary(seg.index, self.views)}"
                )
                if seg.step.cue:
                    line += f" — {seg.step.cue}"
                print(line, file=self.out, flush=True)
            case ev.Refused() | ev.DeviceWarning():
                _refused(event)
            case ev.LinkDropped() | ev.Reconnected():
                _link_event(event)
            case ev.SafetyCut():
                _safety_event(event)

    async def run(self) -> Outcome:
        """Run the scheduler to its end, printing as it goes."""
        names = ", ".join(v.name for v in self.views)
        intensity = self.scheduler.intensity
        print(
            f"{self.scheduler.program.name}: {self.scheduler.program.title}, "
            f"{clock_text(self.scheduler.duration, hours=self.hours)} on {names}"
            + (f" at {intensity:.0%} intensity" if intensity != 1.0 else ""),
            file=self.out,
            flush=True,
        )
        unsubscribe = self.scheduler.subscribe(self.on_event)
        outcome: Outcome | None = None
        try:
            outcome = await self.scheduler.run()
            return outcome
        finally:
            unsubscribe()
            print(_final_line(outcome, self.scheduler, self.hours), file=self.out, flush=True)


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Keys one at a time and unechoed for the block; the terminal's settings come back after.

    Only echo and canonical mode are turned off: signals (Ctrl-C), output processing and CR to
    NL translation stay as they were.
    """
    saved = termios.tcgetattr(fd)
    changed = termios.tcgetattr(fd)
    changed[3] &= ~(termios.ECHO | termios.ICANON)
    changed[6][termios.VMIN] = 1
    changed[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, changed)
    try:
        yield
    finally:
        # A terminal that hung up (SIGHUP) cannot be restored, and needs not be: that must not
        # turn a clean stop into a traceback.
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def key_reader(fd: int, on_key: Callable[[str], None]) -> Iterator[None]:
    """Call ``on_key`` with each key typed on ``fd`` while the block runs (on the event loop)."""
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the terminal went away: stop listening rather than spin
            loop.remove_reader(fd)
            return
        if data.startswith(b"\x1b"):  # arrow and function keys: not ours
            return
        for char in data.decode("utf-8", "replace"):
            on_key(char)

    with cbreak(fd):
        loop.add_reader(fd, readable)
        try:
            yield
        finally:
            loop.remove_reader(fd)


class LiveView:
    """The live terminal view of a run, steered by keys."""

    def __init__(
        self,
        scheduler: ProgramRun,
        views: list[DeviceView],
        console: Console | None = None,
        stdin_fd: int | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.views = views
        self.console = console or Console()
        self.fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
        self.hours = scheduler.duration >= 3600
        self._message = ""
        self._message_until = 0.0
        self._stopping = False
        self._redraw = asyncio.Event()

    # --- input ---------------------------------------------------------------------------

    def on_key(self, key: str) -> None:
        """Steer the run: the keys listed in :data:`KEYS_HELP`."""
        s = self.scheduler
        if key == " ":
            s.toggle_pause()
        elif key in "nN":
            s.next_step()
        elif key in "pP":
            s.previous_step()
        elif key in "+=":
            s.adjust_intensity(+INTENSITY_STEP)
        elif key in "-_":
            s.adjust_intensity(-INTENSITY_STEP)
        elif key in "hH":
            if not s.extend_hold():
                self._say("not in a hold" if not self._in_hold() else "the hold is at its longest")
        elif key in "\r\n":
            if not s.end_hold():
                self._say("not in a hold")
        elif key in "qQ":
            self._stopping = True
            self._say("stopping")
            s.stop()
        else:
            return
        self._redraw.set()

    def on_event(self, event: ev.RunEvent) -> None:
        """Show what the scheduler tells."""
        match event:
            case ev.Refused() | ev.DeviceWarning():
                _refused(event)
                self._say(event.message)
            case ev.LinkDropped() | ev.Reconnected():
                _link_event(event)
                what = "link lost" if isinstance(event, ev.LinkDropped) else "reconnected"
                self._say(f"{event.device}: {what}")
            case ev.SafetyCut():
                _safety_event(event)
                self._say(f"safety: {event.message}")
            case ev.HoldChanged():
                self._say(event.message)
        if not isinstance(event, ev.LevelsSent):
            self._redraw.set()

    def _in_hold(self) -> bool:
        return self.scheduler.progress().segment.step.hold

    def _say(self, message: str) -> None:
        self._message = message
        self._message_until = time.monotonic() + MESSAGE_S

    # --- running -------------------------------------------------------------------------

    async def run(self) -> Outcome:
        """Run the scheduler with the live view and the keys; the terminal is restored after."""
        unsubscribe = self.scheduler.subscribe(self.on_event)
        outcome: Outcome | None = None
        try:
            with (
                key_reader(self.fd, self.on_key),
                Live(
                    self.render(),
                    console=self.console,
                    auto_refresh=False,
                    transient=False,
                    redirect_stdout=True,
                    redirect_stderr=True,
                ) as live,
            ):
                refresher = asyncio.create_task(self._refresh(live), name="live view")
                try:
                    outcome = await self.scheduler.run()
                finally:
                    refresher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await refresher
                    live.update(self.render(outcome), refresh=True)
            return outcome
        finally:
            unsubscribe()
            self.console.print(_final_line(outcome, self.scheduler, self.hours), highlight=False)

    async def _refresh(self, live: Live) -> None:
        while True:
            live.update(self.render(), refresh=True)
            self._redraw.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_S):
                    await self._redraw.wait()

    # --- drawing -------------------------------------------------------------------------

    def render(self, outcome: Outcome | None = None) -> RenderableType:
        """The view as it is now."""
        s = self.scheduler
        p = s.progress()
        seg = p.segment
        total = len(s.timeline.segments)
        state = (
            outcome
            if outcome is not None
            else "stopping"
            if self._stopping
            else "PAUSED"
            if p.paused
            else "running"
        )
        title = Text.assemble(
            (f"{s.program.title}", "bold"),
            f" ({s.program.name})   ",
            (f"[{state}]", "bold yellow" if p.paused else "bold"),
        )
        # The program's own values; what each device is at right now is on its row below.
        step_line = Text.assemble(
            (f"step {seg.index + 1}/{total}", "bold"),
            f"  {seg.label}   ",
            (step_text(seg.step), "dim"),
        )
        rows: list[RenderableType] = [title, step_line]
        if seg.step.cue:
            rows.append(Text(f"cue: {seg.step.cue}", style="italic"))
        if seg.step.hold and seg.step.max_duration is not None:
            rows.append(
                Text(
                    f"hold: {clock_text(seg.duration)} of up to "
                    f"{clock_text(seg.step.max_duration)} (h longer, Enter to end it)"
                )
            )
        rows.append(self._times(p))
        # A bar on its own does not end its line; a grid row does.
        bar = Table.grid(padding=(0, 2))
        bar.add_row(
            ProgressBar(total=max(p.duration, 1e-9), completed=p.position, width=60),
            f"{p.position / p.duration:.0%}" if p.duration else "",
        )
        rows.append(bar)
        rows.append(self._devices(p))
        if self._message and time.monotonic() < self._message_until:
            rows.append(Text(self._message, style="yellow"))
        rows.append(Text(f"keys: {KEYS_HELP}", style="dim"))
        return Group(*rows)

    def _times(self, p: Progress) -> Text:
        h = self.hours
        return Text(
            f"step left {clock_text(p.step_left, hours=h)}   "
            f"total left {clock_text(p.total_left, hours=h)} of {clock_text(p.duration, hours=h)}"
            f"   intensity {p.intensity:.0%}" + ("   paused" if p.paused else "")
        )

    def _devices(self, p: Progress) -> Table:
        table = Table.grid(padding=(0, 3))
        for _ in range(3):
            table.add_column()
        for view in self.views:
            levels = p.levels.get(view.name)
            now = levels_text(levels, view.device, view.program_names) if levels else "-"
            issues = view.report.steps[p.segment.index].issues
            skipped = "; ".join(str(i) for i in issues)
            table.add_row(view.name, now, Text(skipped, style="yellow") if skipped else "")
        return table


def _link_event(event: ev.LinkDropped | ev.Reconnected) -> None:
    """Tell the person about a dropped or recovered link on stderr."""
    if isinstance(event, ev.LinkDropped):
        # The reason usually names the device already (it comes from its link).
        reason = event.message.removeprefix(f"{event.device}: ")
        print(f"massagectl: warning: {event.device}: {reason}", file=sys.stderr, flush=True)
    else:
        print(f"massagectl: {event.device}: reconnected", file=sys.stderr, flush=True)


def _safety_event(event: ev.SafetyCut) -> None:
    """Tell the person what the safety envelope held back or ended, on stderr."""
    print(f"massagectl: safety: {event.device}: {event.message}", file=sys.stderr, flush=True)
