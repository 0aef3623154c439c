"""The partial aggregate: exact, mergeable in any order, an empty one is the identity."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sarportal.stats.aggregate import Aggregate, merge
from sarportal.stats.columns import PageDecoder, concat
from tests.unit.test_stats_rows import columns, summaries, summary

ZONE = "Europe/Berlin"


def folded(rows: list[dict[str, Any]], decoder: PageDecoder | None = None) -> Aggregate:
    aggregate = Aggregate(ZONE)
    aggregate.fold(columns(rows, decoder))
    return aggregate


@st.composite
def split_rows(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Rows, and the same rows cut into parts in a random order."""
    rows = draw(st.lists(summaries(), max_size=40))
    order = draw(st.permutations(range(len(rows))))
    cuts = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=5)))
    shuffled = [rows[i] for i in order]
    edges = [0, *cuts, len(rows)]
    return rows, [shuffled[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=30, deadline=None)
@given(split_rows(), st.randoms(use_true_random=False))
def test_merging_parts_in_any_order_equals_folding_all(
    data: tuple[list[dict[str, Any]], list[list[dict[str, Any]]]], random: Any
) -> None:
    rows, parts = data
    whole = folded(rows)
    partials = [folded(part) for part in parts]  # each with its own vocabularies, as on workers
    random.shuffle(partials)
    left = merge(*partials, time_zone=ZONE)
    # Another tree shape: pairwise from the right.
    right = Aggregate(ZONE)
    for partial in reversed(partials):
        right = merge(partial, right)
    assert left.to_dict() == whole.to_dict() == right.to_dict()
    assert whole.count == len(rows)


@settings(max_examples=15, deadline=None)
@given(st.lists(summaries(), max_size=20))
def test_an_empty_aggregate_is_the_identity(rows: list[dict[str, Any]]) -> None:
    aggregate = folded(rows)
    expected = aggregate.to_dict()
    assert merge(Aggregate(ZONE), aggregate).to_dict() == expected
    assert merge(aggregate, Aggregate(ZONE)).to_dict() == expected
    aggregate.fold(columns([]))
    assert aggregate.to_dict() == expected


@settings(max_examples=15, deadline=None)
@given(st.lists(summaries(), max_size=20))
def test_plain_form_round_trips(rows: list[dict[str, Any]]) -> None:
    aggregate = folded(rows)
    again = Aggregate.from_dict(aggregate.to_dict())
    assert again.to_dict() == aggregate.to_dict()
    assert merge(again, aggregate).to_dict() == merge(aggregate, aggregate).to_dict()


def test_money_sums_are_exact_beyond_float_precision() -> None:
    huge = 2**53 // 2 + 1  # two of these cannot be added exactly in float64
    aggregate = folded([summary(amount=huge), summary(amount=huge), summary(amount=3)])
    assert int(aggregate.tables["status"][0, :, 1].sum()) == 2 * huge + 3


def test_sums_stay_per_currency() -> None:
    aggregate = folded([summary(currency="EUR", amount=100), summary(currency="CHF", amount=7)])
    by_currency = {
        c: int(aggregate.tables["status"][aggregate.currency(c), :, 1].sum())
        for c in aggregate.currencies
    }
    assert by_currency == {"EUR": 100, "CHF": 7}


def test_size_does_not_grow_with_the_number_of_transactions() -> None:
    rows = [summary(f"2026-11-{day:02d}T10:00:00Z", shop=f"shop{day % 3}") for day in range(1, 29)]
    decoder = PageDecoder()
    aggregate = Aggregate(ZONE)
    aggregate.fold(columns(rows, decoder))
    size = sum(a.nbytes for a in aggregate.tables.values()) + aggregate.daily.nbytes
    for _ in range(50):
        aggregate.fold(columns(rows, decoder))
    assert sum(a.nbytes for a in aggregate.tables.values()) + aggregate.daily.nbytes == size
    assert aggregate.count == 51 * len(rows)


def test_merging_different_time_zones_is_refused() -> None:
    try:
        merge(Aggregate("UTC"), folded([summary()]))
    except ValueError as exc:
        assert "Europe/Berlin" in str(exc)
    else:
        raise AssertionError("merged buckets of different time zones")


@settings(max_examples=30, deadline=None)
@given(split_rows())
def test_a_batch_of_pages_folds_like_its_pages(
    data: tuple[list[dict[str, Any]], list[list[dict[str, Any]]]],
) -> None:
    _rows, parts = data
    decoder = PageDecoder()
    pages = [columns(part, decoder) for part in parts]
    batch = concat(pages)
    assert len(batch) == sum(len(page) for page in pages)
    assert batch.pages == len(pages)
    one_by_one = Aggregate(ZONE)
    for page in pages:
        one_by_one.fold(page)
    at_once = Aggregate(ZONE)
    at_once.fold(batch)
    assert at_once.to_dict() == one_by_one.to_dict()
