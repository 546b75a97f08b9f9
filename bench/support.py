"""What the benchmarks that need a helper process share: starting it, waiting until it says it
is ready, and stopping it whatever happens."""

from __future__ import annotations

import collections
import contextlib
import queue
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence

#: How long a helper process may take to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 5.0
#: How often SIGTERM is sent again meanwhile.
TERM_AGAIN_S = 0.5


class BenchError(RuntimeError):
    """The bench cannot run here; the message is one line."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def helper_process(
    argv: Sequence[str], *, ready: str, what: str, timeout_s: float = 10.0
) -> Iterator[re.Match[str]]:
    """Run ``argv`` for the duration of the block; yields the first line of its output (stdout
    and stderr together) that matches the regular expression ``ready``.

    Raises :class:`BenchError` if the process ends, or prints no such line within
    ``timeout_s``; the message names ``what`` and quotes the process's last line. On the way
    out the process gets SIGTERM, then SIGKILL if it has not ended after a few seconds.
    """
    pattern = re.compile(ready)
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()
    last: collections.deque[str] = collections.deque(maxlen=1)

    def pump() -> None:
        # Read for as long as the process lives, not only until it is ready: a helper that
        # keeps logging would otherwise block on a full pipe in the middle of a measurement.
        for line in stdout:
            line = line.rstrip("\n")
            if line.strip():
                last.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, name=f"{what} output", daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{what} printed no line matching {ready!r} in {timeout_s:g} s")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                proc.wait()
                said = last[0] if last else "nothing"
                raise BenchError(f"{what} exited at start (status {proc.returncode}): {said}")
            found = pattern.search(line)
            if found:
                break
        yield found
    finally:
        _stop(proc)
        reader.join(timeout=STOP_TIMEOUT_S)
        stdout.close()


def _stop(proc: subprocess.Popen[str]) -> None:
    # SIGTERM more than once: one that lands just as a helper says it is ready can be lost
    # (Mosquitto 2.0 sets its "keep running" flag only after logging "running", undoing a
    # SIGTERM that came in between), and a lost one would cost the whole timeout.
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=TERM_AGAIN_S)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
