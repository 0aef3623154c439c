"""Invitations: links under the configured public address, and an invite form that tells an
admin nothing about other organisations' users."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sarportal.config import Settings
from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.models import Invitation
from sarportal.web.people.admin import public_link
from tests.fixtures.portal import MadeUser, csrf_token, new_client, sign_in
from tests.fixtures.sandbox import SECRETS

PUBLIC_URL = "https://portal.example.com"
LINK = re.compile(r'value="(https?://[^"/]+)(/invite/[^"]+)"')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The tests' settings with the portal's public address configured."""
    return dataclasses.replace(settings, public_url=PUBLIC_URL)


def _invite(client: FlaskClient, email: str) -> tuple[int, str]:
    token = csrf_token(client, "/admin/users")
    answer = client.post(
        "/admin/users/invite",
        data={"email": email, "role": "viewer", "csrf_token": token},
    )
    return answer.status_code, answer.get_data(as_text=True)


def test_the_link_names_the_public_url_not_the_host_the_request_named(
    app: Flask, client: FlaskClient, login_as: Callable[..., MadeUser]
) -> None:
    login_as(Role.ADMIN)
    status, page = _invite(client, "neu@example.com")  # a request to https://localhost
    assert status == 200, page
    link = LINK.search(page)
    assert link and link.group(1) == PUBLIC_URL, page
    assert "localhost" not in page
    # Whatever the Host header says (anyone can set it), the link is the configured one.
    with app.test_request_context("/admin/users/invite", base_url="https://evil.example"):
        assert public_link("/invite/abc") == f"{PUBLIC_URL}/invite/abc"
    unset = dataclasses.replace(app.extensions["sarportal"].settings, public_url=None)
    with app.test_request_context("/admin/users/invite", base_url="https://evil.example"):
        app.extensions["sarportal"] = dataclasses.replace(
            app.extensions["sarportal"], settings=unset
        )
        assert public_link("/invite/abc") == "https://evil.example/invite/abc"  # development only


def test_the_invite_form_does_not_tell_whether_another_organisation_has_an_address(
    app: Flask,
    client: FlaskClient,
    store: Store,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
) -> None:
    admin = login_as(Role.ADMIN)
    stranger = make_user(Role.VIEWER, organisation="Andere AG")
    colleague = make_user(Role.VIEWER)
    fresh_status, _page = _invite(client, "nobody-yet@example.com")
    stranger_status, stranger_page = _invite(client, stranger.email)
    assert fresh_status == stranger_status == 200, stranger_page
    assert "exists already" not in stranger_page
    colleague_status, colleague_page = _invite(client, colleague.email)
    assert colleague_status == 400 and "exists already" in colleague_page
    # The link to a stranger's address makes no account, and says only what a used link says.
    link = LINK.search(stranger_page)
    assert link
    invitee = new_client(app)
    token = csrf_token(invitee, link.group(2))
    password = "Fremde-Adresse-31-Tor"
    answer = invitee.post(
        link.group(2), data={"password": password, "confirm": password, "csrf_token": token}
    )
    assert answer.status_code == 400
    assert "This invitation link is invalid, used or expired." in answer.get_data(as_text=True)
    with store.unit_of_work() as uow:
        found = uow.users.by_email(stranger.email)
        assert found is not None and found.organisation_id != admin_organisation(store, admin)


def admin_organisation(store: Store, admin: MadeUser) -> int:
    with store.unit_of_work() as uow:
        user = uow.users.get(admin.id)
        assert user is not None
        return user.organisation_id


def _accept(app: Flask, path: str, email: str) -> FlaskClient:
    """Accept the invitation at `path` in a new browser and sign in there; the browser."""
    invitee = new_client(app)
    token = csrf_token(invitee, path)
    password = "Neue-Kollegin-58-Start"
    answer = invitee.post(path, data={"password": password, "confirm": password,
                                      "csrf_token": token})  # fmt: skip
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    assert sign_in(invitee, email, password) == 303
    return invitee


def test_an_invitation_can_carry_the_provider_credentials_and_then_forgets_them(
    provider_app: Flask,
    provider_client: FlaskClient,
    login_provider: Callable[..., MadeUser],
) -> None:
    login_provider(Role.ADMIN)
    token = csrf_token(provider_client, "/admin/users")
    half = provider_client.post("/admin/users/invite", data={
        "email": "half@example.com", "role": "viewer", "client_id": "demo-viewer",
        "csrf_token": token})  # fmt: skip
    assert half.status_code == 400
    assert "client ID and the client secret together" in half.get_data(as_text=True)
    page = provider_client.post("/admin/users/invite", data={
        "email": "with-access@example.com", "role": "viewer", "client_id": "demo-viewer",
        "client_secret": SECRETS["demo-viewer"], "csrf_token": token,
    }).get_data(as_text=True)  # fmt: skip
    link = LINK.search(page)
    assert link, page
    store: Store = provider_app.extensions["sarportal"].store
    with store.unit_of_work() as uow:
        rows = uow.session.scalars(select(Invitation)).all()
        assert rows and all(SECRETS["demo-viewer"] not in repr(vars(row)) for row in rows)
    invitee = _accept(provider_app, link.group(2), "with-access@example.com")
    table = invitee.get("/transactions")
    assert table.status_code == 200 and "No provider access yet" not in table.get_data(as_text=True)
    with store.unit_of_work() as uow:
        used = uow.session.scalars(select(Invitation).where(Invitation.accepted_at.is_not(None)))
        row = used.one()
        assert row.provider_client_id is None and row.provider_secret_encrypted is None


def test_without_provider_access_every_page_says_what_is_missing_and_no_bare_status(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., MadeUser],
    make_user: Callable[..., MadeUser],
) -> None:
    login_as(Role.ADMIN)
    account = client.get("/account").get_data(as_text=True)
    assert "No provider access yet." in account and 'href="/admin/users"' in account
    table = client.get("/transactions")
    text = table.get_data(as_text=True)
    assert table.status_code == 409 and "Error 409" not in text
    assert "Set provider credentials" in text
    assert "no transactions or statistics can be shown" not in text  # said once: no banner too
    viewer = make_user(Role.VIEWER)
    browser = new_client(app)
    assert sign_in(browser, viewer.email) == 303
    own = browser.get("/account").get_data(as_text=True)
    assert "An administrator of your organisation sets them on the users page." in own
    refused = browser.get("/transactions").get_data(as_text=True)
    assert "Set provider credentials" not in refused and "Go to your account" in refused
