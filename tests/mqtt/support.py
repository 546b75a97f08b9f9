"""The real ``massagectl bridge`` in the background, and helpers for the MQTT end-to-end tests."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from massagectl.cli.mqtt_commands import device_option

from ..e2e.support import CLI, SimLine, SimProcess

#: How long a bridge may take to say it is online with every device.
START_TIMEOUT_S = 15.0


class BridgeProcess:
    """``massagectl bridge --broker URL --id GATEWAY --device ...`` in the background.

    Its stdout and stderr lines are collected as they come. Unless ``wait`` is false, the
    constructor returns once the bridge printed ``gateway GATEWAY online at ...`` and
    ``device NAME online (...)`` for each of its devices (or those named in ``online``), else it
    kills the bridge and fails.
    """

    def __init__(
        self,
        broker_url: str,
        devices: Sequence[str],
        *,
        gateway: str,
        extra: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        wait: bool = True,
        timeout: float = START_TIMEOUT_S,
        online: Sequence[str] | None = None,
    ) -> None:
        self.gateway = gateway
        #: The device names on the broker, as the bridge derives them.
        self.names = [device_option(d)[0] for d in devices]
        #: The devices :meth:`wait_online` waits for (default: all).
        self.online = list(self.names if online is None else online)
        args = [*CLI, "bridge", "--broker", broker_url, "--id", gateway, *extra]
        for device in devices:
            args += ["--device", device]
        full_env = _env(env)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=full_env,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        if wait:
            try:
                self.wait_online(timeout)
            except BaseException:
                self.close()
                raise

    def _read(self, stream: object, into: list[str]) -> None:
        assert hasattr(stream, "__iter__")
        for raw in stream:
            line = str(raw).rstrip("\n")
            into.append(line)
            self._new.put(line)

    @property
    def lines(self) -> list[str]:
        """Everything it printed so far, stdout then stderr."""
        return [*self.stdout, *self.stderr]

    def wait_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """The first line (printed so far or later) for which ``predicate`` holds."""
        for line in self.lines:
            if predicate(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self._new.empty()):
                raise AssertionError(
                    f"bridge {self.gateway}: no such line within {timeout} s "
                    f"(exit {self.proc.poll()}): {self.lines}"
                )
            try:
                line = self._new.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            if predicate(line):
                return line

    def wait_online(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until the gateway and each of its devices said they are online."""
        deadline = time.monotonic() + timeout
        self.wait_line(_starts(f"gateway {self.gateway} online at "), timeout)
        for name in self.online:
            self.wait_line(_starts(f"device {name} online ("), deadline - time.monotonic())

    def send_signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the bridge."""
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Its exit code; fails (after killing it) if it does not exit within ``timeout``."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise AssertionError(
                f"bridge {self.gateway} still running after {timeout} s: {self.lines}"
            ) from None
        for reader in self._readers:
            reader.join(2)
        return code

    def close(self) -> None:
        """Kill it if it still runs (tests end it on purpose with signals)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for reader in self._readers:
            reader.join(2)

    def __enter__(self) -> BridgeProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _starts(prefix: str) -> Callable[[str], bool]:
    return lambda line: line.startswith(prefix)


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    for name in ("MASSAGECTL_MQTT_PASSWORD", "MASSAGECTL_MQTT_CA", "MASSAGECTL_MQTT_BROKER"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 20.0
) -> subprocess.CompletedProcess[str]:
    """Run ``massagectl ARGS`` to completion (the MQTT variables only as ``env`` gives them)."""
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=_env(env)
    )


def spawn_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``massagectl ARGS`` in the background."""
    return subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(env)
    )


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of a background command; killed (and failed) if it hangs."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"{proc.args!r} still running after {timeout} s: {out}{err}") from None
    return proc.returncode, out, err


def mqtt_address(port: int, gateway: str, device: str, *, user: str = "") -> str:
    """``mqtt://[USER@]127.0.0.1:PORT/GATEWAY/DEVICE``."""
    at = f"{user}@" if user else ""
    return f"mqtt://{at}127.0.0.1:{port}/{gateway}/{device}"


def speeds_sent(sim: SimProcess, start: int = 0) -> list[int]:
    """The SET_SPEED levels the simulated device received (from ``sim.commands[start:]``)."""
    return [int(value) for command, value, _ in sim.commands[start:] if command == "SET_SPEED"]


def one_error_line(stderr: str) -> str:
    """The one line a failed command printed, checked to be one line and no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("massagectl: error: "), stderr
    return lines[0]


def speed_is(level: int) -> Callable[[SimLine], bool]:
    """A predicate for :meth:`SimProcess.wait_for`: the state line is at speed ``level``."""
    return lambda line: line.speed == level


__all__ = [
    "BridgeProcess",
    "SimProcess",
    "cli",
    "finish",
    "mqtt_address",
    "one_error_line",
    "spawn_cli",
    "speed_is",
    "speeds_sent",
]
