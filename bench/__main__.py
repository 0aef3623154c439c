"""Run every benchmark case, print one table and keep the results as JSON."""

from __future__ import annotations

import time

from bench import (
    bulk_cases,
    decode_cases,
    load_cases,
    payout_cases,
    portal_cases,
    readme,
    sandbox_cases,
    stats_cases,
)
from bench.harness import QUICK, Report


def main() -> None:
    report = Report()
    mode = "quick" if QUICK else "full"
    print(f"sarportal benchmarks ({mode} mode)", flush=True)
    for name, module in (
        ("sandbox", sandbox_cases),
        ("decoding", decode_cases),
        ("statistics", stats_cases),
        ("bulk actions", bulk_cases),
        ("portal, one user", portal_cases),
        ("payouts", payout_cases),
        ("portal, many users", load_cases),
    ):
        started = time.perf_counter()
        print(f"- {name}", flush=True)
        module.run(report)
        print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)
    print()
    print(report.table())
    print(f"\nresults: {report.save()}")
    if not QUICK:
        readme.main()


if __name__ == "__main__":
    main()
