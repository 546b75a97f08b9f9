"""massagectl with the simulator removed: the simulator is a plug-in, not a part of the product.

The real CLI runs with a ``massagesim`` ahead on the path that cannot be imported, as if the
package were gone while its entry point is still declared. Whatever needs the simulator says in
one line that it is not installed (exit 2); everything else works as before.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .support import CLI
from .test_cli_bad_input import assert_one_line_error


@pytest.fixture
def without_simulator(tmp_path: Path) -> dict[str, str]:
    """The environment of a massagectl whose simulator does not import."""
    package = tmp_path / "massagesim"
    package.mkdir()
    (package / "__init__.py").write_text('raise ImportError("massagesim was removed")\n')
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=30, env=env)


def test_sim_address_says_the_simulator_is_not_installed_and_devices_still_works(
    without_simulator: dict[str, str],
) -> None:
    listed = _run(without_simulator, "devices")
    assert listed.returncode == 0, listed.stderr
    assert "omp-wand-heat" in listed.stdout
    assert "Traceback" not in listed.stderr

    done = _run(without_simulator, "status", "--device", "sim:omp-wand-heat")
    assert_one_line_error(done, 2, "sim:omp-wand-heat", "simulator is not installed")


def test_sim_over_ble_says_the_simulator_is_not_installed(
    without_simulator: dict[str, str],
) -> None:
    done = _run(without_simulator, "stop", "--device", "sim:theragun-pro?via=ble")
    assert_one_line_error(done, 2, "simulator is not installed")


def test_sim_ble_backend_says_the_simulator_is_not_installed(
    without_simulator: dict[str, str],
) -> None:
    env = {**without_simulator, "MASSAGECTL_BLE_BACKEND": "sim"}
    done = _run(env, "scan", "--timeout", "0.5s")
    assert_one_line_error(done, 2, "MASSAGECTL_BLE_BACKEND=sim", "simulator is not installed")


def test_sim_command_says_the_simulator_is_not_installed(
    without_simulator: dict[str, str],
) -> None:
    done = _run(without_simulator, "sim", "omp-wand-heat", "--tcp", "127.0.0.1:0")
    assert_one_line_error(done, 2, "sim", "simulator is not installed")
