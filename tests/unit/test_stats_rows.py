"""Helpers for the statistics tests: transaction summaries and list pages, as the provider sends."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from sarportal.stats.columns import PageDecoder


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(created: str = "2026-11-02T10:00:00Z", **fields: Any) -> dict[str, Any]:
    """One transaction summary with every contract field; `fields` override the defaults."""
    row: dict[str, Any] = {
        "id": "tx_0000000000000001",
        "created_at": created,
        "updated_at": created,
        "status": "authorized",
        "settlement_status": None,
        "payment_method": "invoice",
        "currency": "EUR",
        "amount": 1000,
        "captured_amount": 0,
        "refunded_amount": 0,
        "cancelled_amount": 0,
        "order_reference": "MH-10000001",
        "shop": "musterhaus-de",
        "country": "DE",
        "customer_type": "b2c",
        "customer_id": "cus_0000000000000001",
        "authorization_expires_at": created,
        "captured_at": None,
        "due_date": None,
        "paid_at": None,
        "dunning_level": 0,
    }
    row.update(fields)
    if row["captured_at"] is not None and "due_date" not in fields:
        captured = datetime.fromisoformat(row["captured_at"])
        row["due_date"] = (captured.astimezone(UTC).date() + timedelta(days=14)).isoformat()
    return row


def page(rows: list[dict[str, Any]], **rest: Any) -> bytes:
    body = {"data": rows, "has_more": False, "next_cursor": None, **rest}
    return json.dumps(body).encode()


def columns(rows: list[dict[str, Any]], decoder: PageDecoder | None = None) -> Any:
    return (decoder or PageDecoder()).decode(page(rows))


_START = datetime(2024, 12, 20, tzinfo=UTC)
_STATUSES = ["declined", "authorized", "captured", "partially_refunded", "refunded", "cancelled"]


@st.composite
def summaries(draw: st.DrawFn) -> dict[str, Any]:
    """Random summaries over a little more than two years, several currencies and shops."""
    created = _START + timedelta(seconds=draw(st.integers(0, 800 * 86_400)))
    amount = draw(st.integers(1, 3_000_000))
    captured = draw(st.integers(0, amount))
    refunded = draw(st.integers(0, captured))
    fields: dict[str, Any] = {
        "status": draw(st.sampled_from(_STATUSES)),
        "settlement_status": draw(
            st.sampled_from([None, "open", "paid", "overdue", "written_off"])
        ),
        "payment_method": draw(st.sampled_from(["invoice", "installments", "direct_debit"])),
        "currency": draw(st.sampled_from(["EUR", "CHF", "XTS"])),
        "country": draw(st.sampled_from(["DE", "AT", "CH", "ZZ"])),
        "shop": draw(st.sampled_from(["musterhaus-de", "musterhaus-at", "neu-shop"])),
        "customer_type": draw(st.sampled_from(["b2c", "b2b"])),
        "dunning_level": draw(st.integers(0, 4)),
        "amount": amount,
        "captured_amount": captured,
        "refunded_amount": refunded,
        "cancelled_amount": draw(st.integers(0, amount - captured)),
    }
    if captured:
        captured_at = created + timedelta(seconds=draw(st.integers(0, 30 * 86_400)))
        fields["captured_at"] = rfc3339(captured_at)
        if draw(st.booleans()):
            paid = captured_at + timedelta(seconds=draw(st.integers(0, 150 * 86_400)))
            fields["paid_at"] = rfc3339(paid)
    return summary(rfc3339(created), **fields)


def test_summary_due_date_is_fourteen_days_after_capture() -> None:
    row = summary(captured_at="2026-11-02T23:30:00Z")
    assert row["due_date"] == (date(2026, 11, 2) + timedelta(days=14)).isoformat()
