"""Hostile program, profile and safety files cannot exhaust the host.

Every case runs the real command in a subprocess with a timeout, so that a regression that blocks
(a FIFO with no writer) or expands without end (a billion laughs) fails the test rather than
hanging it. Each answer is one line on stderr, exit code 2, and no traceback.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from massagectl.safe_yaml import MAX_DEPTH, MAX_FILE_BYTES

from .support import CLI, SimProcess, _env

#: Long enough for a slow machine to start the CLI; far shorter than a regression takes.
TIMEOUT_S = 30.0

HEADER = "name: {name}\ntitle: Hostile\nsteps:\n"


def _laughs() -> str:
    """The "billion laughs": nine aliases of nine aliases, nine levels deep (under 1 KB)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def billion_laughs(folder: Path) -> Path:
    path = folder / "laughs.yaml"
    path.write_text(_laughs(), encoding="utf-8")
    return path


def aliases_in_steps(folder: Path) -> Path:
    # Each level doubles the steps: a few hundred bytes for 2**20 step lists.
    path = folder / "aliases.yaml"
    text = HEADER.format(name="aliases") + "  - &s0 {name: a, duration: 5s, speed: 10%}\n"
    for level in range(1, 21):
        text += f"  - &s{level} {{repeat: 1, steps: [*s{level - 1}, *s{level - 1}]}}\n"
    path.write_text(text, encoding="utf-8")
    return path


def nested_brackets(folder: Path) -> Path:
    path = folder / "nested.yaml"
    path.write_text(HEADER.format(name="nested") + "  - " + "[" * 600 + "]" * 600 + "\n")
    return path


def oversized(folder: Path) -> Path:
    path = folder / "oversized.yaml"
    step = "  - {name: s, duration: 5s, speed: 10%}\n"
    body = HEADER.format(name="oversized") + step * (MAX_FILE_BYTES // len(step) + 1)
    path.write_text(body, encoding="utf-8")
    assert path.stat().st_size > MAX_FILE_BYTES
    return path


def fifo(folder: Path) -> Path:
    path = folder / "fifo.yaml"
    os.mkfifo(path)
    return path


def link_to_dev_zero(folder: Path) -> Path:
    path = folder / "zero.yaml"
    path.symlink_to("/dev/zero")
    return path


def dev_zero(folder: Path) -> Path:
    return Path("/dev/zero")


#: Each hostile file, and what the one line says about it after ``FILE:``.
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "billion laughs": (billion_laughs, ":1: YAML anchors and aliases (&name, *name) are not"),
    "aliases in steps": (aliases_in_steps, ":4: YAML anchors and aliases (&name, *name) are not"),
    "600 nested [": (nested_brackets, f":4: nested more than {MAX_DEPTH} lists or mappings deep"),
    "oversized": (oversized, f": larger than {MAX_FILE_BYTES // 1024} KiB"),
    "a FIFO": (fifo, ": is a FIFO, not a regular file"),
    "a link to /dev/zero": (link_to_dev_zero, ": is a character device, not a regular file"),
    "/dev/zero": (dev_zero, ": is a character device, not a regular file"),
}


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    """Exit code, stdout, stderr and seconds taken; a hang fails the test instead of hanging."""
    start = time.monotonic()
    try:
        done = subprocess.run(
            [*CLI, *args], capture_output=True, text=True, timeout=TIMEOUT_S, env=env or _env()
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"massagectl {' '.join(args)} still running after {TIMEOUT_S} s")
    return done.returncode, done.stdout, done.stderr, time.monotonic() - start


def assert_one_line(code: int, stderr: str, expected: str) -> None:
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("massagectl: error: ")
    assert expected in lines[0], lines[0]


@pytest.mark.parametrize("command", ["check", "show", "run"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_program_file_is_refused_in_one_line(
    tmp_path: Path, case: str, command: str
) -> None:
    make, expected = CASES[case]
    path = make(tmp_path)
    extra = ["--no-journal"] if command == "run" else []
    code, stdout, stderr, _ = run_cli(command, str(path), *extra)
    assert_one_line(code, stderr, f"{path}{expected}")
    assert stdout == ""


def test_a_hostile_program_is_refused_before_the_device_hears_a_byte(tmp_path: Path) -> None:
    sim = SimProcess("omp-wand-heat", commands=True)
    try:
        for case, (make, expected) in CASES.items():
            folder = tmp_path / case.replace(" ", "-").replace("/", "")
            folder.mkdir()
            path = make(folder)
            code, _, stderr, _ = run_cli("run", str(path), "-d", sim.address(), "--no-journal")
            assert_one_line(code, stderr, f"{path}{expected}")
        time.sleep(0.3)  # anything written to the device would be printed by now
        assert sim.commands == []
    finally:
        sim.close()


def test_the_size_limit_refuses_an_oversized_file_but_not_a_long_program(tmp_path: Path) -> None:
    big = oversized(tmp_path)
    code, _, stderr, _ = run_cli("check", str(big))
    assert_one_line(code, stderr, f"{big}: larger than {MAX_FILE_BYTES // 1024} KiB")
    # Five hundred steps with cues: longer than any real program, well inside the limits.
    path = tmp_path / "long.yaml"
    body = HEADER.format(name="long") + "".join(
        f"  - name: step {i}\n    duration: 2s\n    speed: {10 + i % 80}%\n"
        f"    cue: Long strokes up the back with both hands, slowly, pass {i}\n"
        for i in range(500)
    )
    path.write_text(body, encoding="utf-8")
    assert path.stat().st_size < MAX_FILE_BYTES
    code, stdout, stderr, _ = run_cli("check", str(path))
    assert code == 0, stderr
    assert stdout.startswith("ok: long, 500 steps")


def _safety_env(folder: Path) -> dict[str, str]:
    env = _env()
    env["MASSAGECTL_CONFIG_DIR"] = str(folder)
    return env


SAFETY_CASES = {
    "billion laughs": (lambda folder: _write(folder, _laughs()), ":1: YAML anchors and aliases"),
    "600 nested [": (
        lambda folder: _write(folder, "max_heat: " + "[" * 600 + "]" * 600 + "\n"),
        f":1: nested more than {MAX_DEPTH} lists or mappings deep",
    ),
    "oversized": (
        lambda folder: _write(folder, "# padding\n" * (MAX_FILE_BYTES // 10 + 1)),
        ": larger than",
    ),
    "a FIFO": (lambda folder: os.mkfifo(folder / "safety.yaml"), ": is a FIFO"),
    "a link to /dev/zero": (
        lambda folder: (folder / "safety.yaml").symlink_to("/dev/zero"),
        ": is a character device",
    ),
}


def _write(folder: Path, text: str) -> None:
    (folder / "safety.yaml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("case", list(SAFETY_CASES))
def test_a_hostile_safety_yaml_refuses_the_run_before_the_device_hears_a_byte(
    tmp_path: Path, case: str
) -> None:
    make, expected = SAFETY_CASES[case]
    make(tmp_path)
    sim = SimProcess("omp-wand-heat", commands=True)
    try:
        code, _, stderr, _ = run_cli(
            "run", "quick-relief", "-d", sim.address(), "--no-journal", env=_safety_env(tmp_path)
        )
        assert_one_line(code, stderr, f"{tmp_path / 'safety.yaml'}{expected}")
        time.sleep(0.3)  # anything written to the device would be printed by now
        assert sim.commands == []
    finally:
        sim.close()


PROFILE_CASES = {
    "billion laughs": (_laughs(), ":1: YAML anchors and aliases"),
    "600 nested [": ("name: " + "[" * 600 + "]" * 600 + "\n", ":1: nested more than"),
}


@pytest.mark.parametrize("case", list(PROFILE_CASES))
def test_a_hostile_profile_file_is_refused_in_one_line(tmp_path: Path, case: str) -> None:
    text, expected = PROFILE_CASES[case]
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, stderr, _ = run_cli("check", "quick-relief", "--profile", str(path))
    assert_one_line(code, stderr, f"{path}{expected}")


@pytest.mark.parametrize("make", [fifo, link_to_dev_zero], ids=["a FIFO", "a link to /dev/zero"])
def test_a_profile_that_is_not_a_regular_file_is_refused(
    tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    path = make(tmp_path)
    code, _, stderr, _ = run_cli("show", "quick-relief", "--profile", str(path))
    assert_one_line(code, stderr, f"{path}: is a")
    assert "not a regular file" in stderr
