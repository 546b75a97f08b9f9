"""``massagectl --help`` without typer: the same commands, summaries and options as the typer app,
and none of its start-up cost."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer._click import Context
from typer.testing import CliRunner

from massagectl.cli import summaries
from massagectl.cli.app import top_level_help
from massagectl.cli.typer_app import app


def _console_script() -> Path:
    beside = Path(sys.executable).parent / "massagectl"
    if beside.exists():
        return beside
    found = shutil.which("massagectl")
    if found is None:
        pytest.fail("no massagectl console script: install the project first (README Quick start)")
    return Path(found)


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def _flat(text: str) -> str:
    # Rich's boxes and line wrapping out of the way, so that texts can be found in the help.
    return " ".join(text.replace("│", " ").split())


def test_typer_registers_the_commands_the_fast_help_lists() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.main.TyperGroup)
    registered = [(name, command.help) for name, command in group.commands.items()]
    assert registered == list(summaries.COMMANDS)
    assert all(command.short_help == command.help for command in group.commands.values())
    assert group.help == summaries.APP_HELP


def test_typer_has_the_global_options_the_fast_help_lists() -> None:
    group = typer.main.get_command(app)
    ctx = Context(group, info_name="massagectl", **group.context_settings)
    options = [(sorted(p.opts), p.help) for p in group.get_params(ctx)]
    assert options == [
        (sorted(filter(None, [long, short])), text)
        for long, short, text in summaries.GLOBAL_OPTIONS
    ]


def test_typer_help_says_what_the_fast_help_says() -> None:
    typer_help = _flat(CliRunner().invoke(app, ["--help"], prog_name="massagectl").output)
    usage = top_level_help("massagectl").splitlines()[0]
    assert usage in typer_help
    for name, text in summaries.COMMANDS:
        assert f"{name} {text}" in typer_help
    for long, short, text in summaries.GLOBAL_OPTIONS:
        assert (f"{short}, {long}" if short else long) in typer_help
        assert text in typer_help
    assert summaries.APP_HELP in typer_help


def test_fast_help_lists_every_command_with_its_summary() -> None:
    text = top_level_help("massagectl", width=200)
    lines = text.splitlines()
    assert lines[0] == "Usage: massagectl [OPTIONS] COMMAND [ARGS]..."
    for name, summary in summaries.COMMANDS:
        assert re.search(rf"^  {name} +{re.escape(summary)}$", text, re.MULTILINE), name
    assert re.search(r"^  -v, --verbose +More log\.$", text, re.MULTILINE)
    assert re.search(r"^  -h, --help +Show this message and exit\.$", text, re.MULTILINE)


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_fast_help_wraps_to_the_width(width: int) -> None:
    text = top_level_help("massagectl", width=width)
    # The usage line is not wrapped, as a usage line is copied whole.
    assert max(len(line) for line in text.splitlines()[1:]) <= width
    assert _flat(text).count("Find massagers: BLE devices that fit a profile") == 1


def test_console_script_help_exits_0_and_lists_every_command() -> None:
    script = str(_console_script())
    for flag in ("--help", "-h"):
        done = _run(script, flag)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Usage: massagectl [OPTIONS] COMMAND [ARGS]...\n")
        for name, summary in summaries.COMMANDS:
            assert re.search(rf"^  {name} ", done.stdout, re.MULTILINE), name
            assert summary in _flat(done.stdout)
        assert done.stderr == ""


def test_bare_massagectl_prints_the_help_and_exits_2_as_typer_does() -> None:
    done = _run(str(_console_script()))
    assert done.returncode == 2
    assert done.stdout == _run(str(_console_script()), "--help").stdout


def test_python_m_massagectl_names_itself_in_the_usage_line() -> None:
    done = _run(sys.executable, "-m", "massagectl", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m massagectl [OPTIONS] COMMAND [ARGS]...\n")


def test_fast_help_imports_neither_typer_nor_rich_nor_pydantic_nor_asyncio() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['massagectl', '--help']\n"
        "from massagectl.cli.app import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = ('typer', 'rich', 'pydantic', 'asyncio', 'yaml', 'massagectl.cli.typer_app')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = _run(sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "[]"


def test_command_help_still_goes_through_typer() -> None:
    done = _run(str(_console_script()), "status", "--help")
    assert done.returncode == 0, done.stderr
    assert "--device" in done.stdout
    assert summaries.summary("status") in _flat(done.stdout)


def test_verbose_then_help_goes_through_typer() -> None:
    done = _run(str(_console_script()), "-v", "--help")
    assert done.returncode == 0, done.stderr
    flat = _flat(done.stdout)
    assert all(f"{name} {text}" in flat for name, text in summaries.COMMANDS)


def test_app_is_still_importable_from_the_entry_module() -> None:
    from massagectl.cli.app import app as entry_app

    assert entry_app is app


def test_unknown_summary_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        summaries.summary("nonsense")
