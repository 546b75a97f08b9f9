"""Running a command's coroutine: signals stop the device, errors become one line and an exit code.

Ctrl-C (SIGINT), SIGTERM and SIGHUP cancel the command's task; the ``async with`` blocks of the
devices then send STOP before the process exits. (Before the loop starts, and while a command
only reads files, they end the process at once instead: see :mod:`.signals`.) A
:class:`MassagectlError` is printed as one line naming what went wrong, with its exit code (2 for
bad input, 3 for a device or link failure).
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

from ..errors import MassagectlError
from .signals import STOP_SIGNALS

_log = logging.getLogger("massagectl")

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_DEVICE = 3

#: The stop signals received while the current command runs, first first.
_received: list[signal.Signals] = []


def stop_signal_name() -> str | None:
    """The name of the first stop signal received by the running command (``SIGTERM``), if any:
    the session journal records it as the run's outcome."""
    return _received[0].name if _received else None


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``massagectl: error: MESSAGE`` on stderr and exit with ``code``."""
    print(f"massagectl: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def run(coro: Coroutine[Any, Any, int | None]) -> int:
    """Run a command's coroutine to its end; return the process exit code."""
    # Here rather than at the top: `massagectl devices` and every `COMMAND --help` load this
    # module (for `fail`) but never start an event loop.
    import asyncio

    received = _received
    received.clear()

    async def guarded() -> int | None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal(sig: signal.Signals) -> None:
            if not received:
                _log.warning("%s received: stopping the device", sig.name)
            received.append(sig)
            task.cancel()

        # Put back what was in force before (main's handlers end the process at once), so that
        # a signal after the loop is done, with every device closed, still ends it cleanly.
        previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            return await coro
        finally:
            for sig, handler in previous.items():
                loop.remove_signal_handler(sig)
                if handler is not None:  # None: a handler not set from Python; leave it
                    signal.signal(sig, handler)

    try:
        result = asyncio.run(guarded())
    except MassagectlError as exc:
        fail(str(exc), exc.exit_code)
    except asyncio.CancelledError:
        if received:
            print(f"massagectl: stopped by {received[0].name}", file=sys.stderr, flush=True)
            return 128 + int(received[0])
        raise
    except KeyboardInterrupt:  # a second Ctrl-C during the stop
        return 128 + int(signal.SIGINT)
    if received:
        # The signal came during the command's last stretch without an await (parsing a file,
        # printing), which then ran to its end: the person still asked it to stop.
        print(f"massagectl: stopped by {received[0].name}", file=sys.stderr, flush=True)
        return 128 + int(received[0])
    return EXIT_OK if result is None else result
