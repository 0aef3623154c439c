"""Drop-in reconciliation through the Flask app against the sandbox: a bank statement matched
against the live payouts, each kind of exception found, bad files refused with a reason, and
the file kept nowhere (not even a temporary file)."""

from __future__ import annotations

import io
import re
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.fixtures.portal import csrf_token
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.statements import Booking, camt053, mt940, payout_bookings

PLANTED = "PIICANARYrec0nc11e Erika Mustermann"
"""Another booking's text, naming a person: counted, never shown."""


pytestmark = pytest.mark.usefixtures("real_time")  # the sandbox data is relative to now


def paid_payouts(
    sandbox: SandboxHandle, first: date, last: date, **params: Any
) -> list[dict[str, Any]]:
    """Ground truth: the payouts the sandbox paid out from `first` to `last`."""
    with sandbox.client("demo-viewer") as client:
        until = (last + timedelta(days=1)).isoformat()
        query = {"arrival_from": first.isoformat(), "arrival_to": until, "status": "paid",
                 "limit": 100, **params}  # fmt: skip
        found: list[dict[str, Any]] = client.get("/v1/payouts", params=query).json()["data"]
    assert found, "no payouts in the period"
    return found


def period() -> tuple[date, date]:
    last = datetime.now(UTC).date() - timedelta(days=7)
    return last - timedelta(days=27), last


def others(day: date) -> list[Booking]:
    return [
        Booking(day, 4_990, "EUR", f"Rechnung 4711 {PLANTED}"),
        Booking(day, -120_000, "EUR", "Miete Lager Dezember"),
    ]


def upload(client: FlaskClient, data: bytes, name: str = "statement.xml") -> Any:
    token = csrf_token(client, "/payouts/reconcile")
    return client.post(
        "/payouts/reconcile",
        data={"csrf_token": token, "statement": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def outcomes(page: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for outcome, reference in re.findall(
        r'<tr data-outcome="(\w+)">.*?<code>([^<]+)</code>', page, re.S
    ):
        found.setdefault(outcome, []).append(reference)
    return found


def test_a_statement_with_every_payout_matches_all_and_shows_no_one_else(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    first, last = period()
    payouts = paid_payouts(sandbox, first, last)
    data = camt053(payout_bookings(payouts) + others(first), first, last)
    answer = upload(viewer, data)
    assert answer.status_code == 200
    assert "no-store" in answer.headers["Cache-Control"]
    page = answer.get_data(as_text=True)
    assert sorted(outcomes(page)["matched"]) == sorted(p["bank_reference"] for p in payouts)
    assert "missing" not in outcomes(page)
    assert "2 entries are not from the provider and are not shown." in page
    assert "PIICANARY" not in page and "Mustermann" not in page and "Miete" not in page


def test_each_kind_of_exception_is_found(viewer: FlaskClient, sandbox: SandboxHandle) -> None:
    first, last = period()
    payouts = paid_payouts(sandbox, first, last)
    assert len(payouts) >= 4
    bookings = payout_bookings(payouts)
    gone, changed, doubled = payouts[0], payouts[1], payouts[2]
    bookings[1] = Booking(
        bookings[1].booked, bookings[1].amount - 1, bookings[1].currency, bookings[1].text
    )
    bookings = [*bookings[1:], bookings[2]]
    # a reference the provider never issued, wrapped across lines as banks do
    bookings.append(Booking(last, 10_000, "EUR", "Auszahlung SAR 2026-01 EUR\nZZZZZZ"))
    page = upload(viewer, camt053(bookings, first, last)).get_data(as_text=True)
    found = outcomes(page)
    assert found["missing"] == [gone["bank_reference"]]
    assert found["amount_differs"] == [changed["bank_reference"]]
    assert found["twice"] == [doubled["bank_reference"]]
    assert found["unknown"] == ["SAR 2026-01 EUR ZZZZZZ"]
    assert len(found["matched"]) == len(payouts) - 3
    assert re.search(r'id="reconcile-exceptions">4<', page)


def test_an_mt940_statement_is_matched_like_camt(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    first, last = period()
    payouts = paid_payouts(sandbox, first, last, currency="EUR")
    bookings = sorted(payout_bookings(payouts) + others(first), key=lambda b: b.booked)
    page = upload(viewer, mt940(bookings), "statement.sta").get_data(as_text=True)
    assert sorted(outcomes(page)["matched"]) == sorted(p["bank_reference"] for p in payouts)
    assert "PIICANARY" not in page


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b"<Document>&lol2;</Document>"
)


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 400, "Please choose a bank statement file."),
        (b"%PDF-1.7 not a statement", 400, "neither a bank statement"),
        (b"<Document><broken", 400, "The XML file cannot be read."),
        (BILLION_LAUGHS, 400, "The XML file cannot be read."),
        (b'<Document xmlns="urn:other"/>', 400, "is not a camt.053 bank statement"),
        (b":20:X\r\n:61:garbage\r\n", 400, "cannot be read as an MT940 statement"),
        (b"<" + b"x" * (8 * 1024 * 1024 + 1), 413, "larger than 8 MB"),
    ],
)
def test_a_file_that_is_no_statement_is_refused_with_the_reason(
    viewer: FlaskClient, data: bytes, status: int, message: str
) -> None:
    answer = upload(viewer, data)
    assert answer.status_code == status
    assert message in answer.get_data(as_text=True)


def test_a_large_statement_never_touches_the_disk(
    viewer: FlaskClient, sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    first, last = period()
    payouts = paid_payouts(sandbox, first, last)
    data = camt053(payout_bookings(payouts) + others(first), first, last, padding=2_000_000)
    assert len(data) > 2_000_000  # Werkzeug spools anything over 500 KB to a temporary file
    answer = upload(viewer, data)
    assert answer.status_code == 200
    assert len(outcomes(answer.get_data(as_text=True))["matched"]) == len(payouts)
    assert list(spool.iterdir()) == []


def test_nothing_of_the_statement_reaches_the_log(
    viewer: FlaskClient, sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    first, last = period()
    payouts = paid_payouts(sandbox, first, last)
    with caplog.at_level("DEBUG"):
        upload(viewer, camt053(payout_bookings(payouts) + others(first), first, last))
        upload(viewer, b"<Document><broken " + PLANTED.encode())
    assert "reconciliation: camt.053 with" in caplog.text
    assert "PIICANARY" not in caplog.text and "Mustermann" not in caplog.text


# -- the ERP's open items ----------------------------------------------------------------------


def one(sandbox: SandboxHandle, **params: Any) -> dict[str, Any]:
    with sandbox.client("demo-viewer") as client:
        rows: list[dict[str, Any]] = client.get(
            "/v1/transactions", params={"limit": 1, **params}
        ).json()["data"]
    assert rows, params
    return rows[0]


def capture_lines(sandbox: SandboxHandle, payout_id: str) -> set[str]:
    """Ground truth: the transactions whose capture a payout's lines hold."""
    found: set[str] = set()
    cursor = None
    with sandbox.client("demo-viewer") as client:
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get(f"/v1/payouts/{payout_id}/lines", params=params).json()
            found |= {line["transaction_id"] for line in page["data"] if line["type"] == "capture"}
            if not page["has_more"]:
                return found
            cursor = page["next_cursor"]


def euros(minor: int) -> str:
    return (
        f"{minor // 100:,}.{minor % 100:02d}".replace(",", "X").replace(".", ",").replace("X", ".")
    )


def test_an_erps_open_items_say_what_to_close_check_and_wait_for(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    now = datetime.now(UTC)
    old = {"created_to": (now - timedelta(days=60)).isoformat(), "currency": "EUR"}
    paid_out = one(sandbox, status="captured", **old)
    refunded = one(sandbox, status="refunded", **old)
    cancelled = one(sandbox, status="cancelled", **old)
    wrong = one(sandbox, status="partially_refunded", **old)
    authorized = one(sandbox, status="authorized", currency="EUR")
    rows = [
        ("Belegnr", "Kunde", "Bestellnummer", "Offener Betrag", "Währung"),
        (
            "RE-1",
            f"{PLANTED} GmbH",
            paid_out["order_reference"],
            euros(paid_out["captured_amount"]),
            "EUR",
        ),
        ("RE-2", "Erika Mustermann", refunded["order_reference"], euros(refunded["amount"]), "EUR"),
        ("RE-3", "Max Muster", cancelled["id"], euros(cancelled["amount"]), "EUR"),
        ("RE-4", "Max Muster", wrong["order_reference"], euros(wrong["captured_amount"]), "EUR"),
        ("RE-5", "Max Muster", authorized["order_reference"], euros(authorized["amount"]), "EUR"),
        ("RE-6", "Max Muster", "MH-0000000", "12,00", "EUR"),
    ]
    data = "\n".join(";".join(row) for row in rows).encode("utf-8")
    answer = upload(viewer, data, "open-items.csv")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    page = answer.get_data(as_text=True)
    verdicts = dict(re.findall(r'<tr data-verdict="(\w+)">\s*<td>(\d+)</td>', page))
    assert verdicts == {  # by line of the file
        "paid_out": "2", "refunded": "3", "not_owed": "4", "amount_differs": "5",
        "not_captured": "6", "unknown": "7",
    }  # fmt: skip
    payout_id = re.search(r'data-verdict="paid_out">.*?href="/payouts/(po_[0-9a-f]+)"', page, re.S)
    assert payout_id, "the paid-out item names no payout"
    assert paid_out["id"] in capture_lines(sandbox, payout_id.group(1))
    assert "PIICANARY" not in page and "Mustermann" not in page and "RE-1" not in page


def test_open_items_without_a_reference_column_are_refused(viewer: FlaskClient) -> None:
    answer = upload(viewer, b"Kunde;Betrag\nErika;12,00\n", "open-items.csv")
    assert answer.status_code == 400
    assert "must name its columns" in answer.get_data(as_text=True)


def test_many_open_items_are_read_at_once_and_a_provider_failure_keeps_nothing_half_done(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    """Thirty items are read a few at a time (`LOOKUPS_AT_ONCE`); when the provider fails on
    them, the answer says so and shows no half report; the same file then reads in full, in
    the file's order."""
    old = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    with sandbox.client("demo-viewer") as client:
        params = {"limit": 30, "status": "captured", "currency": "EUR", "created_to": old}
        rows = client.get("/v1/transactions", params=params).json()["data"]
    assert len(rows) == 30
    lines = ["Bestellnummer;Offener Betrag;Währung"]
    lines += [f"{row['order_reference']};{euros(row['captured_amount'])};EUR" for row in rows]
    data = "\n".join(lines).encode("utf-8")
    faults = sandbox.running.app.faults
    faults.schedule("error_503", "/v1/transactions", "GET", 200)
    try:
        failed = upload(viewer, data, "open-items.csv")
    finally:
        faults.clear()
    assert failed.status_code == 503, failed.status_code
    assert "data-verdict" not in failed.get_data(as_text=True)
    answer = upload(viewer, data, "open-items.csv")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    found = re.findall(r'<tr data-verdict="(\w+)">\s*<td>(\d+)</td>', page)
    assert found == [("paid_out", str(line)) for line in range(2, 32)]
