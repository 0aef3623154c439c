"""Decoding list pages into columns: equal to the stdlib's reading, for every spelling."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarportal.stats.columns import (
    CUSTOMER_TYPES,
    PAYMENT_METHODS,
    SETTLEMENTS,
    STATUSES,
    Columns,
    PageDecodeError,
    PageDecoder,
)
from tests.unit.test_stats_rows import page, summaries, summary


def _epoch(value: str | None) -> int:
    return -1 if value is None else int(datetime.fromisoformat(value).timestamp() // 1)


def _date_epoch(value: str | None) -> int:
    return -1 if value is None else (date.fromisoformat(value) - date(1970, 1, 1)).days * 86_400


def assert_columns_equal_rows(columns: Columns, raw: bytes) -> None:
    """The columns say exactly what `json.loads` reads from the same bytes."""
    body = json.loads(raw)
    rows = body["data"]
    vocab = columns.vocabularies
    assert len(columns) == len(rows)
    assert columns.has_more == body["has_more"]
    assert columns.next_cursor == body["next_cursor"]
    assert columns.total_count == body.get("total_count")
    for name in ("created_at", "captured_at", "paid_at"):
        assert getattr(columns, name).tolist() == [_epoch(r[name]) for r in rows], name
    assert columns.due_date.tolist() == [_date_epoch(r["due_date"]) for r in rows]
    for name in ("amount", "captured_amount", "refunded_amount", "cancelled_amount"):
        assert getattr(columns, name).tolist() == [r[name] for r in rows], name
    assert [STATUSES[c] for c in columns.status] == [r["status"] for r in rows]
    assert [SETTLEMENTS[c] for c in columns.settlement_status] == [
        r["settlement_status"] or "none" for r in rows
    ]
    assert [PAYMENT_METHODS[c] for c in columns.payment_method] == [
        r["payment_method"] for r in rows
    ]
    assert [CUSTOMER_TYPES[c] for c in columns.customer_type] == [r["customer_type"] for r in rows]
    assert columns.dunning_level.tolist() == [r["dunning_level"] for r in rows]
    assert [vocab.currencies.name(c) for c in columns.currency] == [r["currency"] for r in rows]
    assert [vocab.countries.name(c) for c in columns.country] == [r["country"] for r in rows]
    assert [vocab.shops.name(c) for c in columns.shop] == [r["shop"] for r in rows]


@settings(max_examples=40, deadline=None)
@given(st.lists(summaries(), max_size=30), st.booleans())
def test_columns_equal_the_stdlib_reading(rows: list[dict[str, object]], more: bool) -> None:
    raw = page(rows, has_more=more, next_cursor="abc" if more else None, total_count=77)
    assert_columns_equal_rows(PageDecoder().decode(raw), raw)


def test_other_rfc3339_spellings_take_the_slow_path_and_agree() -> None:
    rows = [
        summary("2026-03-29T02:30:00.75+02:00", captured_at="2026-03-29T00:30:00+00:00"),
        summary("2026-03-29T00:30:00Z", paid_at="2026-04-01T12:00:00-05:00",
                captured_at="2026-03-29T00:30:00Z"),
    ]  # fmt: skip
    raw = page(rows)
    columns = PageDecoder().decode(raw)
    assert columns.created_at.tolist() == [1774744200, 1774744200]
    assert_columns_equal_rows(columns, raw)


def test_unknown_currencies_countries_and_shops_are_interned_not_dropped() -> None:
    decoder = PageDecoder()
    first = decoder.decode(page([summary(currency="XTS", country="ZZ", shop="neu")]))
    second = decoder.decode(page([summary(currency="EUR"), summary(currency="XTS", shop="neu")]))
    vocab = decoder.vocabularies
    assert vocab.currencies.name(int(first.currency[0])) == "XTS"
    assert second.currency[1] == first.currency[0]  # one code per name for the whole job
    assert second.shop[1] == first.shop[0]
    assert vocab.countries.name(int(first.country[0])) == "ZZ"


def test_threads_sharing_one_decoder_each_read_their_pages_right() -> None:
    """Eight threads decode pages of new shops and currencies at once, so that combinations of
    categories are added to the job's table while others read it."""
    pages = [
        page([summary(currency=f"X{t}{n % 3}", shop=f"shop-{t}-{n}", country=f"Q{n % 4}")
              for n in range(40)])
        for t in range(8)
    ]  # fmt: skip
    decoder = PageDecoder()
    start = threading.Barrier(8)

    def decode_all(raw: bytes) -> list[Columns]:
        start.wait()
        return [decoder.decode(raw) for _ in range(20)]

    with ThreadPoolExecutor(8) as pool:
        decoded = list(pool.map(decode_all, pages))
    for raw, columns in zip(pages, decoded, strict=True):
        for one in columns:
            assert_columns_equal_rows(one, raw)
    assert len(decoder.vocabularies.shops.names) == 8 * 40


def test_no_identifying_field_reaches_the_columns() -> None:
    columns = PageDecoder().decode(page([summary()]))
    names = set(vars(columns))
    assert not names & {"id", "order_reference", "customer_id", "customer"}


@pytest.mark.parametrize(
    "raw",
    [
        page([summary()])[:-20],  # truncated
        page([summary(status="pending")]),  # not a status of the contract
        page([summary(amount=-5)]),
        page([summary(dunning_level=5)]),
        page([summary("yesterday")]),
        page([summary("2026-13-01T00:00:00Z")]),
        b'{"data": [], "has_more": false}',  # next_cursor is required
    ],
)
def test_a_page_against_the_contract_is_refused(raw: bytes) -> None:
    with pytest.raises(PageDecodeError):
        PageDecoder().decode(raw)


def test_an_empty_page_decodes_to_empty_columns() -> None:
    columns = PageDecoder().decode(page([]))
    assert len(columns) == 0
    assert columns.created_at.dtype.kind == "i"
