"""A device past its longest session, behind the bridge: later commands are refused with the
reason, across a reconnect, until the session has rested or the person resets it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from massagectl.mqtt.commands import CommandError, parse_command

from .broker import Mosquitto
from .gateway_support import WAIT_S, eventually, rig

WAND = "sim:omp-wand-heat"


def _limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rest: str) -> None:
    """Limits of a few seconds, read by the bridge when it connects its device."""
    (tmp_path / "safety.yaml").write_text(f"max_session: 2s\nsession_rest: {rest}\n")
    monkeypatch.setenv("MASSAGECTL_CONFIG_DIR", str(tmp_path))


async def test_past_its_longest_session_a_device_refuses_across_a_reconnect_until_reset(
    broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(tmp_path, monkeypatch, "1h")
    async with rig(broker, wand=WAND) as r:
        topics = r.run.device("wand")
        await r.ok("wand", {"speed_level": 3})
        await eventually(lambda: r.run.sim("wand").state.speed == 0, "cut at 2 s", within=WAIT_S)

        # Asked again: refused, with the reason on the reply and the error topic; nothing starts.
        since = r.obs.mark()
        reply = await r.ask("wand", {"speed_level": 3})
        assert reply["ok"] is False
        assert reply["kind"] == "safety"
        assert "longest" in reply["error"]
        assert "safety-reset" in reply["error"]
        error = await r.obs.wait_json(topics.error, since=since)
        assert "longest" in error["error"]
        # Without an id, the error topic alone says so.
        since = r.obs.mark()
        await r.send("wand", {"heat": "low"})
        error = await r.obs.wait_json(topics.error, since=since)
        assert "longest" in error["error"]
        assert r.run.sim("wand").state.speed == 0
        assert r.run.sim("wand").state.heat == 0

        # A link drop makes a new connection (and a new simulated device): still refused.
        host = r.run.gateway.hosts["wand"]
        first = host.massager
        assert first is not None
        first.transport.device.drop_link()  # type: ignore[attr-defined]
        await eventually(
            lambda: host.massager not in (None, first) and host.ready.is_set(), "reconnected"
        )
        reply = await r.ask("wand", {"run": "quick-relief"})
        assert reply["ok"] is False, reply
        assert reply["kind"] == "safety"

        # The person's explicit reset ends the rest at once.
        await r.ok("wand", {"safety_reset": True})
        state = await r.ok("wand", {"speed_level": 4})
        assert state["speed_level"] == 4
        assert host.massager is not None
        assert host.massager.transport.device.state.speed == 4  # type: ignore[attr-defined]

        await r.ok("wand", {"stop": True})


async def test_a_session_past_its_longest_may_start_again_after_its_rest(
    broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(tmp_path, monkeypatch, "5s")
    async with rig(broker, wand=WAND) as r:
        sim = r.run.sim("wand")
        await r.ok("wand", {"speed_level": 3})
        await eventually(lambda: sim.state.speed == 0, "cut at 2 s", within=WAIT_S)
        refused = await r.ask("wand", {"speed_level": 2})
        assert refused["ok"] is False, refused
        assert "at rest" in refused["error"]
        assert sim.state.speed == 0
        # Five seconds at rest: the next command starts a new session.
        await asyncio.sleep(5.5)
        state = await r.ok("wand", {"speed_level": 2})
        assert state["speed_level"] == 2
        assert sim.state.speed == 2
        await r.ok("wand", {"stop": True})


def test_safety_reset_stands_alone() -> None:
    assert parse_command(b'{"safety_reset": true, "id": 7}').safety_reset is True
    with pytest.raises(CommandError, match="safety_reset takes no other field"):
        parse_command(b'{"safety_reset": true, "speed": 30}')
