"""The fast page renderers (JSON and the CSV export) give exactly the reference `Book.summaries`."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarportal.sandbox.book import Book
from sarportal.sandbox.config import SandboxConfig
from sarportal.sandbox.render import SummaryRenderer
from sarportal.sandbox.server import build_app

N = 4000


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    state_dir: Path = tmp_path_factory.mktemp("render")
    app = build_app(SandboxConfig(state_dir=state_dir, transactions=N, seed=3, now=1_790_000_000))
    return app.books[1]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.integers(0, N - 1), min_size=0, max_size=300))
def test_rendered_page_equals_reference(book: Book, rows: list[int]) -> None:
    picked = np.asarray(rows, dtype=np.int64)
    assert orjson.loads(book.renderer.render(picked)) == book.summaries(picked)


def csv_rows(body: bytes) -> list[dict[str, str]]:
    """The export read with the standard library's CSV reader (RFC 4180)."""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def as_csv(summary: dict[str, Any]) -> dict[str, str]:
    """A summary as the export writes it: its columns only, null as empty, numbers as text."""
    columns = SummaryRenderer.CSV_COLUMNS
    return {k: "" if summary[k] is None else str(summary[k]) for k in columns}


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.integers(0, N - 1), min_size=0, max_size=300))
def test_exported_page_equals_reference(book: Book, rows: list[int]) -> None:
    picked = np.asarray(rows, dtype=np.int64)
    body = book.renderer.render_csv(picked)
    assert body.startswith(b"id,created_at,status,") and body.endswith(b"\n")
    assert csv_rows(body) == [as_csv(s) for s in book.summaries(picked)]


def test_the_export_holds_no_customer_field() -> None:
    assert not {"customer_id", "customer", "email", "name", "address"} & set(
        SummaryRenderer.CSV_COLUMNS
    )


def test_rendered_page_follows_writes(book: Book) -> None:
    authorized = np.flatnonzero(book.data.status == 1)[:3]
    now = int(book.data.created[authorized].max()) + 60
    for row in authorized.tolist():
        book.capture(row, 1, now)
    assert orjson.loads(book.renderer.render(authorized)) == book.summaries(authorized)
    assert csv_rows(book.renderer.render_csv(authorized)) == [
        as_csv(s) for s in book.summaries(authorized)
    ]
    assert all(s["captured_amount"] == 1 for s in book.summaries(authorized))


def test_large_numbers_and_other_merchants(tmp_path: Path) -> None:
    app = build_app(SandboxConfig(state_dir=tmp_path, transactions=50, seed=9))
    book = app.books[2]
    book.data.amount[:5] = [1, 9, 10, 999_999_999_999, 10**12]
    rows = np.arange(book.data.size, dtype=np.int64)
    book.renderer.refresh(rows[:5])
    assert orjson.loads(book.renderer.render(rows)) == book.summaries(rows)
    assert csv_rows(book.renderer.render_csv(rows)) == [as_csv(s) for s in book.summaries(rows)]


@settings(max_examples=50, deadline=None)
@given(seconds=st.lists(st.integers(0, 4_102_444_800), min_size=1, max_size=200))
def test_times_and_dates_match_the_calendar(seconds: list[int]) -> None:
    from datetime import UTC, datetime

    from sarportal.sandbox.render import _date, _time

    values = np.asarray(seconds, dtype=np.int64)
    times = [bytes(row).decode() for row in _time(values)]
    dates = [bytes(row).decode() for row in _date(values)]
    for second, time_text, date_text in zip(seconds, times, dates, strict=True):
        moment = datetime.fromtimestamp(second, UTC)
        assert time_text == f'"{moment:%Y-%m-%dT%H:%M:%S}Z"'
        assert date_text == f'"{moment:%Y-%m-%d}"'
