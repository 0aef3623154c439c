"""Runs a statistics job: filters → time shards → pages (fetched concurrently) → one aggregate.

The chosen period and the previous one (same length, ending where the chosen one begins) are cut
into shards, newest first, so the first partial figures are about the newest days. Shards run on
a thread pool bounded by `concurrency`; every request first takes a token from the limiter; each
page is decoded into columns, folded into its period's aggregate and dropped.

Errors::

    StatsError          anything that ends a run without a result
     ├── RunFailed      a page still failed after its retries, or a request was refused for good
     └── RunCancelled   the caller cancelled the run

A run that raises returns nothing: a partial aggregate is only ever handed out as a progress
snapshot, never as a result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sarportal.domain.moments import parse_time, rfc3339
from sarportal.stats.aggregate import Aggregate
from sarportal.stats.columns import Columns, PageDecoder, RawPage, concat
from sarportal.stats.figures import figures
from sarportal.stats.limiter import TokenBucket
from sarportal.stats.shards import PAGE_SIZE, Shard, plan_shards

# One page of the list (raw JSON bytes) or of the CSV export, for these parameters and cursor.
FetchPage = Callable[[dict[str, Any], str | None], RawPage]

# Decoding and folding are pure CPU under the GIL. Threads doing them at once only take turns at
# the GIL, and each forced switch costs more CPU; taking turns on this lock instead lets the
# waiting threads sleep, while the others keep receiving. Measured on a 1,000,000-transaction
# job with 4 threads on the sandbox (median of 5 each, side by side): 3.72 → 3.11 CPU-s, wall
# 3.49 → 3.12 s. One per process, for every job in it.
CPU_TURN = threading.Lock()
# The engine sets these itself; the caller's values for them are ignored.
_ENGINE_PARAMETERS = ("created_from", "created_to", "limit", "cursor", "order", "include_total")


class StatsError(Exception):
    """A statistics run ended without a result."""


class RunFailed(StatsError):
    """A page could not be fetched or decoded, even after retries; the run has no result."""


class RunCancelled(StatsError):
    """The run was cancelled before it finished."""


@dataclass
class Progress:
    """How far a run has come; every number only grows."""

    shards_total: int = 0
    shards_done: int = 0
    pages: int = 0
    rows: int = 0
    totals: dict[int, int] = field(default_factory=dict)  # shard number → its total_count

    def to_dict(self) -> dict[str, int | None]:
        return {
            "shards_total": self.shards_total,
            "shards_done": self.shards_done,
            "pages": self.pages,
            "rows": self.rows,
            "estimated_total": estimated_total(
                sum(self.totals.values()), len(self.totals), self.shards_total
            ),
        }


def estimated_total(known: int, shards_known: int, shards_total: int) -> int | None:
    """The run's total: the sum of the provider's `total_count` of every shard, once each shard
    has answered its first page; None before (a sum over some shards is not a total)."""
    return known if shards_total and shards_known >= shards_total else None


class Partial(NamedTuple):
    """The aggregates of the chosen and the previous period (None when there is none)."""

    current: Aggregate
    previous: Aggregate | None


@dataclass(frozen=True)
class RunResult:
    """A finished run: both periods' aggregates over every matching transaction."""

    current: Aggregate
    previous: Aggregate | None
    period_start: datetime | None  # None: no transaction matched and no start was given
    period_end: datetime
    progress: dict[str, int | None]

    def figures(self) -> dict[str, Any]:
        """The figures of domain.md for this run (see `stats.figures`)."""
        return figures(
            self.current, self.previous, period_end=self.period_end, period_start=self.period_start
        )


@dataclass(frozen=True)
class Retries:
    """How often and how patiently a failing page is retried."""

    attempts: int = 4
    first_delay: float = 0.25
    sleep: Callable[[float], None] = time.sleep


DEFAULT_RETRIES = Retries()


def fetch_shard(
    shard: Shard,
    filters: Mapping[str, Any],
    fetch_page: FetchPage,
    *,
    decoder: PageDecoder,
    limiter: TokenBucket,
    cancelled: Callable[[], bool] = lambda: False,
    retries: Retries = DEFAULT_RETRIES,
    page_size: int = PAGE_SIZE,
) -> Iterator[Columns]:
    """The pages of one shard as columns, following the cursor. The first asks for a total, and
    for no more than `PAGE_SIZE` rows, so that the first figures come as soon as with the list."""
    parameters = shard.filters(filters, limit=page_size)
    cursor: str | None = None
    first = True
    while True:
        page = _fetch_with_retries(
            {**parameters, "include_total": "true", "limit": min(page_size, PAGE_SIZE)}
            if first else parameters,
            cursor, fetch_page, decoder, limiter, cancelled, retries, shard,
        )  # fmt: skip
        yield page
        if not page.has_more:
            return
        if page.next_cursor is None:
            raise RunFailed(f"{_describe(shard)}: has_more without a next_cursor")
        cursor, first = page.next_cursor, False


BATCH_ROWS = 8_000  # rows folded at once: folding costs per call, not only per row
BATCH_SECONDS = 0.25  # no page waits longer than this (and one more page) to be folded


def batched(
    pages: Iterator[Columns],
    *,
    rows: int = BATCH_ROWS,
    seconds: float = BATCH_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Columns]:
    """A shard's pages joined into batches of about `rows` rows. The first page comes alone, so
    the first figures and the shard's total arrive at once; a batch is handed on when it is big
    enough, when it has waited `seconds`, or at the end of the shard."""
    waiting: list[Columns] = []
    size, since = 0, 0.0
    for number, page in enumerate(pages):
        if not waiting:
            since = clock()
        waiting.append(page)
        size += len(page)
        if number == 0 or not page.has_more or size >= rows or clock() - since >= seconds:
            yield concat(waiting)
            waiting, size = [], 0
    if waiting:  # only when the pages ended without a last page (not from fetch_shard)
        yield concat(waiting)


def _describe(shard: Shard) -> str:
    low, high = rfc3339(shard.created_from), rfc3339(shard.created_to)
    return f"shard {low}..{high} ({shard.period} period)"


def _fetch_with_retries(
    parameters: dict[str, Any],
    cursor: str | None,
    fetch_page: FetchPage,
    decoder: PageDecoder,
    limiter: TokenBucket,
    cancelled: Callable[[], bool],
    retries: Retries,
    shard: Shard,
) -> Columns:
    for attempt in range(1, retries.attempts + 1):
        if cancelled():
            raise RunCancelled("the statistics run was cancelled")
        limiter.acquire()
        try:
            return decoder.decode(fetch_page(parameters, cursor), CPU_TURN)
        except StatsError:
            raise
        except Exception as exc:  # any failure of the injected fetch is retried
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                limiter.backoff(float(retry_after))  # the next acquire() waits it out
            if attempt == retries.attempts or getattr(exc, "should_retry", True) is False:
                raise RunFailed(
                    f"{_describe(shard)}: a page failed after {attempt} attempt(s): {exc}"
                ) from exc
            if retry_after is None:
                retries.sleep(retries.first_delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Plan:
    """The shards of a run (newest first, the previous period's last) and the period they cover;
    `start` is None when no transaction matches and no start was given (then no shards)."""

    base: dict[str, Any]  # the filters every shard shares (without the engine's parameters)
    start: datetime | None
    end: datetime
    shards: list[Shard]
    previous_period: bool


def plan(
    filters: Mapping[str, Any],
    fetch_page: FetchPage,
    *,
    shards_per_period: int,
    limiter: TokenBucket | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    previous_period: bool = True,
    retries: Retries = DEFAULT_RETRIES,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    decoder: PageDecoder | None = None,
) -> Plan:
    """Cut the run for `filters` into shards; without `created_from` one request first finds
    the oldest matching transaction (and then there is no previous period)."""
    base = {k: v for k, v in filters.items() if k not in _ENGINE_PARAMETERS and v is not None}
    end = parse_time(filters.get("created_to") or now())
    start = parse_time(filters["created_from"]) if filters.get("created_from") else None
    if start is None:
        start = _oldest(base, end, fetch_page, decoder or PageDecoder(), limiter or TokenBucket(),
                        cancelled, retries)  # fmt: skip
        previous_period = False  # nothing matches before the oldest match
    if start is None:
        return Plan(base, None, end, [], previous_period)
    shards = plan_shards(start, end, target_shards=shards_per_period)
    if previous_period:
        shards += plan_shards(
            start - (end - start), start, target_shards=shards_per_period, period="previous"
        )
    return Plan(base, start, end, shards, previous_period)


def run(
    filters: Mapping[str, Any],
    fetch_page: FetchPage,
    *,
    concurrency: int = 4,
    limiter: TokenBucket | None = None,
    on_progress: Callable[[dict[str, int | None], Partial], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    time_zone: str = "UTC",
    shards_per_period: int | None = None,
    previous_period: bool = True,
    retries: Retries = DEFAULT_RETRIES,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    page_size: int = PAGE_SIZE,
) -> RunResult:
    """Aggregate every transaction matching `filters` (the provider's list filters; the created
    range as RFC 3339 strings), and those of the previous period. `on_progress(progress, partial)`
    is called after every batch of pages (see `batched`), in order, with copies of the aggregates
    so far. `page_size`: the rows a page asks for (the export allows larger pages than the
    list)."""
    limiter = limiter or TokenBucket()
    user_cancelled = cancelled or (lambda: False)
    stop = threading.Event()

    def halted() -> bool:
        return stop.is_set() or user_cancelled()

    decoder = PageDecoder()
    planned = plan(
        filters, fetch_page, limiter=limiter, cancelled=halted, previous_period=previous_period,
        shards_per_period=shards_per_period or 2 * max(1, concurrency), retries=retries, now=now,
        decoder=decoder,
    )  # fmt: skip
    base, shards, start, end = planned.base, planned.shards, planned.start, planned.end
    current = Aggregate(time_zone)
    previous = Aggregate(time_zone) if planned.previous_period else None
    if start is None:
        return RunResult(current, previous, None, end, Progress().to_dict())

    progress = Progress(shards_total=len(shards))
    aggregates = {"current": current} | ({"previous": previous} if previous else {})
    lock = threading.Lock()

    def work(number: int, shard: Shard) -> None:
        into = aggregates[shard.period]
        pages = fetch_shard(shard, base, fetch_page, decoder=decoder, limiter=limiter,
                            cancelled=halted, retries=retries, page_size=page_size)  # fmt: skip
        for page in batched(pages):
            with lock:
                with CPU_TURN:
                    into.fold(page)
                progress.pages += page.pages
                progress.rows += len(page)
                if page.total_count is not None:
                    progress.totals.setdefault(number, page.total_count)
                if page.has_more is False:
                    progress.shards_done += 1
                if on_progress is not None:
                    snapshot = Partial(current.copy(), previous.copy() if previous else None)
                    on_progress(progress.to_dict(), snapshot)

    _run_all(shards, work, concurrency, stop)
    return RunResult(current, previous, start, end, progress.to_dict())


def _run_all(
    shards: list[Shard], work: Callable[[int, Shard], None], concurrency: int, stop: threading.Event
) -> None:
    """Run every shard; on the first failure stop the others and raise it."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="stats") as pool:
        futures: list[Future[None]] = []
        for number, shard in enumerate(shards):
            future = pool.submit(work, number, shard)
            future.add_done_callback(lambda done: _stop_on_failure(done, stop))
            futures.append(future)
    failures = [error for future in futures if (error := future.exception()) is not None]
    if failures:
        # The failure that stopped the run, rather than the cancellations it caused.
        raise next((f for f in failures if not isinstance(f, RunCancelled)), failures[0])


def _stop_on_failure(done: Future[None], stop: threading.Event) -> None:
    if done.exception() is not None:
        stop.set()


def _oldest(
    base: dict[str, Any],
    end: datetime,
    fetch_page: FetchPage,
    decoder: PageDecoder,
    limiter: TokenBucket,
    cancelled: Callable[[], bool],
    retries: Retries,
) -> datetime | None:
    """The creation second of the oldest matching transaction before `end`, if any."""
    probe = Shard(datetime(1970, 1, 1, tzinfo=UTC), end)
    parameters = {**probe.filters(base), "limit": 1, "order": "created_asc"}
    del parameters["created_from"]
    page = _fetch_with_retries(
        parameters, None, fetch_page, decoder, limiter, cancelled, retries, probe
    )
    if len(page) == 0:
        return None
    return datetime.fromtimestamp(int(page.created_at[0]), UTC)
