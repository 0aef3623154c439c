"""Running cases, summarising them, and writing the table and the JSON record."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

QUICK = os.environ.get("BENCH_QUICK") == "1"
RESULTS = Path(__file__).parent / "results"


@dataclass
class Figure:
    """One line of the table: a case's median and spread, and its ratio to a reference."""

    case: str
    unit: str
    median: float
    low: float
    high: float
    runs: int
    reference: float | None = None
    reference_label: str = ""
    higher_is_better: bool = True
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.reference:
            return None
        return self.median / self.reference

    @property
    def meets(self) -> bool | None:
        if self.reference == 0 and not self.higher_is_better:  # a count that must stay at zero
            return self.median <= 0
        if self.ratio is None:
            return None
        return self.ratio >= 1 if self.higher_is_better else self.ratio <= 1


def measure(samples: list[float], **kwargs: object) -> Figure:
    return Figure(
        median=statistics.median(samples),
        low=min(samples),
        high=max(samples),
        runs=len(samples),
        **kwargs,  # type: ignore[arg-type]
    )


def repeat(run: Callable[[], float], runs: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        run()
    return [run() for _ in range(runs)]


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        print(f"  {figure.case}: {_fmt(figure.median)} {figure.unit}", flush=True)

    def side_by_side(
        self, timings: dict[str, list[float]], *, case: str, unit: str, reference: str
    ) -> None:
        """Several ways of one thing, lower is better, each against the median of `reference`."""
        median = statistics.median(timings[reference])
        for name, samples in timings.items():
            self.add(
                measure(
                    samples,
                    case=case.format(name=name),
                    unit=unit,
                    reference=None if name == reference else median,
                    reference_label=reference,
                    higher_is_better=False,
                )
            )

    def table(self) -> str:
        lines = [
            "| case | median | spread (min–max) | runs | reference | ratio |",
            "|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            ratio = "" if f.ratio is None else f"{f.ratio:.2f}×"
            ratio += "" if f.meets is None else (" ✓" if f.meets else " ✗")
            reference = "" if f.reference is None else f"{_fmt(f.reference)} ({f.reference_label})"
            lines.append(
                f"| {f.case} | {_fmt(f.median)} {f.unit} | {_fmt(f.low)}–{_fmt(f.high)} "
                f"| {f.runs} | {reference} | {ratio} |"
            )
        return "\n".join(lines)

    def save(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS / f"bench-{stamp}{'-quick' if QUICK else ''}.json"
        record = {
            "date": datetime.now(UTC).isoformat(),
            "quick": QUICK,
            "seconds": round(time.time() - self.started, 1),
            "machine": machine(),
            "figures": [asdict(f) | {"ratio": f.ratio, "meets": f.meets} for f in self.figures],
            "table": self.table(),
        }
        path.write_text(json.dumps(record, indent=2) + "\n")
        return path


def machine() -> dict[str, object]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "commit": commit,
        "load_average": os.getloadavg()[0],
    }


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
