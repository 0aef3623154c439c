"""Personal API tokens managed on the account page: made, shown once, used, revoked.

- A token made on `/account/tokens` (by any role) works on the API with its owner's role, and
  once revoked there it is refused on the very next request.
- The raw token is on the page that shows it and nowhere else: not in any table (only its
  digest), not in the audit log, not in the session, not in a log line; that page is no-store.
- A user can revoke only their own tokens: another user's id is a 404 and the token still works.
- Without the CSRF token, making and revoking are refused; a personal token cannot manage tokens.
- Bad input (no name, a name too long, an unknown expiry) is a 400 that keeps what was typed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.digest import token_digest
from sarportal.store.models import ApiToken, AuditEntry, Base
from tests.fixtures.portal import FakeClock, MadeUser, csrf_token, sign_in, stored_token

SHOWN_TOKEN = re.compile(r'id="new-token" value="(sarp_[^"]+)"')


def _create(client: FlaskClient, name: str = "Accounting export", expires: str = "30") -> Any:
    token = csrf_token(client, "/account/tokens")
    return client.post(
        "/account/tokens", data={"name": name, "expires": expires, "csrf_token": token}
    )


def _shown_token(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    found = SHOWN_TOKEN.search(response.get_data(as_text=True))
    assert found, "the new token is shown on the page"
    return found.group(1)


def _api_me(app: Flask, raw: str) -> Any:
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})


def _token_ids(store: Store, user_id: int) -> list[int]:
    with store.unit_of_work() as uow:
        return [row.id for row in uow.tokens.for_user(user_id)]


def _audit(store: Store, action: str) -> list[AuditEntry]:
    with store.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_a_token_made_on_the_page_works_until_it_is_revoked_there(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    store: Store,
    clock: FakeClock,
    role: Role,
) -> None:
    user = login_as(role)
    assert 'href="/account/tokens"' in client.get("/account").get_data(as_text=True)
    raw = _shown_token(_create(client, "Accounting export", "30"))
    me = _api_me(app, raw)
    assert me.status_code == 200
    assert me.get_json()["role"] == role.value and me.get_json()["authenticated_by"] == "token"
    (token_id,) = _token_ids(store, user.id)
    with store.unit_of_work() as uow:
        row = uow.session.get(ApiToken, token_id)
        assert row is not None and row.name == "Accounting export"
        assert row.expires_at == clock.now + timedelta(days=30)
        assert row.last_used_at == clock.now
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Accounting export" in listing and "Active" in listing
    assert f"/account/tokens/{token_id}/revoke" in listing
    revoked = client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/tokens")},
    )
    assert revoked.status_code == 303 and revoked.headers["Location"].endswith("/account/tokens")
    assert _api_me(app, raw).status_code == 401
    after = client.get("/account/tokens").get_data(as_text=True)
    assert "Revoked" in after and f"/account/tokens/{token_id}/revoke" not in after
    (created,) = _audit(store, "token.created")
    (ended,) = _audit(store, "token.revoked")
    for entry in (created, ended):
        assert (entry.actor_user_id, entry.target_type) == (user.id, "api_token")
        assert entry.target_id == str(token_id) and entry.details["user_id"] == user.id
    again = client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/tokens")},
    )
    assert again.status_code == 303  # a second click says so, and writes no second entry
    assert len(_audit(store, "token.revoked")) == 1


def test_a_token_that_never_expires_and_an_expired_one(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    store: Store,
    clock: FakeClock,
) -> None:
    user = login_as(Role.VIEWER)
    forever = _shown_token(_create(client, "Forever", "never"))
    yearly = _shown_token(_create(client, "Yearly", "365"))
    with store.unit_of_work() as uow:
        expiries = {row.name: row.expires_at for row in uow.tokens.for_user(user.id)}
    assert expiries == {"Forever": None, "Yearly": clock.now + timedelta(days=365)}
    clock.advance(timedelta(days=366))
    assert _api_me(app, forever).status_code == 200
    assert _api_me(app, yearly).status_code == 401
    assert sign_in(client, user.email) == 303  # the browser session has long timed out
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Expired" in listing and "Never" in listing


def test_the_raw_token_is_only_on_the_page_that_shows_it(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    login_as(Role.OPERATOR)
    caplog.set_level(logging.DEBUG)
    response = _create(client)
    raw = _shown_token(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Location" not in response.headers  # shown in place, never carried in a URL
    assert _api_me(app, raw).status_code == 200
    client.get("/account/tokens")  # any flash or session data would be written by now
    with store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                assert raw not in repr(tuple(row)), table.name
        stored = connection.execute(select(ApiToken.token_hash)).scalar_one()
    assert stored == token_digest(raw)
    (entry,) = _audit(store, "token.created")
    assert raw not in repr(entry.details) and raw[5:] not in repr(entry.details)
    assert all(raw not in record.getMessage() for record in caplog.records)
    assert raw not in client.get("/account/tokens").get_data(as_text=True)


def test_another_users_token_is_not_found_and_keeps_working(
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
    store: Store,
) -> None:
    login_as(Role.ADMIN)  # an admin of the same organisation, even
    raw, token_id = stored_token(store, make_user(Role.VIEWER).id, "Colleague's")
    token = csrf_token(client, "/account/tokens")
    assert "Colleague's" not in client.get("/account/tokens").get_data(as_text=True)
    for target in (token_id, 999_999):
        refused = client.post(f"/account/tokens/{target}/revoke", data={"csrf_token": token})
        assert refused.status_code == 404, target
    assert _api_me(client.application, raw).status_code == 200
    assert _audit(store, "token.revoked") == []


def test_making_and_revoking_need_the_csrf_token(
    app: Flask, client: FlaskClient, login_as: Callable[..., MadeUser], store: Store
) -> None:
    user = login_as(Role.VIEWER)
    client.get("/account/tokens")
    refused = client.post("/account/tokens", data={"name": "No CSRF", "expires": "30"})
    assert refused.status_code == 400
    assert "The form has expired" in refused.get_data(as_text=True)
    assert _token_ids(store, user.id) == []
    raw = _shown_token(_create(client))
    (token_id,) = _token_ids(store, user.id)
    wrong = {"csrf_token": "IjEyMzQ1Ig.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"}
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert client.post(f"/account/tokens/{token_id}/revoke", data=wrong).status_code == 400
    assert _api_me(app, raw).status_code == 200


def test_a_personal_token_cannot_manage_tokens(
    app: Flask, make_user: Callable[..., MadeUser], store: Store
) -> None:
    user = make_user(Role.ADMIN)
    raw, token_id = stored_token(store, user.id)
    auth = {"Authorization": f"Bearer {raw}"}
    bearer = app.test_client()
    # refused like every page is to a token (401), and the token keeps working for the API
    assert bearer.get("/account/tokens", headers=auth).status_code == 401
    made = bearer.post("/account/tokens", data={"name": "x", "expires": "never"}, headers=auth)
    assert made.status_code == 401
    assert bearer.post(f"/account/tokens/{token_id}/revoke", headers=auth).status_code == 401
    assert _token_ids(store, user.id) == [token_id]
    assert _api_me(app, raw).status_code == 200


@pytest.mark.parametrize(
    ("name", "expires", "message"),
    [
        ("", "90", "Give the token a name."),
        ("   ", "365", "Give the token a name."),
        ("x" * 101, "never", "The name is too long: at most 100 characters."),
        ("Nightly report", "7", "Choose one of the offered periods."),
    ],
)
def test_bad_input_is_refused_and_keeps_what_was_typed(
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    store: Store,
    name: str,
    expires: str,
    message: str,
) -> None:
    user = login_as(Role.VIEWER)
    response = _create(client, name, expires)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page and "is-invalid" in page
    if name.strip():
        assert f'value="{name}"' in page
    if expires != "7":
        assert f'<option selected value="{expires}">' in page
    assert _token_ids(store, user.id) == []
    assert _audit(store, "token.created") == []


def test_the_token_pages_speak_german(
    client: FlaskClient, login_as: Callable[..., MadeUser]
) -> None:
    login_as(Role.VIEWER)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "Token erstellen" in listing and "Sie haben noch keine API-Tokens." in listing
    shown = _create(client, "Buchhaltung", "90").get_data(as_text=True)
    assert "Er wird nur jetzt angezeigt" in shown
    refused = _create(client, "", "90").get_data(as_text=True)
    assert "Geben Sie dem Token einen Namen." in refused
