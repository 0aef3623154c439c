"""The sandbox's CSV export over real TLS: the list's rows in large pages, its state in headers."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import SANDBOX_TRANSACTIONS, SandboxHandle

EXPORT = "/v1/exports/transactions"


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert int(response.headers["x-row-count"]) == len(rows)
    return rows


def _export(client: httpx.Client, **params: Any) -> tuple[list[dict[str, str]], list[int]]:
    """Every row of the export for `params`, following its cursors; and the page sizes."""
    rows: list[dict[str, str]] = []
    sizes: list[int] = []
    cursor = None
    while True:
        response = client.get(EXPORT, params={**params, **({"cursor": cursor} if cursor else {})})
        page = _rows(response)
        rows += page
        sizes.append(len(page))
        more = response.headers["x-has-more"]
        assert more in ("true", "false")
        if more == "false":
            assert "x-next-cursor" not in response.headers
            return rows, sizes
        cursor = response.headers["x-next-cursor"]


def _listed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/transactions", params=query).json()
        rows += body["data"]
        if not body["has_more"]:
            return rows
        cursor = body["next_cursor"]


def _as_csv(summary: dict[str, Any], columns: list[str]) -> dict[str, str]:
    return {k: "" if summary[k] is None else str(summary[k]) for k in columns}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"order": "created_asc"},
        {"status": ["refunded", "cancelled"], "country": "AT"},
        {"settlement_status": "overdue", "dunning_level": ["2", "3"]},
        {"currency": "CHF", "amount_min": 5000},
    ],
)
def test_the_export_holds_exactly_the_lists_rows_in_its_order(
    sandbox: SandboxHandle, params: dict[str, Any]
) -> None:
    with sandbox.client("demo-viewer") as client:
        exported, sizes = _export(client, limit=4000, **params)
        listed = _listed(client, **params)
    assert listed, "the seeded data should contain matching rows"
    columns = list(exported[0])
    assert exported == [_as_csv(s, columns) for s in listed]
    assert all(size == 4000 for size in sizes[:-1]) and sizes[-1] <= 4000


def test_the_pages_default_to_ten_thousand_and_the_first_can_be_smaller(
    sandbox: SandboxHandle,
) -> None:
    with sandbox.client("demo-viewer") as client:
        first = client.get(EXPORT, params={"limit": 1000, "include_total": "true"})
        assert len(_rows(first)) == 1000
        assert first.headers["x-total-count"] == str(SANDBOX_TRANSACTIONS)
        # the cursor holds for the same filters and order, whatever the page size
        rest, sizes = _export(client, cursor=first.headers["x-next-cursor"])
    assert sizes == [10_000, 10_000, SANDBOX_TRANSACTIONS - 21_000]
    ids = [r["id"] for r in _rows(first) + rest]
    assert len(set(ids)) == len(ids) == SANDBOX_TRANSACTIONS


def test_the_export_names_its_columns_and_holds_no_customer_field(sandbox: SandboxHandle) -> None:
    with sandbox.client("demo-viewer") as client:
        response = client.get(EXPORT, params={"limit": 1})
    header = response.text.splitlines()[0].split(",")
    assert header[:3] == ["id", "created_at", "status"]
    assert "customer_id" not in header
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "10001"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"order": "amount_desc"}, "order"),
        ({"status": "lost"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
    ],
)
def test_bad_export_parameters_are_named(
    sandbox: SandboxHandle, params: dict[str, Any], param: str
) -> None:
    with sandbox.client("demo-viewer") as client:
        response = client.get(EXPORT, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["param"] == param


def test_an_export_cursor_is_bound_to_its_filters(sandbox: SandboxHandle) -> None:
    with sandbox.client("demo-viewer") as client:
        cursor = client.get(EXPORT, params={"limit": 5}).headers["x-next-cursor"]
        other = client.get(EXPORT, params={"limit": 5, "cursor": cursor, "status": "captured"})
    assert other.status_code == 400 and other.json()["param"] == "cursor"


def test_the_export_needs_a_token(sandbox: SandboxHandle) -> None:
    response = httpx.get(f"{sandbox.url}{EXPORT}", verify=sandbox.ssl_context())
    assert response.status_code == 401


def test_a_cut_short_page_keeps_its_headers_so_the_row_count_shows_it(make_sandbox: Any) -> None:
    handle = make_sandbox()
    handle.running.app.faults.schedule("truncated", EXPORT, "GET", 1)
    with handle.client("demo-viewer") as client:
        cut = client.get(EXPORT, params={"limit": 400})
        whole = client.get(EXPORT, params={"limit": 400})
    assert len(_rows(whole)) == 400
    assert cut.headers["x-row-count"] == "400"
    assert len(list(csv.DictReader(io.StringIO(cut.text, newline="")))) < 400


def test_a_sandbox_without_the_export_does_not_offer_it(make_sandbox: Any) -> None:
    handle = make_sandbox(export=False)
    with handle.client("demo-viewer") as client:
        contract = client.get("/openapi.json").json()
        response = client.get(EXPORT)
        listed = client.get("/v1/transactions", params={"limit": 1})
    assert EXPORT not in contract["paths"] and "/v1/transactions" in contract["paths"]
    assert response.status_code == 404
    assert listed.status_code == 200
