"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, print a table, write
bench/results.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import (
    cli_bench,
    fleet_bench,
    flood_bench,
    journal_bench,
    link_bench,
    mqtt_bench,
    scheduler_bench,
)
from .result import Result

RESULTS = Path(__file__).resolve().parent / "results.json"


def entries(quick: bool) -> dict[str, Callable[[], Result]]:
    """Every benchmark by the name of its entry."""
    return {
        "step_lateness_p99": lambda: scheduler_bench.step_lateness(quick),
        "virtual_hour_s": scheduler_bench.virtual_hour,
        "mqtt_command_p50": lambda: mqtt_bench.command_p50(quick),
        "mqtt_command_p99": lambda: mqtt_bench.command_p99(quick),
        "stop_under_flood_p99": lambda: flood_bench.stop_under_flood_p99(quick),
        "command_rtt_p50": lambda: link_bench.command_rtt_p50(quick),
        "command_rtt_p99": lambda: link_bench.command_rtt_p99(quick),
        "devices_at_20hz": lambda: fleet_bench.devices_at_20hz(quick),
        "stop_latency_p99": lambda: fleet_bench.stop_latency(quick),
        "cli_start": lambda: cli_bench.cli_start(quick),
        "journal_open": lambda: journal_bench.journal_open(quick),
    }


def main(argv: list[str] | None = None) -> int:
    """Run, print, write."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (for CI)")
    parser.add_argument("--only", nargs="*", help="run only these entries")
    args = parser.parse_args(argv)
    chosen = entries(args.quick)
    names = args.only or list(chosen)
    unknown = [n for n in names if n not in chosen]
    if unknown:
        parser.error(f"unknown entries: {', '.join(unknown)} (known: {', '.join(chosen)})")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="massagectl-bench-") as home:
        # The benchmarks drive devices (pseudo-terminals, simulators) thousands of times: they
        # must neither fill the person's session journal nor count towards the safety limits
        # remembered for a port (a /dev/pts/N is reused), nor be held back by the person's own
        # safety.yaml. Every massagectl process started here inherits these.
        os.environ["MASSAGECTL_JOURNAL"] = os.path.join(home, "journal.sqlite3")
        os.environ["MASSAGECTL_CONFIG_DIR"] = os.path.join(home, "config")
        for name in names:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            results.append(chosen[name]())
    print(format_table(results))
    RESULTS.write_text(
        json.dumps(
            {
                "quick": args.quick,
                "machine": f"{platform.machine()}, {platform.python_implementation()} "
                f"{platform.python_version()}, {platform.system()}",
                "results": [r.to_json() for r in results],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.name}", file=sys.stderr)
    return 0


def format_table(results: list[Result]) -> str:
    """A Markdown table of the results."""
    lines = [
        "| entry | value | baseline | ratio | goal |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| `{r.name}` | {r.value:.4g} {r.unit} | {r.baseline:.4g} {r.unit} | "
            f"{r.ratio:.2f} | {r.goal} |"
        )
    lines += [f"\n`{r.name}`: {r.note}" for r in results if r.note]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
