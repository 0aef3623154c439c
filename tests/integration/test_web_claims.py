"""The claims inbox, its CSV and a claim's page, and the claims API, against the sandbox.

Ground truth is the sandbox's own list, read directly: the inbox must show what the provider
says, in its order, and mark exactly the open claims that expire within 72 hours.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sarportal.domain.roles import Role
from tests.fixtures.sandbox import SandboxHandle

CLAIM_LINK = re.compile(r'href="/claims/(cl_[0-9a-f]{16})"')


pytestmark = pytest.mark.usefixtures("real_time")  # the sandbox data is relative to now


def claims(sandbox: SandboxHandle, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    with sandbox.client("demo-viewer") as client:
        while True:
            query = {"limit": 1000, **params, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/claims", params=query).json()
            found += page["data"]
            if not page["has_more"]:
                return found
            cursor = page["next_cursor"]


def test_the_inbox_opens_on_the_claims_awaiting_a_response_soonest_first(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    answer = viewer.get("/claims")
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    page = answer.get_data(as_text=True)
    truth = claims(sandbox, status="open")
    assert truth, "the sandbox has no open claims"
    assert CLAIM_LINK.findall(page) == [c["id"] for c in truth[:50]]
    respond_by = [c["respond_by"] for c in truth]
    assert respond_by == sorted(respond_by)
    soon = datetime.now(UTC) + timedelta(hours=72)
    expiring = [c for c in truth[:50] if datetime.fromisoformat(c["respond_by"]) < soon]
    assert page.count('data-portal-soon="1"') == len(expiring)


def test_the_expiring_view_holds_exactly_the_open_claims_due_within_72_hours(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    page = viewer.get("/claims?view=expiring").get_data(as_text=True)
    soon = datetime.now(UTC) + timedelta(hours=72)
    truth = [
        c["id"]
        for c in claims(sandbox, status="open")
        if datetime.fromisoformat(c["respond_by"]) < soon
    ]
    assert CLAIM_LINK.findall(page) == truth[:50]


def test_other_views_and_a_bad_one(viewer: FlaskClient, sandbox: SandboxHandle) -> None:
    decided = viewer.get("/claims?view=decided&currency=CHF").get_data(as_text=True)
    truth = claims(sandbox, status=["accepted", "expired", "won", "lost"], currency="CHF",
                   order="created_desc")  # fmt: skip
    assert CLAIM_LINK.findall(decided) == [c["id"] for c in truth[:50]]
    assert viewer.get("/claims?view=everything").status_code == 400
    assert viewer.get("/claims?reason=lost-in-space").status_code == 400


def test_the_csv_holds_every_claim_of_the_view(viewer: FlaskClient, sandbox: SandboxHandle) -> None:
    answer = viewer.get("/claims/export.csv?view=all")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "no-store" in answer.headers["Cache-Control"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    truth = claims(sandbox, order="created_desc")
    assert [row[0] for row in rows[1:]] == [c["id"] for c in truth]
    assert "PIICANARY" not in answer.get_data(as_text=True)


def test_a_claims_page_shows_the_claim_and_its_response(
    viewer: FlaskClient, sandbox: SandboxHandle
) -> None:
    contested = next(
        c for c in claims(sandbox, status=["won", "lost", "under_review"]) if c["response"]
    )
    page = viewer.get(f"/claims/{contested['id']}").get_data(as_text=True)
    assert contested["order_reference"] in page
    assert contested["response"]["text"] in page
    for file in contested["response"]["evidence"]:
        assert file["filename"] in page
    open_claim = claims(sandbox, status="open")[0]
    assert "left)" in viewer.get(f"/claims/{open_claim['id']}").get_data(as_text=True)
    assert viewer.get("/claims/cl_0000000000000000").status_code == 404


def test_the_api_passes_claims_through(
    provider_app: Flask, provider_token: Callable[..., str], sandbox: SandboxHandle
) -> None:
    client = provider_app.test_client()
    headers = {"Authorization": f"Bearer {provider_token(Role.VIEWER)}"}
    listed = client.get("/api/v1/claims?status=open&limit=5&include_total=true", headers=headers)
    assert listed.status_code == 200
    with sandbox.client("demo-viewer") as direct:
        truth = direct.get(
            "/v1/claims", params={"status": "open", "limit": 5, "include_total": "true"}
        )
    unassigned = [{**claim, "assignee_user_id": None} for claim in truth.json()["data"]]
    assert listed.get_json() == {**truth.json(), "data": unassigned}  # plus the portal's field
    first = listed.get_json()["data"][0]
    assert client.get(f"/api/v1/claims/{first['id']}", headers=headers).get_json() == first
    bad = client.get("/api/v1/claims?respond_by_before=tomorrow", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["param"] == "respond_by_before"
