"""The transactions table and its CSV export, through the Flask app, against the sandbox."""

from __future__ import annotations

import csv
import html
import io
import re
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from sarportal.domain.roles import Role
from tests.fixtures.portal import MadeUser, new_client, sign_in
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SANDBOX_TRANSACTIONS, SandboxHandle

ROW_ID = re.compile(r'href="/transactions/(tx_[0-9a-f]+)"')
HTMX = {"HX-Request": "true", "HX-Target": "transactions-view"}


pytestmark = pytest.mark.usefixtures("real_time")  # the sandbox data is relative to now


def ids(page: str) -> list[str]:
    return ROW_ID.findall(page)


def link(page: str, rel: str) -> str:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', page)
    assert found, f"no {rel} link"
    return html.unescape(found.group(1))


def sandbox_ids(sandbox: SandboxHandle, **params: Any) -> list[str]:
    """Ground truth: the ids the sandbox lists for `params`, all pages."""
    found: list[str] = []
    with sandbox.client("demo-viewer") as client:
        cursor = None
        while True:
            query = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/transactions", params=query).json()
            found += [row["id"] for row in page["data"]]
            if not page["has_more"]:
                return found
            cursor = page["next_cursor"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_page_renders_for_each_role_with_total_and_no_store(
    login_provider: Callable[..., MadeUser], provider_client: FlaskClient, role: Role
) -> None:
    login_provider(role)
    response = provider_client.get("/transactions")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert f"{SANDBOX_TRANSACTIONS:,} transactions" in page
    assert len(ids(page)) == 50
    assert 'id="transactions-view"' in page and "js/transactions.js" in page


def test_filters_reach_the_provider_and_the_rows_match_its_listing(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    query = "status=captured&status=partially_refunded&country=AT&payment_method=invoice"
    page = viewer.get(f"/transactions?{query}&amount_min=20&per_page=100").get_data(as_text=True)
    expected = sandbox_ids(
        sandbox,
        status=["captured", "partially_refunded"],
        country="AT",
        payment_method="invoice",
        amount_min=2000,
        order="created_desc",
    )
    assert ids(page) == expected[:100]
    assert f"{len(expected):,} transactions" in page


def test_sort_oldest_first_reverses_the_order(viewer: FlaskClient, sandbox: SandboxHandle) -> None:
    page = viewer.get("/transactions?order=created_asc&country=CH").get_data(as_text=True)
    assert ids(page) == sandbox_ids(sandbox, country="CH", order="created_asc")[:50]
    assert 'aria-sort="ascending"' in page


@pytest.mark.parametrize(
    ("order", "column", "sort"),
    [
        ("amount_desc", "Amount", "descending"),
        ("amount_asc", "Amount", "ascending"),
        ("due_date_asc", "Due date", "ascending"),
        ("due_date_desc", "Due date", "descending"),
    ],
)
def test_sorting_by_amount_or_due_date_is_the_providers_order(
    viewer: FlaskClient, sandbox: SandboxHandle, order: str, column: str, sort: str
) -> None:
    first = viewer.get(f"/transactions?order={order}&country=CH").get_data(as_text=True)
    expected = sandbox_ids(sandbox, country="CH", order=order)
    assert ids(first) == expected[:50]
    sorted_header = re.search(
        rf'<th scope="col"[^>]*aria-sort="{sort}">\s*<a[^>]*>\s*{column} ', first
    )
    assert sorted_header, "the sorted column says so"
    assert first.count("aria-sort=") == 1
    second = viewer.get(link(first, "next")).get_data(as_text=True)  # the cursor keeps the order
    assert ids(second) == expected[50:100]


def test_every_link_keeps_what_it_does_not_change(viewer: FlaskClient) -> None:
    """The filters (what to match) and the view (sort, page size) travel apart: a sort header
    keeps the filters and the page size, a preset keeps the view, paging keeps both, the export
    keeps the sort (it has no pages), and none of them repeats a key."""
    page = viewer.get("/transactions?currency=EUR&order=amount_desc&per_page=25")
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")

    def query(selector: str) -> list[tuple[str, str]]:
        found = soup.select_one(selector)
        assert found is not None, selector
        return parse_qsl(urlsplit(str(found["href"])).query)

    due = query('th a.portal-sort-link[href*="due_date"]')
    assert due == [("currency", "EUR"), ("order", "due_date_asc"), ("per_page", "25")]
    amount = query("th[aria-sort] a.portal-sort-link")
    assert amount == [("currency", "EUR"), ("order", "amount_asc"), ("per_page", "25")]
    preset = query('.portal-presets a[href*="preset=overdue"]')
    assert preset == [
        ("preset", "overdue"), ("currency", "EUR"), ("order", "amount_desc"), ("per_page", "25"),
    ]  # fmt: skip
    following = query('a[rel="next"]')
    assert following[:3] == [("currency", "EUR"), ("order", "amount_desc"), ("per_page", "25")]
    assert [key for key, _ in following[3:]] == ["page", "cursor"]
    assert query("a[download]") == [("currency", "EUR"), ("order", "amount_desc")]


def test_an_unknown_order_is_refused_with_the_field_named(viewer: FlaskClient) -> None:
    response = viewer.get("/transactions?order=customer_name")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Sort" in page and "Please choose one of the offered values." in page


def test_paging_forward_and_back_returns_to_the_same_rows(viewer: FlaskClient) -> None:
    pages = [viewer.get("/transactions?per_page=25&currency=EUR").get_data(as_text=True)]
    for _ in range(3):
        pages.append(viewer.get(link(pages[-1], "next")).get_data(as_text=True))
    seen = [ids(page) for page in pages]
    assert all(len(rows) == 25 for rows in seen)
    assert len({row for rows in seen for row in rows}) == 100  # each row once
    current = pages[-1]
    for expected in reversed(seen[:-1]):
        current = viewer.get(link(current, "prev")).get_data(as_text=True)
        assert ids(current) == expected


def test_htmx_gets_the_view_region_only(viewer: FlaskClient) -> None:
    response = viewer.get("/transactions?status=refunded", headers=HTMX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="transactions-filters"' in body and ids(body)
    assert "HX-Request" in response.headers["Vary"]


def test_empty_state_offers_to_clear_the_filters(viewer: FlaskClient) -> None:
    for query in ("order_reference=NO-SUCH-ORDER", "preset=authorized&status=refunded"):
        page = viewer.get(f"/transactions?{query}").get_data(as_text=True)
        assert "No transactions match these filters" in page, query
        assert "Clear filters" in page and not ids(page)


def test_needs_action_preset_lists_authorized_soonest_to_expire_first(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    page = viewer.get("/transactions?preset=authorized").get_data(as_text=True)
    assert ids(page) == sandbox_ids(sandbox, status="authorized", order="created_asc")[:50]
    assert 'aria-current="true"' in page


def test_bad_filter_input_is_a_clear_message_not_an_error(viewer: FlaskClient) -> None:
    response = viewer.get("/transactions?period=forever&amount_min=12.3.4&from=2025-02-30")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please check the filters" in page
    assert "Please enter the amount like 1,234.56." in page
    assert 'aria-invalid="true"' in page and "12.3.4" in page  # the input is kept


def test_a_stale_page_link_falls_back_to_the_first_page(viewer: FlaskClient) -> None:
    first = viewer.get("/transactions?country=DE").get_data(as_text=True)
    next_link = link(first, "next").replace("country=DE", "country=AT")
    page = viewer.get(next_link).get_data(as_text=True)
    assert "This page link is no longer valid" in page
    assert viewer.get("/transactions?cursor=%3Cscript%3E").status_code == 200


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_provider_outage_is_a_clear_503_in_place(
    make_provider_app: Callable[..., Flask], sandbox: SandboxHandle
) -> None:
    app = make_provider_app(url=f"https://127.0.0.1:{closed_port()}", ca=sandbox.ca)
    client = new_client(app)
    assert sign_in(client, make_provider_user(app, Role.VIEWER).email) == 303
    response = client.get("/transactions?status=captured")
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "The payment provider is not answering" in page
    assert "Traceback" not in page and 'id="transactions-filters"' in page
    partial = client.get("/transactions", headers=HTMX)
    assert partial.status_code == 503 and partial.headers["X-Portal-Inline-Error"] == "1"
    assert "<html" not in partial.get_data(as_text=True)
    export = client.get("/transactions/export.csv")
    assert export.status_code == 503 and "text/csv" not in export.headers["Content-Type"]


def read_csv(body: str, delimiter: str) -> list[list[str]]:
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:]), delimiter=delimiter))


def api_listing(client: FlaskClient, query: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = client.get(f"/api/v1/transactions?{query}&limit=1000{cursor}").get_json()
        rows += page["data"]
        if not page["has_more"]:
            return rows
        cursor = f"&cursor={page['next_cursor']}"


def test_csv_export_equals_the_api_listing_in_the_users_locale(viewer: FlaskClient) -> None:
    response = viewer.get(
        "/transactions/export.csv?status=partially_refunded&amount_min=1.000,00",
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.is_streamed
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="transactions-\d{4}-\d{2}-\d{2}.csv"', disposition)
    header, *rows = read_csv(response.get_data(as_text=True), ";")
    assert header[0] == "Transaktions-ID" or header[0] == "Transaction ID"
    expected = api_listing(viewer, "status=partially_refunded&amount_min=100000")
    assert len(rows) == len(expected) > 0
    methods = {"invoice": "Rechnung", "installments": "Ratenzahlung", "direct_debit": "Lastschrift"}
    for row, tx in zip(rows, expected, strict=True):
        # Codes become the page's words: a German export reads German, as the table does.
        assert row[0] == tx["id"] and row[4] == "Teilweise erstattet"
        assert row[6] == methods[tx["payment_method"]]
        whole, cents = divmod(tx["amount"], 100)
        assert row[8] == f"{whole},{cents:02d}"
        refunded = tx["refunded_amount"]
        assert row[10] == f"{refunded // 100},{refunded % 100:02d}"


def test_csv_export_of_a_large_set_streams_every_page(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    response = viewer.get("/transactions/export.csv?currency=EUR&order=created_asc")
    header, *rows = read_csv(response.get_data(as_text=True), ",")
    assert len(header) == 19
    assert [row[0] for row in rows] == sandbox_ids(sandbox, currency="EUR", order="created_asc")
