"""`GET /api/v1/transactions/{id}` and the three actions, with tokens and with the session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from sarportal.domain.roles import Role
from tests.fixtures.portal import FakeClock, MadeUser, csrf_token
from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_transaction import audit_rows, audit_text, personal_values
from tests.integration.helpers_transaction import provider_view as truth


def _bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def test_detail_has_the_summary_customer_items_and_events(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    row = fresh_rows.take("captured")
    response = provider_app.test_client().get(
        f"/api/v1/transactions/{row['id']}", headers=_bearer(provider_token(Role.VIEWER))
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    expected = truth(sandbox, row["id"])
    assert body["customer"]["email"] == expected["customer"]["email"]
    assert body["items"] == expected["items"] and len(body["events"]) == len(expected["events"])
    assert {k: body[k] for k in row} == row
    entries = audit_rows(provider_app, row["id"])
    assert [(e["action"], e["details"]) for e in entries] == [
        ("transaction.customer_viewed", {"field": "all"})
    ]
    everything = audit_text(provider_app)
    assert [v for v in personal_values(expected["customer"]).values() if v in everything] == []


def test_refund_with_the_same_idempotency_key_applies_once(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    row = fresh_rows.take("captured")
    headers = _bearer(provider_token(Role.OPERATOR), **{"Idempotency-Key": "order-42-refund"})
    client = provider_app.test_client()
    path = f"/api/v1/transactions/{row['id']}/refunds"
    body = {"amount": 120, "reason": "Goodwill"}
    first = client.post(path, json=body, headers=headers)
    second = client.post(path, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.headers["Location"] == f"/api/v1/transactions/{row['id']}"
    answer = first.get_json()
    assert answer["id"] == row["id"] and answer["refunded_amount"] == 120
    assert "customer" not in answer
    assert truth(sandbox, row["id"])["refunded_amount"] == 120
    changed = client.post(path, json={**body, "amount": 130}, headers=headers)
    assert changed.status_code == 409
    assert changed.get_json()["code"] == "idempotency_conflict"
    entries = audit_rows(provider_app, row["id"])
    outcomes = [e["outcome"] for e in entries]
    assert outcomes == ["pending", "succeeded", "pending", "replayed", "pending", "failed"]
    assert entries[3]["details"]["replay_of"] == entries[1]["id"]  # one effect, one success


def test_capture_and_cancel(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    row = fresh_rows.take("partially_captured")
    client = provider_app.test_client()
    headers = _bearer(provider_token(Role.ADMIN))
    base = f"/api/v1/transactions/{row['id']}"
    captured = client.post(f"{base}/captures", json={"amount": 1}, headers=headers)
    assert captured.status_code == 201
    assert captured.get_json()["captured_amount"] == row["captured_amount"] + 1
    cancelled = client.post(f"{base}/cancellations", json={}, headers=headers)
    assert cancelled.status_code == 201 and cancelled.get_json()["status"] == "captured"
    after = truth(sandbox, row["id"])
    rest = row["amount"] - row["captured_amount"] - 1
    assert (after["captured_amount"], after["cancelled_amount"]) == (
        row["captured_amount"] + 1,
        rest,
    )
    again = client.post(f"{base}/cancellations", json={}, headers=headers)
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_state"
    refundable = after["captured_amount"] - after["refunded_amount"]
    too_much = client.post(
        f"{base}/refunds", json={"amount": refundable + 1, "reason": "x"}, headers=headers
    )
    assert too_much.status_code == 422
    assert too_much.get_json()["code"] == "amount_exceeds_available"


def test_invalid_bodies_are_problems_and_change_nothing(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    row = fresh_rows.take("captured")
    client = provider_app.test_client()
    headers = _bearer(provider_token(Role.OPERATOR))
    path = f"/api/v1/transactions/{row['id']}/refunds"
    for body in ({"amount": 0, "reason": "x"}, {"amount": 1}, {"amount": 1, "reason": ""}):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 400, body
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "invalid_request"
    bad_key = client.post(
        path, json={"amount": 1, "reason": "x"}, headers={**headers, "Idempotency-Key": "ä"}
    )
    assert bad_key.status_code == 400
    assert truth(sandbox, row["id"])["refunded_amount"] == 0
    assert audit_rows(provider_app, row["id"]) == []


def test_an_amount_that_is_not_a_json_integer_is_a_422_naming_it_and_changes_nothing(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    row = fresh_rows.take("captured")
    client = provider_app.test_client()
    headers = _bearer(provider_token(Role.OPERATOR))
    for kind, extra in (("refunds", {"reason": "x"}), ("captures", {})):
        path = f"/api/v1/transactions/{row['id']}/{kind}"
        for amount in ("100", "1e1", "4.0", 1.0, True, 1.5, "x", None, [1]):
            response = client.post(path, json={"amount": amount, **extra}, headers=headers)
            assert response.status_code == 422, (kind, amount)
            problem = response.get_json()
            assert (problem["code"], problem["param"]) == ("invalid_request", "amount"), amount
            assert "JSON integer" in problem["detail"] and str(amount) not in problem["detail"]
    after = truth(sandbox, row["id"])
    assert (after["refunded_amount"], after["captured_amount"]) == (0, row["captured_amount"])
    assert audit_rows(provider_app, row["id"]) == []


def test_viewer_token_is_refused(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
) -> None:
    row = fresh_rows.take("captured")
    response = provider_app.test_client().post(
        f"/api/v1/transactions/{row['id']}/refunds",
        json={"amount": 1, "reason": "x"},
        headers=_bearer(provider_token(Role.VIEWER)),
    )
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"


def test_operator_whose_provider_client_may_only_read_gets_a_clear_refusal(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    row = fresh_rows.take("captured")
    token = provider_token(Role.OPERATOR, client_id="demo-viewer")
    response = provider_app.test_client().post(
        f"/api/v1/transactions/{row['id']}/refunds",
        json={"amount": 1, "reason": "x"},
        headers=_bearer(token),
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "provider_forbidden"
    assert truth(sandbox, row["id"])["refunded_amount"] == 0


def test_session_writes_need_the_csrf_header_and_a_recent_sign_in(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    clock: FakeClock,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.OPERATOR)
    row = fresh_rows.take("captured")
    path = f"/api/v1/transactions/{row['id']}/refunds"
    body = {"amount": 10, "reason": "Goodwill"}
    refused = provider_client.post(path, json=body)
    assert refused.status_code == 400 and refused.get_json()["code"] == "csrf_failed"
    token = csrf_token(provider_client, "/")
    allowed = provider_client.post(path, json=body, headers={"X-CSRFToken": token})
    assert allowed.status_code == 201
    clock.advance(timedelta(minutes=16))
    stale = provider_client.post(path, json=body, headers={"X-CSRFToken": token})
    assert stale.status_code == 403 and stale.get_json()["code"] == "step_up_required"
    assert truth(sandbox, row["id"])["refunded_amount"] == 10


def test_the_api_is_documented(provider_app: Flask, provider_token: Callable[..., str]) -> None:
    response = provider_app.test_client().get(
        "/api/openapi.json", headers=_bearer(provider_token(Role.VIEWER))
    )
    paths = response.get_json()["paths"]
    assert "get" in paths["/api/v1/transactions/{tx_id}"]
    for action in ("refunds", "captures", "cancellations"):
        operation = paths[f"/api/v1/transactions/{{tx_id}}/{action}"]["post"]
        assert "201" in operation["responses"]
        assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
