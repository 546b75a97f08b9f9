"""The top-level help of ``massagectl``: its description, global options and command summaries.

This is the one place these texts live. The typer app registers its commands and global options
with them, and :mod:`massagectl.cli.app` prints them for ``massagectl --help`` without importing
typer, so the two helps cannot drift apart (tests/cli/test_fast_help.py checks that they agree).

No imports here: this module is on the start-up path of ``massagectl --help``.
"""

from __future__ import annotations

#: The program's description, under the usage line.
APP_HELP = "Control vibration, percussion and heat massagers, and simulate them."

#: The global options, ``(long name, short name or "", help)``, in the order of the help.
VERBOSE = ("--verbose", "-v", "More log.")
VERSION = ("--version", "-V", "Show the version and exit.")
HELP = ("--help", "-h", "Show this message and exit.")
#: typer's own shell completion options (bash, zsh, fish), with typer's texts; no short names.
INSTALL_COMPLETION = ("--install-completion", "", "Install completion for the current shell.")
SHOW_COMPLETION = (
    "--show-completion",
    "",
    "Show completion for the current shell, to copy it or customize the installation.",
)
GLOBAL_OPTIONS: tuple[tuple[str, str, str], ...] = (
    VERSION,
    VERBOSE,
    INSTALL_COMPLETION,
    SHOW_COMPLETION,
    HELP,
)


def version_line() -> str:
    """What ``massagectl --version`` prints."""
    from .. import __version__

    return f"massagectl {__version__}"


#: Every command, ``(name, one-line summary)``, in the order of the help. A command's summary is
#: also the whole of its own ``--help`` description.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("devices", "List the device profiles."),
    ("status", "Show what a device is doing."),
    ("set", "Set speed, heat or a built-in program."),
    ("stop", "Stop a device: speed 0, heat 0, no program."),
    (
        "scan",
        "Find massagers: BLE devices that fit a profile, and serial ports, with their addresses.",
    ),
    (
        "sim",
        "Serve a simulated device; prints its address on the first line, then its state changes.",
    ),
    ("programs", "List the preset massage programs."),
    ("show", "Show a program's steps in the order they run, with the levels on a device."),
    ("check", "Validate a program; with a device or a profile, show what it will send and skip."),
    ("run", "Run a program: live view and keys on a terminal, one line per step otherwise."),
    ("history", "List the latest runs from the journal, or one run's events."),
    ("safety-reset", "End a device's session after its longest, before its rest is over."),
    ("bridge", "Put this machine's devices on an MQTT broker (remote control, Home Assistant)."),
    ("fleet", "List the gateways and devices on a broker, with their state."),
)


def summary(command: str) -> str:
    """The one-line summary of ``command``."""
    for name, text in COMMANDS:
        if name == command:
            return text
    raise KeyError(command)


def print_version(asked: bool) -> None:
    """The ``--version`` option's callback in the typer app: print the version and exit."""
    if asked:
        print(version_line())
        raise SystemExit(0)
