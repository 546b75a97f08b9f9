"""The ``massagectl`` console entry point.

``massagectl --help``, ``massagectl -h`` and a bare ``massagectl`` print the top-level help from
:mod:`.summaries` without importing typer: typer, its help formatter and rich take far longer to
import than the whole help takes to print. Every other command line goes to the typer app in
:mod:`.typer_app`, which is also this module's ``app`` attribute (imported on first use).

Keep this module's imports to the standard modules the interpreter has already loaded at start-up.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # the typing module is not loaded yet; mypy treats this name as True
if TYPE_CHECKING:
    import typer

#: The argument lists that get the top-level help. Options before them (``-v --help``) or an
#: explicit ``--`` go to typer, which handles them the same way, only more slowly.
_HELP_ARGS = ((), ("--help",), ("-h",))

#: The argument lists that print the version, as fast as the help.
_VERSION_ARGS = (("--version",), ("-V",))

#: Set by a shell asking for completions: typer answers those, even for a bare ``massagectl``.
_COMPLETE_VAR = "_MASSAGECTL_COMPLETE"

#: Typer exits with this code after printing the help for a bare ``massagectl`` (no command).
_EXIT_NO_COMMAND = 2


def main() -> None:
    """Console entry point."""
    args = tuple(sys.argv[1:])
    if args in _HELP_ARGS and _COMPLETE_VAR not in os.environ:
        sys.stdout.write(top_level_help(_prog_name(), _width()))
        sys.stdout.flush()
        raise SystemExit(0 if args else _EXIT_NO_COMMAND)
    if args in _VERSION_ARGS and _COMPLETE_VAR not in os.environ:
        from .summaries import version_line

        sys.stdout.write(version_line() + "\n")
        sys.stdout.flush()
        raise SystemExit(0)
    # Before the slow imports: Ctrl-C or SIGTERM during them ends the process in one line.
    from .signals import install

    install()
    from .typer_app import main as typer_main

    typer_main()


def top_level_help(prog: str, width: int = 80) -> str:
    """``massagectl --help`` as plain text ``width`` columns wide."""
    from .summaries import APP_HELP, COMMANDS, GLOBAL_OPTIONS

    # Aligned as click aligns them: a long name without a short one stands at the left edge.
    options = [
        (f"{short}, {long}" if short else long, text) for long, short, text in GLOBAL_OPTIONS
    ]
    parts = [
        f"Usage: {prog} [OPTIONS] COMMAND [ARGS]...\n",
        "\n",
        *_wrap(APP_HELP, width, "  ", "  "),
        "\n",
        "Options:\n",
        *_table(options, width),
        "\n",
        "Commands:\n",
        *_table(COMMANDS, width),
    ]
    return "".join(parts)


def _table(rows: tuple[tuple[str, str], ...] | list[tuple[str, str]], width: int) -> list[str]:
    # Two columns: the names, then the texts wrapped under each other.
    column = max(len(name) for name, _ in rows) + 4
    lines: list[str] = []
    for name, text in rows:
        first = f"  {name}".ljust(column)
        lines.extend(_wrap(text, width, first, " " * column))
    return lines


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    # A greedy word wrap; textwrap would pull in re, which a console script may not have loaded.
    lines: list[str] = []
    line, empty = first, True
    for word in text.split():
        if empty:
            line += word
            empty = False
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line + "\n")
            line = rest + word
    lines.append(line.rstrip() + "\n")
    return lines


def _prog_name() -> str:
    # What typer (click) shows in the usage line: ``python -m massagectl`` when run as a module,
    # else the name the program was called by.
    package = getattr(sys.modules.get("__main__"), "__package__", None)
    if package:
        return f"python -m {package}"
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "massagectl"


def _width() -> int:
    # As rich does: $COLUMNS if set, else the terminal's width, else 80 columns for a pipe.
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.stdout.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(columns, 40)


def __getattr__(name: str) -> typer.Typer:
    # ``from massagectl.cli.app import app`` (tests, scripts) still gets the typer app, loaded only
    # when asked for.
    if name == "app":
        from .typer_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
