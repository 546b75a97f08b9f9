"""Start-up of the command line: ``massagectl --help`` against an interpreter that does nothing."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .result import Result


def console_script() -> Path:
    """The installed ``massagectl`` script of this interpreter's environment."""
    beside = Path(sys.executable).parent / "massagectl"
    if beside.exists():
        return beside
    found = shutil.which("massagectl")
    if found is None:
        raise RuntimeError("cli_start: no massagectl console script (pip install -e . first)")
    return Path(found)


def _wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - started


def cli_start(quick: bool) -> Result:
    """Median wall time of ``massagectl --help``, against ``python -c pass``, in milliseconds."""
    runs = 10 if quick else 40
    script = [str(console_script()), "--help"]
    bare = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as cache:
        # Both run with the same environment, and their .pyc files go to a fresh cache that the
        # warm-up runs fill: an install whose site-packages is not writable would otherwise
        # compile massagectl's modules on every run, and a stale cache would time the compiler.
        env = dict(os.environ, PYTHONPYCACHEPREFIX=cache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        _wall(script, env)
        _wall(bare, env)
        ours: list[float] = []
        base: list[float] = []
        # Alternating, so that a burst of load on the machine hits both about equally.
        for _ in range(runs):
            ours.append(_wall(script, env))
            base.append(_wall(bare, env))
    return Result(
        "cli_start",
        statistics.median(ours) * 1000,
        statistics.median(base) * 1000,
        "ms",
        goal="ratio <= 4",
        baseline_is="python -c pass, same interpreter and environment, alternating runs",
    )
