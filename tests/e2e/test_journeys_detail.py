"""Journeys through a transaction's detail page in Chromium: one customer field revealed, and a
partial refund, a capture and a cancellation through the dialogs, ending with the new amounts.

Each journey that changes a transaction picks its own from the table by status and country, so
that no two tests (and no other test file) act on the same one.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import PASSWORD, Portal

pytestmark = pytest.mark.e2e


def open_first(open_as: Any, role: str, query: str) -> Any:
    """The detail page of the first transaction of the table for `query`."""
    page = open_as(role, f"/transactions?{query}")
    link = page.locator(".portal-transactions-table tbody tr td:nth-child(2) a").first
    tx_id = link.inner_text().strip()
    link.click()
    page.wait_for_url(lambda url: urlsplit(url).path == f"/transactions/{tx_id}")
    return page


def amounts(page: Any) -> dict[str, Decimal]:
    """The amounts tables: label → amount (the page shows euros in English)."""
    found = {}
    for row in page.locator(".portal-amounts tr").all():
        label = row.locator("th").inner_text().strip()
        found[label] = Decimal(re.sub(r"[^\d.]", "", row.locator("td").inner_text()))
    return found


def status_badge(page: Any) -> str:
    text: str = page.locator("#tx-summary-title + .badge").inner_text()
    return text.strip()


def open_dialog(page: Any, kind: str) -> Any:
    """Open an action's dialog; it is ready when its first step has arrived."""
    page.locator(f"[data-portal-action='{kind}']").click()
    dialog = page.locator("#action-dialog")
    dialog.locator("form.portal-action-form").wait_for()
    return dialog


def review(dialog: Any) -> Any:
    """Continue to the confirmation (confirming who we are first if the portal asks)."""
    dialog.get_by_role("button", name="Continue").click()
    confirmation = dialog.locator("#action-confirmation")
    secret = dialog.locator("#action-secret")
    confirmation.or_(secret).wait_for()
    if secret.is_visible():  # the sign-in is older than the step-up limit
        secret.fill(PASSWORD)
        dialog.get_by_role("button", name="Confirm it is me").click()
        confirmation.wait_for()
    return confirmation


def confirm(page: Any, dialog: Any, button: str) -> str:
    """Confirm; the page reloads with the outcome. Returns the success message."""
    dialog.get_by_role("button", name=button).click()
    message = page.locator(".alert-success")
    message.wait_for()
    assert dialog.is_hidden()
    text: str = message.inner_text()
    return text


def test_a_customer_field_is_revealed_on_its_own(open_as: Any) -> None:
    page = open_first(open_as, "operator", "status=captured&country=AT")
    audit = page.locator("section[aria-labelledby='tx-audit-title'] tbody tr")
    views = audit.filter(has_text="Viewed customer data (E-mail address)")
    seen = views.count()
    masked = page.locator(".portal-customer .portal-masked")
    fields = masked.count()
    assert fields >= 6
    assert page.get_by_text("PIICANARY").count() == 0
    email = page.locator("#customer-email")
    email.get_by_role("button", name="Show").click()
    revealed = page.locator("#customer-email.portal-revealed")
    revealed.wait_for()
    value = revealed.inner_text().strip()
    assert "@" in value and "•" not in value
    assert masked.count() == fields - 1  # the others stay hidden
    page.wait_for_function("() => document.activeElement.id === 'customer-email'")
    # the activity card shows the view at once, without a reload
    views.nth(seen).wait_for()
    assert views.count() == seen + 1
    assert page.locator("#customer-email.portal-revealed").count() == 1  # the swap kept it
    # the view is recorded (without the value), and a reload hides the field again
    page.reload()
    assert page.locator("#customer-email .portal-masked").count() == 1
    assert views.count() == seen + 1
    assert value not in page.content()


def test_a_partial_refund_shows_the_new_amounts(open_as: Any) -> None:
    page = open_first(open_as, "operator", "status=captured&country=DE&currency=EUR")
    before = amounts(page)
    assert before["Refunded"] == 0 and before["Can still be refunded"] > Decimal("2.00")
    dialog = open_dialog(page, "refund")
    dialog.get_by_label("Amount").fill("1.50")
    dialog.get_by_label("Reason").select_option("goodwill")
    confirmation = review(dialog)
    assert "€1.50" in confirmation.inner_text()
    message = confirm(page, dialog, "Confirm refund")
    assert message.startswith("Refunded €1.50 of transaction")
    after = amounts(page)
    assert after["Refunded"] == Decimal("1.50")
    assert after["Captured"] == before["Captured"]
    assert after["Can still be refunded"] == before["Can still be refunded"] - Decimal("1.50")
    assert status_badge(page) == "Partially refunded"
    history = page.locator(".portal-timeline-item").first
    assert "Refunded" in history.inner_text() and "€1.50" in history.inner_text()


def test_a_partial_capture_shows_the_new_amounts(open_as: Any) -> None:
    page = open_first(open_as, "operator", "status=authorized&country=DE&currency=EUR")
    before = amounts(page)
    assert before["Captured"] == 0 and before["Can still be captured"] > Decimal("10.00")
    dialog = open_dialog(page, "capture")
    amount = dialog.get_by_label("Amount")
    assert Decimal(amount.input_value().replace(",", "")) == before["Can still be captured"]
    amount.fill("10.00")
    review(dialog)
    message = confirm(page, dialog, "Confirm capture")
    assert message.startswith("Captured €10.00 of transaction")
    after = amounts(page)
    assert after["Captured"] == Decimal("10.00")
    assert after["Can still be captured"] == before["Authorized"] - Decimal("10.00")
    assert after["Can still be refunded"] == Decimal("10.00")
    assert status_badge(page) == "Partially captured"


def test_a_cancellation_shows_the_new_amounts(open_as: Any) -> None:
    page = open_first(open_as, "operator", "status=authorized&country=AT&currency=EUR")
    before = amounts(page)
    dialog = open_dialog(page, "cancellation")
    assert f"{before['Can still be cancelled']:,}" in dialog.inner_text()
    review(dialog)
    message = confirm(page, dialog, "Confirm cancellation")
    assert message.startswith("Cancelled the remaining")
    after = amounts(page)
    assert after["Cancelled"] == before["Authorized"]
    assert after["Can still be captured"] == 0 and after["Can still be cancelled"] == 0
    assert status_badge(page) == "Cancelled"
    assert page.locator("[data-portal-action]").count() == 0  # nothing is left to do


def test_a_viewer_sees_no_action_buttons(open_as: Any, portal_server: Portal) -> None:
    page = open_first(open_as, "viewer", "status=authorized&country=CH")
    tx_id = urlsplit(page.url).path.rsplit("/", 1)[-1]
    assert page.locator(".portal-amounts").count() == 2  # the page itself is there
    assert page.locator("[data-portal-action]").count() == 0
    assert page.locator("#action-dialog").count() == 0
    # nor can the dialog be opened by its address
    response = page.request.get(f"{portal_server.url}/transactions/{tx_id}/actions/capture")
    assert response.status == 403
    # the same transaction offers the actions to an operator
    operator = open_as("operator", f"/transactions/{tx_id}")
    assert operator.locator("[data-portal-action]").count() == 2
