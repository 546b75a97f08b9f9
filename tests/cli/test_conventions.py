"""The conventions of the ``massagectl`` command line, through the installed console script:
``--version``, shell completion, one-line usage errors, ``-v`` anywhere, the plain ``--help``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import massagectl


def _script() -> str:
    beside = Path(sys.executable).parent / "massagectl"
    if beside.exists():
        return str(beside)
    found = shutil.which("massagectl")
    if found is None:
        pytest.fail("no massagectl console script: install the project first (README Quick start)")
    return found


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.pop("COLUMNS", None)
    full.update(env or {})
    return subprocess.run([_script(), *args], capture_output=True, text=True, timeout=60, env=full)


@pytest.mark.parametrize("args", [["--version"], ["-V"], ["-v", "--version"]])
def test_version_prints_the_package_version(args: list[str]) -> None:
    done = _run(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"massagectl {massagectl.__version__}\n"


def test_version_does_not_load_typer() -> None:
    # The fast path of `--help` serves `--version` too: typer and rich are not imported.
    code = (
        "import sys\n"
        "sys.argv = ['massagectl', '--version']\n"
        "from massagectl.cli.app import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'click')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"massagectl {massagectl.__version__}", "[]"]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["status"], "--device"),
        (["status", "-d", "sim:omp-wand-heat", "--bogus"], "--bogus"),
        (["history", "--limit", "abc"], "--limit"),
        (["nosuch-command"], "nosuch-command"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args: list[str], names: str) -> None:
    done = _run(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("massagectl: error: ")
    assert names in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("flag", ["-v", "-vv", "--verbose"])
def test_verbose_is_accepted_after_the_command(flag: str) -> None:
    before = _run(flag, "check", "warm-up-knead", "--profile", "omp-wand-heat")
    after = _run("check", "warm-up-knead", flag, "--profile", "omp-wand-heat")
    assert before.returncode == 0, before.stderr
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    assert after.stdout.startswith("ok: warm-up-knead")


def test_help_has_no_type_tags_and_cuts_no_text() -> None:
    done = _run("bridge", "--help")
    assert done.returncode == 0, done.stderr
    assert "<str>" not in done.stdout
    assert "<list[str]>" not in done.stdout
    assert "<bool>" not in done.stdout
    assert "…" not in done.stdout
    flat = " ".join(done.stdout.split())
    assert "--broker BROKER" in flat
    assert "mqtt://[USER[:PASS]@]HOST[:PORT] (mqtts:// for TLS)" in flat
    assert "$MASSAGECTL_MQTT_PASSWORD" in flat


def test_bash_completion_script_and_answers() -> None:
    # typer detects the shell from the parent process: run the option from a real bash.
    script = subprocess.run(
        ["bash", "-c", f"'{_script()}' --show-completion"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0, script.stderr
    assert "_MASSAGECTL_COMPLETE=complete_bash" in script.stdout
    # What that script asks for when a user presses Tab after `massagectl dev`.
    done = _run(
        env={
            "_MASSAGECTL_COMPLETE": "complete_bash",
            "COMP_WORDS": "massagectl dev",
            "COMP_CWORD": "1",
        }
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["devices"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_answer(shell: str) -> None:
    env = {
        "_MASSAGECTL_COMPLETE": f"complete_{shell}",
        "_TYPER_COMPLETE_ARGS": "massagectl safety",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
    }
    done = _run(env=env)
    assert done.returncode == 0, done.stderr
    assert "safety-reset" in done.stdout
