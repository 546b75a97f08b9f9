"""Plug-ins: what other packages add to massagectl through the ``massagectl.plugins`` entry points.

The product never imports a plug-in by name. A package that extends massagectl declares an entry
point in the :data:`GROUP` group, and massagectl loads it the first time it is needed (never at
start-up: ``massagectl --help`` must stay quick). Today there is one kind, the simulator
(:data:`SIMULATOR`), which the massagesim package registers: it serves ``sim:`` addresses, the
simulated BLE backend (``MASSAGECTL_BLE_BACKEND=sim``) and ``massagectl sim``. Without it those
give a one-line error saying the simulator is not installed, and everything else works.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final, Protocol, cast

from .errors import UsageError

if TYPE_CHECKING:
    from contextlib import AsyncExitStack

    from .address import DeviceAddress
    from .clock import Clock
    from .profiles import Profile
    from .transports.base import Transport
    from .transports.ble import BleBackend

#: The entry point group plug-ins register in.
GROUP: Final = "massagectl.plugins"
#: The entry point name the simulator registers under.
SIMULATOR: Final = "simulator"


class PluginMissing(UsageError):
    """A feature needs a plug-in that is not installed (or does not import)."""


@dataclass(frozen=True, slots=True)
class SimDeviceRequest:
    """A simulated device to start for a ``sim:`` address, and how to reach it."""

    addr: DeviceAddress
    profile: Profile
    #: ``"ble"``: over a simulated radio and bleak's real client; anything else: in process.
    via: str
    clock: Clock | None


@dataclass(frozen=True, slots=True)
class SimServeRequest:
    """What ``massagectl sim`` was asked: the profile, where to serve it, what to print."""

    profile: str
    #: On a new pseudo-terminal, else on ``tcp`` (HOST:PORT).
    pty: bool
    tcp: str | None
    #: Print only the address.
    quiet: bool
    #: Also print every command the device receives.
    commands: bool = False
    #: ``--fault`` texts, NAME[=VALUE][@SECONDS].
    faults: tuple[str, ...] = ()


class Simulator(Protocol):
    """What the simulator plug-in offers the product."""

    async def open_device(self, request: SimDeviceRequest, stack: AsyncExitStack) -> Transport:
        """Start the device (its life tied to ``stack``); return an unopened transport to it."""
        ...

    def ble_backend(self) -> BleBackend:
        """The bleak backend of the process-wide simulated radio."""
        ...

    async def serve(self, request: SimServeRequest) -> None:
        """``massagectl sim``: serve a simulated device until cancelled."""
        ...


def simulator(what: str) -> Simulator:
    """The installed simulator plug-in; :class:`PluginMissing` naming ``what`` needs it if none."""
    plugin = _load(SIMULATOR)
    if plugin is None:
        raise PluginMissing(
            f"{what}: the simulator is not installed (install the massagesim package)"
        )
    return cast(Simulator, plugin)


@cache
def _load(name: str) -> object | None:
    # Loaded once per process: the first `sim:` address pays for the import, the next ones not.
    # importlib.metadata is imported here, not at the top: a command that needs no plug-in
    # should not pay for it.
    from importlib.metadata import entry_points

    for point in entry_points(group=GROUP, name=name):
        try:
            plugin: object = point.load()
            return plugin
        except ImportError:
            # Declared but gone (uninstalled without its metadata, or broken): as if absent.
            continue
    return None
