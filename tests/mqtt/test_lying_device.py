"""A device behind the bridge that starts reporting what cannot be: with no program running
(a speed set from Home Assistant), it is stopped all the same, and nothing starts it again while
it goes on saying so."""

from __future__ import annotations

from .broker import Mosquitto
from .gateway_support import WAIT_S, eventually, rig

WAND = "sim:omp-wand-heat"


async def test_a_device_that_reports_a_speed_it_cannot_have_is_stopped_and_refuses(
    broker: Mosquitto,
) -> None:
    # The gateway asks for the state every 0.2 s here (every 5 s by default).
    async with rig(broker, wand=WAND, options={"poll_s": 0.2}) as r:
        sim = r.run.sim("wand")
        await r.ok("wand", {"speed_level": 4, "heat": "low"})
        assert sim.state.speed == 4

        # From now on its STATUS says speed 255 of 10: the gateway's next poll hears it, and
        # the device is stopped though no run is there to end.
        sim.lies.speed = 255
        await eventually(lambda: not sim.state.active, "the lying device stopped", within=WAIT_S)
        state = await r.obs.wait_json(r.run.device("wand").state, faults=["BAD_REPORT"])
        assert state["faults"] == ["BAD_REPORT"]

        # While it goes on lying, a setting is refused with the value named; it stays at rest.
        reply = await r.ask("wand", {"speed_level": 3})
        assert reply["ok"] is False, reply
        assert "speed 255 is outside 0..10" in reply["error"]
        assert not sim.state.active

        # Once it makes sense again, it takes commands as before.
        since = r.obs.mark()
        sim.lies.speed = None
        await r.obs.wait_json(r.run.device("wand").state, since=since, faults=[])
        await r.ok("wand", {"speed_level": 2})
        assert sim.state.speed == 2
