"""Stop signals while no device is open: end the process at once, in one line, no traceback.

From the moment :func:`~massagectl.cli.app.main` starts until a command's event loop takes the
signals over (see :mod:`.runner`), and again while a command only reads files (a program, a
profile), nothing needs stopping: SIGINT, SIGTERM and SIGHUP then print
``massagectl: stopped by SIGTERM`` and exit with 128 + the signal's number, as a shell reports a
process killed by it. Without this, Ctrl-C during the imports of the first tenth of a second
showed a ``KeyboardInterrupt`` traceback, and a signal during a long parse waited for its end.

Once a device may be open, the event loop's handlers cancel the command instead, so that the
device's ``async with`` block sends STOP before the process exits; this module's handlers must
never be in force then.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: The signals that stop a command.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _exit_now(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    print(f"massagectl: stopped by {name}", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def install() -> None:
    """Make the stop signals end the process at once (nothing is open yet)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _exit_now)


@contextmanager
def exit_at_once() -> Iterator[None]:
    """Within the block, a stop signal ends the process at once, even in the middle of a long
    computation (which the event loop's handlers would only see after it). For work that opens
    nothing: reading and parsing files. Outside the main thread, the block changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    install()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
