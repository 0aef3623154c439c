"""One statistics job in a process of its own, so its CPU time and peak memory are its own.

`python -m bench.stats_job MODE URL CA [--concurrency N] [--rate R]` prints one JSON line with the
wall time, the CPU time of the process and the children it waited for, its peak RSS, the rows
read and the seconds to the first partial figures. MODE is
- `engine`: the portal's engine (shards on threads) over the JSON list;
- `export`: the same engine over the provider's CSV export (pages of 10,000);
- `processes`: the same shards, each fetched, decoded and folded by the engine's own functions in
  one of N forked processes (a fresh provider client each), the aggregates merged at the end: how
  the engine would do without the threads' contention for the GIL;
- `floor`: download the same shards' pages with the same concurrency and do nothing with them
  (the rows are the provider's `total_count` of each shard, not counted in the bodies);
- `export-floor`: the same for the export's pages (the first of each shard 1000 rows, the others
  10,000, as the engine asks for them);
- `plain`: one page after another, stdlib json, a pandas frame per page, grouped into the same
  tables as the engine's aggregate.
`check` holds the row count and, except for `floor`, the counts by status and the amounts by
currency, which the bench compares.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.processes import peak_rss_mb
from sarportal.domain.moments import rfc3339
from sarportal.jobs.work import EXPORT_PAGE_SIZE
from sarportal.provider import Credentials, Provider, ProviderConfig
from sarportal.stats import TokenBucket, plan_shards, run
from sarportal.stats.aggregate import AMOUNT_EDGES, DAYS_TO_PAY_MAX, Aggregate, merge
from sarportal.stats.columns import PageDecoder
from sarportal.stats.engine import batched, fetch_shard
from sarportal.stats.figures import figures
from sarportal.stats.shards import PAGE_SIZE

CREDENTIALS = Credentials("demo-viewer", "demo-viewer-secret")
Outcome = tuple[dict[str, Any], float | None]  # what the job checks, seconds to first figures


def _range() -> tuple[datetime, datetime]:
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    return end - timedelta(days=740), end


def engine(session: Any, concurrency: int, rate: float | None, *, export: bool = False) -> Outcome:
    start, end = _range()
    first: list[float] = []
    began = time.perf_counter()

    def progress(done: dict[str, Any], partial: Any) -> None:
        if not first:
            first.append(time.perf_counter() - began)

    read = session.export_page_raw if export else session.list_page_raw
    result = run(
        {"created_from": rfc3339(start), "created_to": rfc3339(end)},
        lambda params, cursor: read({**params, "cursor": cursor}),
        concurrency=concurrency,
        limiter=TokenBucket(rate) if rate else None,
        on_progress=progress,
        previous_period=False,
        page_size=EXPORT_PAGE_SIZE if export else PAGE_SIZE,
    )
    return _check(result.figures()), (first[0] if first else None)


def export(session: Any, concurrency: int, rate: float | None) -> Outcome:
    return engine(session, concurrency, rate, export=True)


def _check(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "rows": int(found["totals"]["count"]),
        "by_status": {s: n for s, n in found["by_status"].items() if n},
        "amount_by_currency": found["totals"]["amount_by_currency"],
    }


_child: dict[str, Any] = {}


def _start_child(url: str, ca: Path) -> None:
    """A forked process's own provider client: no connection is shared with the parent."""
    _child["session"] = Provider(ProviderConfig(url, ca_bundle=ca)).session(CREDENTIALS)


def _fold_shard(shard: Any) -> dict[str, Any]:
    session = _child["session"]
    into = Aggregate("UTC")
    pages = fetch_shard(shard, {}, lambda params, cursor: session.list_page_raw(
        {**params, "cursor": cursor}), decoder=PageDecoder(), limiter=TokenBucket())  # fmt: skip
    for batch in batched(pages):
        into.fold(batch)
    return into.to_dict()


def processes(session: Any, concurrency: int, rate: float | None) -> Outcome:
    start, end = _range()
    shards = plan_shards(start, end, target_shards=2 * concurrency)
    fork = multiprocessing.get_context("fork")  # this process has no threads yet
    config = session._provider.config
    with ProcessPoolExecutor(concurrency, mp_context=fork, initializer=_start_child,
                             initargs=(config.base_url, config.ca_bundle)) as pool:  # fmt: skip
        parts = list(pool.map(_fold_shard, shards))
    total = merge(*(Aggregate.from_dict(part) for part in parts))
    return _check(figures(total, None, period_end=end, period_start=start)), None


def _tail(body: bytes) -> dict[str, Any]:
    """The page's fields after its rows (has_more, next_cursor, total_count)."""
    tail: dict[str, Any] = json.loads(b"{" + body[body.rindex(b'"has_more"') :])
    return tail


def _export_tail(session: Any, params: dict[str, Any]) -> dict[str, Any]:
    page = session.export_page_raw(params)
    return {"total_count": page.total_count, "next_cursor": page.next_cursor}


def floor(session: Any, concurrency: int, rate: float | None, *, export: bool = False) -> Outcome:
    start, end = _range()
    shards = plan_shards(start, end, target_shards=2 * concurrency)
    limiter = TokenBucket(rate) if rate else None

    def read(params: dict[str, Any]) -> dict[str, Any]:
        if export:
            return _export_tail(session, params)
        return _tail(session.list_page_raw(params))

    def walk(shard: Any) -> int:
        params, cursor = shard.filters({}, limit=EXPORT_PAGE_SIZE if export else PAGE_SIZE), None
        # the engine's pages: the first of a shard asks for a total and at most PAGE_SIZE rows
        ask: dict[str, Any] = {**params, "include_total": "true", "limit": PAGE_SIZE}
        while True:
            if limiter:
                limiter.acquire()
            tail = read({**ask, "cursor": cursor})
            if "include_total" in ask:
                size = int(tail["total_count"])
            ask, cursor = params, tail["next_cursor"]
            if cursor is None:
                return size

    with ThreadPoolExecutor(concurrency) as pool:
        return {"rows": sum(pool.map(walk, shards))}, None


def export_floor(session: Any, concurrency: int, rate: float | None) -> Outcome:
    return floor(session, concurrency, rate, export=True)


# The plain way computes the same tables as the engine's `Aggregate`, per currency: counts and
# sums of the amounts by each breakdown, by day and status, by amount bin, and the days to pay.
_DIMENSIONS = (
    *("status", "settlement_status", "payment_method", "customer_type", "dunning_level"),
    *("country", "shop", "amount_bin", "with_capture", "with_refund"),
)
_MEASURES = ["count", "amount", "captured_amount", "refunded_amount", "cancelled_amount"]


def plain(session: Any, concurrency: int, rate: float | None) -> Outcome:
    import pandas as pd

    start, end = _range()
    params: dict[str, Any] = {"created_from": rfc3339(start), "created_to": rfc3339(end)}
    edges = [*AMOUNT_EDGES, float("inf")]
    parts: dict[str, list[Any]] = {name: [] for name in (*_DIMENSIONS, "day", "days_to_pay")}
    cursor = None
    while True:
        page = json.loads(session.list_page_raw({**params, "limit": 1000, "cursor": cursor}))
        frame = pd.DataFrame(page["data"])
        if len(frame):
            frame["count"] = 1
            frame["settlement_status"] = frame["settlement_status"].fillna("none")
            frame["amount_bin"] = pd.cut(frame["amount"], edges, right=False, labels=False)
            frame["with_capture"] = frame["captured_amount"] > 0
            frame["with_refund"] = frame["refunded_amount"] > 0
            frame["day"] = pd.to_datetime(frame["created_at"]).dt.floor("D")
            for name in _DIMENSIONS:
                parts[name].append(frame.groupby(["currency", name])[_MEASURES].sum())
            parts["day"].append(frame.groupby(["currency", "day", "status"])[_MEASURES].sum())
            paid = frame.dropna(subset=["paid_at", "captured_at"])
            days = (pd.to_datetime(paid["paid_at"]) - pd.to_datetime(paid["captured_at"])).dt.days
            parts["days_to_pay"].append(
                paid.groupby([paid["currency"], days.clip(0, DAYS_TO_PAY_MAX)]).size()
            )
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    tables = {name: pd.concat(found).groupby(level=[0, 1] if name != "day" else [0, 1, 2]).sum()
              for name, found in parts.items() if found}  # fmt: skip
    by_status = tables["status"]["count"].groupby(level=1).sum()
    check = {
        "rows": int(by_status.sum()),
        "by_status": {str(s): int(n) for s, n in by_status.items() if n},
        "amount_by_currency": {
            str(c): int(n) for c, n in tables["status"]["amount"].groupby(level=0).sum().items()
        },
    }
    return check, None


def _cpu() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


MODES = {
    "engine": engine, "export": export, "processes": processes, "floor": floor,
    "export-floor": export_floor, "plain": plain,
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=list(MODES))
    parser.add_argument("url")
    parser.add_argument("ca", type=Path)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate", type=float, default=0.0)
    args = parser.parse_args()
    provider = Provider(ProviderConfig(args.url, ca_bundle=args.ca))
    session = provider.session(CREDENTIALS)
    session.list_transactions({"limit": 1})  # token and connection, outside the measurement
    work = MODES[args.mode]
    cpu0, wall0 = _cpu(), time.perf_counter()
    check, first = work(session, args.concurrency, args.rate or None)
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent that started us.
    peak = peak_rss_mb(os.getpid())
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak, "rows": check["rows"],
                      "check": check, "first": first}))  # fmt: skip


if __name__ == "__main__":
    main()
