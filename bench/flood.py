"""``python -m bench.flood``: publish a steady flood of commands on one topic, then exit.

A process of its own, so that the flood does not share an event loop (or a core's time slices
in the same process) with the gateway it floods. It publishes ``--rate`` messages a second at
QoS 0 for ``--seconds``, to a broker on the loopback interface, pacing itself by the clock
every millisecond (it catches up after a slow moment rather than falling behind for good). It
prints ``flooding`` once connected and ``sent N`` at the end.

``--kind valid`` sends speed commands (the levels 1 to 9 in turn, so that each one changes the
device), ``--kind with-ids`` the same with an ``id`` each (every one is answered), ``--kind
invalid`` payloads that are not JSON.
"""

from __future__ import annotations

import argparse
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

#: How often the flood catches up with its schedule.
TICK_S = 0.001


def payload(kind: str, i: int) -> bytes:
    """The i-th message of a flood of ``kind``."""
    if kind == "valid":
        return f'{{"speed_level": {1 + i % 9}}}'.encode()
    if kind == "with-ids":
        return f'{{"speed_level": {1 + i % 9}, "id": {i}}}'.encode()
    return f"not a command {i}".encode()


def main(argv: list[str] | None = None) -> int:
    """Connect, flood, disconnect."""
    parser = argparse.ArgumentParser(prog="python -m bench.flood", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--rate", type=float, required=True, help="messages a second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--kind", choices=("valid", "with-ids", "invalid"), default="valid")
    args = parser.parse_args(argv)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"flood-{time.time_ns()}")
    client.connect("127.0.0.1", args.port, keepalive=30)
    client.loop_start()
    try:
        print("flooding", flush=True)
        started = time.monotonic()
        sent = 0
        total = int(args.rate * args.seconds)
        while sent < total:
            due = min(total, int((time.monotonic() - started) * args.rate))
            while sent < due:
                client.publish(args.topic, payload(args.kind, sent), qos=0)
                sent += 1
            time.sleep(TICK_S)
        # Let the last messages leave before the connection closes.
        time.sleep(0.2)
        print(f"sent {sent} in {time.monotonic() - started:.2f} s", flush=True)
    finally:
        client.disconnect()
        client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
