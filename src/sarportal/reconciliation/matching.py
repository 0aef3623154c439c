"""Matching a statement's entries against the provider's payouts: pure values in, a report out.

A payout is found on the statement by its bank reference (the text the provider puts on the
transfer), compared without spaces and case, since banks wrap and reflow remittance lines. Then:
- `matched`: one entry, same currency and amount;
- `amount_differs`: the entry names the payout but the amount or currency is not the payout's;
- `twice`: more than one entry names the same payout;
- `missing`: a payout paid out within the statement's days is not on it;
- `unknown`: an entry that looks like one of the provider's (`SAR …`) but names no payout.
Entries that name no payout and do not look like the provider's are someone else's bookings:
counted, never shown (their texts can name people).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

from sarportal.provider.models import Payout
from sarportal.reconciliation.statements import Entry, Statement

Outcome = Literal["matched", "amount_differs", "twice", "missing", "unknown"]
EXCEPTIONS: Final[tuple[Outcome, ...]] = ("missing", "amount_differs", "twice", "unknown")
PROVIDER_LOOK: Final = re.compile(r"SAR\s?\d{4}-\d{2}\s?[A-Z]{3}\s?[A-Z0-9]{6}")


def squeezed(text: str) -> str:
    """The text without white space, upper case: how references are compared."""
    return "".join(text.split()).upper()


@dataclass(frozen=True, slots=True)
class Finding:
    """One payout or statement entry and what matching found for it."""

    outcome: Outcome
    payout: Payout | None
    entries: tuple[Entry, ...] = ()
    reference: str | None = None  # for `unknown`: the provider-like reference on the entry


@dataclass(frozen=True)
class Report:
    """What a statement says about the payouts of its days."""

    statement: Statement
    findings: tuple[Finding, ...]
    others: int  # entries that are not the provider's (not shown)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def exceptions(self) -> list[Finding]:
        order = {outcome: rank for rank, outcome in enumerate(EXCEPTIONS)}
        found = [f for f in self.findings if f.outcome != "matched"]
        return sorted(found, key=lambda f: order[f.outcome])

    @property
    def matched(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome == "matched"]


def reconcile(statement: Statement, payouts: Iterable[Payout]) -> Report:
    """Match `statement` against `payouts` (those arriving near its days, any status)."""
    candidates = [p for p in payouts if p.status != "pending"]
    by_reference = {squeezed(p.bank_reference): p for p in candidates}
    named: dict[str, list[Entry]] = {}
    findings: list[Finding] = []
    others = 0
    for entry in statement.entries:
        text = squeezed(entry.text)
        hit = next((ref for ref in by_reference if ref and ref in text), None)
        if hit is not None:
            named.setdefault(hit, []).append(entry)
            continue
        looks = PROVIDER_LOOK.search(entry.text.upper())
        if looks:
            findings.append(Finding("unknown", None, (entry,), " ".join(looks.group(0).split())))
        else:
            others += 1
    for reference, payout in by_reference.items():
        judged = _judge(payout, named.get(reference, []), statement.first_day, statement.last_day)
        if judged is not None:
            findings.append(judged)
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.outcome] = counts.get(finding.outcome, 0) + 1
    return Report(statement, tuple(findings), others, counts)


def _judge(payout: Payout, entries: Sequence[Entry], first: date, last: date) -> Finding | None:
    """The finding for one payout; None for a payout the statement need not show (it arrives
    outside its days, or has not arrived yet)."""
    if len(entries) > 1:
        return Finding("twice", payout, tuple(entries))
    if len(entries) == 1:
        entry = entries[0]
        same = entry.amount == payout.amount and entry.currency == payout.currency
        return Finding("matched" if same else "amount_differs", payout, (entry,))
    arrived = payout.status == "paid" and first <= payout.arrival_date <= last
    return Finding("missing", payout) if arrived else None
