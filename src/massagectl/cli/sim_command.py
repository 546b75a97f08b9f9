"""``massagectl sim``: served by the simulator plug-in, when it is installed."""

from __future__ import annotations

from ..plugins import simulator


async def sim_command(
    profile: str,
    *,
    pty: bool,
    tcp: str | None,
    quiet: bool,
    commands: bool = False,
    faults: list[str] | None = None,
) -> None:
    """Serve a simulated ``profile`` on a pty or ``tcp``: the address on the first line, then one
    line per state change (and per command received, with ``commands``)."""
    await simulator("sim").serve(
        profile, pty=pty, tcp=tcp, quiet=quiet, commands=commands, faults=faults or []
    )
