"""The payouts page's filters, and the line count that proves a streamed payout file complete."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from sarportal.domain.filters import FilterError
from sarportal.domain.payout_filters import PayoutFilters, parse_payout_filters
from sarportal.provider.payout_files import _LineCounter


def parse(**query: str | list[str]) -> PayoutFilters:
    return parse_payout_filters(MultiDict(query))


def test_no_query_means_every_payout() -> None:
    assert parse().is_default and parse().provider_params() == {}


def test_the_arrival_range_is_inclusive_on_the_page_and_half_open_at_the_provider() -> None:
    found = parse(**{"from": "2026-11-01", "to": "2026-11-30"})
    assert found.provider_params() == {"arrival_from": "2026-11-01", "arrival_to": "2026-12-01"}
    assert found.query_pairs() == [("from", "2026-11-01"), ("to", "2026-11-30")]


def test_choices_keep_the_vocabularys_order() -> None:
    found = parse(status=["paid", "pending"], currency=["CHF", "EUR"])
    assert found.statuses == ("pending", "paid") and found.currencies == ("EUR", "CHF")
    assert found.provider_params()["status"] == ("pending", "paid")


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({"from": "1.11.2026"}, "from", "date"),
        ({"to": "2026-02-30"}, "to", "date"),
        ({"from": "1999-12-31"}, "from", "date_range"),
        ({"from": "2026-02-01", "to": "2026-01-31"}, "to", "date_order"),
        ({"status": "lost"}, "status", "choice"),
        ({"currency": "USD"}, "currency", "choice"),
    ],
)
def test_each_bad_field_is_named(query: dict[str, str], field: str, code: str) -> None:
    with pytest.raises(FilterError) as raised:
        parse(**query)
    assert raised.value.by_field()[field].code == code


def test_a_one_day_range_is_allowed() -> None:
    assert parse(**{"from": "2026-12-02", "to": "2026-12-02"}).arrival_to == date(2026, 12, 2)


CSV = b"payout_id,type\n" + b"".join(b"po_1,capture\n" for _ in range(7))
DATEV = b'"EXTF";700;21\nUmsatz;Soll/Haben\n' + b"".join(b"1,00;S\n" for _ in range(5))
CAMT = b"<Document><Stmt>" + b"".join(b"<Ntry><Amt>1</Amt></Ntry>" for _ in range(6)) + b"</Stmt>"


@given(cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
@pytest.mark.parametrize(
    ("fmt", "body", "lines"), [("csv", CSV, 7), ("datev", DATEV, 5), ("camt053", CAMT, 6)]
)
def test_lines_are_counted_however_the_body_is_cut_into_chunks(
    fmt: str, body: bytes, lines: int, cuts: list[int]
) -> None:
    counter = _LineCounter(fmt)  # type: ignore[arg-type]
    edges = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    for start, end in itertools.pairwise(edges):
        counter.feed(body[start:end])
    assert counter.lines == lines


def test_a_file_cut_short_counts_fewer_lines() -> None:
    counter = _LineCounter("camt053")
    counter.feed(CAMT[: len(CAMT) // 2])
    assert counter.lines < 6
