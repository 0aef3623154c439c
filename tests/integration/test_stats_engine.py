"""The statistics engine against the real sandbox over TLS, checked against plain-Python sums.

The ground truth is computed here from the raw listing (json dicts, loops), never from the
engine's own intermediate results. Other tests write to the shared sandbox, but only to recent
transactions; these tests use periods that ended more than 160 days ago, which neither writes
nor the passing of time (dunning, write-off) change any more, and they check that the listing
was the same before and after the run.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sarportal.provider import Credentials, Provider, ProviderConfig
from sarportal.provider.client import ProviderSession
from sarportal.stats import PageDecoder, RunFailed, run
from sarportal.stats.engine import Retries
from tests.fixtures.sandbox import SECRETS, SandboxHandle
from tests.unit.test_stats_columns import assert_columns_equal_rows

ZONE = "Europe/Berlin"
SETTLED = 160  # days after which nothing about a transaction changes by itself
QUICK = Retries(attempts=4, first_delay=0.01)


class ProviderRefused(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code}: {response.text[:200]}")
        retry_after = response.headers.get("Retry-After")
        self.retry_after = None if retry_after is None else float(retry_after)
        self.should_retry = response.status_code == 429 or response.status_code >= 500


FetchPage = Callable[[dict[str, Any], str | None], bytes]


def fetch_page_with(client: httpx.Client) -> FetchPage:
    def fetch_page(params: dict[str, Any], cursor: str | None) -> bytes:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/transactions", params=query)
        if response.status_code != 200:
            raise ProviderRefused(response)
        return response.content

    return fetch_page


@pytest.fixture(scope="module")
def viewer(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with sandbox.client("demo-viewer", timeout=30.0) as client:
        yield client


def listing(client: httpx.Client, filters: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**filters, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/transactions", params=query).raise_for_status().json()
        rows += body["data"]
        if not body["has_more"]:
            return rows
        cursor = body["next_cursor"]


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def ground_truth(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of domain.md, straight from the summaries."""
    truth: dict[str, Any] = {"count": len(rows), "by_status": Counter(r["status"] for r in rows)}
    per: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    days_to_pay: dict[str, list[int]] = defaultdict(list)
    daily: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        c = per[r["currency"]]
        net = r["captured_amount"] - r["refunded_amount"]
        c["count"] += 1
        c["amount"] += r["amount"]
        if r["status"] != "declined":
            c["approved"] += 1
            c["volume"] += r["amount"]
        c["captured"] += r["captured_amount"]
        c["refunded"] += r["refunded_amount"]
        c["cancelled"] += r["cancelled_amount"]
        c["with_capture"] += r["captured_amount"] > 0
        c["with_refund"] += r["refunded_amount"] > 0
        if r["settlement_status"] in ("open", "overdue"):
            c["receivables"] += net
        if r["settlement_status"] == "overdue":
            c["overdue_count"] += 1
            c["overdue_amount"] += net
        if r["settlement_status"] == "written_off":
            c["written_off"] += net
        c[f"dunning{r['dunning_level']}"] += 1
        if r["paid_at"] and r["captured_at"]:
            seconds = _seconds(r["paid_at"]) - _seconds(r["captured_at"])
            days_to_pay[r["currency"]].append(int(seconds // 86_400))
        local = datetime.fromisoformat(r["created_at"]).astimezone(ZoneInfo(ZONE)).date()
        daily[r["currency"]][local.isoformat()] += 1
    truth["per_currency"] = per
    truth["days_to_pay"] = days_to_pay
    truth["daily"] = daily
    return truth


def _ratio(a: int, b: int) -> float | None:
    return None if b == 0 else round(a / b, 4)


def assert_figures_match(figures: dict[str, Any], truth: dict[str, Any]) -> None:
    assert figures["totals"]["count"] == truth["count"]
    assert {s: n for s, n in figures["by_status"].items() if n} == dict(truth["by_status"])
    per = truth["per_currency"]
    assert figures["totals"]["amount_by_currency"] == {c: v["amount"] for c, v in per.items()}
    for currency, t in per.items():
        kf = {name: f["value"] for name, f in figures["key_figures"][currency].items()}
        assert kf["count"] == t["count"]
        assert kf["volume"] == t["volume"]
        assert kf["captured_volume"] == t["captured"]
        assert kf["net_volume"] == t["captured"] - t["refunded"]
        assert kf["approval_rate"] == _ratio(t["approved"], t["count"])
        assert kf["capture_rate"] == _ratio(t["captured"], t["volume"])
        assert kf["cancellation_rate"] == _ratio(t["cancelled"], t["volume"])
        assert kf["refund_rate"] == _ratio(t["refunded"], t["captured"])
        assert kf["refund_rate_by_count"] == _ratio(t["with_refund"], t["with_capture"])
        assert kf["open_receivables"] == t["receivables"]
        assert kf["overdue_count"] == t["overdue_count"]
        assert kf["overdue_amount"] == t["overdue_amount"]
        assert kf["write_off_rate"] == _ratio(t["written_off"], t["captured"])
        if t["approved"]:
            assert abs(kf["average_order_value"] - t["volume"] / t["approved"]) <= 0.5
        funnel = figures["dunning_funnel"]["by_currency"][currency]["count"]
        assert funnel == [t[f"dunning{level}"] for level in range(5)]
        pay = figures["days_to_pay"]["by_currency"][currency]
        values = truth["days_to_pay"][currency]
        assert pay["count"] == len(values)
        assert pay["median"] == (statistics.median(values) if values else None)
        series = figures["series"]["day"]
        by_day = {
            day: sum(counts[i] for counts in series["by_currency"][currency]["count"].values())
            for i, day in enumerate(series["buckets"])
        }
        assert {d: n for d, n in by_day.items() if n} == dict(truth["daily"][currency])


def _window(days_ago: int, length: int) -> dict[str, str]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = today - timedelta(days=days_ago)
    start = end - timedelta(days=length)
    return {"created_from": start.isoformat(), "created_to": end.isoformat()}


@st.composite
def old_filters(draw: st.DrawFn) -> dict[str, Any]:
    filters: dict[str, Any] = _window(draw(st.integers(SETTLED, 500)), draw(st.integers(1, 110)))
    choices = {
        "status": ["declined", "authorized", "captured", "partially_refunded", "refunded",
                   "cancelled", "expired", "partially_captured"],
        "payment_method": ["invoice", "installments", "direct_debit"],
        "currency": ["EUR", "CHF"],
        "country": ["DE", "AT", "CH"],
        "customer_type": ["b2c", "b2b"],
        "settlement_status": ["open", "paid", "overdue", "written_off"],
    }  # fmt: skip
    for name, values in choices.items():
        if draw(st.booleans()) and draw(st.booleans()):
            filters[name] = draw(st.lists(st.sampled_from(values), min_size=1, unique=True))
    if draw(st.booleans()):
        filters["amount_min"] = draw(st.integers(0, 20_000))
    return filters


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(filters=old_filters())
def test_figures_equal_a_ground_truth_from_the_listing(
    viewer: httpx.Client, filters: dict[str, Any]
) -> None:
    before = listing(viewer, filters)
    result = run(filters, fetch_page_with(viewer), concurrency=3, time_zone=ZONE)
    after = listing(viewer, filters)
    assert before == after, "the sandbox changed under the test"
    assert_figures_match(result.figures(), ground_truth(before))

    start = datetime.fromisoformat(filters["created_from"])
    end = datetime.fromisoformat(filters["created_to"])
    previous = {**filters, "created_from": (start - (end - start)).isoformat(),
                "created_to": start.isoformat()}  # fmt: skip
    previous_rows = listing(viewer, previous)
    assert result.previous is not None and result.previous.count == len(previous_rows)
    volume = sum(r["amount"] for r in previous_rows if r["status"] != "declined" and
                 r["currency"] == "EUR")  # fmt: skip
    if previous_rows:
        eur = result.figures()["key_figures"].get("EUR")
        assert eur is None or eur["volume"]["previous"] == volume


@pytest.fixture(scope="module")
def viewer_session(sandbox: SandboxHandle) -> Iterator[ProviderSession]:
    provider = Provider(ProviderConfig(sandbox.url, ca_bundle=sandbox.ca))
    yield provider.session(Credentials("demo-viewer", SECRETS["demo-viewer"]))
    provider.close()


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(filters=old_filters(), page_size=st.sampled_from([700, 2500, 10_000]))
def test_the_csv_export_gives_the_figures_of_the_list(
    viewer: httpx.Client, viewer_session: ProviderSession, filters: dict[str, Any], page_size: int
) -> None:
    """The same run over the provider's CSV export (pages of `page_size`, read by the portal's
    provider client) and over the JSON list: the same figures, and both the ground truth."""

    def fetch_export(params: dict[str, Any], cursor: str | None) -> Any:
        return viewer_session.export_page_raw({**params, **({"cursor": cursor} if cursor else {})})

    listed = run(filters, fetch_page_with(viewer), concurrency=3, time_zone=ZONE)
    exported = run(filters, fetch_export, concurrency=3, time_zone=ZONE, page_size=page_size)
    assert exported.figures() == listed.figures()
    assert exported.progress == listed.progress | {"pages": exported.progress["pages"]}
    assert_figures_match(exported.figures(), ground_truth(listing(viewer, filters)))


def test_a_real_page_decodes_to_what_the_stdlib_reads(viewer: httpx.Client) -> None:
    raw = viewer.get("/v1/transactions", params={"limit": 1000, "include_total": "true"}).content
    columns = PageDecoder().decode(raw)
    assert len(columns) == 1000 and columns.total_count is not None
    assert_columns_equal_rows(columns, raw)


def test_concurrency_does_not_change_the_figures_and_progress_moves_forward(
    viewer: httpx.Client,
) -> None:
    filters = _window(SETTLED, 300)
    progress: dict[int, list[dict[str, int | None]]] = {1: [], 4: []}
    results = {
        n: run(
            filters,
            fetch_page_with(viewer),
            concurrency=n,
            time_zone=ZONE,
            on_progress=lambda p, _, n=n: progress[n].append(p),
        )
        for n in (1, 4)
    }
    assert results[1].figures() == results[4].figures()
    start = datetime.fromisoformat(filters["created_from"])
    end = datetime.fromisoformat(filters["created_to"])
    previous = {
        "created_from": (start - (end - start)).isoformat(),
        "created_to": start.isoformat(),
    }
    total = len(listing(viewer, filters)) + len(listing(viewer, previous))
    for steps in progress.values():
        for before, after in itertools.pairwise(steps):
            assert all(after[k] >= before[k] for k in ("shards_done", "pages", "rows"))  # type: ignore[operator]
            assert (after["estimated_total"] or 0) >= (before["estimated_total"] or 0)
        assert steps[-1]["rows"] == steps[-1]["estimated_total"] == total
        assert steps[-1]["shards_done"] == steps[-1]["shards_total"]


def test_a_shard_that_keeps_failing_fails_the_run_without_a_result(
    viewer: httpx.Client,
) -> None:
    filters = _window(SETTLED, 200)
    fetch = fetch_page_with(viewer)
    calls: list[str] = []

    def failing_newest_shard(params: dict[str, Any], cursor: str | None) -> bytes:
        if datetime.fromisoformat(params["created_to"]) == datetime.fromisoformat(
            filters["created_to"]
        ):
            calls.append(params["created_to"])
            return b'{"data": [{"id": "tx_'  # a truncated page, every time
        return fetch(params, cursor)

    outcome: list[Any] = []
    with pytest.raises(RunFailed, match="failed after 4 attempt"):
        outcome.append(run(filters, failing_newest_shard, concurrency=4, retries=QUICK))
    assert outcome == []
    assert len(calls) == 4
