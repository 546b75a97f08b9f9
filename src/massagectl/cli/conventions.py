"""What every ``massagectl`` command line shares: where ``-v`` may go, and how a usage error reads.

Kept apart from :mod:`.typer_app` so that the app module holds commands only.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from . import summaries


def _is_verbose(arg: str) -> bool:
    # ``-v``, ``-vv``, ``-vvv`` and ``--verbose``: the global option's spellings.
    short = summaries.VERBOSE[1]
    return arg == summaries.VERBOSE[0] or (arg.startswith(short) and set(arg[1:]) == {short[1]})


def hoist_verbose(args: Sequence[str]) -> list[str]:
    """``args`` with every ``-v`` after the command moved before it.

    ``-v`` is an option of the program, not of each command; users type it at the end
    (``massagectl run warm-up -d sim:x -v``) as often as at the start. No command has a ``-v`` of
    its own, so moving it changes no meaning. Nothing after ``--`` is touched.
    """
    end = list(args).index("--") if "--" in args else len(args)
    head = list(args[:end])
    flags = [a for a in head if _is_verbose(a)]
    rest = [a for a in head if not _is_verbose(a)]
    return flags + rest + list(args[end:])


def usage_error(message: str) -> str:
    """A usage error in the one line the README promises: ``massagectl: error: MESSAGE``."""
    # click ends its messages with a full stop and may quote with typographic quotes.
    text = " ".join(message.split()).rstrip(".")
    return f"massagectl: error: {text}"


def print_usage_error(message: str) -> None:
    """Print a usage error on stderr, in one line."""
    print(usage_error(message), file=sys.stderr, flush=True)


def plain_metavars(command: Any) -> None:
    """Name each option's value in capitals (``--device DEVICE``) rather than by its Python type.

    typer shows ``<str>`` or ``<list[str]>`` where an option has no metavar of its own: a type
    that tells a user nothing the option's name does not.
    """
    for param in getattr(command, "params", ()):
        takes_value = not getattr(param, "is_flag", False) and not getattr(param, "count", False)
        if param.metavar is None and takes_value and param.name:
            param.metavar = param.name.upper()
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)


def run_app(app: Any) -> None:
    """Run the typer ``app`` on ``sys.argv`` and exit; a usage error ends in one line, exit 2.

    click prints usage errors as a usage line, a hint and a boxed message; the README promises
    one line on stderr, as every other error of massagectl has.
    """
    import typer
    from typer._click import exceptions as click_errors

    from ..errors import UsageError
    from .runner import EXIT_USAGE, fail

    command = typer.main.get_command(app)
    plain_metavars(command)
    try:
        code = command.main(args=hoist_verbose(sys.argv[1:]), standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        # `massagectl -v` with no command: the help, as for a bare `massagectl`.
        print(exc.format_message())
        raise SystemExit(EXIT_USAGE) from None
    except click_errors.UsageError as exc:
        print_usage_error(exc.format_message())
        raise SystemExit(EXIT_USAGE) from None
    except typer.Abort:
        raise SystemExit(1) from None
    except UsageError as exc:  # pragma: no cover - commands handle their own
        fail(str(exc), exc.exit_code)
    # Without standalone mode, click returns the exit code of a typer.Exit instead of exiting.
    raise SystemExit(code if isinstance(code, int) else 0)
