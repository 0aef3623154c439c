"""Access control gaps: expired and revoked personal tokens, CSRF on every session write,
another organisation's users in the admin routes.

- A personal token made to expire in a day (what `sarportal tokens create --expires-days 1`
  stores) works until that moment and is refused from it on, on the API and on pages; a revoked
  token is refused at once, for reads and writes, and writes nothing.
- Every POST route of `app.url_map`, sent from a signed-in session without a CSRF token and
  with a wrong one (garbage, and another session's genuine token), is a 400 ("the form has
  expired", problem+json `csrf_failed` under /api) and changes nothing: no database row and no
  amount at the provider.
- An admin naming a user of another organisation in any admin route gets 404, and that user
  stays exactly as they were.
- A change to a signed-in user (a lower role, their organisation's second-factor rule, being
  disabled) applies to their open session on its very next request: the user is read with the
  session on every request, never kept between requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.models import ApiToken, Base, Organisation, User
from tests.fixtures.portal import (
    FakeClock,
    MadeUser,
    csrf_token,
    new_client,
    sign_in,
    sign_in_fully,
)
from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_transaction import provider_view

EXPIRED_PAGE = "The form has expired"


def _token(store: Store, user_id: int, expires_in: timedelta | None) -> tuple[str, int]:
    """A personal token, as the CLI's `tokens create [--expires-days N]` makes it."""
    with store.unit_of_work() as uow:
        expires_at = None if expires_in is None else store.clock() + expires_in
        raw, row = uow.tokens.create(user_id, expires_at)
        uow.commit()
        return raw, row.id


def test_an_expiring_token_works_until_its_moment_and_never_after(
    app: Flask, store: Store, clock: FakeClock, make_user: Callable[..., MadeUser]
) -> None:
    user = make_user(Role.OPERATOR)
    raw, _id = _token(store, user.id, timedelta(days=1))
    auth = {"Authorization": f"Bearer {raw}"}
    client = app.test_client()
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    clock.advance(timedelta(seconds=1))
    refused = client.get("/api/v1/me", headers=auth)
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "unauthorized"
    assert client.get("/transactions", headers=auth).status_code == 401  # pages too
    assert client.post("/logout", headers=auth).status_code == 401  # and writes
    clock.advance(timedelta(days=365))
    assert client.get("/api/v1/me", headers=auth).status_code == 401


def test_a_revoked_token_is_refused_for_reads_and_writes_and_changes_nothing(
    provider_app: Flask,
    provider_token: Callable[..., str],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
) -> None:
    raw = provider_token(Role.OPERATOR)
    store: Store = provider_app.extensions["sarportal"].store
    auth = {"Authorization": f"Bearer {raw}"}
    client = provider_app.test_client()
    assert client.get("/api/v1/transactions?limit=1", headers=auth).status_code == 200
    with store.unit_of_work() as uow:
        row = uow.session.scalars(select(ApiToken)).one()
        assert uow.tokens.revoke(row.id, row.user_id)
        uow.commit()
    tx = fresh_rows.take("captured")
    before = _snapshot(provider_app)
    for method, path, body in (
        ("GET", "/api/v1/transactions?limit=1", None),
        ("GET", f"/api/v1/transactions/{tx['id']}", None),
        ("POST", f"/api/v1/transactions/{tx['id']}/refunds", {"amount": 1, "reason": "x"}),
        ("POST", "/api/v1/stats/jobs", {}),
    ):
        response = client.open(path, method=method, json=body, headers=auth)
        assert response.status_code == 401, (path, response.status_code)
        assert response.get_json()["code"] == "unauthorized"
    assert provider_view(sandbox, tx["id"])["refunded_amount"] == tx["refunded_amount"]
    assert _snapshot(provider_app) == before


# -- CSRF on every session write ------------------------------------------------------------------


def _snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the portal's database."""
    store: Store = app.extensions["sarportal"].store
    with store.engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


# Form fields that would make each write succeed, were the CSRF check missing.
FORMS: dict[str, dict[str, str]] = {
    "ui.set_language": {"language": "de"},
    "auth.login": {"email": "nobody@example.com", "password": "x"},
    "auth.second_factor": {"code": "123456"},
    "account.password": {"current": "x", "new": "Lange-Wege-Gehen-42", "confirm": "x"},
    "account.time_zone": {"timezone": "America/New_York"},
    "account.second_factor": {"code": "123456"},
    "account.create_api_token": {"name": "Made without CSRF", "expires": "never"},
    "admin.invite": {"email": "neu@example.com", "role": "operator"},
    "admin.change_role": {"role": "admin"},
    "admin.set_credentials": {"client_id": "demo-viewer", "client_secret": "other"},
    "admin.second_factor_policy": {"viewer": "y", "operator": "y", "admin": "y"},
    "transaction.act": {"step": "confirm", "amount": "1.00", "reason": "goodwill"},
    "dashboard.refresh": {"period": "30d"},
    "counter.refresh": {"period": "30d"},
    "claims.assign": {"assignee": "{user_id}"},  # `values` fill in the braces
    "transaction.invoice_operation": {"days": "7"},  # a pause (its intent is checked after)
}
JSON_BODIES: dict[str, dict[str, Any]] = {
    "transaction.api.capture": {"amount": 1},
    "transaction.api.refund": {"amount": 1, "reason": "goodwill"},
    "transaction.api.cancel": {},
    "api_stats.submit_job": {},
    "api_claims.accept": {},
    "transaction.api.extend": {"working_days": 10, "fee_amount": 150},
    "transaction.api.pause": {"days": 3},
    "transaction.api.resend": {},
    "transaction.api.direct_payment": {"amount": 1, "paid_on": "2026-12-01"},
}


def _path(rule: Rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", values[name], path)
    return path


@pytest.mark.parametrize("wrong", ["missing", "garbage", "another-session"])
def test_every_session_write_without_the_right_csrf_token_is_400_and_changes_nothing(
    provider_app: Flask,
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
    fresh_rows: RowPicker,
    sandbox: SandboxHandle,
    clock: FakeClock,
    wrong: str,
) -> None:
    admin = login_provider(Role.ADMIN)
    other = new_client(provider_app)
    clock.advance(timedelta(seconds=30))  # a second session of the same admin, with a new code
    assert sign_in_fully(other, admin, clock()) == 303
    own_key = _session_keys(provider_app, admin.id)
    store: Store = provider_app.extensions["sarportal"].store
    with store.unit_of_work() as uow:  # a live token of the admin's, for the revoke route
        _raw, own_token = uow.tokens.create(admin.id, None)
        uow.commit()
        own_token_id = own_token.id
    tx = fresh_rows.take("captured")
    with sandbox.client("demo-viewer") as direct:  # a real claim: its assignee could be set
        claim_id = direct.get("/v1/claims", params={"limit": 1}).json()["data"][0]["id"]
    token = {
        "missing": None,
        "garbage": "IjEyMzQ1Ig.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "another-session": csrf_token(other, "/account"),
    }[wrong]
    values = {
        "tx_id": tx["id"],
        "kind": "refund",
        "field": "email",
        "user_id": str(admin.id),
        "key": own_key[0],
        "token": "unknown-invitation",
        "token_id": str(own_token_id),
        "claim_id": claim_id,
        "operation": "pause",
    }
    csrf_token(provider_client, "/account")  # the page the user has open holds its own token
    rules = [rule for rule in provider_app.url_map.iter_rules() if "POST" in (rule.methods or ())]
    assert len(rules) >= 20
    before = _snapshot(provider_app)
    for rule in rules:
        path = _path(rule, values)
        headers = {"X-CSRFToken": token} if token and path.startswith("/api/") else {}
        if rule.endpoint in JSON_BODIES:
            response = provider_client.post(path, json=JSON_BODIES[rule.endpoint], headers=headers)
        else:
            form = {k: v.format(**values) for k, v in FORMS.get(rule.endpoint, {}).items()}
            if token:
                form["csrf_token"] = token
            response = provider_client.post(path, data=form, headers=headers)
        assert response.status_code == 400, (rule.endpoint, response.status_code)
        if path.startswith("/api/"):
            assert response.mimetype == "application/problem+json", rule.endpoint
            assert response.get_json()["code"] == "csrf_failed", rule.endpoint
        else:
            assert EXPIRED_PAGE in response.get_data(as_text=True), rule.endpoint
    assert _snapshot(provider_app) == before, "a write without the right CSRF token changed data"
    assert provider_view(sandbox, tx["id"])["refunded_amount"] == tx["refunded_amount"]
    assert provider_client.get("/account").status_code == 200  # still signed in (no logout)


def _session_keys(app: Flask, user_id: int) -> list[str]:
    store: Store = app.extensions["sarportal"].store
    with store.unit_of_work() as uow:
        return [row.id_hash[:16] for row in uow.sessions.for_user(user_id)]


# -- another organisation's users ---------------------------------------------------------------

ADMIN_USER_ROUTES = {
    "role": {"role": "admin"},
    "credentials": {"client_id": "demo-viewer", "client_secret": "taken-over"},
    "disable": {},
    "enable": {},
    "reset-second-factor": {},
}


def test_another_organisations_user_is_not_found_in_every_admin_route(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
    store: Store,
) -> None:
    login_as(Role.ADMIN)
    stranger = make_user(Role.VIEWER, organisation="Andere GmbH")
    with store.unit_of_work() as uow:
        before = _user_state(uow.session.get(User, stranger.id))
        credentials_before = uow.credentials.get_for(stranger.id)
    token = csrf_token(client, "/admin/users")
    routes = {
        rule.rule.rsplit("/", 1)[-1]
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.") and "user_id" in rule.arguments
    }
    assert routes == set(ADMIN_USER_ROUTES), routes  # a new admin route joins this test
    for action, form in ADMIN_USER_ROUTES.items():
        response = client.post(
            f"/admin/users/{stranger.id}/{action}", data={**form, "csrf_token": token}
        )
        assert response.status_code == 404, (action, response.status_code)
        assert "This user does not exist" in response.get_data(as_text=True)
        unknown = client.post(f"/admin/users/999999/{action}", data={**form, "csrf_token": token})
        assert unknown.status_code == 404, action  # the same answer as for a user that is not
    with store.unit_of_work() as uow:
        assert _user_state(uow.session.get(User, stranger.id)) == before
        assert uow.credentials.get_for(stranger.id) == credentials_before
    assert sign_in(new_client(app), stranger.email) == 303  # still enabled, still a viewer


def _user_state(user: User | None) -> tuple[Any, ...]:
    assert user is not None
    return (user.role, user.disabled, user.totp_secret_encrypted, user.organisation_id)


def test_a_change_to_a_signed_in_user_applies_to_their_session_on_the_next_request(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store
) -> None:
    admin = login_as(Role.ADMIN)
    assert client.get("/admin/users").status_code == 200
    with store.unit_of_work() as uow:
        user = uow.session.get(User, admin.id)
        assert user is not None
        user.role = Role.VIEWER.value
        uow.commit()
    assert client.get("/admin/users").status_code == 403
    assert client.get("/api/v1/me").get_json()["role"] == "viewer"
    with store.unit_of_work() as uow:
        user = uow.session.get(User, admin.id)
        assert user is not None
        organisation = uow.session.get(Organisation, user.organisation_id)
        assert organisation is not None
        organisation.require_totp_roles = "viewer"
        user.totp_secret_encrypted = None  # and their second factor was reset
        uow.commit()
    enrol = client.get("/")
    assert enrol.status_code == 302 and "/account/second-factor" in enrol.headers["Location"]
    with store.unit_of_work() as uow:
        user = uow.session.get(User, admin.id)
        assert user is not None
        user.disabled = True
        uow.commit()
    signed_out = client.get("/account/second-factor")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
