"""Accessibility in Chromium: axe-core finds no serious or critical violation on any page (the
frame's pages are checked in test_journeys_frame), and the table's filters, its paging and an
action dialog work with the keyboard alone, with a visible focus indicator all the way."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import axe_violations, has_focus_ring, tab_to

pytestmark = pytest.mark.e2e

ROWS = ".portal-transactions-table tbody tr"


def _report(violations: list[dict[str, Any]]) -> list[Any]:
    return [
        (v["id"], [(n["target"], n.get("failureSummary", "")[:200]) for n in v["nodes"]])
        for v in violations
    ]


def _first_detail(page: Any, query: str) -> None:
    page.goto(urlsplit(page.url)._replace(path="/transactions", query=query).geturl())
    link = page.locator(f"{ROWS} td:nth-child(2) a").first
    tx_id = link.inner_text().strip()
    link.click()
    page.wait_for_url(lambda url: urlsplit(url).path == f"/transactions/{tx_id}")
    page.locator("#tx-related").locator("a, p:not(.portal-requires-js)").first.wait_for()


def _settle(page: Any, view: str) -> None:
    """Bring the page into the state to check."""
    if view in ("dashboard-tables", "counter"):
        done = page.locator("#stats-status [data-part='done']")
        done.wait_for(state="visible", timeout=60_000)
    if view == "dashboard-tables":
        # every chart's table shown (the toggle itself is a journey of its own)
        page.evaluate(
            "() => document.querySelectorAll(\"button[data-action='table']\")"
            ".forEach((button) => button.click())"
        )
        page.locator("[data-table]:visible").nth(6).wait_for()
        page.locator("#dunning-forecast").wait_for()  # the dunning card, loaded after the page
    elif view == "detail":
        _first_detail(page, "status=captured&country=CH")
        page.locator("#customer-name").get_by_role("button").click()
        page.locator("#customer-name.portal-revealed").wait_for()
    elif view == "dialog":
        _first_detail(page, "status=captured&country=CH")
        page.locator("[data-portal-action='refund']").click()
        page.locator("#action-dialog.show #action-amount").wait_for()
        page.wait_for_function("() => !document.querySelector('.modal-backdrop.fade:not(.show)')")
    elif view == "invoice":  # an overdue invoice: its facts and the operator's forms
        _first_detail(page, "preset=overdue")
        page.locator("#invoice-facts").wait_for()
        page.locator("#invoice-direct-payment").wait_for()
    elif view == "claim":  # a claim awaiting an answer where there is one: its forms
        links = page.locator("table tbody a[href^='/claims/cl_']")
        if links.count() == 0:  # none awaiting an answer in this sandbox: any claim
            page.goto(urlsplit(page.url)._replace(path="/claims", query="view=all").geturl())
        links.first.click()
        page.locator("#claim-summary-title").wait_for()
    elif view == "table":
        page.locator(ROWS).first.wait_for()
    elif view == "payout":
        page.locator(".portal-payouts-table tbody a").first.click()
        page.locator(".portal-payout-lines tbody tr").first.wait_for()
    elif view in ("api-token-created", "api-tokens"):
        page.locator("#name").fill("Accessibility check")
        page.get_by_role("button", name="Create token").click()
        page.locator("#new-token").wait_for()
        if view == "api-tokens":  # back to the list, which now holds a token
            page.get_by_role("link", name="I have saved it").click()
            page.locator("table tbody tr").first.wait_for()
    page.mouse.move(0, 0)  # no hover, and no colour half-way through a transition
    page.wait_for_function(
        "() => !document.getAnimations().some((a) => a instanceof CSSTransition)"
    )


@pytest.mark.parametrize(
    ("role", "path", "view"),
    [
        ("admin", "/", "dashboard-tables"),
        ("viewer", "/counter", "counter"),
        ("viewer", "/transactions?preset=overdue&per_page=25", "table"),
        ("operator", "/transactions", "detail"),
        ("operator", "/transactions", "dialog"),
        ("operator", "/account/second-factor", "second-factor"),
        ("viewer", "/account/tokens", "api-token-created"),
        ("viewer", "/account/tokens", "api-tokens"),
        ("viewer", "/api/docs", "api-docs"),
        ("admin", "/views", "views"),
        ("viewer", "/transactions/tx_0000000000000000", "not-found"),
        ("viewer", "/payouts", "payouts"),
        ("viewer", "/payouts?from=2026-02-30&status=lost", "payouts-refused"),
        ("viewer", "/payouts", "payout"),
        ("operator", "/transactions", "invoice"),
        ("operator", "/claims", "claim"),
    ],
)
def test_no_serious_accessibility_violations(open_as: Any, role: str, path: str, view: str) -> None:
    page = open_as(role, path)
    _settle(page, view)
    violations = axe_violations(page)
    assert violations == [], _report(violations)


def test_the_table_filters_work_with_the_keyboard_alone(open_as: Any) -> None:
    page = open_as("operator", "/transactions?per_page=25")
    tab_to(page, "#f-period")
    # "All time" → today → 7 days → 30 days: a period that holds rows at any hour of the day
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    chosen = page.locator("#f-period").input_value()
    assert chosen == "30d"
    tab_to(page, "#filter-status")
    page.keyboard.press("Enter")  # opens the menu
    assert page.locator("#filter-status").evaluate("summary => summary.parentElement.open")
    tab_to(page, "#f-status-3")
    status = page.locator("#f-status-3").get_attribute("value")
    assert status == "captured"
    page.keyboard.press("Space")
    assert page.locator("#f-status-3").is_checked()
    tab_to(page, "#transactions-filters button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("status") == [status])
    assert parse_qs(urlsplit(page.url).query)["period"] == [chosen]
    page.wait_for_function("() => !document.querySelector('[aria-busy=true]')")
    badges = page.locator(f"{ROWS} td:nth-child(5) .badge")
    badges.first.wait_for()
    assert len(set(badges.all_inner_texts())) == 1
    assert page.locator("#filter-status .badge").inner_text().strip() == "1"


def test_paging_works_with_the_keyboard_alone(open_as: Any) -> None:
    page = open_as("operator", "/transactions?per_page=25")
    first = page.locator(f"{ROWS} td:nth-child(2) a").first.inner_text()
    tab_to(page, "a[rel=next]")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("page") == ["2"])
    page.wait_for_function(
        "(first) => document.querySelector('td:nth-child(2) a').textContent !== first", arg=first
    )
    # from wherever the focus is now, Shift+Tab and Tab reach "Previous"
    tab_to(page, "a[rel=prev]")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "page" not in parse_qs(urlsplit(url).query))
    page.wait_for_function(
        "(first) => document.querySelector('td:nth-child(2) a').textContent === first", arg=first
    )


def test_an_action_dialog_works_with_the_keyboard_alone(open_as: Any) -> None:
    page = open_as("operator", "/transactions?status=authorized&country=CH")
    link = page.locator(f"{ROWS} td:nth-child(2) a").first
    tx_id = link.inner_text().strip()
    tab_to(page, f"{ROWS}:first-child td:nth-child(2) a")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: urlsplit(url).path == f"/transactions/{tx_id}")
    amounts_before = page.locator(".portal-amounts").first.inner_text()
    tab_to(page, "[data-portal-action='capture']")
    page.keyboard.press("Enter")
    dialog = page.locator("#action-dialog")
    # the dialog opens with the focus in its first field
    page.wait_for_function("() => document.activeElement.id === 'action-amount'")
    assert has_focus_ring(page)
    # the focus stays inside the dialog, both ways round (past its last element it may leave
    # the page for the browser's own controls, as on any page, but never lands behind it)
    for key in ("Tab",) * 5 + ("Shift+Tab",) * 7:
        page.keyboard.press(key)
        where = page.evaluate(
            "() => document.activeElement.closest('#action-dialog') ? 'dialog'"
            " : document.activeElement === document.body ? 'outside' : 'page'"
        )
        assert where != "page", key
        assert where == "outside" or has_focus_ring(page)
    tab_to(page, "#action-amount")
    page.keyboard.press("Control+A")
    page.keyboard.type("1.00")
    page.keyboard.press("Enter")  # submits the step: the confirmation, its button focused
    dialog.locator("#action-confirmation").wait_for()
    page.wait_for_function("() => document.activeElement.textContent.trim() === 'Confirm capture'")
    assert has_focus_ring(page)
    page.keyboard.press("Escape")  # closes without acting; the focus returns to the button
    dialog.wait_for(state="hidden")
    page.wait_for_function(
        "() => document.activeElement.getAttribute('data-portal-action') === 'capture'"
    )
    page.reload()
    assert page.locator(".portal-amounts").first.inner_text() == amounts_before
