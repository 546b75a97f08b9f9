"""``massagectl safety-reset``: the person says the session is over and a new one may start."""

from __future__ import annotations

from ..address import parse_address
from ..errors import UsageError
from ..safety.memory_store import SafetyStore, device_key


async def safety_reset_command(device: str) -> None:
    """Forget the device's session in the safety memory (no connection is made)."""
    addr = parse_address(device)
    if addr.scheme == "mqtt":
        raise UsageError(
            f"{device}: its bridge keeps its safety memory: publish "
            f'{{"safety_reset": true}} to {addr.gateway}/{addr.device}/set'
        )
    key = device_key(addr)
    if key is None:
        print(f"{device}: nothing to reset: a simulated device starts afresh in each run")
        return
    had = SafetyStore().forget_session(key)
    if had:
        print(f"{device}: session reset; the next activity starts a new one")
    else:
        print(f"{device}: no session to reset")
