"""Each figure of domain.md on a small set whose expected values are worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from sarportal.stats.aggregate import Aggregate
from sarportal.stats.figures import figures
from tests.fixtures.hand_figures import END, PREVIOUS, ROWS, START, aggregate
from tests.unit.test_stats_rows import summary


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return figures(aggregate(ROWS), None, period_end=END, period_start=START)


@pytest.fixture(scope="module")
def compared() -> dict[str, Any]:
    return figures(aggregate(ROWS), aggregate(PREVIOUS), period_end=END, period_start=START)


def test_totals_and_status_counts(result: dict[str, Any]) -> None:
    assert result["totals"] == {"count": 10, "amount_by_currency": {"CHF": 500, "EUR": 45_000}}
    assert result["by_status"] == {
        "declined": 1, "authorized": 1, "partially_captured": 0, "captured": 5,
        "partially_refunded": 1, "refunded": 1, "cancelled": 1, "expired": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("count", 9),
        ("volume", 44_000),  # Σ amount of the 8 not declined
        ("captured_volume", 34_000),  # 3000 + 3000 + 5000 + 6000 + 8000 + 9000
        ("net_volume", 27_000),  # 34000 − (1000 + 6000)
        ("approval_rate", 0.8889),  # 8 / 9
        ("capture_rate", 0.7727),  # 34000 / 44000
        ("cancellation_rate", 0.1818),  # (1000 + 7000) / 44000
        ("refund_rate", 0.2059),  # 7000 / 34000
        ("refund_rate_by_count", 0.3333),  # 2 refunded / 6 captured
        ("average_order_value", 5500),  # 44000 / 8
        ("open_receivables", 6000),  # open 3000 + overdue 3000
        ("overdue_count", 1),
        ("overdue_amount", 3000),
        ("write_off_rate", 0.2353),  # 8000 / 34000
        ("dso", 5.3),  # 6000 / (34000 / 30): the 30 days of November were fetched
    ],
)
def test_key_figure(result: dict[str, Any], name: str, value: float) -> None:
    figure = result["key_figures"]["EUR"][name]
    assert figure == {"value": value, "previous": None, "delta": None, "delta_ratio": None}


def test_key_figures_against_the_previous_period(compared: dict[str, Any]) -> None:
    eur = compared["key_figures"]["EUR"]
    assert eur["count"] == {"value": 9, "previous": 1, "delta": 8, "delta_ratio": 8.0}
    assert eur["volume"] == {"value": 44_000, "previous": 10_000, "delta": 34_000,
                             "delta_ratio": 3.4}  # fmt: skip
    assert eur["approval_rate"] == {"value": 0.8889, "previous": 1.0, "delta": -0.1111,
                                    "delta_ratio": -0.1111}  # fmt: skip
    # 60 days fetched (October 2 to November 30): 6000 / ((34000 + 10000) / 60).
    assert eur["dso"]["value"] == 8.2
    # The previous period's own 30 days: 10000 / (10000 / 30).
    assert eur["dso"]["previous"] == 30.0
    assert compared["key_figures"]["CHF"]["count"]["previous"] == 0
    assert compared["key_figures"]["CHF"]["count"]["delta_ratio"] is None


def test_rates_without_a_denominator_are_none() -> None:
    only_declined = aggregate([summary(status="declined")])
    eur = figures(only_declined, None, period_end=END)["key_figures"]["EUR"]
    assert eur["approval_rate"]["value"] == 0.0
    for name in ("capture_rate", "refund_rate", "average_order_value", "dso", "write_off_rate"):
        assert eur[name]["value"] is None, name


def test_days_to_pay_and_payment_delay(result: dict[str, Any]) -> None:
    days = result["days_to_pay"]["by_currency"]["EUR"]
    # 6 days (Nov 4 12:00 → Nov 10 12:00) and 22 days (Nov 7 10:00 → Nov 30 09:00).
    assert (days["count"], days["median"]) == (2, 14.0)
    assert [d for d, n in zip(result["days_to_pay"]["bins"], days["counts"], strict=True)
            for _ in range(n)] == [6, 22]  # fmt: skip
    delay = result["payment_delay"]["by_currency"]["EUR"]
    # Due Nov 18, paid Nov 10: −8; due Nov 21, paid Nov 30: +9.
    assert [d for d, n in zip(result["payment_delay"]["bins"], delay["counts"], strict=True)
            for _ in range(n)] == [-8, 9]  # fmt: skip
    assert delay["median"] == 0.5


def test_dunning_funnel(result: dict[str, Any]) -> None:
    funnel = result["dunning_funnel"]["by_currency"]["EUR"]
    assert funnel == {"count": [7, 1, 0, 0, 1], "reached": [9, 2, 1, 1, 1]}


def test_breakdowns(result: dict[str, Any]) -> None:
    settlement = result["breakdowns"]["settlement_status"]["EUR"]
    assert {k: v["count"] for k, v in settlement.items()} == {
        "none": 4, "open": 1, "paid": 2, "overdue": 1, "written_off": 1
    }  # fmt: skip
    assert settlement["overdue"]["net"] == 3000
    assert result["breakdowns"]["shop"]["CHF"]["musterhaus-ch"]["amount"] == 500
    assert list(result["breakdowns"]["shop"]["EUR"]) == ["musterhaus-de"]
    assert result["breakdowns"]["country"]["CHF"]["CH"]["count"] == 1
    method = result["breakdowns"]["payment_method"]["EUR"]
    assert method["invoice"]["count"] == 9 and method["direct_debit"]["count"] == 0


def test_amount_distribution(result: dict[str, Any]) -> None:
    edges = result["amount_distribution"]["edges"]
    eur = result["amount_distribution"]["by_currency"]["EUR"]
    # 1000 and 2000 fall into [1000, 2000) and [2000, 5000); 5000–9000 into [5000, 10000).
    assert eur["count"][edges.index(1000)] == 1
    assert eur["count"][edges.index(2000)] == 3  # 2000, 3000, 4000
    assert eur["count"][edges.index(5000)] == 5
    assert eur["amount"][edges.index(5000)] == 35_000
    assert sum(eur["count"]) == 9


def test_series_by_day_week_and_month(result: dict[str, Any]) -> None:
    series = result["series"]
    assert len(series["day"]["buckets"]) == 30
    assert series["day"]["buckets"][0] == "2026-11-01"
    assert series["week"]["buckets"][:2] == ["2026-W44", "2026-W45"]  # Nov 1 is a Sunday
    assert series["month"]["buckets"] == ["2026-11"]
    month = series["month"]["by_currency"]["EUR"]
    assert month["count"]["captured"] == [4]
    assert month["amount"]["captured"] == [24_000]
    day = series["day"]["by_currency"]["CHF"]
    assert day["count"]["captured"][19] == 1 and sum(day["count"]["captured"]) == 1


def test_figures_are_plain_json(compared: dict[str, Any]) -> None:
    def walk(value: Any) -> None:
        assert type(value) in (str, int, float, bool, type(None), list, dict), type(value)
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(compared)


def test_an_empty_period() -> None:
    empty = figures(Aggregate("Europe/Berlin"), Aggregate("Europe/Berlin"), period_end=END,
                    period_start=START)  # fmt: skip
    assert empty["totals"] == {"count": 0, "amount_by_currency": {}}
    assert set(empty["by_status"].values()) == {0}
    assert empty["key_figures"] == {}
