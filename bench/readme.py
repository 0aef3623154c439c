"""Rewrite README.md's performance block from the newest results file (a full run's when there
is one, else a quick run's, labelled as such).

`python -m bench.readme` replaces what stands between `<!-- bench:start -->` and
`<!-- bench:end -->` with that run's table, machine, date and how to reproduce it; nothing else in
the README changes. `make bench` calls it at the end of a full run, so the numbers in the README
always come from a run, never from a hand.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from bench.harness import RESULTS

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def newest_full() -> Path | None:
    """The newest results file of a full run, else of a quick one (the names sort by time)."""
    runs = sorted(RESULTS.glob("bench-*.json"))
    full = [p for p in runs if not p.stem.endswith("-quick")]
    return (full or runs)[-1] if runs else None


def block(record: dict[str, Any], source: str) -> str:
    machine = record["machine"]
    when = record["date"][:16].replace("T", " ") + " UTC"
    minutes = record["seconds"] / 60
    mode = (
        "a quick run (`BENCH_QUICK=1`: 100,000 transactions, fewer repeats)"
        if record.get("quick")
        else "a full run"
    )
    load = machine.get("load_average")
    busy = f" The machine's load average at the start was {load:.1f}." if load is not None else ""
    return "\n".join(
        [
            START,
            f"Measured in {mode} on {when} at commit `{machine['commit']}`: {machine['cpu']}, "
            f"{machine['cores']} cores, Python {machine['python']}, {machine['platform']}; "
            f"the whole run took {minutes:.1f} minutes.{busy} Ratios are the median against the "
            "reference in the same run; ✓ meets it, ✗ misses it.",
            "",
            record["table"],
            "",
            f"Reproduce with `make bench` (results in `{source}`; this block is rewritten by "
            "`python -m bench.readme` at the end of a full run). `BENCH_QUICK=1 make bench` "
            "gives a quick look with smaller sizes and fewer repeats (1.5 minutes measured).",
            END,
        ]
    )


def update(readme: Path = README) -> Path | None:
    """Rewrite the block from the newest full run; return that run's file (None: no full run)."""
    source = newest_full()
    if source is None:
        return None
    record = json.loads(source.read_text())
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{readme} has no {START} … {END} block")
    relative = source.relative_to(readme.parent)
    new = pattern.sub(lambda _: block(record, str(relative)), text, count=1)
    if new != text:
        readme.write_text(new)
    return source


def main() -> None:
    source = update()
    if source is None:
        print("no full benchmark results yet: README.md left as it is", file=sys.stderr)
    else:
        print(f"README.md performance block from {source.name}")


if __name__ == "__main__":
    main()
