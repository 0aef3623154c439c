"""The shaping of a job's figures for the dashboard and the counter page (web.stats.charts,
web.counter_table), on the hand-worked rows of the figures tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask_babel import Babel

from sarportal.domain.filters import Period
from sarportal.stats.figures import figures
from sarportal.web.stats import buckets, charts
from sarportal.web.stats.cards import KEY_FIGURES
from sarportal.web.stats.counter_table import COUNTER_STATUSES, csv_header, csv_rows, period_table
from sarportal.web.stats.words import chart_words
from sarportal.web.ui.locale import TRANSLATIONS_DIR
from tests.fixtures.hand_figures import END, PREVIOUS, ROWS, START, aggregate


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return figures(aggregate(ROWS), aggregate(PREVIOUS), period_end=END, period_start=START)


@pytest.fixture(scope="module")
def words() -> Iterator[dict[str, Any]]:
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        yield chart_words()


class Links:
    """A link maker that records the filter changes it was asked for."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def __call__(self, **changes: Any) -> str:
        self.asked.append(changes)
        return f"/transactions#{len(self.asked) - 1}"

    def changes(self, href: str) -> dict[str, Any]:
        return self.asked[int(href.rsplit("#", 1)[1])]


def _dashboard(result: dict[str, Any], words: dict[str, Any], **options: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "currency": "EUR", "granularity": "auto", "locale": "en", "words": words,
        "link": Links(), "complete": True,
    } | options  # fmt: skip
    return charts.dashboard(result, **arguments)


@pytest.mark.parametrize(
    ("choice", "days", "expected"),
    [("auto", 1, "day"), ("auto", 45, "day"), ("auto", 46, "week"), ("auto", 182, "week"),
     ("auto", 183, "month"), ("month", 3, "month"), ("day", 900, "day"), ("bogus", 30, "day")],
)  # fmt: skip
def test_granularity_auto_keeps_the_bars_readable(choice: str, days: int, expected: str) -> None:
    assert buckets.pick_granularity(choice, days) == expected


@pytest.mark.parametrize(
    ("key", "granularity", "first", "last"),
    [("2026-11-05", "day", date(2026, 11, 5), date(2026, 11, 5)),
     ("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 4)),
     ("2028-02", "month", date(2028, 2, 1), date(2028, 2, 29)),
     ("2026-12", "month", date(2026, 12, 1), date(2026, 12, 31))],
)  # fmt: skip
def test_bucket_ranges(key: str, granularity: str, first: date, last: date) -> None:
    assert buckets.bucket_range(key, granularity) == (first, last)


def test_a_bucket_is_clipped_to_the_period() -> None:
    period = (date(2026, 11, 4), date(2026, 11, 30))
    assert buckets.clipped_range("2026-W45", "week", period) == (
        date(2026, 11, 4),
        date(2026, 11, 8),
    )


def test_a_cut_week_is_named_by_its_days() -> None:
    period = (date(2026, 10, 31), date(2026, 11, 29))
    label = buckets.bucket_label("2026-W44", "week", "en", long=True, period=period)
    assert label == "Oct 31\u2009–\u2009Nov 1, 2026"
    whole = buckets.bucket_label("2026-W45", "week", "en", long=True, period=period)
    assert whole.startswith("Nov 2")


def test_the_busiest_currency_comes_first_and_unknown_choices_fall_back(
    result: dict[str, Any],
) -> None:
    assert buckets.currencies(result) == ["EUR", "CHF"]
    assert buckets.pick_currency(result, "CHF") == "CHF"
    assert buckets.pick_currency(result, "USD") == "EUR"
    assert buckets.pick_currency(None, "EUR") is None


def test_key_figures_show_the_change_with_its_meaning(
    result: dict[str, Any], words: dict[str, Any]
) -> None:
    cards = {c["key"]: c for c in _dashboard(result, words)["key_figures"]}
    assert list(cards) == [spec.key for spec in KEY_FIGURES]
    assert cards["volume"]["value"] == "€440.00"  # EUR authorized volume: 2000 + … + 9000
    assert cards["volume"]["previous"] == "€100.00"
    assert cards["volume"]["trend"] == "up" and cards["volume"]["tone"] == "good"
    assert cards["volume"]["delta"] == "+340.0%"
    assert "Up 340.0%" in cards["volume"]["spoken"]
    refund = cards["refund_rate"]  # 7000 of 34000 captured now, 0 before: worse
    assert refund["trend"] == "up" and refund["tone"] == "bad" and refund["delta"].endswith("pp")
    assert cards["overdue_amount"]["detail"] == "1 invoice"
    # Balances as of today are not compared with a previous period judged by today's status too.
    for key in ("open_receivables", "overdue_amount", "dso"):
        card = cards[key]
        assert (card["delta"], card["trend"], card["previous"]) == ("–", "none", "–"), card
        assert "not compared" in card["spoken"]


def test_partial_figures_hold_back_the_comparison(
    result: dict[str, Any], words: dict[str, Any]
) -> None:
    cards = [c for c in _dashboard(result, words, complete=False)["key_figures"]
             if c["key"] not in ("open_receivables", "overdue_amount", "dso")]  # fmt: skip
    assert {c["trend"] for c in cards} == {"pending"}
    assert all(c["delta"] == "…" for c in cards)


def test_no_figure_adds_up_currencies(result: dict[str, Any], words: dict[str, Any]) -> None:
    for currency, count, amount in (("EUR", 9, "€450.00"), ("CHF", 1, "CHF\u00a05.00")):
        view = _dashboard(result, words, currency=currency)
        assert view["currency"] == currency
        status = view["charts"]["status"]["table"]
        assert status["foot"][1] == str(count)
        assert status["foot"][3] == amount
        # The volume chart draws the Authorized volume: its total is the card's, declined aside.
        volume = view["charts"]["volume"]
        card = next(c for c in view["key_figures"] if c["key"] == "volume")
        assert volume["table"]["foot"][-1] == card["value"]
        assert "declined" not in {s["key"] for s in volume["data"]["series"]}
        drawn = sum(sum(s["amount"]) for s in volume["data"]["series"])
        authorized = result["key_figures"][currency]["volume"]["value"]
        assert drawn == pytest.approx(authorized / 100)


def test_segments_link_to_the_transactions_with_that_filter(
    result: dict[str, Any], words: dict[str, Any]
) -> None:
    links = Links()
    view = _dashboard(result, words, link=links)
    chart = view["charts"]
    captured = next(p for p in chart["status"]["data"]["points"] if p["key"] == "captured")
    assert links.changes(captured["href"]) == {"currencies": ("EUR",), "statuses": ("captured",)}
    method = chart["payment_method"]["data"]["points"][0]
    assert links.changes(method["href"]) == {
        "currencies": ("EUR",),
        "payment_methods": ("invoice",),
    }
    bins = chart["amount"]["data"]["points"]
    first = links.changes(bins[0]["href"])
    assert first["amount_max"] == first["amount_min"] * 2 - 1  # [10 €, 20 €) → 10.00 … 19.99
    dunning = [p for p in chart["settlement"]["data"]["points"] if p["group"] == "dunning"]
    assert links.changes(dunning[1]["href"])["dunning_levels"] == (2, 3, 4)
    row = chart["volume"]["table"]["rows"][0]
    linked = next(cell for cell in row if isinstance(cell, dict))
    asked = links.changes(linked["href"])
    assert asked["period"] is Period.CUSTOM and asked["date_from"] == date(2026, 11, 1)


def test_the_settlement_funnel_counts_captured_invoices(
    result: dict[str, Any], words: dict[str, Any]
) -> None:
    points = _dashboard(result, words)["charts"]["settlement"]["data"]["points"]
    by_key = {p["key"]: p["value"] for p in points}
    assert by_key == {"paid": 2, "open": 1, "overdue": 1, "written_off": 1, "dunning-1": 2,
                      "dunning-2": 1, "dunning-3": 1, "dunning-4": 1}  # fmt: skip


def test_days_to_pay_marks_the_median_and_the_due_date(
    result: dict[str, Any], words: dict[str, Any]
) -> None:
    data = _dashboard(result, words)["charts"]["days_to_pay"]["data"]
    median = result["days_to_pay"]["by_currency"]["EUR"]["median"]
    assert data["median"] == median
    assert data["labels"][data["median_index"]] == str(int(median))
    assert data["due_index"] == charts.DUE_DAYS
    assert sum(data["values"]) == result["days_to_pay"]["by_currency"]["EUR"]["count"]


def test_a_long_tail_is_gathered_into_one_bar() -> None:
    counts = [50, 30, 10, 5, 0, 0, 3, 0, 1, 1]
    assert charts.chart_bins(counts, share=0.95) == 4
    assert charts.chart_bins(counts, share=0.95, minimum=9) == 10  # nothing left to gather
    assert charts.chart_bins([0, 0, 0], minimum=2) == 2


def test_no_figures_yet_is_an_empty_view(words: dict[str, Any]) -> None:
    view = charts.dashboard(
        None, currency=None, granularity=None, locale="de", words=words, link=Links(),
        complete=False,
    )  # fmt: skip
    assert view["empty"] and view["charts"] == {} and view["key_figures"] == []


def test_counter_table_totals_are_the_sum_of_its_rows_and_the_job_totals(
    result: dict[str, Any],
) -> None:
    for granularity in ("day", "week", "month"):
        for currency in ("EUR", "CHF"):
            table = period_table(result, currency, granularity, "de")
            totals = table.totals
            assert totals.count == sum(row.count for row in table.rows)
            assert totals.count == result["key_figures"][currency]["count"]["value"]
            assert totals.amount == result["totals"]["amount_by_currency"][currency]
            assert (
                totals.counts[COUNTER_STATUSES.index("captured")]
                == (result["breakdowns"]["status"][currency]["captured"]["count"])
            )


def test_counter_csv_rows_match_the_header(result: dict[str, Any], words: dict[str, Any]) -> None:
    tables = [period_table(result, c, "week", "en") for c in ("CHF", "EUR")]
    header = csv_header(words)
    rows = list(csv_rows(tables, lambda minor, currency: f"{minor / 100:.2f}", "Total"))
    assert all(len(row) == len(header) for row in rows)
    totals = [row for row in rows if row[0] == "Total"]
    assert [(row[3], row[-2], row[-1]) for row in totals] == [("CHF", "1", "5.00"),
                                                              ("EUR", "9", "450.00")]  # fmt: skip


def test_the_period_follows_the_user_time_zone() -> None:
    found = buckets.period_days(
        {
            "period": {
                "start": "2026-10-31T23:00:00Z",
                "end": "2026-11-30T23:00:00Z",
                "time_zone": "Europe/Berlin",
            }
        }
    )
    assert found == (date(2026, 11, 1), date(2026, 11, 30))


def test_a_count_of_days_takes_the_plural_its_number_needs(
    result: dict[str, Any], words: dict[str, Any]
) -> None:
    data = _dashboard(result, words)["charts"]["days_to_pay"]["data"]
    assert "1 day" in data["titles"] and "2 days" in data["titles"], data["titles"]
    assert not any(title.startswith("1 days") for title in data["titles"])
    assert words["day_count"](1, "1") == "1 day" and words["day_count"](1.5, "1.5") == "1.5 days"
    assert words["median_days"](1, "1") == "Median 1 day"
    german = Flask(__name__)
    german.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    Babel(german, locale_selector=lambda: "de")
    with german.test_request_context():
        from sarportal.web.stats.words import day_count

        assert [day_count(1, "1"), day_count(2, "2"), day_count(0.5, "0,5")] == [
            "1 Tag", "2 Tage", "0,5 Tage"
        ]  # fmt: skip
