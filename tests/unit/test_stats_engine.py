"""The engine without a server: shards, the token bucket, retries, failures and cancellation."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from sarportal.stats import (
    Columns,
    PageDecoder,
    RunCancelled,
    RunFailed,
    TokenBucket,
    batched,
    plan_shards,
    run,
)
from sarportal.stats.engine import Retries
from tests.unit.test_stats_rows import page, rfc3339, summary

START = datetime(2026, 1, 1, tzinfo=UTC)
ROWS = [summary(rfc3339(START + timedelta(hours=7 * i)), amount=100 + i) for i in range(400)]
NO_WAIT = Retries(attempts=3, first_delay=0.0, sleep=lambda _: None)


class FakeProvider:
    """Pages of ROWS like the provider's list endpoint (small pages, cursors are offsets)."""

    def __init__(self, page_size: int = 50) -> None:
        self.page_size = page_size
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, params: dict[str, Any], cursor: str | None) -> bytes:
        with self.lock:
            self.requests.append({**params, "cursor": cursor})
        rows = [
            r for r in ROWS
            if params.get("created_from", "") <= r["created_at"] < params["created_to"]
        ]  # fmt: skip
        rows.sort(key=lambda r: r["created_at"], reverse=params["order"] == "created_desc")
        offset = int(cursor or 0)
        size = min(self.page_size, int(params["limit"]))
        chunk = rows[offset : offset + size]
        more = offset + size < len(rows)
        extra = {"total_count": len(rows)} if params.get("include_total") == "true" else {}
        return page(chunk, has_more=more, next_cursor=str(offset + size) if more else None, **extra)


class Refused(Exception):
    def __init__(self, retry_after: float | None = None, should_retry: bool = True) -> None:
        super().__init__("provider said no")
        self.retry_after = retry_after
        self.should_retry = should_retry


FILTERS = {"created_from": "2026-01-01T00:00:00Z", "created_to": "2026-04-01T00:00:00Z"}
IN_RANGE = sum(1 for r in ROWS if "2026-01-01" <= r["created_at"] < "2026-04-01")


def test_shards_cover_the_range_newest_first_at_whole_seconds() -> None:
    shards = plan_shards("2026-01-01T00:00:00.5Z", "2026-01-02T00:00:00Z", target_shards=7)
    assert len(shards) == 7
    assert shards[0].created_to == datetime(2026, 1, 2, tzinfo=UTC)
    assert shards[-1].created_from == datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    for newer, older in itertools.pairwise(shards):
        assert older.created_to == newer.created_from
        assert newer.created_from.microsecond == 0
    assert plan_shards("2026-01-01T00:00:00Z", "2026-01-01T00:00:02Z", target_shards=10) != []
    assert len(plan_shards("2026-01-01T00:00:00Z", "2026-01-01T00:00:02Z", target_shards=10)) == 2
    assert plan_shards("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", target_shards=3) == []


def test_a_run_sees_every_row_once_and_the_previous_period() -> None:
    provider = FakeProvider()
    result = run(FILTERS, provider, concurrency=3, shards_per_period=5)
    assert result.current.count == IN_RANGE
    previous = sum(1 for r in ROWS if "2025-10-03" <= r["created_at"] < "2026-01-01")
    assert result.previous is not None and result.previous.count == previous
    assert result.progress["rows"] == IN_RANGE + previous
    assert all(r["limit"] == 1000 and r["order"] == "created_desc" for r in provider.requests)
    firsts = [r for r in provider.requests if r["cursor"] is None]
    assert all(r["include_total"] == "true" for r in firsts)
    assert all("include_total" not in r for r in provider.requests if r["cursor"] is not None)


def test_without_a_start_the_oldest_match_starts_the_period() -> None:
    result = run({"created_to": "2026-02-01T00:00:00Z"}, FakeProvider(), concurrency=2)
    assert result.period_start == START
    assert result.previous is None
    assert result.current.count == sum(1 for r in ROWS if r["created_at"] < "2026-02-01")


def test_progress_moves_forward_and_ends_at_the_total() -> None:
    seen: list[dict[str, int | None]] = []
    partial_counts: list[int] = []

    def on_progress(progress: dict[str, int | None], partial: Any) -> None:
        seen.append(progress)
        partial_counts.append(partial.current.count + partial.previous.count)

    run(FILTERS, FakeProvider(), concurrency=4, on_progress=on_progress)
    for before, after in itertools.pairwise(seen):
        for key in ("shards_done", "pages", "rows"):
            assert after[key] >= before[key]  # type: ignore[operator]
        assert (after["estimated_total"] or 0) >= (before["estimated_total"] or 0)
    last = seen[-1]
    assert last["shards_done"] == last["shards_total"]
    assert last["rows"] == last["estimated_total"] == partial_counts[-1]
    assert partial_counts == [p["rows"] for p in seen]
    # An estimate is the whole run's total or none: a sum over the shards that have answered so
    # far once read "≈ 3,000 of 21,348" for a result of 44,095.
    assert seen[0]["estimated_total"] is None
    assert {p["estimated_total"] for p in seen} == {None, last["rows"]}


def test_a_failing_page_is_retried_and_respects_retry_after() -> None:
    provider = FakeProvider()
    failures = iter([Refused(retry_after=0.01), Refused()])
    pauses: list[float] = []

    def flaky(params: dict[str, Any], cursor: str | None) -> bytes:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return provider(params, cursor)

    limiter = TokenBucket(sleep=pauses.append)
    retries = Retries(attempts=3, first_delay=0.5, sleep=pauses.append)
    result = run(FILTERS, flaky, concurrency=1, limiter=limiter, retries=retries)
    assert result.current.count == IN_RANGE
    assert pauses[0] == pytest.approx(0.01, abs=0.01)  # the limiter waited out Retry-After
    assert 1.0 in pauses  # then back-off for the error without one: 0.5 s doubled (2nd try)


def test_a_shard_that_keeps_failing_fails_the_whole_run() -> None:
    provider = FakeProvider()
    results: list[Any] = []

    def broken(params: dict[str, Any], cursor: str | None) -> bytes:
        if params["created_to"] == FILTERS["created_to"] and cursor is not None:
            raise Refused()
        return provider(params, cursor)

    with pytest.raises(RunFailed, match="after 3 attempt"):
        results.append(run(FILTERS, broken, concurrency=2, retries=NO_WAIT))
    assert results == []


def test_a_refusal_that_will_not_change_is_not_retried() -> None:
    calls: list[int] = []

    def refused(params: dict[str, Any], cursor: str | None) -> bytes:
        calls.append(1)
        raise Refused(should_retry=False)

    with pytest.raises(RunFailed):
        run(FILTERS, refused, concurrency=1, shards_per_period=1, previous_period=False)
    assert len(calls) == 1


def test_a_truncated_page_is_retried() -> None:
    provider = FakeProvider()
    truncated = [True]

    def cut(params: dict[str, Any], cursor: str | None) -> bytes:
        body = provider(params, cursor)
        if truncated.pop() if truncated else False:
            return body[: len(body) // 2]
        return body

    assert run(FILTERS, cut, retries=NO_WAIT).current.count == IN_RANGE


def test_a_cancelled_run_raises_and_returns_nothing() -> None:
    provider = FakeProvider()
    stop = threading.Event()

    def on_progress(progress: dict[str, int | None], partial: Any) -> None:
        stop.set()

    with pytest.raises(RunCancelled):
        run(FILTERS, provider, concurrency=2, on_progress=on_progress, cancelled=stop.is_set)


def test_the_token_bucket_spaces_requests_and_slows_down_after_a_429() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10.0, burst=2, recovery_seconds=10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        bucket.acquire()
    assert waits == pytest.approx([0.1, 0.1])  # the burst of 2, then one every 0.1 s
    bucket.backoff(2.0)
    assert bucket.rate() == pytest.approx(5.0)
    bucket.acquire()
    assert waits[-1] == pytest.approx(2.0, abs=0.21)  # the pause first
    now[0] += 10.0
    assert bucket.rate() == pytest.approx(10.0)  # recovered


def _pages(sizes: list[int]) -> list[Columns]:
    decoder, rows = PageDecoder(), iter(ROWS)
    return [
        decoder.decode(page([next(rows) for _ in range(size)], has_more=n < len(sizes) - 1,
                            next_cursor=str(n) if n < len(sizes) - 1 else None))
        for n, size in enumerate(sizes)
    ]  # fmt: skip


def test_batches_start_with_the_first_page_alone_and_end_with_the_shard() -> None:
    pages = _pages([10, 10, 10, 10, 10, 10, 5])
    batches = list(batched(iter(pages), rows=25, seconds=60))
    assert [(len(b), b.pages) for b in batches] == [(10, 1), (30, 3), (25, 3)]
    assert [b.has_more for b in batches] == [True, True, False]
    assert batches[-1].next_cursor is None
    joined = np.concatenate([b.amount for b in batches])
    assert joined.tolist() == np.concatenate([p.amount for p in pages]).tolist()


def test_a_batch_does_not_wait_longer_than_its_time() -> None:
    ticks = iter(itertools.count(step=0.1))
    pages = _pages([10] * 6)
    batches = list(batched(iter(pages), rows=1_000, seconds=0.25, clock=lambda: next(ticks)))
    # the clock moves 0.1 s at each reading; a batch that has waited 0.25 s goes at its next page
    assert [b.pages for b in batches] == [1, 3, 2]
    assert sum(len(b) for b in batches) == 60
