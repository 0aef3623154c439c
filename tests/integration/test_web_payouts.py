"""The payouts pages and API through the Flask app, against the sandbox over TLS.

Ground truth is the sandbox's own answers, read directly with its client: the portal must show
what the provider says, page for page, and pass its files on byte for byte.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sarportal.domain.roles import Role
from sarportal.web.payouts.pages import LINES_PAGE_SIZE, ExportInterrupted
from tests.fixtures.sandbox import SandboxHandle

PAYOUT_LINK = re.compile(r'href="/payouts/(po_[0-9a-f]{16})"')
TX_LINK = re.compile(r'href="/transactions/(tx_[0-9a-f]+)"')


pytestmark = pytest.mark.usefixtures("real_time")  # the sandbox data is relative to now


def direct(sandbox: SandboxHandle, path: str, **params: Any) -> Any:
    with sandbox.client("demo-viewer") as client:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()


def all_payouts(sandbox: SandboxHandle, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = direct(
            sandbox, "/v1/payouts", limit=100, **params, **({"cursor": cursor} if cursor else {})
        )
        found += page["data"]
        if not page["has_more"]:
            return found
        cursor = page["next_cursor"]


def unstamped(body: bytes) -> bytes:
    """A file without the moment it was made (DATEV's header field 6, camt's `CreDtTm`), which
    differs between two downloads of the same payout."""
    body = re.sub(rb"<CreDtTm>[^<]*</CreDtTm>", b"", body)
    return re.sub(rb'^("EXTF";\d+;\d+;"[^"]*";\d+;)\d{17};', rb"\1;", body)


def next_link(page: str) -> str | None:
    found = re.search(r'rel="next" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def test_the_payouts_page_lists_the_providers_payouts_with_totals_per_currency(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    answer = viewer.get("/payouts")
    assert answer.status_code == 200
    assert "no-store" in answer.headers["Cache-Control"]
    page = answer.get_data(as_text=True)
    truth = all_payouts(sandbox)
    assert PAYOUT_LINK.findall(page) == [p["id"] for p in truth[:25]]
    for currency in {p["currency"] for p in truth}:
        mine = [p for p in truth if p["currency"] == currency]
        card = re.search(rf'data-portal-total="{currency}">(.*?)</div>\s*</div>', page, re.S)
        assert card, currency
        assert f"{len(mine)} payouts in {currency}" in card.group(1)
        total = sum(p["amount"] for p in mine)
        whole, cents = divmod(abs(total), 100)
        assert f"{whole:,}.{cents:02d}" in card.group(1)


def test_paging_through_the_payouts_shows_each_once(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    seen: list[str] = []
    url: str | None = "/payouts?currency=EUR"
    while url:
        page = viewer.get(url).get_data(as_text=True)
        seen += PAYOUT_LINK.findall(page)
        url = next_link(page)
    assert seen == [p["id"] for p in all_payouts(sandbox, currency="EUR")]


def test_filters_narrow_the_list_and_bad_ones_are_named(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    truth = all_payouts(sandbox, status="paid", currency="CHF", arrival_from="2026-01-01")
    page = viewer.get("/payouts?status=paid&currency=CHF&from=2026-01-01").get_data(as_text=True)
    assert PAYOUT_LINK.findall(page) == [p["id"] for p in truth[:25]]
    bad = viewer.get("/payouts?from=2026-13-01&to=2025-01-01&status=lost")
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Please enter a date like 2025-03-31." in text
    assert "Please choose one of the offered values." in text
    upside_down = viewer.get("/payouts?from=2026-02-01&to=2026-01-01")
    assert upside_down.status_code == 400
    assert "The end date must not be before the start date." in upside_down.get_data(as_text=True)


def test_a_payouts_detail_adds_up_and_its_lines_link_to_the_transactions(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    payout = next(
        p
        for p in all_payouts(sandbox)
        if p["status"] == "paid" and p["line_count"] > 2 * LINES_PAGE_SIZE
    )
    answer = viewer.get(f"/payouts/{payout['id']}")
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    page = answer.get_data(as_text=True)
    assert payout["bank_reference"] in page
    lines: list[dict[str, Any]] = []
    cursor = None
    while True:
        got = direct(
            sandbox,
            f"/v1/payouts/{payout['id']}/lines",
            limit=1000,
            **({"cursor": cursor} if cursor else {}),
        )
        lines += got["data"]
        if not got["has_more"]:
            break
        cursor = got["next_cursor"]
    assert sum(line["amount"] for line in lines) == payout["amount"]
    assert TX_LINK.findall(page) == [line["transaction_id"] for line in lines[:LINES_PAGE_SIZE]]
    second = viewer.get(
        next_link(page) or "", headers={"HX-Request": "true", "HX-Target": "payout-lines"}
    )
    assert second.status_code == 200
    part = second.get_data(as_text=True)
    assert "<html" not in part
    assert TX_LINK.findall(part) == [
        line["transaction_id"] for line in lines[LINES_PAGE_SIZE : 2 * LINES_PAGE_SIZE]
    ]


def test_an_unknown_payout_is_not_found(viewer: FlaskClient) -> None:
    assert viewer.get("/payouts/po_0000000000000000").status_code == 404
    assert viewer.get("/payouts/not-an-id").status_code == 404


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("csv", "text/csv"), ("datev", "text/csv"), ("camt053", "application/xml")],
)
def test_a_payout_file_is_passed_on_byte_for_byte(
    viewer: FlaskClient, sandbox: SandboxHandle, fmt: str, media_type: str
) -> None:
    payout = all_payouts(sandbox, status="paid")[0]
    with sandbox.client("demo-viewer") as client:
        truth = client.get(f"/v1/payouts/{payout['id']}/export", params={"format": fmt})
    answer = viewer.get(f"/payouts/{payout['id']}/export/{fmt}")
    assert answer.status_code == 200
    assert answer.mimetype == media_type
    assert answer.headers["Content-Type"] == truth.headers["content-type"]
    assert answer.headers["Content-Disposition"] == truth.headers["content-disposition"]
    assert "no-store" in answer.headers["Cache-Control"]
    assert unstamped(answer.get_data()) == unstamped(truth.content)
    assert viewer.get(f"/payouts/{payout['id']}/export/pdf").status_code == 404


def test_a_payout_file_cut_short_by_the_provider_is_cut_off_not_completed(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    payout = all_payouts(sandbox, status="paid")[0]
    sandbox.running.app.faults.schedule("truncated", f"/v1/payouts/{payout['id']}/export", "GET", 1)
    answer = viewer.get(f"/payouts/{payout['id']}/export/csv", buffered=False)
    assert answer.status_code == 200  # the answer had started when the file broke off
    with pytest.raises(ExportInterrupted):
        answer.get_data()


# -- the API -------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_api_passes_payouts_lines_and_files_through(
    provider_app: Flask, provider_token: Callable[..., str], sandbox: SandboxHandle
) -> None:
    client = provider_app.test_client()
    headers = bearer(provider_token(Role.VIEWER))
    listed = client.get("/api/v1/payouts?limit=5&include_totals=true&currency=EUR", headers=headers)
    assert listed.status_code == 200
    body = listed.get_json()
    truth = direct(sandbox, "/v1/payouts", limit=5, include_totals="true", currency="EUR")
    assert body == truth
    payout_id = body["data"][0]["id"]
    one = client.get(f"/api/v1/payouts/{payout_id}", headers=headers).get_json()
    assert one == direct(sandbox, f"/v1/payouts/{payout_id}")
    lines = client.get(f"/api/v1/payouts/{payout_id}/lines?limit=10", headers=headers).get_json()
    assert lines == direct(sandbox, f"/v1/payouts/{payout_id}/lines", limit=10)
    then = client.get(
        f"/api/v1/payouts/{payout_id}/lines?limit=10&cursor={lines['next_cursor']}", headers=headers
    ).get_json()
    assert {line["transaction_id"] for line in then["data"]} != set()
    assert then["data"] != lines["data"]
    exported = client.get(f"/api/v1/payouts/{payout_id}/export?format=camt053", headers=headers)
    assert exported.status_code == 200 and exported.mimetype == "application/xml"
    assert b"camt.053.001.08" in exported.get_data()


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("status=lost", "status"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("arrival_from=2026-02-01&arrival_to=2026-01-01", "arrival_to"),
        ("arrival_from=yesterday", "arrival_from"),
        ("colour=red", "colour"),
        ("cursor=forged", "cursor"),
    ],
)
def test_the_api_names_a_bad_parameter(
    provider_app: Flask, provider_token: Callable[..., str], query: str, param: str
) -> None:
    client = provider_app.test_client()
    answer = client.get(f"/api/v1/payouts?{query}", headers=bearer(provider_token(Role.VIEWER)))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["param"] == param


def test_the_api_refuses_an_unknown_export_format(
    provider_app: Flask, provider_token: Callable[..., str], sandbox: SandboxHandle
) -> None:
    client = provider_app.test_client()
    payout_id = all_payouts(sandbox)[0]["id"]
    answer = client.get(
        f"/api/v1/payouts/{payout_id}/export?format=pdf", headers=bearer(provider_token())
    )
    assert answer.status_code == 400 and answer.get_json()["param"] == "format"
