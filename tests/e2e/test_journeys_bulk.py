"""A bulk capture in Chromium: tick two rows of the table, choose "Capture in full…", review
what will happen (axe finds nothing serious), start it, watch the progress until every row has
its outcome, and find the download of the outcome; the rows are captured at the provider."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Portal, axe_violations

pytestmark = pytest.mark.e2e


def test_two_ticked_rows_are_captured_in_bulk(open_as: Any, portal_server: Portal) -> None:
    page = open_as("operator", "/transactions?status=authorized&country=DE&order=amount_desc")
    ticks = page.locator("input.portal-bulk-tick")
    chosen = [ticks.nth(0).get_attribute("value"), ticks.nth(1).get_attribute("value")]
    ticks.nth(0).check()
    ticks.nth(1).check()
    page.locator("#bulk-menu").click()
    page.get_by_role("button", name="Capture in full…").click()
    page.wait_for_url(lambda url: re.fullmatch(r"/bulk/[\w-]+", urlsplit(url).path) is not None)
    main = page.locator("main")
    assert "Capture the full capturable amount of 2 transactions" in main.inner_text()
    assert all(tx in main.inner_text() for tx in chosen)
    violations = axe_violations(page)
    assert violations == [], [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]

    page.get_by_role("button", name=re.compile("^Start")).click()
    page.locator(".alert-info").filter(has_text="The job has started").wait_for()
    page.get_by_text("Finished.").wait_for(timeout=30_000)
    outcomes = page.locator(".portal-bulk-table tbody tr td:nth-child(4)").all_inner_texts()
    assert [text.strip() for text in outcomes] == ["Done", "Done"]
    assert page.get_by_role("link", name="Download the outcome (CSV)").is_visible()

    detail = open_as("operator", f"/transactions/{chosen[0]}")
    assert "Captured" in detail.locator("#tx-summary-title + .badge").inner_text()
