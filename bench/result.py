"""One benchmark figure and its baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    """A measured value against a baseline measured in the same run.

    ``ratio`` is ``value / baseline``; lower is better unless ``higher_is_better``.
    """

    name: str
    value: float
    baseline: float
    unit: str
    goal: str
    baseline_is: str
    higher_is_better: bool = False
    #: What else the entry saw (memory, counts), printed under the table.
    note: str = ""

    @property
    def ratio(self) -> float:
        """value / baseline."""
        return self.value / self.baseline if self.baseline else float("inf")

    def to_json(self) -> dict[str, Any]:
        """The entry written to results.json."""
        doc = asdict(self)
        doc["ratio"] = self.ratio
        return doc


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100), nearest-rank on the sorted values."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
    return ordered[rank]


def latency_ms(
    name: str,
    ours_s: list[float],
    baseline_s: list[float],
    p: float,
    *,
    goal: str,
    baseline_is: str,
) -> Result:
    """The p-th percentile of two sets of latencies in seconds, as a Result in milliseconds."""
    return Result(
        name,
        percentile(ours_s, p) * 1000,
        percentile(baseline_s, p) * 1000,
        "ms",
        goal=goal,
        baseline_is=baseline_is,
    )
