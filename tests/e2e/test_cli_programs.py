"""End to end: the program commands (programs, show, check, run) through the real command line."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from massagectl.cli.live import LineView
from massagectl.cli.program_commands import device_view
from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.programs.loader import load_program_text
from massagectl.programs.scheduler import Scheduler
from massagectl.transports.inprocess import InProcessTransport

from .support import CLI, SimLine, SimProcess, massagectl, spawn
from .test_cli_bad_input import assert_one_line_error

PRESETS = [
    "classic-back",
    "lower-back",
    "partner-back",
    "quick-relief",
    "upper-back",
    "warm-up-knead",
]

#: Three short steps: a speed change and heat, then heat off. About 4 s in all.
SHORT = """\
name: short-run
title: Short run
needs: [speed, heat]
steps:
  - name: warm
    duration: 1.5s
    speed: 30%
    heat: low
    cue: Rest it on the lower back.
  - name: firmer
    duration: 1.5s
    speed: 60%
    heat: low
  - name: ease off
    duration: 1s
    speed: 20%
"""

#: One long step, for interrupting a run.
LONG = """\
name: long-run
title: Long run
steps:
  - name: steady
    duration: 5m
    speed: 50%
"""

WITH_HEAT = """\
name: warm-back
title: Warm back
needs: [speed, heat]
steps:
  - name: warm strokes
    duration: 1m
    speed: 30%
    heat: medium
  - name: strokes
    duration: 2m
    speed: 40%
"""


def write(tmp_path: Path, text: str) -> str:
    name = re.search(r"^name: (\S+)", text, re.MULTILINE)
    assert name is not None
    path = tmp_path / f"{name.group(1)}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def wand() -> Iterator[SimProcess]:
    """A simulated handheld massager with heat (10 speeds, 2 heat levels) on a pty."""
    sim = SimProcess("omp-wand-heat")
    yield sim
    sim.close()


# --- programs and show ---------------------------------------------------------------------


def test_programs_lists_the_six_presets() -> None:
    done = massagectl("programs")
    assert done.returncode == 0, done.stderr
    for name in PRESETS:
        assert name in done.stdout
    assert "Classic therapeutic back massage (R5)" in done.stdout
    assert "54m15s" in done.stdout  # classic-back's length


def test_show_prints_the_steps_in_run_order() -> None:
    done = massagectl("show", "classic-back")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "levels on omp-wand-heat" in out
    for fragment in ("warming strokes", "medium", "→ 1/2", "up to 30s", "(again)", "cue"):
        assert fragment in out, fragment
    # Repeats unrolled, and the finish back through the gentle phases after everything else.
    assert out.rindex("open-palm stroking (again)") > out.rindex("press deeper (3/3)")
    assert re.search(r"│ 27 │ open-palm stroking \(again\)\s+│ 52:15 │ 2m ", out)


def test_show_writes_a_png_plot(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    done = massagectl("show", "classic-back", "--plot", str(target))
    assert done.returncode == 0, done.stderr
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000


def test_show_writes_an_svg_plot(tmp_path: Path) -> None:
    target = tmp_path / "x.svg"
    done = massagectl("show", "quick-relief", "--plot", str(target), "--profile", "omp-neck-rest")
    assert done.returncode == 0, done.stderr
    text = target.read_text(encoding="utf-8")
    assert "<svg" in text[:2000]
    assert len(text) > 10_000
    assert "levels on omp-neck-rest" in done.stdout


def test_show_refuses_a_plot_it_cannot_write(tmp_path: Path) -> None:
    done = massagectl("show", "quick-relief", "--plot", str(tmp_path / "x.gif"))
    assert_one_line_error(done, 2, "x.gif", ".png or .svg")


def test_show_of_an_unknown_program_names_it() -> None:
    done = massagectl("show", "back-to-front")
    assert_one_line_error(done, 2, "back-to-front", "quick-relief")


# --- check ---------------------------------------------------------------------------------

MALFORMED = {
    "unknown field": (
        "  - name: a\n    duration: 5s\n    colour: red\n",
        ":6: steps[0].colour: unknown field",
    ),
    "negative duration": (
        "  - name: a\n    duration: -5s\n",
        ":5: steps[0].duration:",
    ),
    "150% speed": (
        "  - name: a\n    duration: 5s\n    speed: 150%\n",
        ":6: steps[0].speed:",
    ),
    "use of an unknown step": (
        "  - name: a\n    duration: 5s\n  - use: warm-up\n",
        ":6: steps[1].use:",
    ),
    "repeat 0": (
        "  - repeat: 0\n    steps:\n      - name: a\n        duration: 5s\n",
        ":4: steps[0].repeat:",
    ),
    "YAML syntax error": (
        "  - name: a\n    duration: 5s\n   speed: 30%\n",
        ":6: not valid YAML",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_check_names_file_and_line_of_a_malformed_program(tmp_path: Path, case: str) -> None:
    body, where = MALFORMED[case]
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ntitle: Bad\nsteps:\n" + body, encoding="utf-8")
    done = massagectl("check", str(path))
    assert_one_line_error(done, 2, f"{path}{where}")
    assert done.stdout == ""


def test_check_of_a_good_program(tmp_path: Path) -> None:
    done = massagectl("check", write(tmp_path, WITH_HEAT))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ok: warm-back, 2 steps, 3m"
    assert "heat exposure: 1m with heat on" in lines[1]


def test_check_against_a_device_without_heater(tmp_path: Path) -> None:
    done = massagectl("check", write(tmp_path, WITH_HEAT), "--profile", "omp-percussion-pro")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("ok: warm-back")
    assert "heat skipped" in out
    assert "warning: warm-back needs heat, and this device has no heater" in out
    assert "4/13" in out  # 30% of 13 speeds
    assert "heat exposure: none" in out


def test_check_against_a_device_with_heater(tmp_path: Path) -> None:
    done = massagectl("check", write(tmp_path, WITH_HEAT), "--profile", "omp-wand-heat")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "levels on omp-wand-heat: 10 speeds, 2 heat levels" in out
    assert "3/10" in out
    assert "4/10" in out
    assert "1/2" in out  # medium (two thirds) of a 2-level heater
    assert "skipped" not in out
    assert "peak level 1/2" in out


def test_check_reads_the_device_itself(tmp_path: Path, wand: SimProcess) -> None:
    done = massagectl("check", write(tmp_path, WITH_HEAT), "--device", wand.address("omp"))
    assert done.returncode == 0, done.stderr
    assert "10 speeds, 2 heat levels, 3 built-in programs" in done.stdout
    time.sleep(0.2)
    assert not [s for s in wand.drain() if s.speed or s.heat]  # reading INFO changes nothing


def test_check_takes_a_device_or_a_profile_not_both(tmp_path: Path) -> None:
    done = massagectl(
        "check", write(tmp_path, WITH_HEAT), "--profile", "omp-wand-heat", "--device", "sim:omp"
    )
    assert_one_line_error(done, 2, "not both")


# --- run without a terminal ----------------------------------------------------------------


def test_run_with_speedup_on_the_default_simulator() -> None:
    started = time.monotonic()
    done = massagectl("run", "quick-relief", "--speedup", "200")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(steps) == 9
    assert steps[0].startswith("[00:00] step 1/9 circles on the tight spots — speed wave 25–45%")
    assert "heat low (1/2)" in steps[0]
    assert steps[1].startswith("[03:30] step 2/9 long strokes beside the spine — speed 30% (3/10)")
    assert steps[-1].startswith("[07:30] step 9/9")
    assert done.stdout.splitlines()[-1].startswith("finished")
    # 600 s of program at 200x is 3 s of wall time: not much less (the clock is scaled, not
    # skipped), and not much more than that plus the interpreter's start.
    assert 2.9 <= elapsed <= 9.0, elapsed


def states(lines: list[SimLine]) -> list[tuple[int, int]]:
    """(speed, heat) as the device went through them, repeats dropped."""
    out: list[tuple[int, int]] = []
    for line in lines:
        if not out or out[-1] != (line.speed, line.heat):
            out.append((line.speed, line.heat))
    return out


def test_run_on_a_device_on_a_pty(tmp_path: Path, wand: SimProcess) -> None:
    started = time.monotonic()
    done = massagectl("run", write(tmp_path, SHORT), "--device", wand.address())
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert [line[:20] for line in done.stdout.splitlines() if line.startswith("[")] == [
        "[00:00] step 1/3 war",
        "[00:01] step 2/3 fir",
        "[00:03] step 3/3 eas",
    ]
    assert "speed 30% (3/10), heat low (1/2) — Rest it on the lower back." in done.stdout
    assert done.stdout.splitlines()[-1].startswith("finished")
    assert elapsed >= 4.0
    wand.wait_for(lambda s: s.speed == 0 and s.heat == 0)
    time.sleep(0.2)
    seen = wand.history + wand.drain()
    assert states(seen) == [(3, 0), (3, 1), (6, 1), (2, 1), (2, 0), (0, 0)]
    first, second, last = (next(s for s in seen if s.speed == v) for v in (3, 6, 2))
    # Real time: the steps last 1.5 s, 1.5 s and 1 s.
    assert 1.3 <= second.t - first.t <= 1.8
    assert 1.3 <= last.t - second.t <= 1.8
    assert 0.8 <= seen[-1].t - last.t <= 1.3


def test_speedup_is_refused_for_a_real_device(tmp_path: Path, wand: SimProcess) -> None:
    done = massagectl("run", write(tmp_path, SHORT), "--device", wand.address(), "--speedup", "10")
    assert_one_line_error(done, 2, "--speedup", wand.path)
    time.sleep(0.3)
    assert wand.drain() == []


@pytest.mark.parametrize(
    ("text", "fragment"), [("200%", "0% to 150%"), ("fast", "percentage"), ("-5%", "percentage")]
)
def test_bad_intensity_is_refused(text: str, fragment: str) -> None:
    done = massagectl("run", "quick-relief", "--intensity", text)
    assert_one_line_error(done, 2, "--intensity", fragment)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_run_stops_the_device(
    tmp_path: Path, wand: SimProcess, sig: signal.Signals
) -> None:
    host = spawn("run", write(tmp_path, LONG), "--device", wand.address())
    try:
        wand.wait_for(lambda s: s.speed == 5)
        host.send_signal(sig)
        out, err = host.communicate(timeout=10)
    finally:
        if host.poll() is None:
            host.kill()
    assert host.returncode == 128 + sig
    assert "Traceback" not in err
    assert sig.name in err
    assert out.splitlines()[-1].startswith("stopped at 00:0")
    stopped = wand.wait_for(lambda s: s.speed == 0, timeout=2)
    assert stopped.cause == "STOP"


# --- the live view on a terminal -----------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


class Terminal:
    """The CLI on a real pseudo-terminal: what it shows, and keys typed at it."""

    def __init__(self, *args: str) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
        env["TERM"] = "xterm-256color"
        self.proc = subprocess.Popen(
            [*CLI, *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            env=env,
            start_new_session=True,
        )
        self._screen: list[str] = []
        self._lock = threading.Lock()
        self.seen = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._screen.append(_ANSI.sub("", data.decode("utf-8", "replace")))

    @property
    def text(self) -> str:
        """Everything shown so far, control sequences removed."""
        with self._lock:
            return "".join(self._screen)

    def wait_for(self, fragment: str, timeout: float = 10.0) -> None:
        """Wait until ``fragment`` shows up after what earlier waits found."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = self.text.find(fragment, self.seen)
            if at >= 0:
                self.seen = at + len(fragment)
                return
            time.sleep(0.02)
        raise AssertionError(f"{fragment!r} not shown within {timeout} s: {self.text[-2000:]}")

    def type(self, keys: str) -> None:
        """Type keys."""
        os.write(self.master, keys.encode())

    def lflag(self) -> int:
        """The terminal's local modes now."""
        return int(termios.tcgetattr(self.slave)[3])

    def close(self) -> None:
        """Kill the process if it is still there, and close the terminal."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal() -> Iterator[Callable[..., Terminal]]:
    made: list[Terminal] = []

    def make(*args: str) -> Terminal:
        made.append(Terminal(*args))
        return made[-1]

    yield make
    for t in made:
        t.close()


def test_live_view_takes_keys_and_restores_the_terminal(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal("run", "quick-relief", "--speedup", "50")
    assert term.lflag() & termios.ECHO  # a fresh terminal echoes
    term.wait_for("step 1/9")
    term.wait_for("intensity 100%")
    # While the run goes, keys are read one at a time and not echoed.
    mode = term.lflag()
    assert not mode & termios.ECHO
    assert not mode & termios.ICANON
    assert mode & termios.ISIG  # Ctrl-C still stops it

    term.type("n")
    term.wait_for("step 2/9")
    term.type("+")
    term.wait_for("intensity 110%")
    term.type(" ")
    term.wait_for("PAUSED")
    term.type(" ")
    term.wait_for("[running]")
    term.type("q")
    assert term.proc.wait(10) == 0
    term.wait_for("stopped at")
    assert "Traceback" not in term.text
    mode = term.lflag()
    assert mode & termios.ECHO
    assert mode & termios.ICANON


def test_live_view_restores_the_terminal_on_sigterm(terminal: Callable[..., Terminal]) -> None:
    term = terminal("run", "quick-relief", "--speedup", "20")
    term.wait_for("step 1/9")
    assert not term.lflag() & termios.ECHO
    term.proc.send_signal(signal.SIGTERM)
    assert term.proc.wait(10) == 128 + signal.SIGTERM
    term.wait_for("stopped at")
    assert "Traceback" not in term.text
    assert term.lflag() & termios.ECHO
    assert term.lflag() & termios.ICANON


async def test_a_refused_setting_is_shown_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    # In process, so that the refusal comes at a known command. (A stalled motor would end the
    # run instead: see tests/faults.)
    program = load_program_text(SHORT, "<short>")
    clock = VirtualClock()
    async with clock.running(), connect("sim:omp-wand-heat", clock=clock) as m:
        assert isinstance(m.transport, InProcessTransport)
        m.transport.device.faults.refuse_next(1)
        scheduler = Scheduler(program, [m], clock=clock)
        assert await LineView(scheduler, [device_view(m, program, 1.0)]).run() == "finished"
    out, err = capsys.readouterr()
    assert "refused SET_SPEED 3" in err
    assert err.startswith("massagectl: warning: sim:omp-wand-heat:")
    assert "step 3/3 ease off" in out
    assert out.splitlines()[-1].startswith("finished")
