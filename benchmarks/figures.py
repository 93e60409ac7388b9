"""What each section of benchmarks/compare.py is given (the plan: sizes and runs) and how its figures are summarized:
the median of a run's values, with min and max."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar


@dataclass(frozen=True)
class Plan:
    runs: int
    sizes: tuple[int, ...]
    synth_sizes: tuple[tuple[str, int], ...]
    linear: tuple[int, int]
    drift_sizes: tuple[int, ...]
    cycles: int
    most: bool


FULL = Plan(5, (1, 100, 400), (("c", 100), ("c", 400), ("b", 100), ("a", 100)), (3, 300), (1, 50, 400), 10, True)
QUICK = Plan(1, (1, 2), (("c", 2),), (3, 2), (1, 2), 1, False)


def spread(values: list[float], unit: str = "", digits: int = 2) -> str:
    """Median (min-max) of a run's values."""
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.{digits}f}{unit}"
    return f"{median:.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


Result = TypeVar("Result")


def timed(section: Callable[[], Result]) -> Result:
    started = time.perf_counter()
    result = section()
    print(f"\n({time.perf_counter() - started:.0f} s)", flush=True)
    return result
