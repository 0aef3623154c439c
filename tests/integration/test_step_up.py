"""Step-up and the lifecycle of personal API tokens (issue 11).

- A session whose last proof is older than 15 minutes must prove who it is again before it makes
  an API token, or makes any administration change; the form it posted is carried through the
  step-up page, so the change is made at once after the proof, and not before.
- Freshness belongs to the session: signing in elsewhere does not make an old session fresh.
- Where a second factor is enrolled, step-up asks for it: the password alone is refused.
- A password change, disabling a user, resetting their second factor, or requiring one they
  lack revokes their API tokens, and the page says how many.
- The current password on `/account/password` is checked like a sign-in: wrong ones count
  towards the same lock and are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.models import (
    ApiToken,
    AuditEntry,
    Invitation,
    Organisation,
    ProviderCredential,
    User,
)
from tests.fixtures.portal import (
    PASSWORD,
    FakeClock,
    MadeUser,
    csrf_token,
    new_client,
    sign_in_fully,
    stored_token,
)

STALE = timedelta(minutes=20)
STEP_UP_FIELD = 'name="step_up_secret"'


def _live_tokens(store: Store, user_id: int) -> int:
    with store.unit_of_work() as uow:
        query = select(func.count()).where(
            ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)
        )
        return int(uow.session.scalar(query) or 0)


def _api_status(app: Flask, raw: str) -> int:
    headers = {"Authorization": f"Bearer {raw}"}
    return app.test_client().get("/api/v1/me", headers=headers).status_code


def _make_token(client: FlaskClient, **extra: str) -> Any:
    form = {"name": "Export", "expires": "never", "csrf_token": csrf_token(client, "/account")}
    return client.post("/account/tokens", data={**form, **extra})


def _audit(store: Store, action: str) -> list[AuditEntry]:
    with store.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_stale_session_makes_a_token_only_after_stepping_up(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store, clock: FakeClock
) -> None:
    user = login_as(Role.OPERATOR)
    clock.advance(STALE)
    asked = _make_token(client)
    assert asked.status_code == 401 and asked.headers["Cache-Control"] == "no-store"
    page = asked.get_data(as_text=True)
    assert STEP_UP_FIELD in page and 'name="name" value="Export"' in page
    assert _live_tokens(store, user.id) == 0
    wrong = _make_token(client, step_up_secret="not-the-password")
    assert wrong.status_code == 401 and "The password is not correct." in wrong.get_data(True)
    assert _live_tokens(store, user.id) == 0
    made = _make_token(client, step_up_secret=PASSWORD)
    assert made.status_code == 200 and 'id="new-token"' in made.get_data(as_text=True)
    assert _live_tokens(store, user.id) == 1
    again = _make_token(client)  # the session is fresh again from the proof
    assert again.status_code == 200 and _live_tokens(store, user.id) == 2


def test_freshness_belongs_to_the_session_not_to_the_user(
    app: Flask, client: FlaskClient, login_as: Callable[..., MadeUser], clock: FakeClock
) -> None:
    user = login_as(Role.OPERATOR)
    clock.advance(STALE)
    elsewhere = new_client(app)
    assert sign_in_fully(elsewhere, user, clock()) == 303
    assert _make_token(elsewhere).status_code == 200
    assert _make_token(client).status_code == 401  # the old session stays stale


def test_step_up_asks_for_the_second_factor_where_one_is_enrolled(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store, clock: FakeClock
) -> None:
    admin = login_as(Role.ADMIN)
    clock.advance(STALE)
    asked = _make_token(client)
    assert asked.status_code == 401 and "authenticator app" in asked.get_data(as_text=True)
    password = _make_token(client, step_up_secret=PASSWORD)
    assert password.status_code == 401
    assert "The code is not correct or has been used already." in password.get_data(True)
    assert _live_tokens(store, admin.id) == 0
    made = _make_token(client, step_up_secret=admin.code(clock()))
    assert made.status_code == 200 and _live_tokens(store, admin.id) == 1
    methods = [e.details.get("method") for e in _audit(store, "auth.step_up")]
    assert methods == [None, "totp"]


def _admin_forms(target: int) -> dict[str, dict[str, str]]:
    return {
        "/admin/users/invite": {"email": "new-colleague@example.com", "role": "viewer"},
        f"/admin/users/{target}/role": {"role": "operator"},
        f"/admin/users/{target}/credentials": {"client_id": "demo-x", "client_secret": "s3cret"},
        f"/admin/users/{target}/disable": {},
        f"/admin/users/{target}/reset-second-factor": {},
        "/admin/second-factor-policy": {"operator": "y"},
    }


def _state(store: Store, target: int) -> tuple[Any, ...]:
    """What any administration change would change."""
    with store.unit_of_work() as uow:
        user = uow.session.get(User, target)
        assert user is not None
        organisation = uow.session.get(Organisation, user.organisation_id)
        assert organisation is not None
        credential = uow.session.get(ProviderCredential, target)
        return (
            user.role,
            user.disabled,
            user.totp_secret_encrypted,
            organisation.require_totp_roles,
            None if credential is None else credential.client_id,
            uow.session.scalar(select(func.count()).select_from(Invitation)),
            uow.session.scalar(select(func.count()).select_from(AuditEntry)),
        )


def test_every_admin_change_needs_a_fresh_session(
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
    store: Store,
    clock: FakeClock,
) -> None:
    admin = login_as(Role.ADMIN)
    target = make_user(Role.VIEWER, second_factor=True)
    clock.advance(STALE)
    before = _state(store, target.id)
    for path, form in _admin_forms(target.id).items():
        token = csrf_token(client, "/admin/users")
        asked = client.post(path, data={**form, "csrf_token": token})
        assert asked.status_code == 401, path
        assert STEP_UP_FIELD in asked.get_data(as_text=True), path
    assert _state(store, target.id) == before
    token = csrf_token(client, "/admin/users")
    changed = client.post(
        f"/admin/users/{target.id}/role",
        data={"role": "operator", "csrf_token": token, "step_up_secret": admin.code(clock())},
    )
    assert changed.status_code == 303
    with store.unit_of_work() as uow:
        user = uow.session.get(User, target.id)
        assert user is not None and user.role == "operator"


@pytest.mark.parametrize("change", ["password", "disable", "reset-second-factor", "policy"])
def test_a_credential_change_revokes_the_users_tokens_and_says_so(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
    store: Store,
    change: str,
) -> None:
    if change == "password":
        user = login_as(Role.OPERATOR)
    else:
        login_as(Role.ADMIN)
        user = make_user(Role.OPERATOR, second_factor=change == "reset-second-factor")
    raw = [stored_token(store, user.id)[0] for _ in range(2)]
    assert [_api_status(app, token) for token in raw] == [200, 200]
    if change == "password":
        new = "Lampen-Schirm-9-Kiesel"
        form = {"current": PASSWORD, "password": new, "confirm": new}
        path, page = "/account/password", "/account"
    else:
        path = {
            "disable": f"/admin/users/{user.id}/disable",
            "reset-second-factor": f"/admin/users/{user.id}/reset-second-factor",
            "policy": "/admin/second-factor-policy",
        }[change]
        form = {"operator": "y"} if change == "policy" else {}
        page = "/admin/users"
    done = client.post(path, data={**form, "csrf_token": csrf_token(client, page)})
    assert done.status_code == 303, done.get_data(as_text=True)[:300]
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "2 API tokens were revoked." in shown
    assert [_api_status(app, token) for token in raw] == [401, 401]
    assert _live_tokens(store, user.id) == 0


def test_enabling_a_disabled_user_again_brings_no_token_back(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
    store: Store,
) -> None:
    login_as(Role.ADMIN)
    user = make_user(Role.VIEWER)
    raw, _id = stored_token(store, user.id)
    for action in ("disable", "enable"):
        token = csrf_token(client, "/admin/users")
        answer = client.post(f"/admin/users/{user.id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 303
    assert _api_status(app, raw) == 401


def test_wrong_current_passwords_count_towards_the_lock_and_are_audited(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store
) -> None:
    login_as(Role.VIEWER)
    new = "Lampen-Schirm-9-Kiesel"

    def change(current: str) -> int:
        form = {"current": current, "password": new, "confirm": new}
        token = csrf_token(client, "/account")
        return client.post("/account/password", data={**form, "csrf_token": token}).status_code

    answers = [change(f"guess-number-{n}") for n in range(12)]
    assert answers == [400] * 9 + [429] * 3, answers
    assert change(PASSWORD) == 429  # locked: even the right one is refused now
    audited = _audit(store, "account.password_confirmed")
    assert len(audited) == 10 and {e.outcome for e in audited} == {"failure"}
    assert len(_audit(store, "auth.locked")) == 1
    assert _audit(store, "account.password_changed") == []
