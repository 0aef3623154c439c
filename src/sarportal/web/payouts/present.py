"""What the payouts templates show: rows and totals already formatted, links, the form's state.

A page of lines has a hundred rows, and formatting in Python once is cheaper than calling filters
in the template for each value (as `transactions.view` does for its table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from flask import request
from flask_babel import gettext as _

from sarportal.domain.filters import CURRENCIES, Paging
from sarportal.domain.payout_filters import PayoutFilters
from sarportal.domain.vocabulary import PAYOUT_FORMATS, PAYOUT_STATUSES
from sarportal.provider.models import Payout, PayoutLine, PayoutLinePage, PayoutPage
from sarportal.reconciliation.matching import Finding, Report
from sarportal.reconciliation.open_items import CHECK, CLOSE, ItemFinding
from sarportal.reconciliation.statements import Entry
from sarportal.web.ui import labels
from sarportal.web.ui.formats import format_day, format_moment, format_money
from sarportal.web.ui.locale import request_formats


@dataclass(frozen=True, slots=True)
class PayoutRow:
    """A payout as the list shows it."""

    id: str
    arrival: str
    period: str
    status: str
    status_tone: str
    currency: str
    captures: str
    deductions: str
    amount: str
    negative: bool
    line_count: int
    bank_reference: str


@dataclass(frozen=True, slots=True)
class LineRow:
    """A payout line as the detail page's table shows it."""

    booked: str
    type: str
    transaction_id: str
    order_reference: str
    amount: str
    vat: str
    credit: bool


@dataclass(frozen=True, slots=True)
class Total:
    currency: str
    count: int
    amount: str


def period_text(payout: Payout) -> str:
    """The period as calendar dates, both inclusive (its end is exclusive at the provider)."""
    formats = request_formats()
    first = payout.period_start.date()
    last = (payout.period_end - timedelta(seconds=1)).date()
    start = format_day(first, formats.locale, formats.zone, "medium")
    return f"{start} – {format_day(last, formats.locale, formats.zone, 'medium')}"


def payout_rows(payouts: Sequence[Payout]) -> list[PayoutRow]:
    formats = request_formats()
    status_names = {code: str(label) for code, label in labels.PAYOUT_STATUS.items()}
    rows = []
    for p in payouts:
        deductions = p.refunds + p.fees + p.claims + p.direct_payments
        rows.append(
            PayoutRow(
                id=p.id,
                arrival=format_day(p.arrival_date, formats.locale, formats.zone, "medium"),
                period=period_text(p),
                status=status_names.get(p.status, p.status),
                status_tone=labels.PAYOUT_STATUS_TONE.get(p.status, "secondary"),
                currency=p.currency,
                captures=format_money(p.captures, p.currency, formats.locale),
                deductions=format_money(deductions, p.currency, formats.locale),
                amount=format_money(p.amount, p.currency, formats.locale),
                negative=p.amount < 0,
                line_count=p.line_count,
                bank_reference=p.bank_reference,
            )
        )
    return rows


def line_rows(lines: Sequence[PayoutLine], currency: str) -> list[LineRow]:
    formats = request_formats()
    type_names = {code: str(label) for code, label in labels.PAYOUT_LINE_TYPE.items()}
    return [
        LineRow(
            booked=format_moment(line.booked_at, formats.locale, formats.zone, "short"),
            type=type_names.get(line.type, line.type),
            transaction_id=line.transaction_id,
            order_reference=line.order_reference,
            amount=format_money(line.amount, currency, formats.locale),
            vat=format_money(line.vat_amount, currency, formats.locale) if line.vat_amount else "",
            credit=line.amount > 0,
        )
        for line in lines
    ]


def list_context(
    filters: PayoutFilters | None,
    found: PayoutPage | None,
    paging: Paging,
    errors: dict[str, str],
    *,
    notice: str | None = None,
) -> dict[str, Any]:
    """The list page's context; without `found` (bad filters) the form alone, with its errors."""
    formats = request_formats()
    totals = [
        Total(t.currency, t.count, format_money(t.amount, t.currency, formats.locale))
        for t in (found.totals or [] if found else [])
    ]
    return {
        "filters": filters,
        "form": _form(filters),
        "errors": errors,
        "page": found,
        "rows": payout_rows(found.data) if found else [],
        "totals": totals,
        "paging": paging,
        "notice": notice,
        "status_choices": [(code, str(labels.PAYOUT_STATUS[code])) for code in PAYOUT_STATUSES],
        "currency_choices": CURRENCIES,
        "field_labels": {"from": _("Arrives from"), "to": _("Arrives until"),
                         "status": _("Status"), "currency": _("Currency")},
    }  # fmt: skip


def _form(filters: PayoutFilters | None) -> dict[str, Any]:
    """What the form shows: the parsed filters, or after an error what was typed."""
    if filters is None:
        return {
            "from": request.args.get("from", "")[:10],
            "to": request.args.get("to", "")[:10],
            "status": request.args.getlist("status"),
            "currency": request.args.getlist("currency"),
        }
    return {
        "from": filters.arrival_from.isoformat() if filters.arrival_from else "",
        "to": filters.arrival_to.isoformat() if filters.arrival_to else "",
        "status": list(filters.statuses),
        "currency": list(filters.currencies),
    }


def detail_context(
    payout: Payout, lines: PayoutLinePage, paging: Paging, notice: str | None
) -> dict[str, Any]:
    formats = request_formats()

    def money(value: int) -> str:
        return format_money(value, payout.currency, formats.locale)

    breakdown = [
        (_("Captures"), money(payout.captures)),
        (_("Refunds"), money(payout.refunds)),
        (_("Fees (incl. VAT)"), money(payout.fees)),
        (_("of which VAT"), money(payout.fee_vat)),
        (_("Claim deductions"), money(payout.claims)),
        (_("Paid directly to you"), money(payout.direct_payments)),
    ]
    return {
        "payout": payout,
        "row": payout_rows([payout])[0],
        "breakdown": breakdown,
        "lines": lines,
        "line_rows": line_rows(lines.data, payout.currency),
        "paging": paging,
        "notice": notice,
        "formats": [(code, str(labels.PAYOUT_FORMAT[code])) for code in PAYOUT_FORMATS],
    }


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One line of the reconciliation report."""

    outcome: str
    tone: str
    label: str
    explanation: str
    payout_id: str | None
    reference: str
    arrival: str
    expected: str
    received: str


def _finding_row(finding: Finding) -> FindingRow:
    formats = request_formats()
    payout = finding.payout

    def money(value: int, currency: str) -> str:
        return format_money(value, currency, formats.locale)

    def booked(entry: Entry) -> str:
        day = format_day(entry.booked, formats.locale, formats.zone, "short")
        return f"{money(entry.amount, entry.currency)} ({day})"

    received = ", ".join(booked(entry) for entry in finding.entries)
    words = {
        "matched": (_("Matched"), "success", ""),
        "missing": (_("Not on the statement"), "danger",
                    _("Paid out within the statement's days, but no entry names it.")),
        "amount_differs": (_("Amount differs"), "warning",
                           _("An entry names this payout with another amount or currency.")),
        "twice": (_("Booked twice"), "warning", _("More than one entry names this payout.")),
        "unknown": (_("Unknown payout"), "danger",
                    _("The entry names a payout reference the provider does not know.")),
    }  # fmt: skip
    label, tone, explanation = words[finding.outcome]
    return FindingRow(
        outcome=finding.outcome,
        tone=tone,
        label=label,
        explanation=explanation,
        payout_id=payout.id if payout else None,
        reference=payout.bank_reference if payout else (finding.reference or ""),
        arrival=format_day(payout.arrival_date, formats.locale, formats.zone, "medium")
        if payout
        else "",
        expected=money(payout.amount, payout.currency) if payout else "",
        received=received,
    )


def reconciliation_context(report: Report) -> dict[str, Any]:
    formats = request_formats()
    statement = report.statement
    days = (
        f"{format_day(statement.first_day, formats.locale, formats.zone, 'medium')} – "
        f"{format_day(statement.last_day, formats.locale, formats.zone, 'medium')}"
    )
    return {
        "report": report,
        "error": None,
        "kind": statement.kind,
        "days": days,
        "entry_count": len(statement.entries),
        "exceptions": [_finding_row(f) for f in report.exceptions],
        "matched": [_finding_row(f) for f in report.matched],
        "others": report.others,
    }


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One open item of the ERP and what to do with it."""

    verdict: str
    tone: str
    label: str
    line: int
    ident: str
    transaction_id: str | None
    erp_amount: str
    provider_amount: str
    payout_id: str | None
    payout_reference: str
    arrival: str


ITEM_GROUPS: Final = (("close", CLOSE), ("check", CHECK), ("wait", ("in_payout", "not_captured")))


def _item_row(finding: ItemFinding) -> ItemRow:
    formats = request_formats()
    tx, payout, item = finding.transaction, finding.payout, finding.item
    words = {
        "paid_out": (_("Paid out: close it"), "success"),
        "refunded": (_("Refunded: close it with a credit note"), "success"),
        "amount_differs": (_("Amount differs"), "warning"),
        "unknown": (_("Unknown to the provider"), "danger"),
        "not_owed": (_("Nothing to be paid (cancelled, declined or expired)"), "danger"),
        "in_payout": (_("Captured, payout on its way"), "info"),
        "not_captured": (_("Not captured yet"), "secondary"),
    }
    label, tone = words[finding.verdict]
    currency = tx.currency if tx else (item.currency or "EUR")
    return ItemRow(
        verdict=finding.verdict,
        tone=tone,
        label=label,
        line=item.line,
        ident=item.ident,
        transaction_id=tx.id if tx else None,
        erp_amount=format_money(item.amount, currency, formats.locale)
        if item.amount is not None
        else "",
        provider_amount=format_money(
            tx.captured_amount - tx.refunded_amount, tx.currency, formats.locale
        )
        if tx
        else "",
        payout_id=payout.id if payout else None,
        payout_reference=payout.bank_reference if payout else "",
        arrival=format_day(payout.arrival_date, formats.locale, formats.zone, "medium")
        if payout
        else "",
    )


def open_items_context(findings: Sequence[ItemFinding]) -> dict[str, Any]:
    rows = [_item_row(f) for f in findings]
    groups = {name: [r for r in rows if r.verdict in verdicts] for name, verdicts in ITEM_GROUPS}
    return {"report": None, "open_items": groups, "item_count": len(rows), "error": None}
