"""A plain ``pip install .`` must carry the profiles, the presets and the simulator."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_profiles_programs_and_simulator(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("massagectl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for profile in (ROOT / "devices").glob("*.yaml"):
        assert f"massagectl/data/devices/{profile.name}" in names
    for program in (ROOT / "programs").glob("*.yaml"):
        assert f"massagectl/data/programs/{program.name}" in names
    assert "massagesim/firmware.py" in names
    assert "massagectl/cli/app.py" in names
