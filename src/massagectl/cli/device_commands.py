"""The device commands' bodies, as coroutines run by :func:`massagectl.cli.runner.run`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from rich.console import Console

from ..address import parse_address
from ..connection import connect
from ..device import DeviceState, Massager
from ..drivers.checks import BadDeviceReport
from ..durations import format_duration, parse_duration
from ..errors import SafetyHold, UsageError
from ..runtime.settings import FieldNames, Settings, apply_settings
from ..safety.envelope import Cut
from .render import state_json, state_line, state_table
from .values import parse_heat, parse_speed

#: How `set` names its settings in errors: as the options they came from.
_OPTIONS = FieldNames(speed="--speed", heat="--heat", program="--program")


async def status_command(device: str, *, as_json: bool) -> None:
    """``massagectl status``."""
    parse_address(device)
    async with connect(device) as m:
        state = await m.status()
        if as_json:
            print(json.dumps(state_json(m.name, m.info, state), indent=2, ensure_ascii=False))
        else:
            Console().print(state_table(m.name, m.info, state))


async def stop_command(device: str) -> None:
    """``massagectl stop``."""
    parse_address(device)
    async with connect(device) as m:
        await m.stop()
        print(f"{m.name}: stopped")


async def set_command(
    device: str,
    *,
    speed: str | None,
    heat: str | None,
    program: str | None,
    hold: str | None,
) -> None:
    """``massagectl set``: validate everything first, so that bad input changes nothing."""
    parse_address(device)
    if speed is None and heat is None and program is None:
        raise UsageError("set: give at least one of --speed, --heat or --program")
    if speed is not None and program is not None:
        raise UsageError("set: --speed and --program both drive the motor; give one of them")
    speed_amount = parse_speed(speed) if speed is not None else None
    heat_amount = parse_heat(heat) if heat is not None else None
    seconds = parse_duration(hold, what="--for") if hold is not None else None

    settings = Settings(
        speed=speed_amount.fraction if speed_amount else None,
        speed_level=speed_amount.level if speed_amount else None,
        heat=heat_amount.name or heat_amount.level if heat_amount else None,
        program=program,
    )
    async with connect(device) as m:
        # A session past its longest starts nothing: that is a failure to say, not a success.
        held: list[Cut] = []
        m.subscribe_safety(lambda cut: held.append(cut) if cut.kind == "session" else None)
        # Everything is checked before anything is sent, so that bad input changes nothing.
        await apply_settings(m, settings, _OPTIONS)
        state = await m.status()
        if held and held[0].asked > 0:
            raise SafetyHold(f"{m.name}: safety: {held[0].message}")
        print(f"{m.name}: {state_line(m.info, state)}", flush=True)
        if seconds is None:
            m.release()
            address = parse_address(device)
            if state.active and address.scheme == "mqtt":
                print(
                    f"{m.name}: left running; gateway {address.gateway} keeps it going until "
                    "`massagectl stop` or the safety limits (use --for to hold a setting)",
                    file=sys.stderr,
                )
            elif state.active and m.info.watchdog_s:
                print(
                    f"{m.name}: the device's watchdog stops it {m.info.watchdog_s:g} s after this "
                    "host goes quiet; use --for to hold a setting",
                    file=sys.stderr,
                )
            elif state.active:
                print(
                    f"massagectl: warning: {m.name} has no watchdog: it keeps running until "
                    "`massagectl stop` or its own auto-off; --for holds a setting and then stops",
                    file=sys.stderr,
                )
            return
        await _hold(m, seconds)
        await m.stop()
        print(f"{m.name}: stopped after {format_duration(seconds)}", flush=True)


async def _hold(m: Massager, seconds: float) -> None:
    """Keep the setting for ``seconds`` of the device's clock; the writer feeds the watchdog."""
    seen_faults: set[str] = set()
    # A device that reports what cannot be ends the hold at once (and is stopped on the way
    # out): nothing it says about itself, that it holds the setting included, can be trusted.
    bad_report: asyncio.Future[DeviceState] = asyncio.get_running_loop().create_future()

    def on_state(state: DeviceState) -> None:
        if state.bad_values and not bad_report.done():
            bad_report.set_result(state)
            return
        faults = set(state.faults)
        for fault in sorted(faults - seen_faults):
            print(f"{m.name}: device reports {fault}", file=sys.stderr, flush=True)
        seen_faults.clear()
        seen_faults.update(faults)

    unsubscribe = m.subscribe(on_state)
    lost = asyncio.create_task(m.link_lost.wait())
    try:
        sleeper = asyncio.create_task(m.clock.sleep_until(m.clock.now() + seconds))
        ends: set[asyncio.Future[Any]] = {sleeper, lost, bad_report}
        done, _ = await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        if bad_report in done:
            raise BadDeviceReport(m.name, bad_report.result().bad_values)
        if lost in done and m.lost_reason is not None:
            raise m.lost_reason
    finally:
        lost.cancel()
        bad_report.cancel()
        unsubscribe()
