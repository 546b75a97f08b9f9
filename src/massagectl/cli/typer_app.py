"""The ``massagectl`` commands, as a typer app.

Only ``massagectl --help``, ``-h`` and a bare ``massagectl`` skip this module (see
:mod:`massagectl.cli.app`); the names and summaries of the commands and the global options come
from :mod:`massagectl.cli.summaries`, which that fast help prints too. Each command imports what it
needs when it runs, so that one command does not pay for another's dependencies.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from ..errors import MassagectlError
from . import runner, summaries

app = typer.Typer(
    name="massagectl",
    help=summaries.APP_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # click's plain help: no type tags, and long option texts wrapped rather than cut.
    rich_markup_mode=None,
    context_settings={
        "help_option_names": [summaries.HELP[1], summaries.HELP[0]],
        # As wide as the terminal: click's default stops at 80 columns.
        "max_content_width": 200,
    },
)

_F = TypeVar("_F", bound=Callable[..., Any])


def _command(name: str) -> Callable[[_F], _F]:
    """Register a command under ``name`` with its summary from :mod:`.summaries`."""
    # The summary as the short help too: click would cut a long one with "..." in the list.
    text = summaries.summary(name)
    return app.command(name, help=text, short_help=text)


DeviceOption = Annotated[
    str,
    typer.Option(
        "--device",
        "-d",
        help="Device address: sim:PROFILE[?via=ble], serial:PATH[?profile=NAME&baud=N], "
        "tcp:HOST:PORT[?profile=NAME], ble:ADDRESS_OR_NAME[?profile=NAME] (see `scan`), "
        "mqtt://BROKER[:PORT]/GATEWAY/DEVICE (see `fleet`).",
    ),
]


@app.callback()
def _global(
    version: Annotated[
        bool,
        typer.Option(
            summaries.VERSION[0],
            summaries.VERSION[1],
            help=summaries.VERSION[2],
            is_eager=True,
            callback=summaries.print_version,
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            summaries.VERBOSE[0],
            summaries.VERBOSE[1],
            count=True,
            help=summaries.VERBOSE[2],
            show_default=False,
        ),
    ] = 0,
) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="massagectl: %(message)s", stream=sys.stderr)


def _guard(fn_result: int) -> None:
    if fn_result:
        raise typer.Exit(fn_result)


@_command("devices")
def devices(
    name: Annotated[
        str | None, typer.Argument(help="A profile: show it in full.", metavar="NAME")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    from .listing_commands import devices_command

    try:
        devices_command(name, as_json=as_json)
    except MassagectlError as exc:
        runner.fail(str(exc), exc.exit_code)


@_command("status")
def status(
    device: DeviceOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    from .device_commands import status_command

    _guard(runner.run(status_command(device, as_json=as_json)))


@_command("set")
def set_(
    device: DeviceOption,
    speed: Annotated[
        str | None, typer.Option("--speed", "-s", help="40% of the range, or a level.")
    ] = None,
    heat: Annotated[
        str | None, typer.Option("--heat", help="off, low, medium, high, or a level.")
    ] = None,
    program: Annotated[
        str | None,
        typer.Option("--program", "-p", help="Built-in program number or name; 0 ends it."),
    ] = None,
    hold: Annotated[
        str | None,
        typer.Option("--for", help="Hold the setting this long (90s, 5m, 1m30s), then stop."),
    ] = None,
) -> None:
    from .device_commands import set_command

    _guard(runner.run(set_command(device, speed=speed, heat=heat, program=program, hold=hold)))


@_command("stop")
def stop(device: DeviceOption) -> None:
    from .device_commands import stop_command

    _guard(runner.run(stop_command(device)))


@_command("scan")
def scan(
    timeout: Annotated[
        str, typer.Option("--timeout", "-t", help="How long to listen for BLE devices (5s, 10).")
    ] = "5s",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ble: Annotated[bool, typer.Option("--ble/--no-ble", help="Scan for BLE devices.")] = True,
    serial: Annotated[bool, typer.Option("--serial/--no-serial", help="List serial ports.")] = True,
    all_devices: Annotated[
        bool, typer.Option("--all", help="Also list BLE devices that fit no profile.")
    ] = False,
) -> None:
    from .scan_command import scan_command

    _guard(
        runner.run(
            scan_command(
                listen=timeout, as_json=as_json, ble=ble, serial=serial, all_devices=all_devices
            )
        )
    )


@_command("sim")
def sim(
    profile: Annotated[str, typer.Argument(help="The device profile to simulate.")],
    pty: Annotated[bool, typer.Option("--pty", help="Serve on a new pseudo-terminal.")] = False,
    tcp: Annotated[
        str | None, typer.Option("--tcp", help="Serve on HOST:PORT (port 0 picks one).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the address.")] = False,
    commands: Annotated[
        bool, typer.Option("--commands", help="Also print every command the device receives.")
    ] = False,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="Make the device misbehave: NAME[=VALUE][@SECONDS], e.g. garble=0.05, late=0.3,"
            " mute, refuse=2, drop@30, overheat@60, runaway=80, motor@45, battery=10,"
            " low-battery, auto-off=120, lie-speed=255@10 (repeatable; see docs/faults.md).",
        ),
    ] = None,
) -> None:
    from ..plugins import SimServeRequest
    from .sim_command import sim_command

    if pty == (tcp is not None):
        runner.fail("sim: give exactly one of --pty or --tcp HOST:PORT")
    request = SimServeRequest(profile, pty, tcp, quiet, commands, tuple(fault or ()))
    _guard(runner.run(sim_command(request)))


JournalOption = Annotated[
    str | None,
    typer.Option(
        "--journal",
        help="The session journal (SQLite). Default: $MASSAGECTL_JOURNAL, else journal.sqlite3 "
        "in the per-user data directory (docs/journal.md).",
    ),
]

ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", help="A device profile to fit the program to (see `massagectl devices`)."
    ),
]


@_command("programs")
def programs(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    if as_json:
        import json

        from .listing_commands import programs_json

        print(json.dumps(programs_json(), indent=2))
        return
    from .program_commands import programs_command

    _guard(runner.run(programs_command()))


@_command("show")
def show(
    program: Annotated[str, typer.Argument(help="A preset name or a program YAML file.")],
    plot: Annotated[
        str | None,
        typer.Option("--plot", help="Also draw speed and heat over time to FILE.png or FILE.svg."),
    ] = None,
    profile: ProfileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    from .program_commands import show_command

    _guard(runner.run(show_command(program, plot=plot, profile=profile, as_json=as_json)))


@_command("check")
def check(
    file: Annotated[str, typer.Argument(help="A program YAML file (or a preset name).")],
    device: Annotated[
        str | None,
        typer.Option("--device", "-d", help="Fit the program to this device (its INFO is read)."),
    ] = None,
    profile: ProfileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    from .program_commands import check_command

    _guard(runner.run(check_command(file, device=device, profile=profile, as_json=as_json)))


@_command("run")
def run(
    program: Annotated[str, typer.Argument(help="A preset name or a program YAML file.")],
    device: Annotated[
        list[str] | None,
        typer.Option(
            "--device",
            "-d",
            help="Device address; repeat for several devices in step. "
            "Default: a simulated device that can do what the program needs.",
        ),
    ] = None,
    intensity: Annotated[
        str | None, typer.Option("--intensity", "-i", help="Scale the speeds, 0% to 150%.")
    ] = None,
    speedup: Annotated[
        str | None,
        typer.Option("--speedup", help="Run N times faster (simulated devices only)."),
    ] = None,
    on_disconnect: Annotated[
        str,
        typer.Option(
            "--on-disconnect",
            help="When a link drops: stop (end the run, stop every device) or resume "
            "(reconnect with backoff, ramp back in; give up after 60 s).",
        ),
    ] = "stop",
    journal: JournalOption = None,
    no_journal: Annotated[
        bool, typer.Option("--no-journal", help="Do not record this run in the journal.")
    ] = False,
) -> None:
    from ..journal.paths import journal_path
    from .program_commands import run_command

    _guard(
        runner.run(
            run_command(
                program,
                devices=device or [],
                intensity=intensity,
                speedup=speedup,
                on_disconnect=on_disconnect,
                journal=None if no_journal else journal_path(journal),
            )
        )
    )


@_command("history")
def history(
    run_id: Annotated[
        int | None,
        typer.Argument(help="A run's id: list its events in order.", min=1, metavar="RUN_ID"),
    ] = None,
    journal: JournalOption = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="How many of the latest runs to list.", min=1)
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    from .history_command import history_command

    _guard(runner.run(history_command(run_id, journal=journal, limit=limit, as_json=as_json)))


@_command("safety-reset")
def safety_reset(device: DeviceOption) -> None:
    from .safety_command import safety_reset_command

    _guard(runner.run(safety_reset_command(device)))


BrokerOption = Annotated[
    str,
    typer.Option(
        "--broker",
        "-b",
        help="mqtt://[USER[:PASS]@]HOST[:PORT] (mqtts:// for TLS); the password may come from "
        "$MASSAGECTL_MQTT_PASSWORD instead.",
        envvar="MASSAGECTL_MQTT_BROKER",
    ),
]
TlsCaOption = Annotated[
    list[str] | None,
    typer.Option("--tls-ca", help="CA certificate file to trust (PEM; repeatable). Implies TLS."),
]
TlsCertOption = Annotated[
    str | None, typer.Option("--tls-cert", help="Client certificate (PEM) for brokers that ask.")
]
TlsKeyOption = Annotated[
    str | None, typer.Option("--tls-key", help="The client certificate's key.")
]
PrefixOption = Annotated[
    str, typer.Option("--prefix", help="First level of every massagectl topic.")
]


@_command("bridge")
def bridge(
    broker: BrokerOption,
    device: Annotated[
        list[str] | None,
        typer.Option(
            "--device",
            "-d",
            help="[NAME=]ADDRESS of a device on this machine (repeatable); NAME is its topic "
            "level (default: from the address).",
        ),
    ] = None,
    gateway_id: Annotated[
        str | None, typer.Option("--id", help="This gateway's name on the broker (default: host).")
    ] = None,
    tls_ca: TlsCaOption = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    prefix: PrefixOption = "massagectl",
    discovery: Annotated[
        bool, typer.Option("--discovery/--no-discovery", help="Home Assistant discovery.")
    ] = True,
    discovery_prefix: Annotated[
        str, typer.Option("--discovery-prefix", help="Home Assistant's discovery prefix.")
    ] = "homeassistant",
    remove_discovery: Annotated[
        bool,
        typer.Option(
            "--remove-discovery", help="Take the devices out of Home Assistant on shutdown."
        ),
    ] = False,
    poll: Annotated[
        str, typer.Option("--poll", help="How often to read each device's state (temperature).")
    ] = "5s",
    journal: JournalOption = None,
    no_journal: Annotated[
        bool, typer.Option("--no-journal", help="Do not record programs run on this gateway.")
    ] = False,
) -> None:
    from ..journal.paths import journal_path
    from .mqtt_commands import bridge_command, broker_from_options

    async def main() -> None:
        await bridge_command(
            broker=broker_from_options(broker, tls_ca or [], tls_cert, tls_key),
            devices=device or [],
            gateway_id=gateway_id,
            prefix=prefix,
            discovery=discovery,
            discovery_prefix=discovery_prefix,
            remove_discovery=remove_discovery,
            poll=poll,
            journal=None if no_journal else journal_path(journal),
        )

    _guard(runner.run(main()))


@_command("fleet")
def fleet(
    broker: BrokerOption,
    tls_ca: TlsCaOption = None,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    prefix: PrefixOption = "massagectl",
    wait: Annotated[
        str, typer.Option("--wait", help="Listen at most this long for retained state.")
    ] = "3s",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    from .mqtt_commands import broker_from_options, fleet_command

    async def main() -> None:
        await fleet_command(
            broker=broker_from_options(broker, tls_ca or [], tls_cert, tls_key),
            prefix=prefix,
            wait=wait,
            as_json=as_json,
        )

    _guard(runner.run(main()))


def main() -> None:
    """Run the typer app on ``sys.argv``; a usage error ends in one line and exit code 2."""
    from .conventions import run_app

    run_app(app)
