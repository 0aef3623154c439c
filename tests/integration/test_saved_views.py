"""Saved views in the browser: saving a page's filters, who sees and changes a view, the
shareable link, the organisation's default view per role, the menu's counts, bad input.

Against the real sandbox (the counts are the provider's totals) and the portal's SQLite store;
the races and several processes are in `test_served_portal.py`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sarportal.domain.roles import Role
from sarportal.store.models import AuditEntry, SavedViewRow
from tests.fixtures.portal import (
    MadeUser,
    csrf_token,
    new_client,
    sign_in_fully,
)
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SandboxHandle


def signed_in(app: Flask, user: MadeUser) -> FlaskClient:
    client = new_client(app)
    clock = app.extensions["sarportal"].settings.clock
    assert sign_in_fully(client, user, clock()) == 303
    return client


@pytest.fixture
def people(provider_app: Flask) -> Callable[[Role], FlaskClient]:
    """A signed-in client of a new user of `role` in the organisation "Musterhaus GmbH"."""

    def make(role: Role) -> FlaskClient:
        return signed_in(provider_app, make_provider_user(provider_app, role))

    return make


def save(
    client: FlaskClient, page: str, query: str, name: str, *, shared: bool = False
) -> tuple[int, str]:
    """Post the menu's form; the status and the Location (or the page, after bad input)."""
    data = {"page": page, "query": query, "name": name, "csrf_token": csrf_token(client, "/views")}
    if shared:
        data["shared"] = "1"
    response = client.post("/views", data=data)
    if response.status_code == 303:
        return 303, response.headers["Location"]
    return response.status_code, response.get_data(as_text=True)


def stored(app: Flask) -> list[SavedViewRow]:
    with app.extensions["sarportal"].store.unit_of_work() as uow:
        return list(uow.session.scalars(select(SavedViewRow).order_by(SavedViewRow.id)))


def key_of(app: Flask, name: str) -> str:
    return next(row.key for row in stored(app) if row.name == name)


def post(client: FlaskClient, path: str, **data: str) -> int:
    data["csrf_token"] = csrf_token(client, "/views")
    return client.post(path, data=data).status_code


def test_saving_keeps_the_pages_filters_and_view_only_and_opens_it(
    provider_app: Flask, people: Callable[[Role], FlaskClient]
) -> None:
    viewer = people(Role.VIEWER)
    page = viewer.get("/transactions?status=captured&country=AT&order=amount_desc")
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    form = soup.select_one('.portal-views-menu form[action="/views"]')
    assert form is not None, "the menu offers to save the page's filters"
    query = form.select_one('input[name="query"]')
    assert query is not None
    assert query["value"] == "status=captured&country=AT&order=amount_desc"
    # what arrives is rebuilt from the parsed filters: no cursor, job, unknown key or page
    raw = "country=at&status=captured&order=amount_desc&cursor=abc&page=3&job=j1&note=Frau+M"
    status, location = save(viewer, "transactions", raw, "  Captured   in Austria ")
    assert status == 303
    assert location == "/transactions?status=captured&country=AT&order=amount_desc"
    (row,) = stored(provider_app)
    assert (row.name, row.page, row.shared) == ("Captured in Austria", "transactions", False)
    assert row.query == "status=captured&country=AT&order=amount_desc"
    shown = viewer.get(location).get_data(as_text=True)
    assert "View: Captured in Austria" in html.unescape(shown)  # the menu names the open view
    assert "The view “Captured in Austria” is saved." in html.unescape(shown)
    elsewhere = viewer.get("/transactions?status=captured").get_data(as_text=True)
    assert "View: Captured in Austria" not in html.unescape(elsewhere)


def test_statistics_pages_keep_their_default_period_and_display_choices(
    provider_app: Flask, people: Callable[[Role], FlaskClient]
) -> None:
    viewer = people(Role.VIEWER)
    status, location = save(viewer, "counter", "currency=EUR&granularity=week", "EUR weekly")
    assert status == 303
    assert location == "/counter?period=30d&currency=EUR&granularity=week"
    status, location = save(viewer, "dashboard", "", "Everything")
    assert (status, location) == (303, "/?period=30d")


@pytest.mark.parametrize(
    ("page", "query", "name", "status", "sentence"),
    [
        ("transactions", "", "   ", 400, "needs 1 to 80 characters"),
        ("transactions", "", "x" * 81, 400, "needs 1 to 80 characters"),
        ("transactions", "", "Calls from anna.schmidt@example.de", 400, "e-mail address"),
        ("transactions", "status=lost", "Lost ones", 400, "filters are not valid"),
        ("transactions", "order_reference=anna%40example.de", "Anna", 400, "e-mail address"),
        ("elsewhere", "", "Mine", 400, "choose the page"),
    ],
)
def test_bad_input_shows_the_form_again_with_what_to_fix_and_the_name_kept(
    provider_app: Flask,
    people: Callable[[Role], FlaskClient],
    page: str,
    query: str,
    name: str,
    status: int,
    sentence: str,
) -> None:
    viewer = people(Role.VIEWER)
    got, body = save(viewer, page, query, name)
    assert got == status
    assert sentence in html.unescape(body)
    soup = BeautifulSoup(body, "html.parser")
    kept = soup.select_one('input[name="name"]')
    assert kept is not None and kept["value"] == name[:200]
    assert stored(provider_app) == []


def test_a_name_is_once_per_owner_and_page_whatever_its_case(
    provider_app: Flask, people: Callable[[Role], FlaskClient]
) -> None:
    viewer, colleague = people(Role.VIEWER), people(Role.VIEWER)
    assert save(viewer, "transactions", "status=captured", "Captured")[0] == 303
    status, body = save(viewer, "transactions", "status=refunded", "CAPTURED")
    assert status == 409 and "already have a view of this name" in body
    assert save(viewer, "counter", "status=captured", "Captured")[0] == 303  # another page
    assert save(colleague, "transactions", "status=captured", "Captured")[0] == 303  # another owner
    assert len(stored(provider_app)) == 3


def test_a_private_view_is_its_owners_and_a_shared_one_the_organisations(
    provider_app: Flask, sandbox: SandboxHandle, people: Callable[[Role], FlaskClient]
) -> None:
    owner, colleague, admin = people(Role.OPERATOR), people(Role.VIEWER), people(Role.ADMIN)
    stranger = signed_in(
        provider_app,
        make_provider_user(provider_app, client_id="other-operator", organisation="Andere AG"),
    )
    save(owner, "transactions", "status=captured", "Mine")
    key = key_of(provider_app, "Mine")
    for other in (colleague, admin, stranger):
        assert other.get(f"/views/{key}").status_code == 404  # it does not exist for them
        assert "Mine" not in other.get("/views").get_data(as_text=True)
        assert post(other, f"/views/{key}/delete") == 404
    assert post(owner, f"/views/{key}/share", shared="1") == 303
    opened = colleague.get(f"/views/{key}")
    assert (opened.status_code, opened.headers["Location"]) == (
        303,
        "/transactions?status=captured",
    )
    assert "Mine" in colleague.get("/views").get_data(as_text=True)
    assert stranger.get(f"/views/{key}").status_code == 404  # another organisation: never
    assert post(colleague, f"/views/{key}/rename", name="Theirs") == 403
    assert post(colleague, f"/views/{key}/delete") == 403
    assert post(colleague, f"/views/{key}/share", shared="0") == 403
    assert post(admin, f"/views/{key}/share", shared="0") == 403  # the sharing is the owner's
    assert post(admin, f"/views/{key}/rename", name="Captured (team)") == 303
    assert stored(provider_app)[0].name == "Captured (team)"
    assert post(admin, f"/views/{key}/delete") == 303
    assert stored(provider_app) == []
    assert owner.get(f"/views/{key}").status_code == 404


def test_the_manage_page_says_what_each_view_filters_in_the_users_language(
    people: Callable[[Role], FlaskClient],
) -> None:
    viewer = people(Role.VIEWER)
    query = "status=refunded&status=captured&country=CH&amount_min=10&order=amount_desc"
    save(viewer, "transactions", query, "Swiss")
    save(viewer, "counter", "", "Everything")
    save(viewer, "transactions", "", "All")

    def filters(language: str) -> dict[str, list[str]]:
        page = viewer.get("/views", headers={"Accept-Language": language})
        assert page.headers["Cache-Control"] == "no-store"
        soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
        return {
            str(row.select_one("input[name=name]")["value"]): [
                " ".join(item.get_text(" ").split())
                for item in row.select(".portal-views-filters li")
            ]
            for row in soup.select("tr[id^=view-]")
        }

    assert filters("en") == {
        "All": ["All transactions"],
        "Everything": ["Period: Last 30 days"],
        "Swiss": ["Status: Captured, Refunded", "Country: Switzerland", "Amount from: 10.00"],
    }
    viewer.set_cookie("lang", "de")
    assert filters("de")["Swiss"] == [
        "Status: Erfasst, Erstattet",
        "Land: Schweiz",
        "Betrag ab: 10,00",
    ]


def test_a_refused_rename_keeps_what_was_typed(
    provider_app: Flask, people: Callable[[Role], FlaskClient]
) -> None:
    viewer = people(Role.VIEWER)
    save(viewer, "transactions", "status=captured", "One")
    save(viewer, "transactions", "status=refunded", "Two")
    key = key_of(provider_app, "Two")
    response = viewer.post(
        f"/views/{key}/rename", data={"name": "one", "csrf_token": csrf_token(viewer, "/views")}
    )
    assert response.status_code == 409
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    field = soup.select_one(f"#name-{key}")
    assert field is not None and field["value"] == "one"
    assert "already have a view of this name" in soup.select_one(f"#error-{key}").get_text()


def test_the_default_view_opens_the_bare_page_for_its_role_only(
    provider_app: Flask, people: Callable[[Role], FlaskClient]
) -> None:
    admin, viewer, operator = people(Role.ADMIN), people(Role.VIEWER), people(Role.OPERATOR)
    save(admin, "transactions", "preset=overdue", "Overdue", shared=True)
    save(admin, "transactions", "status=captured", "Private one")
    overdue, private = key_of(provider_app, "Overdue"), key_of(provider_app, "Private one")
    assert post(admin, "/views/defaults", page="transactions", default_viewer=private) == 409
    assert post(viewer, "/views/defaults", page="transactions", default_viewer=overdue) == 403
    assert post(admin, "/views/defaults", page="transactions", default_viewer=overdue) == 303
    bare = viewer.get("/transactions")
    assert (bare.status_code, bare.headers["Location"]) == (303, "/transactions?preset=overdue")
    assert viewer.get("/transactions?view=all").status_code == 200  # "Clear filters" stays clear
    assert viewer.get("/transactions?status=captured").status_code == 200
    assert operator.get("/transactions").status_code == 200  # no default for operators
    assert "default for Viewers" in html.unescape(admin.get("/views").get_data(as_text=True))
    # the owner stops sharing it: it is nobody's default any more
    assert post(admin, f"/views/{overdue}/share", shared="0") == 303
    assert viewer.get("/transactions").status_code == 200


def test_the_menu_counts_what_each_view_matches_at_the_provider(
    provider_app: Flask, sandbox: SandboxHandle, people: Callable[[Role], FlaskClient]
) -> None:
    viewer = people(Role.VIEWER)
    save(viewer, "transactions", "status=captured&country=CH", "Swiss captured")
    save(viewer, "transactions", "preset=authorized&status=captured", "Nothing")
    page = viewer.get("/transactions").get_data(as_text=True)
    counts = re.findall(r'hx-get="(/views/[^"/]+/count)"', page)
    assert len(counts) == 2
    with sandbox.client("demo-viewer") as client:
        listed = client.get(
            "/v1/transactions",
            params={"status": "captured", "country": "CH", "limit": 1, "include_total": "true"},
        ).json()
    numbers = {viewer.get(path).get_data(as_text=True) for path in counts}
    assert numbers == {f"{listed['total_count']:,}", "0"}


def test_views_keep_no_customer_data_and_the_audit_names_no_view(
    provider_app: Flask, people: Callable[[Role], FlaskClient]
) -> None:
    viewer = people(Role.VIEWER)
    query = "order_reference=ORD-1&customer_name=Anna+Schmidt&email=anna%40example.de&shop=web"
    status, location = save(viewer, "transactions", query, "Order ORD-1")
    assert status == 303
    (row,) = stored(provider_app)
    assert dict(parse_qsl(row.query)) == {"shop": "web", "order_reference": "ORD-1"}
    assert dict(parse_qsl(urlsplit(location).query)) == dict(parse_qsl(row.query))
    with provider_app.extensions["sarportal"].store.unit_of_work() as uow:
        entries = list(
            uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "view"))
        )
    assert [entry.action for entry in entries] == ["view.created"]
    assert "Order" not in str(entries[0].details) and "ORD" not in str(entries[0].details)


def test_writes_need_the_csrf_token(people: Callable[[Role], FlaskClient]) -> None:
    viewer = people(Role.VIEWER)
    response = viewer.post("/views", data={"page": "transactions", "query": "", "name": "x"})
    assert response.status_code == 400
