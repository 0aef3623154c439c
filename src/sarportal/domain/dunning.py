"""The dunning schedule of domain.md, looking ahead: which unpaid invoices reach which level
in the coming days.

Counted from the due date: level 1 reminder at +7 days, level 2 first dunning at +21, level 3
second dunning at +35, level 4 collection at +44. An invoice is on the forecast for the next
level it has not reached whose day falls within the window (today included). Payment, an
extension or a pause changes the schedule at the provider; the forecast reads the due dates
and levels the provider reports now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Generic, Protocol, TypeVar

LEVEL_DAYS: Final = (7, 21, 35, 44)  # days after the due date at which each level is reached
COLLECTION: Final = len(LEVEL_DAYS)
UNPAID: Final = ("open", "overdue")


class Invoiced(Protocol):
    """What the forecast reads of a transaction (the provider's summary has it)."""

    @property
    def id(self) -> str: ...

    @property
    def settlement_status(self) -> str | None: ...

    @property
    def due_date(self) -> date | None: ...

    @property
    def dunning_level(self) -> int: ...


T = TypeVar("T", bound=Invoiced)


@dataclass(frozen=True)
class Upcoming(Generic[T]):
    """An invoice and the dunning level it reaches on `on`."""

    transaction: T
    level: int
    on: date


def level_day(due: date, level: int) -> date:
    """The day an invoice due on `due` reaches `level` (1 to 4)."""
    return due + timedelta(days=LEVEL_DAYS[level - 1])


def upcoming(invoices: Iterable[T], today: date, days: int = 7) -> list[Upcoming[T]]:
    """The invoices that reach their next dunning level within `days` days from `today`,
    soonest first, then the highest level first."""
    end = today + timedelta(days=days)
    found = []
    for tx in invoices:
        if tx.settlement_status not in UNPAID or tx.due_date is None:
            continue
        level = tx.dunning_level + 1
        if level > COLLECTION:
            continue
        on = max(level_day(tx.due_date, level), today)  # a level due in the past comes next
        if on < end:
            found.append(Upcoming(tx, level, on))
    found.sort(key=lambda u: (u.on, -u.level, u.transaction.id))
    return found


def counts_by_level(found: Sequence[Upcoming[T]]) -> dict[int, int]:
    """How many invoices reach each level (only the levels with any)."""
    counts: dict[int, int] = {}
    for item in found:
        counts[item.level] = counts.get(item.level, 0) + 1
    return dict(sorted(counts.items(), reverse=True))
