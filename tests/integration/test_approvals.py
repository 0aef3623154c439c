"""Four-eyes approval against the sandbox: above the organisation's threshold a refund (and,
where chosen, a capture) waits for a second person; the requester never decides their own;
an approval sends the action once with the key made at the request; a rejection, a withdrawal
or an expiry sends nothing; a transaction that changed meanwhile makes the approval fail with
the provider's reason, on the request. The races over several processes are in
`test_served_portal.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import select

from sarportal.approvals import ApprovalDesk
from sarportal.domain.approvals import Decider, Policy
from sarportal.domain.roles import Role
from sarportal.store.models import ApprovalRequestRow
from tests.fixtures.portal import MadeUser, csrf_token, new_client, sign_in_fully
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_transaction import (
    audit_rows,
    open_dialog,
    post_step,
    provider_view,
)


class Person:
    """A signed-in user of "Musterhaus GmbH" with a browser of their own."""

    def __init__(self, app: Flask, role: Role) -> None:
        self.user: MadeUser = make_provider_user(app, role)
        self.client = new_client(app)
        clock = app.extensions["sarportal"].settings.clock
        assert sign_in_fully(self.client, self.user, clock()) == 303

    def post(self, path: str, **data: str) -> Any:
        data["csrf_token"] = csrf_token(self.client, "/account")
        return self.client.post(path, data=data)


@pytest.fixture
def person(provider_app: Flask) -> Callable[[Role], Person]:
    return lambda role: Person(provider_app, role)


def set_threshold(app: Flask, policy: Policy) -> None:
    """The organisation's threshold, set as an admin would (the settings page has its test)."""
    store = app.extensions["sarportal"].store
    with store.unit_of_work() as uow:
        organisation_id = uow.organisations.get_or_create("Musterhaus GmbH").id
        uow.commit()
    ApprovalDesk(store).set_policies(
        Decider(0, organisation_id, Role.ADMIN), {policy.currency: policy}
    )


def requests_of(app: Flask, tx_id: str) -> list[ApprovalRequestRow]:
    with app.extensions["sarportal"].store.unit_of_work() as uow:
        query = select(ApprovalRequestRow).where(ApprovalRequestRow.transaction_id == tx_id)
        return list(uow.session.scalars(query.order_by(ApprovalRequestRow.id)))


def ask_refund(who: Person, tx_id: str, amount: str, **typed: str) -> tuple[Any, Any]:
    """Run the refund dialog to its end (twice, as a double click would); both answers."""
    token, intent = open_dialog(who.client, tx_id, "refund")
    form = {"amount": amount, "reason": "damaged", "note": "Karton eingedrückt", **typed}
    review = post_step(who.client, tx_id, "refund", token, intent, "review", form=form)
    assert review.status_code == 200
    first = post_step(who.client, tx_id, "refund", token, intent, "confirm", form=form)
    second = post_step(who.client, tx_id, "refund", token, intent, "confirm", form=form)
    return review, (first, second)


def test_a_refund_above_the_threshold_waits_for_a_second_person_and_runs_once(
    provider_app: Flask,
    person: Callable[[Role], Person],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    set_threshold(provider_app, Policy("EUR", 100))
    asker, approver, viewer = person(Role.OPERATOR), person(Role.OPERATOR), person(Role.VIEWER)
    row = fresh_rows.take("captured", currency="EUR")
    review, answers = ask_refund(asker, row["id"], "2.50")
    assert "Request approval" in review.get_data(as_text=True)
    assert all(a.headers["HX-Redirect"] == f"/transactions/{row['id']}" for a in answers)
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 0  # nothing sent
    (request,) = requests_of(provider_app, row["id"])  # a double submit: one request
    assert (request.state, request.amount, request.reason_code) == ("pending", 250, "damaged")
    detail = asker.client.get(f"/transactions/{row['id']}").get_data(as_text=True)
    assert "Waiting for approval" in detail and "above your organisation" in detail

    mine = asker.client.get("/approvals")
    assert mine.headers["Cache-Control"] == "no-store"
    assert "Your request" in mine.get_data(as_text=True)
    refused = asker.post(f"/approvals/{request.key}/approve")
    assert refused.status_code == 403  # never one's own
    assert viewer.client.get("/approvals").status_code == 403
    assert viewer.post(f"/approvals/{request.key}/approve").status_code == 403

    waiting = BeautifulSoup(approver.client.get("/").get_data(as_text=True), "html.parser")
    badge = waiting.select_one('a[href="/approvals"] .badge')
    assert badge is not None and badge.get_text(" ", strip=True).startswith("1")
    done = approver.post(f"/approvals/{request.key}/approve")
    assert done.status_code == 303
    after = provider_view(sandbox, row["id"])
    assert after["refunded_amount"] == 250
    refunds = [e for e in after["events"] if e["type"] == "refund"]
    assert len(refunds) == 1 and refunds[0]["reason"] == "Damaged goods: Karton eingedrückt"
    assert approver.post(f"/approvals/{request.key}/approve").status_code == 303  # decided
    assert "Somebody decided this request first" in approver.client.get("/approvals").get_data(
        as_text=True
    )
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 250

    (request,) = requests_of(provider_app, row["id"])
    assert (request.state, request.outcome, request.reason) == ("approved", "succeeded", None)
    entries = audit_rows(provider_app, row["id"])
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("approval.requested", "success"),
        ("approval.approved", "success"),
        ("transaction.refund", "pending"),
        ("transaction.refund", "succeeded"),
    ]
    assert all("Karton" not in str(e["details"]) for e in entries)
    assert "Approved and done" in asker.client.get(f"/transactions/{row['id']}").get_data(
        as_text=True
    )


def test_at_the_threshold_or_outside_the_policy_an_action_runs_at_once(
    provider_app: Flask,
    person: Callable[[Role], Person],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    set_threshold(provider_app, Policy("EUR", 300))
    operator = person(Role.OPERATOR)
    row = fresh_rows.take("captured", currency="EUR")
    review, _answers = ask_refund(operator, row["id"], "3.00")
    assert "Request approval" not in review.get_data(as_text=True)
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 300
    assert requests_of(provider_app, row["id"]) == []

    authorized = fresh_rows.take("authorized", currency="EUR")
    token, intent = open_dialog(operator.client, authorized["id"], "capture")
    form = {"amount": "5.00"}
    post_step(operator.client, authorized["id"], "capture", token, intent, "confirm", form=form)
    assert provider_view(sandbox, authorized["id"])["captured_amount"] == 500  # not chosen

    set_threshold(provider_app, Policy("EUR", 300, captures=True))
    other = fresh_rows.take("authorized", currency="EUR")
    token, intent = open_dialog(operator.client, other["id"], "capture")
    post_step(operator.client, other["id"], "capture", token, intent, "confirm", form=form)
    assert provider_view(sandbox, other["id"])["captured_amount"] == 0
    assert [r.kind for r in requests_of(provider_app, other["id"])] == ["capture"]


def test_a_rejection_a_withdrawal_or_an_expiry_sends_nothing(
    provider_app: Flask,
    person: Callable[[Role], Person],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    set_threshold(provider_app, Policy("EUR", 100))
    asker, approver = person(Role.OPERATOR), person(Role.ADMIN)
    rows = [fresh_rows.take("captured", currency="EUR") for _ in range(3)]
    for row in rows:
        ask_refund(asker, row["id"], "2.00")
    rejected, withdrawn, expired = (requests_of(provider_app, r["id"])[0].key for r in rows)
    assert approver.post(f"/approvals/{rejected}/reject").status_code == 303
    assert approver.post(f"/approvals/{withdrawn}/withdraw").status_code == 403  # not theirs
    assert asker.post(f"/approvals/{withdrawn}/withdraw").status_code == 303
    clock = provider_app.extensions["sarportal"].settings.clock
    clock.now += timedelta(days=7, seconds=1)
    assert sign_in_fully(approver.client, approver.user, clock()) == 303  # the session expired
    assert approver.post(f"/approvals/{expired}/approve").status_code == 303
    page = approver.client.get("/approvals").get_data(as_text=True)
    assert "Nobody decided this request in time" in page
    states = [requests_of(provider_app, r["id"])[0].state for r in rows]
    assert states == ["rejected", "withdrawn", "expired"]
    assert all(provider_view(sandbox, r["id"])["refunded_amount"] == 0 for r in rows)
    assert [e["action"] for e in audit_rows(provider_app, rows[2]["id"])] == [
        "approval.requested",
        "approval.expired",
    ]
    assert all(requests_of(provider_app, r["id"])[0].reason is None for r in rows)


def test_an_approval_after_the_transaction_changed_fails_with_the_providers_reason(
    provider_app: Flask,
    person: Callable[[Role], Person],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    set_threshold(provider_app, Policy("EUR", 100))
    asker, approver = person(Role.OPERATOR), person(Role.OPERATOR)
    row = fresh_rows.take("captured", currency="EUR")
    full = row["captured_amount"] - row["refunded_amount"]
    ask_refund(asker, row["id"], f"{full // 100}.{full % 100:02d}")
    (request,) = requests_of(provider_app, row["id"])
    with sandbox.client("demo-operator") as direct:  # somebody refunds part of it meanwhile
        direct.post(
            f"/v1/transactions/{row['id']}/refunds",
            json={"amount": 50, "reason": "Goodwill"},
            headers={"Idempotency-Key": f"meanwhile-{row['id']}"},
        ).raise_for_status()
    assert approver.post(f"/approvals/{request.key}/approve").status_code == 303
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 50
    (request,) = requests_of(provider_app, row["id"])
    assert (request.state, request.outcome) == ("approved", "failed")
    assert request.outcome_code == "amount_exceeds_available"
    page = BeautifulSoup(approver.client.get("/approvals").get_data(as_text=True), "html.parser")
    shown = page.select_one(f"#approval-{request.key}")
    assert shown is not None and "Refused by the provider" in shown.get_text(" ")


def test_over_the_api_the_action_answers_202_and_another_token_approves(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    set_threshold(provider_app, Policy("EUR", 100))
    client = provider_app.test_client()
    asker = {"Authorization": f"Bearer {provider_token(Role.OPERATOR)}"}
    approver = {"Authorization": f"Bearer {provider_token(Role.ADMIN)}"}
    row = fresh_rows.take("captured", currency="EUR")
    body = {"amount": 200, "reason": "Damaged goods"}
    key = {"Idempotency-Key": f"api-{row['id']}"}
    first = client.post(f"/api/v1/transactions/{row['id']}/refunds", json=body, headers=asker | key)
    assert first.status_code == 202, first.get_data(as_text=True)
    request = first.get_json()
    assert first.headers["Location"] == f"/api/v1/approvals/{request['id']}"
    assert (request["state"], request["amount"], request["outcome"]) == ("pending", 200, None)
    assert "reason" not in request
    again = client.post(f"/api/v1/transactions/{row['id']}/refunds", json=body, headers=asker | key)
    assert again.status_code == 200 and again.get_json()["id"] == request["id"]
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 0

    own = client.post(f"/api/v1/approvals/{request['id']}/approve", headers=asker)
    assert own.status_code == 403 and own.get_json()["code"] == "approval_own"
    listed = client.get("/api/v1/approvals?state=pending", headers=approver).get_json()
    assert request["id"] in [found["id"] for found in listed["data"]]
    approved = client.post(f"/api/v1/approvals/{request['id']}/approve", headers=approver)
    assert approved.status_code == 200
    assert (approved.get_json()["state"], approved.get_json()["outcome"]) == (
        "approved",
        "succeeded",
    )
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 200
    late = client.post(f"/api/v1/approvals/{request['id']}/reject", headers=approver)
    assert late.status_code == 409 and late.get_json()["code"] == "approval_decided"
    viewer = {"Authorization": f"Bearer {provider_token(Role.VIEWER)}"}
    assert client.get("/api/v1/approvals", headers=viewer).status_code == 403


def test_admins_set_the_thresholds_in_their_own_words(
    provider_app: Flask, person: Callable[[Role], Person]
) -> None:
    admin, operator = person(Role.ADMIN), person(Role.OPERATOR)
    assert operator.client.get("/approvals/settings").status_code == 403
    assert operator.post("/approvals/settings", threshold_EUR="1").status_code == 403
    admin.client.set_cookie("lang", "de")
    bad = admin.post("/approvals/settings", threshold_EUR="zwölf", threshold_CHF="1.000,50")
    assert bad.status_code == 400
    page = BeautifulSoup(bad.get_data(as_text=True), "html.parser")
    kept = page.select_one("#threshold-EUR")
    assert kept is not None and kept["value"] == "zwölf" and kept["aria-invalid"] == "true"
    saved = admin.post(
        "/approvals/settings", threshold_EUR="1.000,50", captures_EUR="1", threshold_CHF=""
    )
    assert saved.status_code == 303
    policies = ApprovalDesk(provider_app.extensions["sarportal"].store).policies(
        _organisation(provider_app, admin.user)
    )
    assert policies == {"EUR": Policy("EUR", 100050, captures=True)}
    shown = BeautifulSoup(
        admin.client.get("/approvals/settings").get_data(as_text=True), "html.parser"
    )
    assert shown.select_one("#threshold-EUR")["value"] == "1000,50"  # type: ignore[index]


def _organisation(app: Flask, user: MadeUser) -> int:
    with app.extensions["sarportal"].store.unit_of_work() as uow:
        found = uow.users.get(user.id)
        assert found is not None
        return found.organisation_id


def test_a_lost_answer_on_approval_is_sent_again_with_the_same_key_and_applies_once(
    make_sandbox: Callable[..., SandboxHandle], make_provider_app: Callable[..., Flask]
) -> None:
    handle = make_sandbox(hang_seconds=1.5)
    app = make_provider_app(handle, provider_read_timeout=0.3)
    set_threshold(app, Policy("EUR", 100))
    asker, approver = Person(app, Role.OPERATOR), Person(app, Role.OPERATOR)
    row = RowPicker(handle).take("captured", currency="EUR")
    ask_refund(asker, row["id"], "2.00")
    (request,) = requests_of(app, row["id"])
    # The refund applies, but every answer is lost and the transaction cannot be read back.
    handle.running.app.faults.schedule("hang", "/v1/transactions/", "POST", 10)
    handle.running.app.faults.schedule("error_503", "/v1/transactions/", "GET", 10)
    assert approver.post(f"/approvals/{request.key}/approve").status_code == 303
    handle.running.app.faults.clear()
    (request,) = requests_of(app, row["id"])
    assert (request.state, request.outcome) == ("approved", "unknown")
    page = BeautifulSoup(approver.client.get("/approvals").get_data(as_text=True), "html.parser")
    shown = page.select_one(f"#approval-{request.key}")
    assert shown is not None and "Send again" in shown.get_text(" ")
    assert asker.post(f"/approvals/{request.key}/approve").status_code == 403
    assert approver.post(f"/approvals/{request.key}/approve").status_code == 303
    (request,) = requests_of(app, row["id"])
    assert request.outcome == "succeeded"
    after = provider_view(handle, row["id"])
    assert after["refunded_amount"] == 200
    assert len([e for e in after["events"] if e["type"] == "refund"]) == 1
    app.extensions["sarportal"].provider.close()
