"""The transaction filter parser: never more than its own error, round trips, presets and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from sarportal.domain.filters import (
    COUNTRIES,
    CURRENCIES,
    MAX_BACK_PAGES,
    PAGE_SIZES,
    FilterError,
    Order,
    Paging,
    Period,
    Preset,
    TableView,
    TransactionFilters,
    format_amount_input,
    parse_filters,
    parse_paging,
    parse_table,
    parse_view,
)
from sarportal.domain.vocabulary import (
    CUSTOMER_TYPES,
    DUNNING_LEVELS,
    PAYMENT_METHODS,
    SETTLEMENT_STATUSES,
    STATUSES,
)

BERLIN = ZoneInfo("Europe/Berlin")
KEYS = (
    "period", "from", "to", "status", "settlement_status", "payment_method", "currency",
    "country", "customer_type", "shop", "dunning_level", "amount_min", "amount_max",
    "order_reference", "preset", "order", "per_page", "cursor", "prev", "page", "other",
)  # fmt: skip


def parse(query: str, locale: str = "en") -> TransactionFilters:
    return parse_filters(MultiDict(parse_qsl(query, keep_blank_values=True)), locale)


def parse_both(query: str, locale: str = "en") -> tuple[TransactionFilters, TableView]:
    return parse_table(MultiDict(parse_qsl(query, keep_blank_values=True)), locale)


def table_query(filters: TransactionFilters, view: TableView) -> str:
    return urlencode(filters.query_pairs() + view.query_pairs())


# -- never anything but FilterError ------------------------------------------------------------

values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["1.234,56", "1,234.56", "-5", "0", "2025-02-30", "2025-03-31", "7d", "EUR"]),
    st.sampled_from([*STATUSES, *SETTLEMENT_STATUSES, *PAYMENT_METHODS, *COUNTRIES, "ch", "4"]),
)
queries = st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=8), values), max_size=12)


@settings(max_examples=400, deadline=None)
@given(pairs=queries, locale=st.sampled_from(["de", "en", "fr", ""]))
def test_any_query_parses_or_raises_only_filter_error(
    pairs: list[tuple[str, str]], locale: str
) -> None:
    query = MultiDict(pairs)
    try:
        filters, view = parse_table(query, locale)
    except FilterError as error:
        assert error.errors and all(e.field in KEYS for e in error.errors)
        # the table reports the bad fields of both halves: none is lost, none is invented
        halves: list[str] = []
        for half in (lambda: parse_filters(query, locale), lambda: parse_view(query)):
            try:
                half()
            except FilterError as part:
                halves.extend(e.field for e in part.errors)
        assert [e.field for e in error.errors] == halves
    else:
        # whatever was accepted reads back the same from its canonical form
        assert parse_both(table_query(filters, view), locale or "en") == (filters, view)
    try:
        parse_paging(query)
    except FilterError as error:
        assert error.errors[0].field == "cursor"


# -- round trip --------------------------------------------------------------------------------


def subset(options: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(options), unique=True).map(
        lambda chosen: tuple(o for o in options if o in chosen)
    )


days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
text = (
    st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P"), include_characters=" "),
        min_size=1,
        max_size=64,
    )
    .map(str.strip)
    .filter(bool)
)


@st.composite
def filters(draw: st.DrawFn) -> TransactionFilters:
    period = draw(st.none() | st.sampled_from(Period))
    start = end = None
    if period is Period.CUSTOM:
        start, end = draw(st.none() | days), draw(st.none() | days)
        if start and end and start > end:
            start, end = end, start
    low = draw(st.none() | st.integers(0, 10**12))
    high = draw(st.none() | st.integers(low or 0, 10**12))
    return TransactionFilters(
        period=period,
        date_from=start,
        date_to=end,
        statuses=draw(subset(STATUSES)),
        settlement_statuses=draw(subset(SETTLEMENT_STATUSES)),
        payment_methods=draw(subset(PAYMENT_METHODS)),
        currencies=draw(subset(tuple(sorted(CURRENCIES)))),
        countries=draw(subset(tuple(sorted(COUNTRIES)))),
        customer_types=draw(subset(CUSTOMER_TYPES)),
        shops=tuple(sorted(set(draw(st.lists(text, max_size=3))))),
        dunning_levels=tuple(
            int(x) for x in draw(subset(tuple(str(level) for level in DUNNING_LEVELS)))
        ),
        amount_min=low,
        amount_max=high,
        order_reference=draw(st.none() | text),
        preset=draw(st.none() | st.sampled_from(Preset)),
    )


views = st.builds(
    TableView, order=st.none() | st.sampled_from(Order), per_page=st.sampled_from(PAGE_SIZES)
)


@settings(max_examples=300, deadline=None)
@given(chosen=filters(), view=views, locale=st.sampled_from(["de", "en"]))
def test_canonical_query_round_trips(
    chosen: TransactionFilters, view: TableView, locale: str
) -> None:
    query = chosen.canonical_query()
    assert parse(query, locale) == chosen
    assert parse(query, locale).canonical_query() == query
    both = table_query(chosen, view)
    assert parse_both(both, locale) == (chosen, view)
    assert parse(both, locale) == chosen  # the statistics read the same link, the view aside


def test_canonical_query_has_a_stable_order_and_leaves_defaults_out() -> None:
    a = parse("status=refunded&period=7d&status=captured&country=de&per_page=50")
    b = parse("country=DE&status=captured&status=refunded&status=captured&period=7d")
    assert a == b
    assert a.canonical_query() == "period=7d&status=captured&status=refunded&country=DE"
    assert TransactionFilters().canonical_query() == ""
    assert parse_view(MultiDict([("per_page", "50")])) == TableView()
    assert TableView().query_pairs() == []


def test_the_sort_and_page_size_are_not_filters() -> None:
    chosen, view = parse_both("status=captured&order=amount_desc&per_page=100")
    assert chosen == parse("status=captured") and not chosen.is_default
    assert view == TableView(Order.AMOUNT_DESC, 100)
    assert parse("order=amount_desc&per_page=100").is_default
    params = view.provider_params(chosen)
    assert params == {"order": "amount_desc", "limit": 100}


def test_amounts_are_typed_in_the_users_locale_and_shared_without_it() -> None:
    de = parse("amount_min=1.234,56&amount_max=2000", "de")
    en = parse("amount_min=1,234.56&amount_max=2,000", "en")
    assert de == en
    assert (de.amount_min, de.amount_max) == (123456, 200000)
    assert "amount_min=1234.56" in de.canonical_query()
    assert parse(de.canonical_query(), "de") == parse(de.canonical_query(), "en") == de
    assert format_amount_input(123456, "EUR", "de") == "1234,56"


def test_amount_errors_name_the_field() -> None:
    with pytest.raises(FilterError) as caught:
        parse("amount_min=12,345&amount_max=abc", "de")
    codes = {e.field: e.code for e in caught.value.errors}
    assert codes == {"amount_min": "amount_precision", "amount_max": "amount_format"}
    with pytest.raises(FilterError) as caught:
        parse("amount_min=20&amount_max=10")
    assert caught.value.by_field()["amount_max"].code == "amount_order"


def test_bad_fields_are_each_reported() -> None:
    with pytest.raises(FilterError) as caught:
        parse_both("period=forever&status=lost&from=2025-02-30&per_page=7&country=Deutschland")
    assert set(caught.value.by_field()) == {"period", "status", "from", "per_page", "country"}
    with pytest.raises(FilterError) as caught:
        parse_both("order=customer_name")
    assert caught.value.by_field()["order"].code == "choice"
    with pytest.raises(FilterError) as caught:
        parse("from=2025-03-10&to=2025-03-01")
    assert caught.value.by_field()["to"].code == "date_order"


# -- periods in the user's time zone, across DST ----------------------------------------------


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "now", "expected"),
    [
        # 30 March 2025: Berlin switches from CET (+1) to CEST (+2) at 02:00
        ("today", utc(2025, 3, 30, 12), (utc(2025, 3, 29, 23), utc(2025, 3, 30, 22))),
        ("7d", utc(2025, 3, 31, 8), (utc(2025, 3, 24, 23), utc(2025, 3, 31, 22))),
        ("this_month", utc(2025, 3, 31, 8), (utc(2025, 2, 28, 23), utc(2025, 3, 31, 22))),
        ("last_month", utc(2025, 4, 2, 8), (utc(2025, 2, 28, 23), utc(2025, 3, 31, 22))),
        # 26 October 2025: back from CEST to CET
        ("30d", utc(2025, 10, 26, 23, 30), (utc(2025, 9, 27, 22), utc(2025, 10, 27, 23))),
        ("this_year", utc(2025, 12, 31, 23, 30), (utc(2025, 12, 31, 23), utc(2026, 1, 1, 23))),
        ("last_month", utc(2025, 1, 15), (utc(2024, 11, 30, 23), utc(2024, 12, 31, 23))),
    ],
)
def test_period_presets_are_half_open_ranges_in_berlin(
    period: str, now: datetime, expected: tuple[datetime, datetime]
) -> None:
    chosen = parse(f"period={period}")
    assert chosen.created_range(now, BERLIN) == expected
    params = chosen.provider_params(now, BERLIN)
    assert (params["created_from"], params["created_to"]) == expected  # typed: the client writes
    assert "order" not in params  # what to match only; how to show it is the table's


def test_custom_dates_include_the_last_day_and_may_be_open() -> None:
    chosen = parse("from=2025-03-29&to=2025-03-30")
    assert chosen.period is Period.CUSTOM
    now = utc(2025, 6, 1)
    assert chosen.created_range(now, BERLIN) == (utc(2025, 3, 28, 23), utc(2025, 3, 30, 22))
    assert parse("to=2025-10-26").created_range(now, BERLIN) == (None, utc(2025, 10, 26, 23))
    assert parse("period=7d&from=2025-01-01").date_from is None  # dates only for custom


# -- needs-action presets ------------------------------------------------------------------------


def test_presets_narrow_the_filters() -> None:
    now = utc(2025, 6, 1)
    authorized = parse("preset=authorized").provider_params(now, BERLIN)
    assert authorized["status"] == ["authorized"]
    assert TableView().effective_order(parse("preset=authorized")) is Order.OLDEST
    overdue = parse("preset=overdue&status=captured").provider_params(now, BERLIN)
    assert overdue["settlement_status"] == ["overdue"] and overdue["status"] == ["captured"]
    refunds = parse("preset=partially_refunded").provider_params(now, BERLIN)
    assert refunds["status"] == ["partially_refunded"]
    assert TableView().effective_order(parse("preset=partially_refunded")) is Order.NEWEST
    chosen, view = parse_both("preset=authorized&order=created_desc")
    assert view.effective_order(chosen) is Order.NEWEST
    assert parse("preset=authorized&status=captured").matches_nothing
    assert not parse("preset=authorized&status=captured&status=authorized").matches_nothing


# -- paging ------------------------------------------------------------------------------------


def test_paging_goes_forward_and_back_to_the_same_cursors() -> None:
    paging = Paging()
    trail = [paging]
    for step in range(5):
        paging = paging.forward(f"c{step}")
        trail.append(paging)
    assert paging.page == 6
    for expected in reversed(trail[:-1]):
        paging = paging.back()
        assert paging == expected
    assert parse_paging(MultiDict(trail[3].query_pairs())) == trail[3]


def test_paging_keeps_at_most_the_cap_of_earlier_cursors() -> None:
    paging = Paging()
    for step in range(MAX_BACK_PAGES + 5):
        paging = paging.forward(f"c{step}")
    assert len(paging.previous) == MAX_BACK_PAGES
    for _ in range(MAX_BACK_PAGES):
        assert paging.can_step_back
        paging = paging.back()
    assert not paging.can_step_back and paging.page == 6
    assert paging.back() == Paging()  # the rest of the way is page one
    with pytest.raises(FilterError):
        parse_paging(MultiDict([("cursor", "bad cursor!")]))
