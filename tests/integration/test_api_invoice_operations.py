"""The invoice's operations in the portal's API: the page's service behind a token, with the
caller's idempotency key, the agreed fee, and clear problems."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from sarportal.domain.roles import Role
from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_claims import key
from tests.integration.helpers_transaction import audit_rows
from tests.integration.test_web_claim_answers import bearer
from tests.integration.test_web_invoice_operations import provider_tx, unpaid

pytestmark = pytest.mark.usefixtures("real_time")

EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module")
def rows(busy: SandboxHandle) -> RowPicker:
    return RowPicker(busy)


@pytest.fixture
def portal_app(make_provider_app: Callable[..., Flask], busy: SandboxHandle) -> Flask:
    return make_provider_app(busy)


def call(app: Flask, tx_id: str, op: str, body: Any, role: Role = Role.OPERATOR, **headers: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    return client.post(
        f"/api/v1/transactions/{tx_id}/{op}",
        json=body,
        headers={**bearer(app, role), **EN, **headers},
    )


def test_an_extension_for_the_fee_shown_is_made_once_per_idempotency_key(
    busy: SandboxHandle, rows: RowPicker, portal_app: Flask
) -> None:
    tx = unpaid(rows)
    option = provider_tx(busy, tx["id"])["invoice"]["extension_options"][0]
    body = {"working_days": option["working_days"], "fee_amount": option["fee_amount"]}
    client, headers = portal_app.test_client(), {**bearer(portal_app), **key(), **EN}
    url = f"/api/v1/transactions/{tx['id']}/due-date-extensions"
    answers = [client.post(url, json=body, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201], answers[0].get_data(as_text=True)
    assert answers[0].get_json() == answers[1].get_json()
    made = answers[0].get_json()
    assert made["transaction"]["due_date"] == option["due_date"]
    assert made["invoice"]["extension"]["fee_amount"] == option["fee_amount"]
    assert "customer" not in made["transaction"]
    outcomes = [e["outcome"] for e in audit_rows(portal_app, tx["id"])]
    assert outcomes == ["pending", "succeeded", "pending", "replayed"]


def test_a_fee_not_offered_is_refused_as_fee_changed_and_nothing_is_charged(
    busy: SandboxHandle, rows: RowPicker, portal_app: Flask
) -> None:
    tx = unpaid(rows)
    answer = call(
        portal_app, tx["id"], "due-date-extensions", {"working_days": 10, "fee_amount": 1}
    )
    assert answer.status_code == 409
    problem = answer.get_json()
    assert problem["code"] == "fee_changed" and "fee" in problem["detail"]
    assert provider_tx(busy, tx["id"])["invoice"]["extension"] is None


def test_pause_resend_and_direct_payment_reach_the_provider(
    busy: SandboxHandle, rows: RowPicker, portal_app: Flask
) -> None:
    tx = unpaid(rows)
    assert call(portal_app, tx["id"], "dunning-pauses", {"days": 10}).status_code == 201
    assert call(portal_app, tx["id"], "invoice-resends", {}).status_code == 201
    open_amount = provider_tx(busy, tx["id"])["invoice"]["open_amount"]
    today = datetime.now(UTC).date().isoformat()
    more = call(
        portal_app, tx["id"], "direct-payments", {"amount": open_amount + 1, "paid_on": today}
    )
    assert more.status_code == 422 and more.get_json()["code"] == "amount_exceeds_available"
    paid = call(portal_app, tx["id"], "direct-payments", {"amount": open_amount, "paid_on": today})
    assert paid.status_code == 201
    assert paid.get_json()["transaction"]["settlement_status"] == "paid"
    invoice = provider_tx(busy, tx["id"])["invoice"]
    assert invoice["times_sent"] == 2 and invoice["direct_payments"][0]["amount"] == open_amount


@pytest.mark.parametrize(
    ("op", "body"),
    [
        ("dunning-pauses", {"days": 31}),
        ("dunning-pauses", {"days": "7"}),
        ("due-date-extensions", {"working_days": 11, "fee_amount": 100}),
        ("invoice-resends", {"to": "someone"}),
        ("direct-payments", {"amount": 100, "paid_on": "08.12.2026"}),
        ("direct-payments", {"amount": 0, "paid_on": "2026-12-01"}),
    ],
)
def test_a_malformed_body_is_refused_before_the_provider_hears_of_it(
    busy: SandboxHandle, rows: RowPicker, portal_app: Flask, op: str, body: dict[str, Any]
) -> None:
    tx = unpaid(rows)
    answer = call(portal_app, tx["id"], op, body)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert audit_rows(portal_app, tx["id"]) == []


def test_a_viewer_may_not_and_a_transaction_without_invoice_cannot(
    busy: SandboxHandle, rows: RowPicker, portal_app: Flask
) -> None:
    tx = unpaid(rows)
    assert call(portal_app, tx["id"], "invoice-resends", {}, Role.VIEWER).status_code == 403
    authorized = rows.take("authorized")
    refused = call(portal_app, authorized["id"], "invoice-resends", {})
    assert refused.status_code == 409 and refused.get_json()["code"] == "invalid_state"
    assert audit_rows(portal_app, authorized["id"]) == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    future = call(portal_app, tx["id"], "direct-payments", {"amount": 1, "paid_on": tomorrow})
    assert future.status_code == 400 and future.get_json()["code"] == "invalid_request"
