"""Four-eyes approval in Chromium: an admin sets a threshold, an operator's refund above it
waits (the dialog says so before it is sent), a second operator sees the badge, approves it on
the approvals page, and the requester's detail page shows it done; axe finds nothing serious on
the settings and approvals pages. The threshold is cleared again, whatever happens, so that no
other journey's action waits for approval."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Portal, axe_violations, create_users
from tests.e2e.test_journeys_detail import open_dialog, review

pytestmark = pytest.mark.e2e

ASKER, APPROVER = "approvals-asker@demo.example", "approvals-approver@demo.example"


def _report(violations: list[dict[str, Any]]) -> list[Any]:
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]


def _save_threshold(page: Any, portal: Portal, euros: str) -> None:
    page.goto(f"{portal.url}/approvals/settings")
    page.get_by_label("Approval needed above").first.fill(euros)  # EUR comes first
    page.get_by_role("button", name="Save thresholds").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/approvals/settings")
    assert "The approval thresholds are saved." in page.locator("main").inner_text()


@pytest.fixture
def threshold(open_as: Any, portal_server: Portal) -> Iterator[Any]:
    """The demo organisation asks for approval above €1.00 while the test runs."""
    create_users(portal_server, {ASKER: "operator", APPROVER: "operator"})
    page = open_as("admin", "/approvals/settings")
    _save_threshold(page, portal_server, "1.00")
    yield page
    _save_threshold(page, portal_server, "")


def test_a_refund_above_the_threshold_is_approved_by_a_second_operator(
    open_as: Any, portal_server: Portal, threshold: Any
) -> None:
    violations = axe_violations(threshold)
    assert violations == [], _report(violations)

    page = open_as(ASKER, "/transactions?status=captured&country=AT&order=amount_desc")
    link = page.locator(".portal-transactions-table tbody tr td:nth-child(2) a").first
    tx_id = link.inner_text().strip()
    link.click()
    page.wait_for_url(lambda url: urlsplit(url).path == f"/transactions/{tx_id}")
    dialog = open_dialog(page, "refund")
    dialog.get_by_label("Amount").fill("2.00")
    dialog.get_by_label("Reason").select_option("goodwill")
    review(dialog)
    assert "above your organisation's approval threshold" in dialog.inner_text()
    dialog.get_by_role("button", name="Request approval").click()
    page.locator(".alert-info").filter(has_text="is waiting for another operator").wait_for()
    card = page.locator("#tx-approvals")
    assert "Waiting for approval" in card.inner_text() and "€2.00" in card.inner_text()

    other = open_as(APPROVER, "/")
    badge = other.locator("a[href='/approvals'] .badge")
    assert badge.inner_text().strip().startswith("1")
    other.goto(f"{portal_server.url}/approvals")
    row = other.locator("tr", has_text=tx_id)
    assert "€2.00" in row.inner_text() and ASKER in row.inner_text()
    violations = axe_violations(other)
    assert violations == [], _report(violations)
    row.get_by_role("button", name=re.compile("^Approve")).click()
    other.locator(".alert-success").filter(has_text="Approved.").wait_for()
    decided = other.locator("section[aria-labelledby='decided-title'] tr", has_text=tx_id)
    assert "Done" in decided.inner_text()

    page.reload()
    assert "Approved and done" in page.locator("#tx-approvals").inner_text()
    activity = page.locator("#tx-activity").inner_text()
    assert "Asked for approval" in activity and "Approved" in activity
