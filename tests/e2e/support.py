"""Running the real ``massagectl`` command: the simulator on a pty, and the CLI against it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

CLI = [sys.executable, "-m", "massagectl"]
_LINE = re.compile(r"(\w+)=(\S+)")


@dataclass(frozen=True)
class SimLine:
    """One state line printed by ``massagectl sim``."""

    t: float
    speed: int
    heat: int
    program: int
    faults: str
    cause: str
    seen_at: float  # wall time the test read it


class SimProcess:
    """``massagectl sim PROFILE --pty`` in the background, its state lines collected."""

    def __init__(self, profile: str, *, commands: bool = False) -> None:
        self.profile = profile
        #: ``(command, value, answer)`` of every command the device received (with ``commands``).
        self.commands: list[tuple[str, str, str]] = []
        self.proc = subprocess.Popen(
            [*CLI, "sim", profile, "--pty", *(["--commands"] if commands else [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().strip()
        if not first.startswith("/dev/"):
            self.proc.kill()
            raise RuntimeError(f"sim did not print a pty path: {first!r} {self.proc.stderr}")
        self.path = first
        self.lines: queue.Queue[SimLine] = queue.Queue()
        self.history: list[SimLine] = []
        threading.Thread(target=self._read, daemon=True).start()

    def address(self, profile: str | None = None) -> str:
        """The serial address of the simulated device."""
        return f"serial:{self.path}?profile={profile or self.profile}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            fields = dict(_LINE.findall(raw))
            if "command" in fields:
                self.commands.append((fields["command"], fields["value"], fields["answer"]))
                continue
            if "t" not in fields:
                continue
            self.lines.put(
                SimLine(
                    t=float(fields["t"]),
                    speed=int(fields["speed"]),
                    heat=int(fields["heat"]),
                    program=int(fields["program"]),
                    faults=fields["faults"],
                    cause=fields["cause"],
                    seen_at=time.monotonic(),
                )
            )

    def wait_for(self, predicate: object, timeout: float = 10.0) -> SimLine:
        """The first new state line for which ``predicate(line)`` holds."""
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching sim line within {timeout} s: {self.history}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.history.append(line)
            if predicate(line):
                return line

    def drain(self) -> list[SimLine]:
        """The lines printed so far and not yet looked at."""
        out = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return out
            self.history.append(line)
            out.append(line)

    def close(self) -> None:
        """Stop the simulator."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def massagectl(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=_env()
    )


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start the CLI in the background."""
    return subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    return env
