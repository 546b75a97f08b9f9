"""SIGINT and SIGTERM at every moment of a command's life, through the real command line.

The first tenth of a second is spent importing; then a program is parsed, then devices are
greeted. A stop signal at any of those moments ends the command with 128 + the signal's number,
at most a line or two saying so, never a traceback and never a hang (every wait has a timeout).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from massagectl.safe_yaml import MAX_FILE_BYTES

from .support import spawn

SIGNALS = [signal.SIGINT, signal.SIGTERM]
TIMEOUT_S = 30.0


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"still running {TIMEOUT_S} s after the signal")
    return proc.returncode, stdout, stderr


def assert_stopped(code: int, stderr: str, sig: signal.Signals, *, may_die: bool) -> None:
    """Ended by ``sig`` in the CLI's way: exit 128 + N and only massagectl's own lines.

    ``may_die``: the signal may land before the interpreter has started at all, when the
    kernel's default action ends the process (the shell shows that as 128 + N too).
    """
    assert "Traceback" not in stderr, stderr
    if may_die and code == -sig and stderr == "":
        return
    assert code == 128 + sig, (code, stderr)
    allowed = {
        f"massagectl: {sig.name} received: stopping the device",  # once a device may be open
        f"massagectl: stopped by {sig.name}",
    }
    lines = stderr.splitlines()
    assert lines, stderr
    assert lines[-1] == f"massagectl: stopped by {sig.name}", stderr
    assert set(lines) <= allowed, stderr


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.1, 0.3])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_run_stops_cleanly_whenever_the_signal_comes(sig: signal.Signals, delay: float) -> None:
    proc = spawn("run", "quick-relief", "--speedup", "100", "--no-journal")
    time.sleep(delay)
    proc.send_signal(sig)
    code, _, stderr = finish(proc)
    # Within 50 ms the interpreter may, on a busy machine, still be starting.
    assert_stopped(code, stderr, sig, may_die=delay <= 0.05)


def slow_to_parse(folder: Path) -> Path:
    """A program file just inside the size limit that takes PyYAML about a second to parse:
    one long flow list of plain scalars."""
    path = folder / "slow.yaml"
    head = "name: slow\ntitle: Slow\nsteps: ["
    count = (MAX_FILE_BYTES - len(head) - 16) // 3
    path.write_text(head + "1, " * count + "1]\n", encoding="utf-8")
    assert path.stat().st_size <= MAX_FILE_BYTES
    return path


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.0])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_check_stops_at_once_while_it_parses(
    tmp_path: Path, sig: signal.Signals, delay: float
) -> None:
    path = slow_to_parse(tmp_path)
    proc = spawn("check", str(path))
    time.sleep(delay)
    proc.send_signal(sig)
    code, stdout, stderr = finish(proc)
    assert_stopped(code, stderr, sig, may_die=False)
    assert stderr.splitlines() == [f"massagectl: stopped by {sig.name}"]  # no device, one line
    assert stdout == ""
