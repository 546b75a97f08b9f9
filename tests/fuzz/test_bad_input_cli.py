"""Bad input through the real ``massagectl`` command: the table in docs/bad-input.md, row by row.

Every row is a command a person might type, run as a subprocess. Each must end with the exit code
the table gives (2: bad input, nothing sent; 3: the device or the link failed), print exactly one
``massagectl: error:`` line that names the bad thing and where it is, and no traceback. Where a
device is involved it is a simulated one on a pseudo-terminal that prints every command it
receives (``massagectl sim --pty --commands``): a refused value must reach it as nothing but the
greeting, and leave it stopped.

The rows refused before any device is opened run side by side (each is a fresh Python process;
run one after another they would cost most of this folder's time); afterwards the simulated
device must have received nothing at all.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import tty
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.support import SimProcess, massagectl

#: The simulated device: 10 speeds, 2 heat levels, 3 built-in programs.
MODEL = "omp-wand-heat"
#: Commands that only read or greet: what a refused value may cost the device at most.
READ_ONLY = {"HELLO", "GET_STATUS", "PING", "STOP"}


@dataclass(frozen=True)
class Row:
    """One row of the table: what is typed, the exit code, and what the error line must say.

    In the arguments ``{dir}`` is the folder of the test files, ``{device}`` the simulated
    device's address and ``{pty}`` its pseudo-terminal.
    """

    args: tuple[str, ...]
    code: int
    says: tuple[str, ...]


def _program(name: str, steps: str) -> str:
    return f"name: {name}\ntitle: Bent\nsteps:\n{steps}"


#: Program files (each named after its row), and the line and field their error names.
PROGRAM_FILES: dict[str, str | bytes] = {
    "unknown-field": _program("unknown-field", "  - name: a\n    duration: 1m\n    colour: red\n"),
    "negative-duration": _program("negative-duration", "  - name: a\n    duration: -5s\n"),
    "speed-150": _program("speed-150", "  - name: a\n    duration: 1m\n    speed: 150%\n"),
    "unknown-step": _program("unknown-step", "  - name: a\n    duration: 1m\n  - use: knead\n"),
    "repeat-zero": _program(
        "repeat-zero", "  - repeat: 0\n    steps:\n      - {name: a, duration: 1m}\n"
    ),
    "huge-repeat": _program(
        "huge-repeat", "  - repeat: 1000000000\n    steps:\n      - {name: a, duration: 1s}\n"
    ),
    "yaml-syntax": "name: yaml-syntax\ntitle: [Evening\nsteps: []\n",
    "wrong-type": _program("wrong-type", "  - name: a\n    duration: [1, 2]\n"),
    "empty": "",
    "binary": bytes(range(255, 127, -1)) + b"\x00\x01",
}
PROGRAM_ERRORS: dict[str, tuple[str, ...]] = {
    "unknown-field": ("unknown-field.yaml:6:", "steps[0].colour: unknown field"),
    "negative-duration": ("negative-duration.yaml:5:", "steps[0].duration:", "negative"),
    "speed-150": ("speed-150.yaml:6:", "steps[0].speed:", "150%"),
    "unknown-step": ("unknown-step.yaml:6:", "steps[1].use:", "'knead' names no earlier step"),
    "repeat-zero": ("repeat-zero.yaml:4:", "steps[0].repeat:", "(got 0)"),
    "huge-repeat": ("huge-repeat.yaml:4:", "steps[0].repeat:", "more than 10000 steps"),
    "yaml-syntax": ("yaml-syntax.yaml:3:", "not valid YAML"),
    "wrong-type": ("wrong-type.yaml:5:", "steps[0].duration:", "a duration is"),
    "empty": ("empty.yaml:1:", "the file is empty"),
    "binary": ("binary.yaml:", "not UTF-8 text"),
    "missing": ("missing.yaml:", "cannot read: No such file or directory"),
}

_PROFILE = """\
name: {name}
title: Bent
kind: vibration
protocol: omp
capabilities:
  speed: {{levels: 5}}
  heat: {{levels: 3, celsius: [30, 40, 50]}}
limits:
  watchdog_s: 3
provenance: {{kind: simulated-model, source: the bad-input tests}}
"""
#: Profile files (each named after its row), and what their error says.
PROFILE_FILES: dict[str, str | bytes] = {
    "p-unknown-field": _PROFILE.format(name="p-unknown-field") + "colour: red\n",
    "p-level-count": _PROFILE.format(name="p-level-count").replace("40, 50]", "40]"),
    "p-yaml": _PROFILE.format(name="p-yaml").replace("title: Bent", "title: [Bent"),
    "p-not-finite": _PROFILE.format(name="p-not-finite").replace(
        "watchdog_s: 3", "auto_off_s: .inf"
    ),
    "p-name": _PROFILE.format(name="someone-else"),
    "p-binary": b"\xff\xfe" + bytes(range(128, 200)),
}
PROFILE_ERRORS: dict[str, tuple[str, ...]] = {
    "p-unknown-field": ("p-unknown-field.yaml: field colour: unknown field",),
    "p-level-count": ("field capabilities.heat: celsius has 2 entries for 3 levels",),
    "p-yaml": ("p-yaml.yaml:3: not valid YAML",),
    "p-not-finite": ("field limits.auto_off_s: Input should be a finite number",),
    "p-name": ("field name: 'someone-else' must match the file name",),
    "p-binary": ("p-binary.yaml: not UTF-8 text",),
}

#: Refused before any device is opened (or failing on a line with no device behind it): the
#: simulated device must hear nothing.
EARLY: dict[str, Row] = {
    **{
        f"check {case}": Row(("check", f"{{dir}}/{case}.yaml"), 2, says)
        for case, says in PROGRAM_ERRORS.items()
    },
    **{
        f"run {case}": Row(("run", f"{{dir}}/{case}.yaml", "-d", "{device}"), 2, says)
        for case, says in PROGRAM_ERRORS.items()
    },
    **{
        f"--profile {case}": Row(
            ("check", "classic-back", "--profile", f"{{dir}}/{case}.yaml"), 2, says
        )
        for case, says in PROFILE_ERRORS.items()
    },
    "bad profile in an address": Row(
        ("set", "-d", "serial:{pty}?profile={dir}/p-unknown-field.yaml", "--speed", "1"),
        2,
        ("p-unknown-field.yaml: field colour: unknown field",),
    ),
    "sim of a bad profile": Row(
        ("sim", "{dir}/p-level-count.yaml", "--pty"),
        2,
        ("celsius has 2 entries for 3 levels",),
    ),
    "unknown profile": Row(("set", "-d", "sim:omp-toaster", "--speed", "1"), 2, ("omp-toaster",)),
    "unknown scheme": Row(
        ("set", "-d", "usb:/dev/ttyUSB0", "--speed", "1"),
        2,
        ("device address 'usb:/dev/ttyUSB0': expected sim:PROFILE",),
    ),
    "missing port": Row(
        ("set", "-d", "tcp:localhost", "--speed", "1"),
        2,
        ("device address 'tcp:localhost': expected HOST:PORT",),
    ),
    "port out of range": Row(
        ("set", "-d", "tcp:localhost:70000", "--speed", "1"),
        2,
        ("'tcp:localhost:70000': port must be a number from 1 to 65535",),
    ),
    "bad baud": Row(
        ("set", "-d", "serial:/dev/ttyUSB0?baud=fast", "--speed", "1"),
        2,
        ("'serial:/dev/ttyUSB0?baud=fast': baud must be a positive number",),
    ),
    "bad option": Row(
        ("set", "-d", "serial:/dev/ttyUSB0?speed=1", "--speed", "1"),
        2,
        ("unknown option 'speed' (allowed: baud, profile)",),
    ),
    "mqtt without device": Row(
        ("set", "-d", "mqtt://broker/gateway", "--speed", "1"),
        2,
        ("'mqtt://broker/gateway': expected mqtt://BROKER[:PORT]/GATEWAY/DEVICE",),
    ),
    "--speed 150%": Row(
        ("set", "-d", "{device}", "--speed", "150%"),
        2,
        ("--speed '150%': a percentage is at most",),
    ),
    "--speed -1": Row(("set", "-d", "{device}", "--speed", "-1"), 2, ("--speed '-1': use a",)),
    "--speed abc": Row(("set", "-d", "{device}", "--speed", "abc"), 2, ("--speed 'abc': use a",)),
    "--speed ²": Row(("set", "-d", "{device}", "--speed", "²"), 2, ("--speed '²': use a",)),
    "--heat ²": Row(("set", "-d", "{device}", "--heat", "²"), 2, ("--heat '²': use off, low",)),
    "--heat scorching": Row(
        ("set", "-d", "{device}", "--heat", "scorching"),
        2,
        ("--heat 'scorching': use off, low, medium, high",),
    ),
    "--for -5s": Row(
        ("set", "-d", "{device}", "--speed", "3", "--for", "-5s"),
        2,
        ("--for '-5s' must not be negative",),
    ),
    "--for soon": Row(
        ("set", "-d", "{device}", "--speed", "3", "--for", "soon"),
        2,
        ("--for 'soon' is not a duration",),
    ),
    "--speed with --program": Row(
        ("set", "-d", "{device}", "--speed", "3", "--program", "1"),
        2,
        ("--speed and --program both drive the motor",),
    ),
    "--intensity 200%": Row(
        ("run", "classic-back", "-d", "{device}", "--intensity", "200%"),
        2,
        ("--intensity '200%': from 0% to 150%",),
    ),
    "--speedup 0": Row(
        ("run", "classic-back", "--speedup", "0"),
        2,
        ("--speedup '0': use a number greater than 0",),
    ),
    "--speedup on a serial device": Row(
        ("run", "classic-back", "-d", "{device}", "--speedup", "10"),
        2,
        ("--speedup runs simulated time faster;", "is a real device"),
    ),
    "unknown preset": Row(
        ("run", "evening-bliss", "-d", "{device}"),
        2,
        ("unknown program 'evening-bliss'; the presets are: classic-back",),
    ),
    "--on-disconnect maybe": Row(
        ("run", "classic-back", "-d", "{device}", "--on-disconnect", "maybe"),
        2,
        ("--on-disconnect 'maybe': use stop or resume",),
    ),
    "silent device": Row(
        ("set", "-d", "serial:{silent}", "--speed", "1"),
        3,
        ("serial:{silent}: no answer to HELLO after 3 tries (500 ms each)",),
    ),
    "garbage on the line": Row(
        ("set", "-d", "serial:{babbling}", "--speed", "1"),
        3,
        ("no answer to HELLO", "broken frames came instead", "at the right baud rate?"),
    ),
    "dead port": Row(
        ("set", "-d", "serial:/dev/no-such-massager", "--speed", "1"),
        3,
        ("serial port /dev/no-such-massager: cannot open: No such file or directory",),
    ),
}

#: Refused once connected (the range comes from the device): greeted, never set, left stopped.
CONNECTED: dict[str, Row] = {
    "--heat 9 on a 2-level device": Row(
        ("set", "-d", "{device}", "--heat", "9"), 2, ("{device}: --heat 9 is outside 0..2",)
    ),
    "--speed 11 on a 10-speed device": Row(
        ("set", "-d", "{device}", "--speed", "11"), 2, ("{device}: --speed 11 is outside 0..10",)
    ),
    "--program 99": Row(
        ("set", "-d", "{device}", "--program", "99"), 2, ("{device}: --program 99 is outside 0..3",)
    ),
    "--program ² (a digit int() refuses)": Row(
        ("set", "-d", "{device}", "--program", "²"),
        2,
        ("no built-in program '²' (known: 1 Soothe, 2 Knead, 3 Tap)",),
    ),
    "--program Nap (no such name)": Row(
        ("set", "-d", "{device}", "--program", "Nap"),
        2,
        ("no built-in program 'Nap' (known: 1 Soothe, 2 Knead, 3 Tap)",),
    ),
}


def assert_one_line_error(done: subprocess.CompletedProcess[str], row: Row, **names: str) -> None:
    """Exit code, one error line saying what the row says, no traceback, nothing else (code 2)."""
    stderr = done.stderr
    assert "Traceback" not in stderr, stderr
    assert done.returncode == row.code, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("massagectl: error: ")]
    assert len(errors) == 1, stderr
    for fragment in row.says:
        assert fragment.format(**names) in errors[0], errors[0]
    if row.code == 2:  # bad input: that one line is all there is
        assert stderr.strip().splitlines() == errors, stderr


@dataclass(frozen=True)
class Lines:
    """Two pseudo-terminals with no device behind them: one silent, one babbling garbage."""

    silent: str
    babbling: str


def _names(sim: SimProcess, lines: Lines | None = None) -> dict[str, str]:
    names = {"device": sim.address(), "pty": sim.path}
    if lines is not None:
        names.update(silent=lines.silent, babbling=lines.babbling)
    return names


def _args(row: Row, folder: Path, names: dict[str, str]) -> list[str]:
    return [a.format(dir=folder, **names) for a in row.args]


@pytest.fixture(scope="module")
def lines() -> Iterator[Lines]:
    """A silent line, and one where something sends bytes that are no protocol at all."""
    ends = [os.openpty(), os.openpty()]
    for _, slave in ends:
        tty.setraw(slave)
    stop = threading.Event()

    def babble(master: int) -> None:
        noise = bytes(range(1, 256)) + b"\x00\x13\x37\x00"
        while not stop.is_set():
            with contextlib.suppress(BlockingIOError):  # nobody reads yet: the buffer is full
                os.write(master, noise)
            time.sleep(0.05)

    os.set_blocking(ends[1][0], False)
    threading.Thread(target=babble, args=(ends[1][0],), daemon=True).start()
    try:
        yield Lines(os.ttyname(ends[0][1]), os.ttyname(ends[1][1]))
    finally:
        stop.set()
        for master, slave in ends:
            os.close(slave)
            os.close(master)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    """The simulated device on a pseudo-terminal, printing every command it receives."""
    device = SimProcess(MODEL, commands=True)
    yield device
    device.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bad program and profile files."""
    path = tmp_path_factory.mktemp("bad-input")
    for name, content in {**PROGRAM_FILES, **PROFILE_FILES}.items():
        target = path / f"{name}.yaml"
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return path


@dataclass(frozen=True)
class EarlyRun:
    """The early rows' results, and what the simulated device heard meanwhile."""

    done: dict[str, subprocess.CompletedProcess[str]]
    heard: list[tuple[str, str, str]]
    states: int


@pytest.fixture(scope="module")
def early(sim: SimProcess, folder: Path, lines: Lines) -> EarlyRun:
    """Every early row, four at a time; then what the device received (nothing, it must be)."""
    names = _names(sim, lines)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(massagectl, *_args(row, folder, names)) for name, row in EARLY.items()
        }
        done = {name: future.result() for name, future in futures.items()}
    time.sleep(0.3)  # anything written to the device would be printed by now
    return EarlyRun(done, list(sim.commands), len(sim.drain()))


@pytest.mark.parametrize("name", EARLY)
def test_refused_before_anything_is_sent(
    name: str, early: EarlyRun, sim: SimProcess, lines: Lines
) -> None:
    assert_one_line_error(early.done[name], EARLY[name], **_names(sim, lines))
    assert early.heard == []
    assert early.states == 0  # no state line: the device never left speed 0, heat 0


@pytest.mark.parametrize("name", CONNECTED)
def test_refused_once_connected_leaves_the_device_stopped(
    name: str, early: EarlyRun, sim: SimProcess
) -> None:
    del early  # only so that these run after the early rows, which must find the device unheard
    before = len(sim.commands)
    done = massagectl(*_args(CONNECTED[name], Path(), _names(sim)))
    assert_one_line_error(done, CONNECTED[name], **_names(sim))
    deadline = time.monotonic() + 5
    while len(sim.commands) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # the greeting, HELLO and GET_STATUS, arrives
    time.sleep(0.1)
    heard = [command for command, _, _ in sim.commands[before:]]
    assert heard[:2] == ["HELLO", "GET_STATUS"]
    assert set(heard) <= READ_ONLY, heard
    assert all(s.speed == 0 and s.heat == 0 and s.program == 0 for s in sim.drain())
