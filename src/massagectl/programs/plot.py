"""A picture of a program: speed and heat over time on one device range, as PNG or SVG.

matplotlib is imported here only, and only when a plot is asked for, so that the rest of
massagectl starts fast; it always draws with the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from ..errors import UsageError
from .model import Program
from .timeline import DeviceRange, Timeline

__all__ = ["PLOT_SUFFIXES", "plot_program"]

#: The file types a plot can be written as.
PLOT_SUFFIXES: Final = (".png", ".svg")

_SPEED_COLOUR: Final = "#1f6fb4"
_HEAT_COLOUR: Final = "#d2461e"
_PROGRAM_COLOUR: Final = "#8a8a8a"


def plot_program(
    program: Program, device: DeviceRange, path: Path, *, device_name: str = ""
) -> None:
    """Draw ``program`` as it runs on ``device`` and write it to ``path`` (``.png``/``.svg``).

    Speed is a line in percent of the device's range (the levels it will really be sent, so
    quantisation shows); heat is a step line of heat levels on a second axis; each step's start
    is a dashed line, labelled with its number as in ``massagectl show``; a step that runs the
    device's own program is shaded.
    """
    suffix = path.suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {str(path)!r}: write a .png or .svg file")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    timeline = Timeline(program, device)
    changes = list(timeline.changes())
    minutes = timeline.duration > 180
    scale = 60.0 if minutes else 1.0
    times = [c.t / scale for c in changes]
    speed = [
        100.0 * c.levels.speed / device.speed_levels if device.speed_levels else 0.0
        for c in changes
    ]
    heat = [c.levels.heat for c in changes]

    fig = Figure(figsize=(12, 4.8), layout="constrained")
    ax = fig.add_subplot()
    ax.step(times, speed, where="post", color=_SPEED_COLOUR, linewidth=1.2, label="speed")
    ax.set_xlim(0, timeline.duration / scale)
    ax.set_ylim(0, 105)
    ax.set_xlabel("minutes" if minutes else "seconds")
    ax.set_ylabel(
        f"speed, % of {device.speed_levels} levels" if device.speed_levels else "speed (no motor)",
        color=_SPEED_COLOUR,
    )
    ax.grid(axis="y", alpha=0.3)

    heat_ax = ax.twinx()
    heat_ax.step(times, heat, where="post", color=_HEAT_COLOUR, linewidth=1.6, label="heat")
    top = max(device.heat_levels, 1)
    heat_ax.set_ylim(0, top * 1.05)
    heat_ax.set_yticks(range(top + 1))
    heat_ax.set_ylabel(
        f"heat level (of {device.heat_levels})" if device.heat_levels else "heat (no heater)",
        color=_HEAT_COLOUR,
    )

    for segment in timeline.segments:
        ax.axvline(segment.start / scale, color="#555555", linestyle=":", linewidth=0.7)
        if segment.step.device_program is not None:
            ax.axvspan(segment.start / scale, segment.end / scale, color=_PROGRAM_COLOUR, alpha=0.2)
    if len(timeline.segments) <= 12:
        for segment in timeline.segments:
            ax.text(
                segment.start / scale,
                103,
                f" {segment.label}",
                rotation=90,
                va="top",
                ha="left",
                fontsize=7,
                color="#444444",
                clip_on=True,
            )
    # Step numbers along the top, at the middle of each step, as in the ``show`` table.
    top_ax = ax.secondary_xaxis("top")
    top_ax.set_xticks(
        [(s.start + s.duration / 2) / scale for s in timeline.segments],
        labels=[str(s.index + 1) for s in timeline.segments],
        fontsize=7 if len(timeline.segments) > 20 else 9,
    )
    top_ax.tick_params(length=0)
    top_ax.set_xlabel("step")

    on = f" on {device_name}" if device_name else ""
    fig.suptitle(f"{program.title} ({program.name}){on}", fontsize=11)
    lines = ax.get_lines()[:1] + heat_ax.get_lines()[:1]
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper right", fontsize=8)
    try:
        fig.savefig(path, format=suffix.lstrip("."), dpi=120)
    except OSError as exc:
        raise UsageError(f"--plot {str(path)!r}: cannot write: {exc.strerror or exc}") from None
