"""Decoding pages of the CSV export: the same columns as the list page of the same rows.

The CSV is written by the standard library's `csv` module (quoting where RFC 4180 needs it), not
by the sandbox, so the decoder is checked against an independent writer.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarportal.provider.client import ExportPage
from sarportal.stats.columns import PageDecodeError, PageDecoder
from tests.unit.test_stats_columns import assert_columns_equal_rows
from tests.unit.test_stats_rows import page, summaries, summary

COLUMNS = (
    "id", "created_at", "status", "settlement_status", "payment_method", "currency", "amount",
    "captured_amount", "refunded_amount", "cancelled_amount", "shop", "country",
    "customer_type", "captured_at", "due_date", "paid_at", "dunning_level",
)  # fmt: skip


def export_page(
    rows: list[dict[str, Any]],
    columns: tuple[str, ...] = COLUMNS,
    *,
    row_count: int | None = None,
    has_more: bool = False,
    next_cursor: str | None = None,
    total_count: int | None = None,
) -> ExportPage:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return ExportPage(
        out.getvalue().encode(),
        has_more,
        next_cursor,
        len(rows) if row_count is None else row_count,
        total_count,
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(summaries(), max_size=30), st.booleans())
def test_export_columns_equal_those_of_the_list_page(
    rows: list[dict[str, Any]], more: bool
) -> None:
    cursor = "abc" if more else None
    exported = export_page(rows, has_more=more, next_cursor=cursor, total_count=77)
    listed = page(rows, has_more=more, next_cursor=cursor, total_count=77)
    assert_columns_equal_rows(PageDecoder().decode(exported), listed)


def test_columns_are_read_by_name_in_any_order_and_new_ones_are_ignored() -> None:
    rows = [summary(captured_at="2026-11-03T08:00:00Z", settlement_status="open"), summary()]
    shuffled = ("note", *reversed(COLUMNS))
    rows_with_note = [{**r, "note": "added later"} for r in rows]
    columns = PageDecoder().decode(export_page(rows_with_note, shuffled))
    assert_columns_equal_rows(columns, page(rows))


def test_fractions_and_offsets_are_read_as_the_list_reads_them() -> None:
    rows = [
        summary("2026-03-29T02:30:00.75+02:00", captured_at="2026-03-29T00:30:00+00:00"),
        summary("2026-03-29T00:30:00Z", paid_at="2026-04-01T12:00:00-05:00",
                captured_at="2026-03-29T00:30:00Z"),
    ]  # fmt: skip
    columns = PageDecoder().decode(export_page(rows))
    assert columns.created_at.tolist() == [1774744200, 1774744200]
    assert_columns_equal_rows(columns, page(rows))


def test_quoted_fields_and_shops_named_like_nulls_are_kept() -> None:
    rows = [summary(shop='Laden "Nord", Kiel'), summary(shop="NULL"), summary(shop="N/A")]
    decoder = PageDecoder()
    columns = decoder.decode(export_page(rows))
    shops = [decoder.vocabularies.shops.name(int(code)) for code in columns.shop]
    assert shops == ['Laden "Nord", Kiel', "NULL", "N/A"]


def test_one_vocabulary_for_list_and_export_pages_of_a_job() -> None:
    decoder = PageDecoder()
    listed = decoder.decode(page([summary(currency="XTS", shop="neu")]))
    exported = decoder.decode(
        export_page([summary(currency="EUR"), summary(currency="XTS", shop="neu")])
    )
    assert exported.currency[1] == listed.currency[0]
    assert exported.shop[1] == listed.shop[0]


@pytest.mark.parametrize(
    "bad",
    [
        export_page([summary(), summary()], row_count=3),  # cut short
        export_page([summary(status="pending")]),  # not a status of the contract
        export_page([summary(settlement_status="none")]),  # "none" is only our code for null
        export_page([summary(amount=-5)]),
        export_page([summary(dunning_level=5)]),
        export_page([summary(currency=None)]),  # a required field left empty
        export_page([summary("yesterday")]),
        export_page([summary("2026-11-02T10:00:00")]),  # no time zone
        export_page([summary(amount="12.50")]),
        export_page([summary()], tuple(c for c in COLUMNS if c != "shop")),  # a column missing
        ExportPage(b"<html>Bad gateway</html>", False, None, 1, None),
    ],
)
def test_an_export_page_against_the_contract_is_refused(bad: ExportPage) -> None:
    with pytest.raises(PageDecodeError):
        PageDecoder().decode(bad)


def test_an_empty_export_page_decodes_to_empty_columns() -> None:
    columns = PageDecoder().decode(export_page([]))
    assert len(columns) == 0
    assert columns.created_at.dtype.kind == "i" and columns.shop.dtype.kind == "i"


def test_decoding_the_export_loads_neither_pandas_nor_arrow_compute() -> None:
    """Both would cost about 0.2 CPU-s on a job's first page (see `stats.export_pages`); checked
    in a fresh interpreter, since other tests load them into this one."""
    rows = [summary(captured_at="2026-11-03T08:00:00Z", settlement_status="open"), summary()]
    script = (
        "import sys\n"
        "from sarportal.provider.client import ExportPage\n"
        "from sarportal.stats.columns import PageDecoder\n"
        f"body = {export_page(rows).body!r}\n"
        "columns = PageDecoder().decode(ExportPage(body, False, None, 2, None))\n"
        "assert len(columns) == 2 and columns.captured_at[1] == -1\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'pyarrow.compute') if m in sys.modules))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert answer.stdout.strip() == "['pyarrow']"
