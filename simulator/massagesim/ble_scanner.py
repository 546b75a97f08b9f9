"""bleak's scanner backend over a simulated radio: the advertisements of its peripherals."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from bleak.backends.scanner import AdvertisementDataCallback, BaseBleakScanner

from .ble_radio import SimBleRadio, SimPeripheral, default_radio


class SimBleakScanner(BaseBleakScanner):
    """bleak's scanner backend over a :class:`SimBleRadio`.

    While scanning, every advertising peripheral is heard once per advertising interval (the
    first time right after the scan starts), filtered by the service UUIDs asked for.
    """

    _radio: ClassVar[SimBleRadio | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.radio: SimBleRadio = self._radio or default_radio()
        self.scanning_mode = scanning_mode
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start hearing advertisements."""
        if self._task is not None:
            return
        self.seen_devices = {}
        self._task = asyncio.create_task(self._listen(), name="massagesim BLE scan")

    async def stop(self) -> None:
        """Stop hearing advertisements."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        # A task rather than calls from start(): bleak's find_device_* register their
        # callback only after start() returns, as they would with a real radio.
        while True:
            for peripheral in self.radio.advertising():
                self._hear(peripheral)
            await asyncio.sleep(self.radio.advertising_interval_s)

    def _hear(self, peripheral: SimPeripheral) -> None:
        adv = peripheral.advertisement()
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(
            peripheral.address, peripheral.address, peripheral.name, peripheral, adv
        )
        self.call_detection_callbacks(device, adv)


__all__ = ["SimBleakScanner"]
