"""The dunning forecast follows domain.md's schedule: the next level an invoice has not reached,
if its day falls within the window."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sarportal.domain.dunning import counts_by_level, level_day, upcoming
from sarportal.provider.models import TransactionSummary
from tests.unit.test_reconciliation import summary

TODAY = date(2026, 12, 8)


def invoice(
    due_days_ago: int, level: int, settlement: str = "overdue", tx_id: str = "tx_1"
) -> TransactionSummary:
    due = TODAY - timedelta(days=due_days_ago)
    return summary(id=tx_id, due_date=due, dunning_level=level, settlement_status=settlement)


@pytest.mark.parametrize(
    ("due_days_ago", "level", "expected"),
    [
        (0, 0, None),  # due today: the reminder in 7 days, just outside the window
        (1, 0, (1, 6)),
        (20, 1, (2, 1)),
        (21, 1, (2, 0)),  # today
        (37, 3, None),
        (38, 3, (4, 6)),
        (50, 3, (4, 0)),  # a level overdue (paused, or not yet reached at the provider): today
        (50, 4, None),  # with collection already
    ],
)
def test_the_next_level_and_its_day(
    due_days_ago: int, level: int, expected: tuple[int, int] | None
) -> None:
    found = upcoming([invoice(due_days_ago, level)], TODAY, 7)
    assert [(u.level, (u.on - TODAY).days) for u in found] == ([expected] if expected else [])


def test_paid_and_uncaptured_invoices_are_not_forecast() -> None:
    assert upcoming([invoice(40, 3, "paid"), invoice(40, 3, "written_off")], TODAY) == []
    assert upcoming([summary(due_date=None, settlement_status=None)], TODAY) == []
    assert len(upcoming([invoice(3, 0, "open")], TODAY)) == 1


def test_soonest_first_then_the_highest_level_and_counted_by_level() -> None:
    items = upcoming(
        [invoice(1, 0, tx_id="a"), invoice(38, 3, tx_id="b"), invoice(15, 1, tx_id="c"),
         invoice(42, 3, tx_id="d")],
        TODAY,
    )  # fmt: skip
    assert [(u.transaction.id, u.level, (u.on - TODAY).days) for u in items] == [
        ("d", 4, 2), ("b", 4, 6), ("c", 2, 6), ("a", 1, 6),
    ]  # fmt: skip
    assert counts_by_level(items) == {4: 2, 2: 1, 1: 1}
    assert level_day(TODAY, 4) == TODAY + timedelta(days=44)
