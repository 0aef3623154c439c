"""The invoice's operations from a transaction's page: extend the due date (fee shown first),
pause the dunning, send the invoice again, report a direct payment; with step-up, idempotency,
audit, refusals and lost answers.

Against a sandbox of this module's own; each test takes transactions no other test touches.
Ground truth is the sandbox's transaction read directly over HTTPS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from werkzeug.test import TestResponse

from sarportal.domain.roles import Role
from sarportal.web.transactions.invoice import SALT
from tests.fixtures.portal import PASSWORD, FakeClock
from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_claims import key
from tests.integration.helpers_transaction import audit_rows
from tests.integration.test_web_claim_answers import signed_in

pytestmark = pytest.mark.usefixtures("real_time")  # the sandbox's invoices are relative to now

FORM = re.compile(
    r'<form method="post" action="/transactions/[^/]+/invoice/([a-z-]+)"[^>]*>.*?'
    r'name="csrf_token" value="([^"]+)".*?name="intent" value="([^"]+)"',
    re.S,
)


@pytest.fixture(scope="module")
def rows(busy: SandboxHandle) -> RowPicker:
    return RowPicker(busy)


@pytest.fixture
def portal_app(make_provider_app: Callable[..., Flask], busy: SandboxHandle) -> Flask:
    return make_provider_app(busy)


@pytest.fixture
def operator(portal_app: Flask) -> FlaskClient:
    return signed_in(portal_app)


def forms(client: FlaskClient, tx_id: str) -> dict[str, dict[str, str]]:
    """The invoice forms on the transaction's page: per operation, its CSRF token and intent."""
    page = client.get(f"/transactions/{tx_id}")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    found = FORM.findall(page.get_data(as_text=True))
    return {name: {"csrf_token": csrf, "intent": intent} for name, csrf, intent in found}


def sealed_key(app: Flask, intent: str) -> str:
    """The idempotency key inside a form's signed intent."""
    return str(URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT).loads(intent)["k"])


def provider_tx(handle: SandboxHandle, tx_id: str) -> dict[str, Any]:
    with handle.client("demo-viewer") as client:
        answer = client.get(f"/v1/transactions/{tx_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def unpaid(rows: RowPicker, settlement: str = "overdue", **filters: Any) -> dict[str, Any]:
    """An untouched invoice that can still be extended and paused (not with collection)."""
    return rows.take("captured", settlement_status=settlement, dunning_level=[0, 1, 2], **filters)


def post(
    client: FlaskClient, tx_id: str, op: str, fields: dict[str, str], **values: Any
) -> TestResponse:
    return client.post(f"/transactions/{tx_id}/invoice/{op}", data={**fields, **values})


def messages(response: TestResponse) -> list[str]:
    return re.findall(r"(?:alert|feedback)[^>]*>([^<]+)<", response.get_data(as_text=True))


def test_an_extension_shows_the_fees_and_is_made_once_however_often_the_form_is_sent(
    busy: SandboxHandle, rows: RowPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    tx = unpaid(rows)
    before = provider_tx(busy, tx["id"])["invoice"]
    page = operator.get(f"/transactions/{tx['id']}").get_data(as_text=True)
    for option in before["extension_options"]:
        fee = f"€{option['fee_amount'] // 100}.{option['fee_amount'] % 100:02d}"
        assert fee in page, fee  # each option's fee is shown before confirming
    fields = forms(operator, tx["id"])["extension"]
    first = post(operator, tx["id"], "extension", fields, working_days="15")
    again = post(operator, tx["id"], "extension", fields, working_days="15")  # a double click
    assert first.status_code == again.status_code == 303, messages(first)
    after = provider_tx(busy, tx["id"])
    fifteen = {o["working_days"]: o for o in before["extension_options"]}[15]
    assert after["due_date"] == fifteen["due_date"]
    assert after["invoice"]["extension"]["fee_amount"] == fifteen["fee_amount"]
    assert after["settlement_status"] == "open"
    entries = audit_rows(portal_app, tx["id"])
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("invoice.due_date_extension", "pending"), ("invoice.due_date_extension", "succeeded"),
        ("invoice.due_date_extension", "pending"), ("invoice.due_date_extension", "replayed"),
    ]  # fmt: skip
    assert entries[1]["details"]["fee_amount"] == fifteen["fee_amount"]
    assert entries[1]["details"]["working_days"] == 15
    shown = operator.get(f"/transactions/{tx['id']}").get_data(as_text=True)
    assert "The due date is now" in shown and 'id="invoice-extension"' not in shown
    assert "Due date extended" in shown


def test_a_fee_changed_since_the_page_was_shown_is_refused_and_the_new_fee_offered(
    busy: SandboxHandle, rows: RowPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    tx = unpaid(rows, "open", amount_min=40_000)  # half of it still costs more than the least fee
    fields = forms(operator, tx["id"])["extension"]
    with busy.client("demo-operator") as direct:  # a colleague refunds half meanwhile
        refund = {"amount": tx["captured_amount"] // 2, "reason": "partial return"}
        answer = direct.post(f"/v1/transactions/{tx['id']}/refunds", json=refund, headers=key())
        assert answer.status_code == 201, answer.text
    refused = post(operator, tx["id"], "extension", fields, working_days="10")
    assert refused.status_code == 422
    assert any("fee for this extension has changed" in m for m in messages(refused))
    assert provider_tx(busy, tx["id"])["invoice"]["extension"] is None
    (shown,) = [
        i for op, _c, i in FORM.findall(refused.get_data(as_text=True)) if op == "extension"
    ]
    assert sealed_key(portal_app, shown) != sealed_key(
        portal_app, fields["intent"]
    )  # a new form, with the new fee
    outcomes = [(e["outcome"], e["details"].get("code")) for e in audit_rows(portal_app, tx["id"])]
    assert outcomes == [("pending", None), ("failed", "invalid_request")]


def test_a_pause_and_a_resend_reach_the_provider_and_the_page_says_so(
    busy: SandboxHandle, rows: RowPicker, operator: FlaskClient
) -> None:
    tx = unpaid(rows)
    fields = forms(operator, tx["id"])
    paused = post(operator, tx["id"], "pause", fields["pause"], days="14")
    sent = post(operator, tx["id"], "resend", fields["resend"])
    assert paused.status_code == sent.status_code == 303
    invoice = provider_tx(busy, tx["id"])["invoice"]
    today = datetime.now(UTC).date()
    assert invoice["dunning_paused_until"] == (today + timedelta(days=14)).isoformat()
    assert invoice["times_sent"] == 2
    page = operator.get(f"/transactions/{tx['id']}").get_data(as_text=True)
    assert "Dunning paused" in page and "2 times" in page
    assert 'id="invoice-pause"' not in page and 'id="invoice-resend"' not in page


def test_a_wrong_direct_payment_names_the_field_and_sends_nothing_then_a_right_one_settles(
    busy: SandboxHandle, rows: RowPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    tx = unpaid(rows)
    open_amount = provider_tx(busy, tx["id"])["invoice"]["open_amount"]
    fields = forms(operator, tx["id"])["direct-payment"]
    today = datetime.now(UTC).date()
    too_much = f"{(open_amount + 1) / 100:.2f}"
    for values, field in (
        ({"amount": "twelve", "paid_on": today.isoformat()}, "direct-amount-error"),
        ({"amount": too_much, "paid_on": today.isoformat()}, "direct-amount-error"),
        ({"amount": "1.00", "paid_on": (today + timedelta(days=1)).isoformat()},
         "direct-paid-on-error"),
        ({"amount": "1.00", "paid_on": "08.12.2026"}, "direct-paid-on-error"),
    ):  # fmt: skip
        refused = post(operator, tx["id"], "direct-payment", fields, **values)
        assert refused.status_code == 422
        page = refused.get_data(as_text=True)
        assert f'id="{field}"' in page, values
        assert f'value="{values["amount"]}"' in page  # what was typed is kept
    assert audit_rows(portal_app, tx["id"]) == []
    assert provider_tx(busy, tx["id"])["invoice"]["direct_payments"] == []
    amount = f"{open_amount / 100:.2f}"
    done = post(operator, tx["id"], "direct-payment", fields, amount=amount,
                paid_on=today.isoformat())  # fmt: skip
    assert done.status_code == 303, messages(done)
    after = provider_tx(busy, tx["id"])
    assert after["settlement_status"] == "paid"
    assert after["invoice"]["direct_payments"][0]["amount"] == open_amount
    entries = audit_rows(portal_app, tx["id"])
    assert entries[1]["details"]["amount"] == open_amount
    assert entries[1]["details"]["paid_on"] == today.isoformat()


def test_a_viewer_sees_the_invoice_but_no_forms_and_cannot_act(
    busy: SandboxHandle, rows: RowPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    tx = unpaid(rows)
    fields = forms(operator, tx["id"])["resend"]  # a form made for an operator
    viewer = signed_in(portal_app, Role.VIEWER)
    page = viewer.get(f"/transactions/{tx['id']}").get_data(as_text=True)
    assert 'id="invoice-facts"' in page and "/invoice/" not in page
    assert post(viewer, tx["id"], "resend", fields).status_code == 403
    assert provider_tx(busy, tx["id"])["invoice"]["times_sent"] == 1


def test_a_form_for_another_transaction_or_tampered_with_is_not_sent(
    busy: SandboxHandle, rows: RowPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    tx, other = unpaid(rows), unpaid(rows)
    fields = forms(operator, other["id"])["resend"]
    refused = post(operator, tx["id"], "resend", fields)
    assert refused.status_code == 422 and "This form has expired" in refused.get_data(as_text=True)
    tampered = {**fields, "intent": fields["intent"][:-2] + "xx"}
    assert post(operator, other["id"], "resend", tampered).status_code == 422
    wrong_form = post(operator, other["id"], "pause", fields, days="7")  # a resend's intent
    assert wrong_form.status_code == 422
    assert provider_tx(busy, tx["id"])["invoice"]["times_sent"] == 1
    assert provider_tx(busy, other["id"])["invoice"]["dunning_paused_until"] is None
    assert audit_rows(portal_app, other["id"]) == []


def test_a_stale_session_confirms_inside_the_form_and_nothing_is_sent_before(
    busy: SandboxHandle,
    rows: RowPicker,
    operator: FlaskClient,
    portal_app: Flask,
    clock: FakeClock,
) -> None:
    tx = unpaid(rows)
    clock.now += portal_app.extensions["sarportal"].settings.step_up_after + timedelta(minutes=1)
    fields = forms(operator, tx["id"])["pause"]
    page = operator.get(f"/transactions/{tx['id']}").get_data(as_text=True)
    assert 'id="invoice-pause-secret"' in page and 'id="invoice-extension-secret"' in page
    refused = post(operator, tx["id"], "pause", fields, days="30", step_up_secret="not it")
    assert refused.status_code == 401
    assert 'id="invoice-pause-secret-error"' in refused.get_data(as_text=True)
    assert audit_rows(portal_app, tx["id"]) == []
    done = post(operator, tx["id"], "pause", fields, days="30", step_up_secret=PASSWORD)
    assert done.status_code == 303, messages(done)
    assert provider_tx(busy, tx["id"])["invoice"]["dunning_paused_until"] is not None


def test_a_lost_answer_is_checked_at_the_provider_and_sending_again_does_not_act_twice(
    make_provider_app: Callable[..., Flask], make_sandbox: Callable[..., SandboxHandle]
) -> None:
    handle = make_sandbox(transactions=20_000, seed=12, hang_seconds=1.5)
    app = make_provider_app(handle, provider_read_timeout=0.5)
    client = signed_in(app)
    picker = RowPicker(handle)
    faults = handle.running.app.faults
    # every attempt times out after the provider sent the invoice again
    applied = unpaid(picker)
    fields = forms(client, applied["id"])["resend"]
    faults.schedule("hang", "/v1/transactions/", "POST", 10)
    done = post(client, applied["id"], "resend", fields)
    faults.clear()
    assert done.status_code == 303, messages(done)
    assert "answered late" in client.get(f"/transactions/{applied['id']}").get_data(as_text=True)
    assert provider_tx(handle, applied["id"])["invoice"]["times_sent"] == 2
    entries = audit_rows(app, applied["id"])
    assert [e["outcome"] for e in entries] == ["pending", "succeeded"]
    assert entries[1]["details"]["reconciled"] is True
    # every attempt is refused before the provider acts: not applied, and the same key again
    untouched = unpaid(picker)
    fields = forms(client, untouched["id"])["pause"]
    faults.schedule("error_503", "/v1/transactions/", "POST", 10)
    failed = post(client, untouched["id"], "pause", fields, days="7")
    faults.clear()
    assert failed.status_code == 422
    (shown,) = [i for op, _c, i in FORM.findall(failed.get_data(as_text=True)) if op == "pause"]
    assert sealed_key(app, shown) == sealed_key(app, fields["intent"])
    assert provider_tx(handle, untouched["id"])["invoice"]["dunning_paused_until"] is None
    again = post(client, untouched["id"], "pause", fields, days="7")
    assert again.status_code == 303
    outcomes = [(e["outcome"], e["details"].get("code")) for e in audit_rows(app, untouched["id"])]
    assert outcomes == [("pending", None), ("failed", "not_applied"), ("pending", None),
                        ("succeeded", None)]  # fmt: skip
    assert isinstance(date.fromisoformat(
        provider_tx(handle, untouched["id"])["invoice"]["dunning_paused_until"]), date)  # fmt: skip
