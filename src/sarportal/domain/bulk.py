"""Bulk actions: one action over many transactions, as a job whose rows each run once.

A bulk job captures the full capturable amount of each row (the everyday "ship the orders"),
cancels the uncaptured rest, or refunds the rest in full with one reason. It is planned first
(`plan_rows`): each chosen transaction becomes a row with the amount the action will take now,
or is left out with the reason why (nothing left to capture, a declined transaction, …); the
review shows that plan and its total per currency. Every row gets its own idempotency key when
the job is made, so a retried row, a worker that died mid-row or a restarted job sends the same
request again and the provider applies it once.

    row:  queued ──▶ sending ──▶ done | refused (the provider's code) | unknown (reconciled)
             ├──▶ approval (above the organisation's threshold: a request for a second person)
             └──▶ cancelled (the job was stopped before the row was sent)

Plain values only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sarportal.domain.actions import ActionKind, Amounts

__all__ = [
    "MAX_ROWS",
    "BulkJob",
    "BulkRow",
    "JobState",
    "Planned",
    "RowState",
    "Skipped",
    "plan_rows",
    "totals",
]

MAX_ROWS: Final = 1000
"""The most rows one job takes (a choice of more is refused at the review)."""


class JobState(StrEnum):
    DRAFT = "draft"  # planned, shown for review, not started
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class RowState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # sent (or about to be); a worker that resumes it sends it again
    DONE = "done"
    REFUSED = "refused"
    UNKNOWN = "unknown"
    APPROVAL = "approval"  # above the threshold: waiting for a second person
    CANCELLED = "cancelled"  # the job was cancelled before the row was sent


OPEN_ROWS: Final = frozenset({RowState.QUEUED, RowState.SENDING})
NOTHING_LEFT: Final = {
    ActionKind.CAPTURE: "nothing_to_capture",
    ActionKind.REFUND: "nothing_to_refund",
    ActionKind.CANCEL: "nothing_to_cancel",
}


@dataclass(frozen=True)
class Planned:
    """A row the job will send: the transaction, the amount, and what the user saw."""

    transaction_id: str
    amount: int
    currency: str
    baseline: Amounts


@dataclass(frozen=True)
class Skipped:
    """A chosen transaction the job leaves out, and why (a code the page puts in words)."""

    transaction_id: str
    code: str  # nothing_to_capture, nothing_to_refund, nothing_to_cancel, above_available,
    # not_found


def plan_rows(
    kind: ActionKind,
    chosen: Iterable[tuple[str, Amounts, int | None]],
    now: datetime,
) -> tuple[list[Planned], list[Skipped]]:
    """The rows for `kind` over `chosen` (transaction id, its amounts now, and an amount asked
    for, None: all that is possible); each transaction once, in the order given."""
    planned: list[Planned] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for transaction_id, amounts, wanted in chosen:
        if transaction_id in seen:
            continue
        seen.add(transaction_id)
        available = amounts.available(kind, now)
        if available <= 0:
            skipped.append(Skipped(transaction_id, NOTHING_LEFT[kind]))
        elif wanted is not None and wanted > available:
            skipped.append(Skipped(transaction_id, "above_available"))
        else:
            amount = available if wanted is None or kind is ActionKind.CANCEL else wanted
            planned.append(Planned(transaction_id, amount, amounts.currency, amounts))
    return planned, skipped


def totals(rows: Iterable[Planned | BulkRow]) -> dict[str, tuple[int, int]]:
    """Per currency: (rows, total amount in minor units)."""
    found: dict[str, tuple[int, int]] = {}
    for row in rows:
        count, amount = found.get(row.currency, (0, 0))
        found[row.currency] = (count + 1, amount + row.amount)
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class BulkRow:
    """One row of a job as the portal shows it."""

    position: int
    transaction_id: str
    amount: int
    currency: str
    idempotency_key: str
    baseline: Amounts
    state: RowState
    code: str | None = None  # the portal's problem code of a refusal or an unknown outcome
    reconciled: bool = False
    approval_key: str | None = None


@dataclass(frozen=True)
class BulkJob:
    """A job and the count of its rows per state."""

    key: str
    organisation_id: int
    user_id: int
    kind: ActionKind
    reason_code: str | None
    state: JobState
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[RowState, int]
    reason: str | None = None  # a refund's text for the provider, kept until the job ends

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def settled(self) -> int:
        """Rows that have an outcome (not queued or being sent)."""
        return sum(n for state, n in self.counts.items() if state not in OPEN_ROWS)

    @property
    def finished(self) -> bool:
        return self.state in (JobState.FINISHED, JobState.CANCELLED)
