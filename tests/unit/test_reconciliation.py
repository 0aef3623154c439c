"""Bank statements read in memory, and the matching rules, on hand-made values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sarportal.provider.models import Payout, TransactionSummary
from sarportal.reconciliation.matching import reconcile, squeezed
from sarportal.reconciliation.open_items import OpenItem, judge, read_open_items
from sarportal.reconciliation.statements import Entry, Statement, StatementError, read_statement
from tests.fixtures.statements import Booking, camt053, mt940

DAY = date(2026, 11, 25)


def payout(reference: str, amount: int, *, arrival: date = DAY, status: str = "paid") -> Payout:
    start = datetime(2026, 11, 16, tzinfo=UTC)
    return Payout(
        id=f"po_{abs(hash(reference)) % 16**16:016x}", currency="EUR", status=status,  # type: ignore[arg-type]
        period_start=start, period_end=start + timedelta(days=7), arrival_date=arrival,
        amount=amount, captures=amount, refunds=0, fees=0, fee_vat=0, claims=0,
        direct_payments=0, line_count=1, bank_reference=reference,
    )  # fmt: skip


def statement(*entries: Entry, first: date = DAY, last: date = DAY) -> Statement:
    return Statement("camt.053", first, last, entries)


def test_camt_amounts_signs_dates_and_texts_are_read() -> None:
    bookings = [
        Booking(DAY, 5_928_366, "EUR", "Auszahlung SAR 2026-48 EUR 7RCSER"),
        Booking(DAY, -120_000, "EUR", "Miete & Nebenkosten <Dez>"),
    ]
    read = read_statement(camt053(bookings, DAY - timedelta(days=1), DAY))
    assert read.kind == "camt.053"
    assert (read.first_day, read.last_day) == (DAY - timedelta(days=1), DAY)
    assert [(e.booked, e.amount, e.currency) for e in read.entries] == [
        (DAY, 5_928_366, "EUR"), (DAY, -120_000, "EUR"),
    ]  # fmt: skip
    assert read.entries[1].text == "Miete & Nebenkosten <Dez>"


def test_mt940_is_read_with_its_structured_purpose() -> None:
    bookings = [
        Booking(DAY, 10_050, "EUR", "Sicher auf Rechnung GmbH Auszahlung SAR 2026-48 EUR 7RCSER")
    ]
    read = read_statement(mt940(bookings))
    assert read.kind == "MT940" and read.first_day == read.last_day == DAY
    (entry,) = read.entries
    assert entry.amount == 10_050 and entry.currency == "EUR"
    assert "SAR2026-48EUR7RCSER" in squeezed(entry.text)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"PK\x03\x04", "format"),
        (b"<Document", "xml"),
        (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>', "not_camt"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
            b'<Stmt><Ntry><Amt Ccy="EUR">1.005</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            b"<BookgDt><Dt>2026-11-25</Dt></BookgDt></Ntry></Stmt></BkToCstmrStmt></Document>",
            "amount",
        ),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
            b"<Stmt></Stmt></BkToCstmrStmt></Document>",
            "empty",
        ),
    ],
)
def test_a_broken_statement_says_why(data: bytes, code: str) -> None:
    with pytest.raises(StatementError) as raised:
        read_statement(data)
    assert raised.value.code == code


def test_references_are_found_however_the_bank_wraps_them() -> None:
    paid = payout("SAR 2026-48 EUR 7RCSER", 5_000)
    report = reconcile(
        statement(Entry(DAY, 5_000, "EUR", "AUSZAHLUNG SAR 2026-48\nEUR 7rcser")), [paid]
    )
    assert [f.outcome for f in report.findings] == ["matched"]


def test_a_pending_payout_or_one_outside_the_days_is_not_missing() -> None:
    payouts = [
        payout("SAR 2026-49 EUR AAAAAA", 1, status="pending"),
        payout("SAR 2026-47 EUR BBBBBB", 1, arrival=DAY - timedelta(days=7)),
        payout("SAR 2026-48 EUR CCCCCC", 1, status="in_transit"),
        payout("SAR 2026-48 EUR DDDDDD", 1),
    ]
    report = reconcile(statement(), payouts)
    assert [(f.outcome, f.payout and f.payout.bank_reference) for f in report.findings] == [
        ("missing", "SAR 2026-48 EUR DDDDDD")
    ]


def test_other_bookings_are_counted_and_provider_like_ones_are_unknown() -> None:
    entries = (
        Entry(DAY, 100, "EUR", "Erika Mustermann Rechnung 1"),
        Entry(DAY, 100, "EUR", "SAR 2026-48 EUR ZZZZZZ"),
    )
    report = reconcile(statement(*entries), [])
    assert report.others == 1
    assert [(f.outcome, f.reference) for f in report.exceptions] == [
        ("unknown", "SAR 2026-48 EUR ZZZZZZ")
    ]


@given(
    amounts=st.lists(st.integers(-(10**7), 10**7), min_size=1, max_size=12),
    dropped=st.sets(st.integers(0, 11)),
    changed=st.sets(st.integers(0, 11)),
)
def test_every_paid_payout_is_matched_or_an_exception_exactly_once(
    amounts: list[int], dropped: set[int], changed: set[int]
) -> None:
    payouts = [payout(f"SAR 2026-48 EUR {i:06d}", amount) for i, amount in enumerate(amounts)]
    entries = tuple(
        Entry(DAY, p.amount + (1 if i in changed else 0), "EUR", p.bank_reference)
        for i, p in enumerate(payouts)
        if i not in dropped
    )
    report = reconcile(statement(*entries), payouts)
    seen = [f.payout.bank_reference for f in report.findings if f.payout]
    assert sorted(seen) == sorted(p.bank_reference for p in payouts)
    for i, p in enumerate(payouts):
        (finding,) = [f for f in report.findings if f.payout is p]
        expected = "missing" if i in dropped else "amount_differs" if i in changed else "matched"
        assert finding.outcome == expected


# -- open items --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minor"),
    [("1.234,56", 123_456), ("1,234.56", 123_456), ("1234.5", 123_450), ("-12,50", -1_250),
     ("1 234,00", 123_400), ("7", 700)],
)  # fmt: skip
def test_open_amounts_are_read_as_erps_write_them(text: str, minor: int) -> None:
    (item,) = read_open_items(f"Referenz;Betrag\nMH-1;{text}\n".encode())
    assert item.amount == minor


def test_only_the_reference_amount_and_currency_columns_are_read() -> None:
    data = "Kunde,Order Reference,Open Amount,Currency,IBAN\nErika,MH-7,12.00,chf,DE02...\n"
    (item,) = read_open_items(data.encode("cp1252"))
    assert item == OpenItem(2, "MH-7", 1_200, "CHF")
    assert "Erika" not in repr(item)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"Kunde;Betrag\nErika;1\n", "items_header"),
        (b"Referenz;Betrag\nMH 1 2;1\n", "items_ident"),
        ("Referenz;Betrag\nMH-1;zwölf\n".encode(), "amount"),
        (b"Referenz;Betrag\n", "empty"),
        (b"%PDF-1.7", "format"),
    ],
)
def test_unusable_open_items_say_why(data: bytes, code: str) -> None:
    with pytest.raises(StatementError) as raised:
        read_open_items(data)
    assert raised.value.code == code


def summary(**changes: object) -> TransactionSummary:
    fields: dict[str, object] = {
        "id": "tx_00000000000000aa", "created_at": datetime(2026, 11, 10, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 18, tzinfo=UTC), "status": "captured",
        "settlement_status": "open", "payment_method": "invoice", "currency": "EUR",
        "amount": 5_000, "captured_amount": 5_000, "refunded_amount": 0, "cancelled_amount": 0,
        "order_reference": "MH-1", "shop": "web", "country": "DE", "customer_type": "b2c",
        "customer_id": "cus_1", "authorization_expires_at": datetime(2026, 12, 10, tzinfo=UTC),
        "captured_at": datetime(2026, 11, 18, 9, tzinfo=UTC), "due_date": None, "paid_at": None,
        "dunning_level": 0,
    }  # fmt: skip
    return TransactionSummary(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tx", "amount", "status", "verdict"),
    [
        (summary(), 5_000, "paid", "paid_out"),
        (summary(), 5_000, "in_transit", "in_payout"),
        (summary(), 4_999, "paid", "amount_differs"),
        (summary(), None, "paid", "paid_out"),
        (summary(refunded_amount=5_000, status="refunded"), 5_000, "paid", "refunded"),
        (summary(status="cancelled", captured_amount=0, captured_at=None), 1, "paid", "not_owed"),
        (summary(status="authorized", captured_amount=0, captured_at=None), 1, "paid",
         "not_captured"),
        (None, 5_000, "paid", "unknown"),
    ],
)  # fmt: skip
def test_each_open_item_gets_the_verdict_its_transaction_implies(
    tx: TransactionSummary | None, amount: int | None, status: str, verdict: str
) -> None:
    week = payout("SAR 2026-47 EUR AAAAAA", 1, status=status)  # 16–23 November
    found = judge(OpenItem(2, "MH-1", amount, "EUR"), tx, [week])
    assert found.verdict == verdict
    if verdict in ("paid_out", "in_payout"):
        assert found.payout is week
