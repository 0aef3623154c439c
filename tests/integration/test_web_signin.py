"""Sign-in, lockout, second factor, sessions and sign-out through the Flask test client."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sarportal.auth.users import enrol_totp
from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.models import AuditEntry, WebSession
from tests.fixtures.portal import (
    CSRF_PATTERN,
    PASSWORD,
    FakeClock,
    MadeUser,
    csrf_token,
    new_client,
    sign_in,
)

GENERIC = "The e-mail address or the password is wrong."


def _audit(store: Store, action: str) -> list[AuditEntry]:
    with store.unit_of_work() as uow:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(uow.session.scalars(query))


def test_sign_in_opens_the_welcome_page(
    client: FlaskClient, make_user: Callable[..., MadeUser], store: Store
) -> None:
    user = make_user(Role.VIEWER)
    assert sign_in(client, user.email.upper()) == 303
    page = client.get("/")
    assert page.status_code == 200
    assert user.email in page.get_data(as_text=True)
    [entry] = _audit(store, "auth.sign_in")
    assert (entry.outcome, entry.target_id) == ("success", str(user.id))


def test_unknown_email_and_wrong_password_get_the_same_answer(
    client: FlaskClient, make_user: Callable[..., MadeUser], store: Store
) -> None:
    user = make_user(Role.VIEWER)
    token = csrf_token(client)
    wrong = client.post(
        "/login", data={"email": user.email, "password": "x" * 14, "csrf_token": token}
    )
    unknown = client.post(
        "/login", data={"email": "nobody@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert GENERIC in wrong.get_data(as_text=True)
    assert GENERIC in unknown.get_data(as_text=True)
    outcomes = [(e.outcome, e.details["reason"]) for e in _audit(store, "auth.sign_in")]
    assert outcomes == [("failure", "wrong_password"), ("failure", "unknown_account")]


def test_ten_failures_lock_the_account_for_thirty_minutes(
    client: FlaskClient, make_user: Callable[..., MadeUser], clock: FakeClock, store: Store
) -> None:
    user = make_user(Role.VIEWER)
    for _ in range(9):
        assert sign_in(client, user.email, "wrong-password-123") == 401
    assert sign_in(client, user.email, "wrong-password-123") == 429
    locked = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert locked.status_code == 429
    assert "paused for 30 minutes" in locked.get_data(as_text=True)
    assert int(locked.headers["Retry-After"]) > 0
    assert len(_audit(store, "auth.locked")) == 1
    clock.advance(timedelta(minutes=31))
    assert sign_in(client, user.email) == 303


def test_malformed_sign_in_form_is_a_clear_400(client: FlaskClient) -> None:
    response = client.post("/login", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "This field is required" in response.get_data(as_text=True)


def test_missing_csrf_token_gets_a_clear_400_page(
    client: FlaskClient, make_user: Callable[..., MadeUser]
) -> None:
    user = make_user(Role.VIEWER)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)


def test_second_factor_code_is_accepted_once(
    app: Flask, make_user: Callable[..., MadeUser], store: Store, clock: FakeClock
) -> None:
    user = make_user(Role.OPERATOR)
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    enrol_totp(store, user.id, secret, totp.at(clock()))
    clock.advance(timedelta(seconds=30))
    code = totp.at(clock())

    first = new_client(app)
    assert sign_in(first, user.email) == 303
    token = csrf_token(first, "/login/second-factor")
    assert (
        first.post("/login/second-factor", data={"code": code, "csrf_token": token}).status_code
        == 303
    )
    assert first.get("/").status_code == 200

    second = new_client(app)
    assert sign_in(second, user.email) == 303
    token = csrf_token(second, "/login/second-factor")
    replay = second.post("/login/second-factor", data={"code": code, "csrf_token": token})
    assert replay.status_code == 401
    assert "has been used already" in replay.get_data(as_text=True)
    assert second.get("/").status_code == 302


def test_wrong_second_factor_code_is_refused(
    client: FlaskClient, make_user: Callable[..., MadeUser], store: Store, clock: FakeClock
) -> None:
    user = make_user(Role.VIEWER)
    secret = pyotp.random_base32()
    enrol_totp(store, user.id, secret, pyotp.TOTP(secret).at(clock()))
    assert sign_in(client, user.email) == 303
    token = csrf_token(client, "/login/second-factor")
    response = client.post("/login/second-factor", data={"code": "000000x", "csrf_token": token})
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_session_ends_after_thirty_idle_minutes(
    client: FlaskClient, login_as: Callable[..., MadeUser], clock: FakeClock
) -> None:
    login_as(Role.VIEWER)
    clock.advance(timedelta(minutes=29))
    assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=29))
    assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=31))
    expired = client.get("/")
    assert expired.status_code == 302
    assert "/login" in expired.headers["Location"]
    page = client.get(expired.headers["Location"]).get_data(as_text=True)
    assert "Your session has expired" in page


def test_session_ends_after_twelve_hours_however_active(
    client: FlaskClient, login_as: Callable[..., MadeUser], clock: FakeClock
) -> None:
    login_as(Role.VIEWER)
    for _ in range(12 * 3 - 1):
        clock.advance(timedelta(minutes=20))
        assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=21))
    assert client.get("/").status_code == 302


def test_sign_in_issues_a_new_session_id(
    client: FlaskClient, make_user: Callable[..., MadeUser], app: Flask
) -> None:
    user = make_user(Role.VIEWER)
    csrf_token(client)
    cookie_name = app.extensions["sarportal"].settings.session_cookie_name
    before = client.get_cookie(cookie_name)
    assert before is not None
    assert sign_in(client, user.email) == 303
    after = client.get_cookie(cookie_name)
    assert after is not None and after.value != before.value


def test_session_cookie_is_host_prefixed_secure_httponly_lax(
    client: FlaskClient, make_user: Callable[..., MadeUser]
) -> None:
    user = make_user(Role.VIEWER)
    token = csrf_token(client)
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie


def test_sign_out_deletes_the_server_session(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store, app: Flask
) -> None:
    user = login_as(Role.VIEWER)
    cookie_name = app.extensions["sarportal"].settings.session_cookie_name
    stolen = client.get_cookie(cookie_name)
    assert stolen is not None
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 303
    with store.unit_of_work() as uow:
        rows = uow.session.scalars(select(WebSession).where(WebSession.user_id == user.id)).all()
    assert rows == []
    replay = new_client(app)
    replay.set_cookie(cookie_name, stolen.value, domain="localhost")
    assert replay.get("/").status_code == 302


def test_password_change_ends_the_other_sessions(
    app: Flask, client: FlaskClient, login_as: Callable[..., MadeUser]
) -> None:
    user = login_as(Role.VIEWER)
    other = new_client(app)
    assert sign_in(other, user.email) == 303
    new_password = "Neue-Laterne-42-Strasse"
    response = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": new_password,
            "confirm": new_password,
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert sign_in(new_client(app), user.email, new_password) == 303


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 12"), ("password1234", "too common"), ("qwertyuiopasdf", "too common")],
)
def test_password_policy_refuses_weak_passwords(
    client: FlaskClient, login_as: Callable[..., MadeUser], password: str, message: str
) -> None:
    login_as(Role.VIEWER)
    response = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": password,
            "confirm": password,
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_account_lists_sessions_and_ends_one(
    app: Flask, client: FlaskClient, login_as: Callable[..., MadeUser]
) -> None:
    user = login_as(Role.VIEWER)
    other = new_client(app)
    sign_in(other, user.email)
    page = client.get("/account").get_data(as_text=True)
    assert page.count("End session") == 1 and "This session" in page
    assert "Firefox on Linux" in page
    import re

    key = re.search(
        r"/account/sessions/([0-9a-f]+)/end\"[^<]*<input[^>]*>\s*<button[^>]*>End session", page
    )
    assert key, page
    ended = client.post(
        f"/account/sessions/{key.group(1)}/end", data={"csrf_token": csrf_token(client, "/account")}
    )
    assert ended.status_code == 303
    assert other.get("/").status_code == 302
    assert client.get("/").status_code == 200


def test_the_secret_being_enrolled_is_kept_encrypted_and_then_enrols(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store, clock: FakeClock
) -> None:
    user = login_as(Role.VIEWER)
    page = client.get("/account/second-factor").get_data(as_text=True)
    shown = re.search(r'<code class="fs-6">([A-Z2-7 ]+)</code>', page)
    assert shown, "the page shows the secret for typing it in"
    secret = shown.group(1).replace(" ", "")
    with store.unit_of_work() as uow:
        kept = [s.data for s in uow.session.scalars(select(WebSession)).all()]
    assert kept and secret not in repr(kept)
    token = CSRF_PATTERN.search(page)
    assert token, "the enrolment form carries a CSRF token"
    code = pyotp.TOTP(secret).at(clock())
    done = client.post("/account/second-factor", data={"code": code, "csrf_token": token.group(1)})
    assert done.status_code == 200 and "recovery" in done.get_data(as_text=True).lower()
    with store.unit_of_work() as uow:
        stored = uow.users.get(user.id)
        assert stored is not None and stored.totp_secret_encrypted
        kept = [s.data for s in uow.session.scalars(select(WebSession)).all()]
    assert all("enrol" not in repr(data).lower() for data in kept)


def test_the_time_zone_is_set_on_the_account_page_and_followed(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store
) -> None:
    user = login_as(Role.VIEWER)
    page = client.get("/account").get_data(as_text=True)
    assert 'name="timezone"' in page and '<option selected value="Europe/Berlin">' in page
    token = csrf_token(client, "/account")
    bad = client.post("/account/time-zone", data={"timezone": "Mars/Olympus", "csrf_token": token})
    assert bad.status_code == 400 and "Please choose a time zone from the list." in bad.get_data(
        as_text=True
    )
    done = client.post(
        "/account/time-zone", data={"timezone": "America/New_York", "csrf_token": token}
    )
    assert done.status_code == 303
    with store.unit_of_work() as uow:
        found = uow.users.get(user.id)
        assert found is not None and found.timezone == "America/New_York"
    page = client.get("/account").get_data(as_text=True)
    assert "America/New_York" in page and '<option selected value="America/New_York">' in page


def test_the_language_is_set_on_the_account_page_or_follows_the_browser(
    client: FlaskClient, login_as: Callable[..., MadeUser], store: Store
) -> None:
    user = login_as(Role.VIEWER)
    us = {"Accept-Language": "en-US,en;q=0.9"}
    page = client.get("/account", headers=us).get_data(as_text=True)
    assert '<option selected value="">As my browser says (now English (US))</option>' in page
    token = csrf_token(client, "/account")
    bad = client.post("/account/language", data={"language": "en_AU", "csrf_token": token})
    assert bad.status_code == 400
    assert "Please choose a language from the list." in bad.get_data(as_text=True)
    assert client.post("/account/language", data={"language": "en_GB"}).status_code == 400  # CSRF
    with store.unit_of_work() as uow:
        assert (found := uow.users.get(user.id)) is not None and found.locale is None

    done = client.post("/account/language", data={"language": "en_GB", "csrf_token": token})
    assert done.status_code == 303 and "lang=en_GB;" in done.headers["Set-Cookie"]
    with store.unit_of_work() as uow:
        assert (found := uow.users.get(user.id)) is not None and found.locale == "en_GB"
    page = client.get("/account", headers=us).get_data(as_text=True)  # the choice wins
    assert '<html lang="en-GB"' in page and "The portal now writes English (UK)." in page
    assert '<option selected value="en_GB">English (UK)</option>' in page
    assert re.search(r"<td>\d\d/\d\d/\d{4}, \d\d:\d\d</td>", page), "day first, as in the UK"

    done = client.post("/account/language", data={"language": "", "csrf_token": token})
    assert done.status_code == 303 and done.headers["Set-Cookie"].startswith("lang=;")
    with store.unit_of_work() as uow:
        assert (found := uow.users.get(user.id)) is not None and found.locale is None
    page = client.get("/account", headers=us).get_data(as_text=True)
    assert '<html lang="en-US"' in page
    assert "The portal now follows your browser: English (US)." in page
    assert re.search(r"<td>\d{1,2}/\d{1,2}/\d\d, \d{1,2}:\d\d\s[AP]M</td>", page)
    german = client.get("/account", headers={"Accept-Language": "de-CH"}).get_data(as_text=True)
    assert '<html lang="de"' in german
