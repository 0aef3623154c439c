"""The detail page against the sandbox: masked customer, one-field reveals, audit, no leaks."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sarportal.domain.roles import Role
from sarportal.web.transactions.detail import RELATED_LIMIT
from sarportal.web.ui.formats import format_moment
from tests.fixtures.portal import FakeClock, MadeUser, csrf_token
from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_transaction import (
    HTMX,
    audit_rows,
    audit_text,
    personal_values,
    provider_view,
)


def test_detail_shows_the_transaction_and_masks_every_personal_field(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.VIEWER)
    row = fresh_rows.take("partially_refunded")
    truth = provider_view(sandbox, row["id"])
    response = provider_client.get(f"/transactions/{row['id']}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert row["id"] in page and truth["order_reference"] in page
    for item in truth["items"]:
        assert item["sku"] in page
    assert page.count('class="portal-timeline-item') == len(truth["events"])
    leaked = {k: v for k, v in personal_values(truth["customer"]).items() if v in page}
    assert leaked == {}
    assert page.count("portal-masked") >= 7
    assert 'href="/transactions/' in page  # the list and the other transactions are linked


def test_reveal_returns_that_field_only_and_audits_without_the_value(
    provider_app: Flask,
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    user = login_provider(Role.VIEWER)
    row = fresh_rows.take("captured")
    customer = provider_view(sandbox, row["id"])["customer"]
    token = csrf_token(provider_client, f"/transactions/{row['id']}")
    response = provider_client.post(
        f"/transactions/{row['id']}/customer/email",
        data={"csrf_token": token},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    fragment = response.get_data(as_text=True)
    assert customer["email"] in fragment
    others = {k: v for k, v in personal_values(customer).items() if k != "email"}
    assert {k: v for k, v in others.items() if v in fragment} == {}
    assert "<html" not in fragment
    # The activity card comes along (out of band), already showing this view: no reload needed.
    card = re.search(r'<section[^>]*id="tx-activity"[^>]*hx-swap-oob="true"[^>]*>(.*?)</section>',
                     fragment, re.S)  # fmt: skip
    assert card and "Viewed customer data" in card.group(1) and user.email in card.group(1)
    assert "Nothing recorded yet" not in card.group(1)
    # The card writes its times as the rest of the page does (the history's format).
    with provider_app.app_context():
        at = provider_app.extensions["sarportal"].settings.clock()
    shown = format_moment(at, "en", "Europe/Berlin", "medium")
    assert f">{shown}</time>" in card.group(1), card.group(1)
    entries = audit_rows(provider_app, row["id"])
    assert [(e["action"], e["details"]) for e in entries] == [
        ("transaction.customer_viewed", {"field": "email"})
    ]
    everything = audit_text(provider_app)
    assert {k: v for k, v in personal_values(customer).items() if v in everything} == {}
    # the page's own audit names who looked, and the value stays hidden on the next load
    page = provider_client.get(f"/transactions/{row['id']}").get_data(as_text=True)
    assert user.email in page and "Viewed customer data" in page
    assert customer["email"] not in page


def test_reveal_without_javascript_shows_the_page_with_that_field(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.VIEWER)
    row = fresh_rows.take("captured")
    customer = provider_view(sandbox, row["id"])["customer"]
    token = csrf_token(provider_client, f"/transactions/{row['id']}")
    response = provider_client.post(
        f"/transactions/{row['id']}/customer/billing_address", data={"csrf_token": token}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert customer["billing_address"]["line1"] in page
    assert customer["email"] not in page and customer["name"] not in page


def test_reveal_needs_csrf_and_a_known_field(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
) -> None:
    login_provider(Role.VIEWER)
    row = fresh_rows.take("captured")
    assert provider_client.post(f"/transactions/{row['id']}/customer/email").status_code == 400
    token = csrf_token(provider_client, f"/transactions/{row['id']}")
    unknown = provider_client.post(
        f"/transactions/{row['id']}/customer/password", data={"csrf_token": token}
    )
    assert unknown.status_code == 404


def test_other_transactions_of_the_customer_are_listed_and_linked(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.VIEWER)
    row = fresh_rows.take("captured")
    with sandbox.client("demo-viewer") as client:
        listed = client.get(
            f"/v1/customers/{row['customer_id']}/transactions", params={"limit": RELATED_LIMIT}
        ).json()["data"]
    # the latest RELATED_LIMIT of the customer's, without this one (a customer with more than
    # that once made the test look for the 26th)
    others = [t["id"] for t in listed if t["id"] != row["id"]]
    response = provider_client.get(f"/transactions/{row['id']}/related", headers=HTMX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    for other in others:
        assert f'href="/transactions/{other}"' in fragment
    assert f'href="/transactions/{row["id"]}"' not in fragment
    assert row["customer_id"] not in fragment  # the pseudonymous id stays out of the page
    plain = provider_client.get(f"/transactions/{row['id']}/related")
    assert plain.status_code == 200 and "<html" in plain.get_data(as_text=True)


def test_another_merchants_transaction_is_not_found_and_nothing_leaks(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.OPERATOR)
    with sandbox.client("other-operator") as client:
        foreign = client.get("/v1/transactions", params={"limit": 1}).json()["data"][0]
    customer = provider_view(sandbox, foreign["id"], "other-operator")["customer"]
    for path in (
        f"/transactions/{foreign['id']}",
        f"/transactions/{foreign['id']}/actions/refund",
        f"/api/v1/transactions/{foreign['id']}",
    ):
        response = provider_client.get(path)
        assert response.status_code == 404, path
        body = response.get_data(as_text=True)
        assert foreign["order_reference"] not in body
        assert {k: v for k, v in personal_values(customer).items() if v in body} == {}
    token = csrf_token(provider_client, "/")
    reveal = provider_client.post(
        f"/transactions/{foreign['id']}/customer/email", data={"csrf_token": token}
    )
    assert reveal.status_code == 404 and customer["email"] not in reveal.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_only_operators_see_action_buttons(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    role: Role,
) -> None:
    login_provider(role)
    row = fresh_rows.take("partially_captured")
    page = provider_client.get(f"/transactions/{row['id']}").get_data(as_text=True)
    buttons = [f"/transactions/{row['id']}/actions/{kind}" for kind in ("capture", "refund")]
    if role is Role.VIEWER:
        assert not any(b in page for b in buttons) and 'id="action-dialog"' not in page
    else:
        assert all(b in page for b in buttons) and 'id="action-dialog"' in page


def test_viewer_writes_are_refused_on_the_page_and_the_api(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    login_provider(Role.VIEWER)
    row = fresh_rows.take("captured")
    token = csrf_token(provider_client, "/")
    page = provider_client.post(
        f"/transactions/{row['id']}/actions/refund",
        data={"csrf_token": token, "step": "confirm", "amount": "1,00"},
    )
    assert page.status_code == 403
    api = provider_client.post(
        f"/api/v1/transactions/{row['id']}/refunds",
        json={"amount": 100, "reason": "Goodwill"},
        headers={"X-CSRFToken": token},
    )
    assert api.status_code == 403 and api.mimetype == "application/problem+json"
    assert provider_view(sandbox, row["id"])["refunded_amount"] == row["refunded_amount"]


STILL_POSSIBLE = re.compile(
    r'<th scope="row">Can still be (captured|refunded|cancelled)</th><td>([^<]*)</td>'
)
BUTTON_FOR = {"captured": "capture", "refunded": "refund", "cancelled": "cancellation"}


@pytest.mark.parametrize(
    ("status", "past_expiry"),
    [("authorized", False), ("authorized", True), ("partially_captured", True),
     ("partially_refunded", False), ("captured", False), ("declined", False)],
)  # fmt: skip
def test_what_the_page_says_is_still_possible_is_what_its_buttons_offer(
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    clock: FakeClock,
    status: str,
    past_expiry: bool,
) -> None:
    """One rule (domain.md's limits, expiry included) for the amounts table and the buttons: a
    page never names an amount it offers no button for, nor a button for nothing."""
    row = fresh_rows.take(status)
    expires = datetime.fromisoformat(row["authorization_expires_at"])
    clock.now = expires + timedelta(minutes=1) if past_expiry else expires - timedelta(days=1)
    login_provider(Role.OPERATOR)
    page = provider_client.get(f"/transactions/{row['id']}").get_data(as_text=True)
    amounts = dict(STILL_POSSIBLE.findall(page))
    assert amounts.keys() == BUTTON_FOR.keys()
    offered = set(re.findall(r'data-portal-action="([a-z]+)"', page))
    for word, kind in BUTTON_FOR.items():
        nothing = re.fullmatch(r"\D*0\.00\D*", amounts[word]) is not None
        assert nothing == (kind not in offered), (word, amounts[word], offered)
    if past_expiry:
        assert re.fullmatch(r"\D*0\.00\D*", amounts["captured"])
        assert "capture" not in offered and "cancellation" not in offered
