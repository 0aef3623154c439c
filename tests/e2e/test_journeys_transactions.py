"""Journeys through the transactions table in Chromium: paging, sorting, the needs-action
presets, and what a provider outage looks like."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import Portal

pytestmark = pytest.mark.e2e

ROWS = ".portal-transactions-table tbody tr"


def _ids(page: Any) -> list[str]:
    ids: list[str] = page.locator(f"{ROWS} td:nth-child(2) a").all_inner_texts()
    return ids


def _created(page: Any) -> list[datetime]:
    """The rows' creation times (the table shows them in the short English format)."""
    texts = page.locator(f"{ROWS} td:first-child").all_inner_texts()
    return [
        datetime.strptime(re.sub(r"\s+", " ", text).strip(), "%m/%d/%y, %I:%M %p") for text in texts
    ]


def _count(page: Any) -> int:
    return int(re.sub(r"\D", "", page.locator("#transactions-count").inner_text()))


def _query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _after_swap(page: Any, before: list[str]) -> list[str]:
    """The row ids once htmx has swapped in a different page of the table."""
    page.wait_for_function(
        "([rows, first]) => { const a = document.querySelector(rows + ' td:nth-child(2) a');"
        " return a && a.textContent !== first; }",
        arg=[ROWS, before[0]],
    )
    return _ids(page)


def test_paging_goes_forward_and_back(open_as: Any) -> None:
    page = open_as("operator", "/transactions?per_page=25")
    first = _ids(page)
    assert len(first) == 25
    page.get_by_role("link", name="Next").click()
    second = _after_swap(page, first)
    assert len(second) == 25 and not set(first) & set(second)
    assert _query(page)["page"] == ["2"] and "cursor" in _query(page)
    assert page.locator(".pagination [aria-current='page']").inner_text().strip() == "Page 2"
    page.get_by_role("link", name="Next").click()
    third = _after_swap(page, second)
    assert not set(third) & (set(first) | set(second))
    page.get_by_role("link", name="Previous").click()
    assert _after_swap(page, third) == second
    page.get_by_role("link", name="Previous").click()
    assert _after_swap(page, second) == first
    assert page.locator(".pagination [aria-current='page']").inner_text().strip() == "Page 1"
    # the URL is the view: loading it afresh shows the same page
    page.get_by_role("link", name="Next").click()
    _after_swap(page, first)
    page.reload()
    assert _ids(page) == second


def test_sorting_by_creation_time_both_ways(open_as: Any) -> None:
    page = open_as("operator", "/transactions?per_page=25")
    header = page.locator(".portal-transactions-table th[aria-sort]")
    assert header.get_attribute("aria-sort") == "descending"
    newest, newest_times = _ids(page), _created(page)
    assert newest_times == sorted(newest_times, reverse=True)
    created_link = page.locator(".portal-transactions-table th:first-child .portal-sort-link")
    created_link.click()
    oldest = _after_swap(page, newest)
    assert _query(page)["order"] == ["created_asc"]
    assert header.get_attribute("aria-sort") == "ascending"
    oldest_times = _created(page)
    assert oldest_times == sorted(oldest_times)
    assert max(oldest_times) < min(newest_times)  # 5,000 rows: the two ends do not meet
    created_link.click()
    assert _after_swap(page, oldest) == newest
    assert header.get_attribute("aria-sort") == "descending"


def _cells(page: Any, column: int) -> list[str]:
    texts: list[str] = page.locator(f"{ROWS} td:nth-child({column})").all_inner_texts()
    return [text.strip() for text in texts]


def test_sorting_by_amount_and_by_due_date_from_the_headers(open_as: Any) -> None:
    page = open_as("operator", "/transactions?per_page=25&currency=EUR")
    before = _ids(page)
    page.get_by_role("link", name="Amount Sort: largest amount first").click()
    largest = _after_swap(page, before)
    assert _query(page)["order"] == ["amount_desc"]
    amounts = [int(re.sub(r"\D", "", text)) for text in _cells(page, 4)]
    assert amounts == sorted(amounts, reverse=True)
    amount_header = page.locator(".portal-transactions-table th:nth-child(4)")
    assert amount_header.get_attribute("aria-sort") == "descending"
    page.get_by_role("link", name="Amount Sort: smallest amount first").click()
    _after_swap(page, largest)
    smallest = [int(re.sub(r"\D", "", text)) for text in _cells(page, 4)]
    assert smallest == sorted(smallest) and max(smallest) < min(amounts)
    assert amount_header.get_attribute("aria-sort") == "ascending"
    shown = _ids(page)
    page.get_by_role("link", name="Due date Sort: soonest due date first").click()
    _after_swap(page, shown)
    assert _query(page)["order"] == ["due_date_asc"]
    dues = [datetime.strptime(text, "%m/%d/%y") for text in _cells(page, 9) if text != "–"]
    assert dues and dues == sorted(dues)
    assert page.locator(".portal-transactions-table th[aria-sort]").count() == 1


PRESETS = (  # value, link, column of the badge, badge
    ("authorized", "Authorized, not captured", 5, "Authorized"),
    ("overdue", "Overdue", 6, "Overdue"),
    ("partially_refunded", "Partially refunded", 5, "Partially refunded"),
)


def test_the_needs_action_presets_narrow_the_table(open_as: Any) -> None:
    page = open_as("operator", "/transactions")
    everything = _ids(page)
    total = _count(page)
    presets = page.get_by_role("navigation", name="Needs action")
    for preset, label, column, badge in PRESETS:
        presets.get_by_role("link", name=label).click()
        rows = _after_swap(page, everything)
        assert _query(page)["preset"] == [preset]
        active = presets.locator("[aria-current='true']")
        assert active.inner_text().strip() == label
        badges = page.locator(f"{ROWS} td:nth-child({column}) .badge").all_inner_texts()
        assert len(badges) == len(rows) and set(badges) == {badge}, (preset, badges)
        assert 0 < _count(page) < total
        # pressing the active preset again switches it off
        active.click()
        assert _after_swap(page, rows) == everything
        assert "preset" not in _query(page)
        assert presets.locator("[aria-current='true']").count() == 0


def test_a_provider_outage_shows_a_clear_message(open_as: Any, portal_server: Portal) -> None:
    page = open_as("operator", "/transactions")
    before = _ids(page)
    outage = {"kind": "error_503", "path_prefix": "/v1/transactions", "method": "GET"}
    try:
        portal_server.control("/_sandbox/faults", {**outage, "count": 1000})
        # a filter change while the provider is down: the alert replaces the table in place,
        # and the answer has the failure's status
        with page.expect_response(lambda r: "preset=overdue" in r.url) as answer:
            page.get_by_role("navigation", name="Needs action").get_by_role(
                "link", name="Overdue"
            ).click()
        assert answer.value.status == 503
        alert = page.locator("#transactions-alert")
        alert.wait_for()
        assert alert.get_attribute("role") == "alert"
        assert "The payment provider is not answering" in alert.inner_text()
        assert "Nothing was changed" in alert.inner_text()
        assert page.locator(ROWS).count() == 0
        assert _query(page)["preset"] == ["overdue"]
        page.wait_for_function(
            "() => document.getElementById('transactions-announcer').textContent"
            ".startsWith('The payment provider is not answering')"
        )
    finally:
        portal_server.control("/_sandbox/faults", {"clear": True})
    page.get_by_role("link", name="Try again").click()
    page.locator(ROWS).first.wait_for()
    assert _query(page)["preset"] == ["overdue"]
    assert _ids(page) != before


def test_filtering_sorting_and_paging_break_no_content_security_policy(open_as: Any) -> None:
    page = open_as("operator", "/transactions?per_page=25")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    first = _ids(page)
    page.get_by_role("link", name="Next").click()
    second = _after_swap(page, first)
    page.get_by_role("link", name="Amount Sort: largest amount first").click()
    third = _after_swap(page, second)
    page.get_by_role("link", name="Authorized, not captured").click()
    _after_swap(page, third)
    page.wait_for_load_state("networkidle")
    assert [m for m in messages if "Content Security Policy" in m or "error" in m[:6]] == []
