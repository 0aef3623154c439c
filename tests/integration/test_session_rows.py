"""What the sessions table holds: nothing for anonymous visitors, and nothing past its timeouts
once the scheduled housekeeping has run."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from sarportal.auth.passwords import Passwords
from sarportal.auth.users import create_user
from sarportal.config import Settings
from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.models import Base, Counter, WebSession
from sarportal.web import create_app
from tests.fixtures.portal import (
    FAST_ARGON2,
    PASSWORD,
    FakeClock,
    MadeUser,
    csrf_token,
    new_client,
    sign_in,
)


def _rows(store: Store, model: type[Base] = WebSession) -> int:
    with store.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_anonymous_visits_and_failed_sign_ins_store_no_session(
    app: Flask, store: Store, make_user: Callable[..., MadeUser]
) -> None:
    for _visitor in range(200):
        assert new_client(app).get("/login").status_code == 200
    for _attempt in range(5):
        assert sign_in(new_client(app), "nobody@example.com", "wrong-password-1") == 401
    assert _rows(store) == 0
    viewer = make_user(Role.VIEWER)
    browser = new_client(app)
    assert sign_in(browser, viewer.email) == 303  # the CSRF token came from the cookie
    assert _rows(store) == 1
    assert browser.get("/").status_code == 200


def test_a_second_factor_step_is_kept_and_becomes_the_signed_in_session(
    app: Flask, store: Store, make_user: Callable[..., MadeUser], clock: FakeClock
) -> None:
    admin = make_user(Role.ADMIN)
    browser = new_client(app)
    assert sign_in(browser, admin.email) == 303
    assert _rows(store) == 1  # who passed the password step: something to keep
    token = csrf_token(browser, "/login/second-factor")
    done = browser.post(
        "/login/second-factor", data={"code": admin.code(clock()), "csrf_token": token}
    )
    assert done.status_code == 303 and _rows(store) == 1
    assert browser.get("/").status_code == 200


def test_an_anonymous_session_cookie_is_signed_and_lasts_while_idle_less_than_its_limit(
    app: Flask, settings: Settings, clock: FakeClock, make_user: Callable[..., MadeUser]
) -> None:
    viewer = make_user(Role.VIEWER)
    name = settings.session_cookie_name
    forged = new_client(app)
    token = csrf_token(forged)
    cookie = forged.get_cookie(name)
    assert cookie is not None and "." in cookie.value
    forged.set_cookie(name, cookie.value[:-3] + "AAA", domain="localhost")
    answer = forged.post("/login", data={"email": viewer.email, "password": viewer.password,
                                         "csrf_token": token})  # fmt: skip
    assert answer.status_code == 400 and "The form has expired" in answer.get_data(as_text=True)
    idle = new_client(app)
    token = csrf_token(idle)
    clock.advance(settings.session_idle + timedelta(seconds=1))
    late = idle.post("/login", data={"email": viewer.email, "password": viewer.password,
                                     "csrf_token": token})  # fmt: skip
    assert late.status_code == 400 and "The form has expired" in late.get_data(as_text=True)
    fresh = new_client(app)
    token = csrf_token(fresh)
    clock.advance(settings.session_idle - timedelta(minutes=1))
    assert sign_in_with(fresh, viewer, token) == 303


def sign_in_with(client: FlaskClient, user: MadeUser, token: str) -> int:
    data = {"email": user.email, "password": user.password, "csrf_token": token}
    return client.post("/login", data=data).status_code


@pytest.fixture
def quick_app(settings: Settings) -> Iterator[Flask]:
    """The portal with its housekeeping running every 50 ms."""
    application = create_app(
        dataclasses.replace(settings, housekeeping_every=timedelta(seconds=0.05))
    )
    application.config["TESTING"] = True
    yield application
    application.extensions["sarportal"].close()


def test_expired_sessions_and_counters_are_purged_on_a_schedule(
    quick_app: Flask, settings: Settings, clock: FakeClock
) -> None:
    store: Store = quick_app.extensions["sarportal"].store
    email = "kept-then-purged@example.com"
    create_user(store, Passwords(FAST_ARGON2), email=email, password=PASSWORD,
                role=Role.VIEWER, organisation="Musterhaus GmbH")  # fmt: skip
    for _browser in range(3):
        assert sign_in(new_client(quick_app), email) == 303
    assert sign_in(new_client(quick_app), email, "wrong-password-1") == 401
    assert _rows(store) == 3 and _rows(store, Counter) > 0
    clock.advance(max(settings.session_idle, settings.ip_failure_window, settings.lockout_duration)
                  + timedelta(minutes=1))  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_rows(store) or _rows(store, Counter)):
        time.sleep(0.05)
    assert _rows(store) == 0 and _rows(store, Counter) == 0
