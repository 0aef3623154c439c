"""Invitations: links under the configured public address, and an invite form that tells an
admin nothing about other organisations' users."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sarportal.config import Settings
from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.web.admin import public_link
from tests.fixtures.portal import MadeUser, csrf_token, new_client

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
