"""Telling a run that is still going from one whose process died without a word.

A run's row says nothing about whether its writer is alive: a SIGKILL or a power cut leaves it
exactly as a run in progress leaves it. So the process writing a run holds an exclusive
``flock`` on a small file beside the journal (``journal.sqlite3-run17.lock``) for as long as the
run goes. The kernel drops the lock when the process dies, however it dies, and a reader that
can take the lock knows nobody holds it. Unlike a recorded process id, this cannot be fooled by
a process id used again after a crash or a reboot.

``flock`` locks belong to an open file, not to a process, so a reader in the writer's own
process (a test, or ``history`` called from Python) sees the lock too. Like SQLite's WAL mode
itself, this needs a local file system (not NFS). POSIX only, as is the rest of the CLI.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


def lock_path(journal: Path, run_id: int) -> Path:
    """The lock file of run ``run_id`` of the journal at ``journal``."""
    return journal.with_name(f"{journal.name}-run{run_id}.lock")


class RunLock:
    """An exclusive lock held on a run's lock file while the run goes."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path) -> RunLock:
        """Create (or reuse a stale) lock file and lock it; raises :class:`OSError` if it is
        held already or cannot be made."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def release(self) -> None:
        """Remove the file and drop the lock (safe to call twice)."""
        if self._fd is None:
            return
        # Removed while still locked, so that no reader finds it unlocked and calls the run
        # interrupted in between (the row's outcome was written before this).
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def is_held(path: Path) -> bool:
    """Whether some live process holds the lock file at ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def remove_stale(path: Path) -> None:
    """Remove a lock file nobody holds (left by a process that died)."""
    with contextlib.suppress(OSError):
        path.unlink()
