"""Refund, capture and cancel through the dialog, against the sandbox over TLS.

The provider's own figures are the ground truth: every test reads them straight from the
sandbox, not through the portal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sarportal.config import Settings
from sarportal.domain.roles import Role
from sarportal.web import create_app
from tests.fixtures.portal import PASSWORD, FakeClock, MadeUser, new_client, sign_in
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_transaction import (
    audit_rows,
    open_dialog,
    post_step,
    provider_view,
)


def _euros(minor: int) -> str:
    """An amount as typed in German."""
    return f"{minor // 100},{minor % 100:02d}"


def _typed(minor: int) -> str:
    """An amount as typed in English."""
    return f"{minor // 100}.{minor % 100:02d}"


def test_refund_dialog_asks_for_confirmation_and_a_double_submit_applies_once(
    provider_app: Flask,
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.OPERATOR)
    provider_client.set_cookie("lang", "de")
    row = fresh_rows.take("captured", currency="EUR")
    token, intent = open_dialog(provider_client, row["id"], "refund")
    typed = {"amount": _euros(250), "reason": "damaged", "note": "Karton eingedrückt"}
    review = post_step(provider_client, row["id"], "refund", token, intent, "review", form=typed)
    text = review.get_data(as_text=True)
    assert review.status_code == 200
    assert f"{_euros(250)}\xa0€" in text and row["id"] in text and 'value="confirm"' in text
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 0  # nothing sent yet
    first = post_step(provider_client, row["id"], "refund", token, intent, "confirm", form=typed)
    second = post_step(provider_client, row["id"], "refund", token, intent, "confirm", form=typed)
    assert first.status_code == second.status_code == 200
    assert first.headers["HX-Redirect"] == f"/transactions/{row['id']}"
    after = provider_view(sandbox, row["id"])
    assert after["refunded_amount"] == 250
    refunds = [e for e in after["events"] if e["type"] == "refund"]
    assert len(refunds) == 1 and refunds[0]["reason"] == "Damaged goods: Karton eingedrückt"
    entries = audit_rows(provider_app, row["id"])
    assert [e["outcome"] for e in entries] == ["pending", "succeeded", "pending", "replayed"]
    assert entries[1]["completes_id"] == entries[0]["id"]
    assert entries[3]["details"]["replay_of"] == entries[1]["id"]  # one effect, one success
    assert all(e["details"]["amount"] == 250 for e in entries)
    assert all("Karton" not in str(e["details"]) for e in entries)  # free text is not kept
    page = provider_client.get(f"/transactions/{row['id']}").get_data(as_text=True)
    assert "alert-success" in page and "wurden an den Kunden erstattet" in page
    # The provider keeps the reason's English wording; the German page says it in German.
    assert "Ware beschädigt: Karton eingedrückt" in page and "Damaged goods" not in page


def test_capture_without_javascript_is_a_sequence_of_pages(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.OPERATOR)
    row = fresh_rows.take("partially_captured", currency="EUR")
    capturable = row["amount"] - row["captured_amount"] - row["cancelled_amount"]
    part = min(capturable, 100)
    token, intent = open_dialog(provider_client, row["id"], "capture", htmx=False)
    amount = {"amount": _typed(part)}
    review = post_step(
        provider_client, row["id"], "capture", token, intent, "review", htmx=False, form=amount
    )
    assert review.status_code == 200 and "<html" in review.get_data(as_text=True)
    done = post_step(
        provider_client, row["id"], "capture", token, intent, "confirm", htmx=False, form=amount
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(row["id"])
    page = provider_client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Captured" in page and "alert-success" in page
    assert provider_view(sandbox, row["id"])["captured_amount"] == row["captured_amount"] + part


def test_cancel_takes_the_whole_uncaptured_rest(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.OPERATOR)
    row = fresh_rows.take("partially_captured")
    rest = row["amount"] - row["captured_amount"] - row["cancelled_amount"]
    token, intent = open_dialog(provider_client, row["id"], "cancellation")
    review = post_step(provider_client, row["id"], "cancellation", token, intent, "review")
    assert "remaining" in review.get_data(as_text=True)
    done = post_step(provider_client, row["id"], "cancellation", token, intent, "confirm")
    assert "HX-Redirect" in done.headers
    after = provider_view(sandbox, row["id"])
    assert after["cancelled_amount"] == row["cancelled_amount"] + rest
    assert after["status"] == "captured"


def test_a_refusal_is_a_plain_sentence_and_the_form_keeps_what_was_typed(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.OPERATOR)
    row = fresh_rows.take("captured", currency="EUR")
    token, intent = open_dialog(provider_client, row["id"], "refund")
    # meanwhile someone else refunds most of it directly at the provider
    with sandbox.client("demo-operator") as client:
        taken = row["captured_amount"] - 50
        client.post(
            f"/v1/transactions/{row['id']}/refunds",
            json={"amount": taken, "reason": "elsewhere"},
            headers={"Idempotency-Key": f"elsewhere-{row['id']}"},
        ).raise_for_status()
    typed = {"amount": _typed(row["captured_amount"]), "reason": "goodwill", "note": ""}
    response = post_step(provider_client, row["id"], "refund", token, intent, "confirm", form=typed)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "the amount is more than is available now" in text
    assert f'value="{typed["amount"]}"' in text and 'value="goodwill" selected' in text
    assert provider_view(sandbox, row["id"])["refunded_amount"] == taken
    new_intent = text.split('name="intent" value="')[1].split('"')[0]
    assert new_intent != intent  # the refused key is spent: the next try is a new intent


def test_amount_validation_messages(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.OPERATOR)
    row = fresh_rows.take("captured", currency="EUR")
    token, intent = open_dialog(provider_client, row["id"], "refund")
    cases = {
        "": "Please enter an amount.",
        "-5": "more than zero",
        "0": "more than zero",
        "1.2.3": "Please enter the amount like",
        "1.234": "at most 2 decimal places",
        _typed(row["captured_amount"] + 1): "You can refund at most",
    }
    for typed, message in cases.items():
        response = post_step(
            provider_client,
            row["id"],
            "refund",
            token,
            intent,
            "review",
            amount=typed,
            reason="goodwill",
        )
        text = response.get_data(as_text=True)
        assert message in text, typed
        assert 'aria-invalid="true"' in text
    other = post_step(
        provider_client, row["id"], "refund", token, intent, "review", amount="1", reason="other"
    )
    assert "Please describe the reason" in other.get_data(as_text=True)
    forged = post_step(
        provider_client, row["id"], "refund", token, intent + "x", "confirm", amount="1"
    )
    assert "This form has expired" in forged.get_data(as_text=True)
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 0


@pytest.fixture
def refund_dialog(
    provider_client: FlaskClient, login_provider: Callable[..., MadeUser], fresh_rows: RowPicker
) -> tuple[str, str, str]:
    """An operator's open refund dialog: (transaction id, CSRF token, intent)."""
    login_provider(Role.OPERATOR)
    row = fresh_rows.take("captured", currency="EUR")
    token, intent = open_dialog(provider_client, row["id"], "refund")
    return row["id"], token, intent


TYPED = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789.,-+eE€ \u00a0\u202f\u0663", max_size=20),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(typed=TYPED)
def test_whatever_is_typed_as_an_amount_is_answered_without_a_server_error(
    provider_client: FlaskClient, refund_dialog: tuple[str, str, str], typed: str
) -> None:
    tx_id, token, intent = refund_dialog
    for locale in ("en", "de"):
        provider_client.set_cookie("lang", locale)
        response = post_step(
            provider_client,
            tx_id,
            "refund",
            token,
            intent,
            "review",
            amount=typed,
            reason="goodwill",
        )
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert 'aria-invalid="true"' in text or 'value="confirm"' in text


def test_step_up_is_required_after_fifteen_minutes(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    clock: FakeClock,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.OPERATOR)
    row = fresh_rows.take("captured", currency="EUR")
    token, intent = open_dialog(provider_client, row["id"], "refund")
    clock.advance(timedelta(minutes=16))
    typed = {"amount": "1.00", "reason": "goodwill"}
    asked = post_step(provider_client, row["id"], "refund", token, intent, "confirm", form=typed)
    assert 'name="secret"' in asked.get_data(as_text=True)
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 0
    wrong = post_step(
        provider_client, row["id"], "refund", token, intent, "stepup", secret="nope", form=typed
    )
    assert "The password is not correct." in wrong.get_data(as_text=True)
    right = post_step(
        provider_client, row["id"], "refund", token, intent, "stepup", secret=PASSWORD, form=typed
    )
    assert 'value="confirm"' in right.get_data(as_text=True)
    done = post_step(provider_client, row["id"], "refund", token, intent, "confirm", form=typed)
    assert "HX-Redirect" in done.headers
    assert provider_view(sandbox, row["id"])["refunded_amount"] == 100


def _hanging_portal(
    provider_settings: Settings, handle: SandboxHandle, read_timeout: float
) -> tuple[Flask, FlaskClient]:
    settings = dataclasses.replace(
        provider_settings,
        provider_url=handle.url,
        provider_ca_bundle=handle.ca,
        provider_read_timeout=read_timeout,
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    user = make_provider_user(app, Role.OPERATOR)
    client = new_client(app)
    assert sign_in(client, user.email) == 303
    return app, client


def _take(handle: SandboxHandle, status: str) -> dict[str, Any]:
    with handle.client("demo-operator") as client:
        params: dict[str, str | int] = {"status": status, "currency": "EUR", "limit": 1}
        row: dict[str, Any] = client.get("/v1/transactions", params=params).json()["data"][0]
    return row


def test_a_timeout_after_the_provider_applied_is_retried_once_and_not_repeated(
    provider_settings: Settings, make_sandbox: Callable[..., SandboxHandle]
) -> None:
    handle = make_sandbox(hang_seconds=1.5)
    app, client = _hanging_portal(provider_settings, handle, read_timeout=0.5)
    row = _take(handle, "captured")
    token, intent = open_dialog(client, row["id"], "refund")
    handle.running.app.faults.schedule("hang", "/v1/transactions/", "POST", 1)
    done = post_step(
        client, row["id"], "refund", token, intent, "confirm", amount="1.00", reason="goodwill"
    )
    assert "HX-Redirect" in done.headers
    assert provider_view(handle, row["id"])["refunded_amount"] == 100
    outcomes = [e["outcome"] for e in audit_rows(app, row["id"])]
    assert outcomes == ["pending", "succeeded"]
    app.extensions["sarportal"].provider.close()


def test_a_lost_answer_is_reconciled_from_the_provider_and_shown_truthfully(
    provider_settings: Settings, make_sandbox: Callable[..., SandboxHandle]
) -> None:
    handle = make_sandbox(hang_seconds=1.5)
    app, client = _hanging_portal(provider_settings, handle, read_timeout=0.3)
    row = _take(handle, "captured")
    token, intent = open_dialog(client, row["id"], "refund")
    # every attempt (the first and the client's retries) times out after the refund applied
    handle.running.app.faults.schedule("hang", "/v1/transactions/", "POST", 10)
    done = post_step(
        client, row["id"], "refund", token, intent, "confirm", amount="2.00", reason="goodwill"
    )
    handle.running.app.faults.clear()
    assert "HX-Redirect" in done.headers
    assert provider_view(handle, row["id"])["refunded_amount"] == 200
    entries = audit_rows(app, row["id"])
    assert [e["outcome"] for e in entries] == ["pending", "succeeded"]
    assert entries[1]["details"]["reconciled"] is True
    page = client.get(f"/transactions/{row['id']}").get_data(as_text=True)
    assert "answered late" in page and "€2.00" in page
    app.extensions["sarportal"].provider.close()
