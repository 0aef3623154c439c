"""Journeys through the payouts in Chromium: from the list to a payout, from its lines to a
transaction, and a payout's accounting file downloaded whole."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import axe_violations
from tests.fixtures.statements import Booking, camt053, payout_bookings

pytestmark = pytest.mark.e2e

PAYOUT_ROWS = ".portal-payouts-table tbody tr"
LINE_ROWS = ".portal-payout-lines tbody tr"


def test_a_viewer_follows_a_payout_to_one_of_its_transactions(open_as: Any) -> None:
    page = open_as("viewer", "/payouts?status=paid")
    page.locator(PAYOUT_ROWS).first.wait_for()
    counts = [int(n) for n in page.locator("[data-portal-lines]").evaluate_all(
        "cells => cells.map((cell) => cell.dataset.portalLines)"
    )]  # fmt: skip
    most = page.locator(PAYOUT_ROWS).nth(counts.index(max(counts)))
    assert max(counts) > 50, "no payout with a second page of lines"
    reference = most.locator("code").inner_text().strip()
    most.locator("td:first-child a").click()
    page.wait_for_url(lambda url: urlsplit(url).path.startswith("/payouts/po_"))
    assert reference in page.locator("h1").inner_text()
    assert page.locator("#payout-summary-title + .badge").inner_text().strip() == "Paid out"
    first = page.locator(f"{LINE_ROWS} td:nth-child(3) a").first
    tx_id = first.inner_text().strip()
    page.locator("a[rel=next]").click()  # the lines page in place, the URL follows
    page.wait_for_url(lambda url: "cursor=" in url)
    page.wait_for_function(
        "(first) => document.querySelector('.portal-payout-lines td:nth-child(3) a')"
        ".textContent.trim() !== first",
        arg=tx_id,
    )
    assert page.locator("h1").inner_text().strip().endswith(reference)
    page.locator(f"{LINE_ROWS} td:nth-child(3) a").first.click()
    page.wait_for_url(lambda url: urlsplit(url).path.startswith("/transactions/tx_"))
    page.locator("#tx-summary-title").wait_for()


def test_a_payouts_csv_downloads_whole(open_as: Any) -> None:
    page = open_as("viewer", "/payouts?status=paid")
    page.locator(f"{PAYOUT_ROWS} td:first-child a").first.click()
    page.wait_for_url(lambda url: urlsplit(url).path.startswith("/payouts/po_"))
    count = int(page.locator("dt:text('Lines') + dd").inner_text().replace(",", ""))
    page.get_by_role("button", name="Export").click()
    with page.expect_download() as waiting:
        page.locator("[data-portal-export='csv']").click()
    download = waiting.value
    assert download.suggested_filename.startswith("payout-po_")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == count
    total = sum(int(row["amount"]) for row in rows)
    assert total != 0 and {row["type"] for row in rows} >= {"capture", "fee"}


def _statement_of_paid_payouts(
    page: Any, *, drop_first: bool
) -> tuple[bytes, list[dict[str, Any]]]:
    """A camt.053 of the merchant's bank account with the latest paid payouts (read through the
    portal's API with the page's session), and one booking of somebody else."""
    base = urlsplit(page.url)._replace(path="", query="").geturl()
    answer = page.request.get(f"{base}/api/v1/payouts?status=paid&limit=6")
    assert answer.ok, answer.status
    paid: list[dict[str, Any]] = answer.json()["data"]
    days = sorted(date.fromisoformat(p["arrival_date"]) for p in paid)
    bookings = payout_bookings(paid[1:] if drop_first else paid)
    bookings.append(Booking(days[0], 4_990, "EUR", "Rechnung 4711 Erika Mustermann"))
    return camt053(bookings, days[0], days[-1]), paid


def test_a_viewer_reconciles_a_bank_statement_and_sees_the_missing_payout(open_as: Any) -> None:
    page = open_as("viewer", "/payouts")
    page.get_by_role("link", name="Reconcile a bank statement").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/payouts/reconcile")
    data, paid = _statement_of_paid_payouts(page, drop_first=True)
    page.set_input_files(
        "#statement",
        files=[{"name": "statement.xml", "mimeType": "application/xml", "buffer": data}],
    )
    page.get_by_role("button", name="Reconcile").click()
    page.locator("#reconcile-result-title").wait_for()
    missing = page.locator("#reconcile-exceptions-table tr[data-outcome='missing'] code")
    assert missing.all_inner_texts() == [paid[0]["bank_reference"]]
    assert page.locator("#reconcile-matched-table tbody tr").count() == len(paid) - 1
    assert "Mustermann" not in page.content()
    violations = axe_violations(page)
    assert violations == [], violations


def test_a_file_that_is_no_statement_is_refused_in_place(open_as: Any) -> None:
    page = open_as("viewer", "/payouts/reconcile")
    page.set_input_files(
        "#statement",
        files=[{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7"}],
    )
    page.get_by_role("button", name="Reconcile").click()
    alert = page.locator("#statement-error")
    alert.wait_for()
    assert "neither a bank statement" in alert.inner_text()
    assert page.locator("#statement").get_attribute("aria-invalid") == "true"
