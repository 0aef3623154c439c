"""`/api/v1/views` with personal tokens: create, list, read, change and delete saved views;
the problems name what to fix; other people's private views and other organisations' views do
not exist for the caller. Against the portal's SQLite store and the sandbox (for the tokens'
users); the races over several processes are in `test_served_portal.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sarportal.domain.roles import Role
from sarportal.store.models import SavedViewRow


class Api:
    """A token user's calls to the views API."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def create(self, **body: Any) -> Any:
        return self.client.post("/api/v1/views", json=body, headers=self.headers)

    def list(self, query: str = "") -> Any:
        return self.client.get(f"/api/v1/views{query}", headers=self.headers)

    def get(self, key: str) -> Any:
        return self.client.get(f"/api/v1/views/{key}", headers=self.headers)

    def patch(self, key: str, **body: Any) -> Any:
        return self.client.patch(f"/api/v1/views/{key}", json=body, headers=self.headers)

    def delete(self, key: str) -> Any:
        return self.client.delete(f"/api/v1/views/{key}", headers=self.headers)


@pytest.fixture
def api(provider_app: Flask, provider_token: Callable[..., str]) -> Callable[..., Api]:
    """A new token user of `role` in "Musterhaus GmbH", or of another organisation (acting as
    the sandbox's merchant B)."""

    def make(role: Role = Role.VIEWER, *, organisation: str | None = None) -> Api:
        if organisation is None:
            return Api(provider_app.test_client(), provider_token(role))
        other = provider_token(role, client_id="other-operator", organisation=organisation)
        return Api(provider_app.test_client(), other)

    return make


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    return body


def test_a_view_is_created_read_listed_changed_and_deleted(
    provider_app: Flask, api: Callable[..., Api]
) -> None:
    me = api()
    created = me.create(
        name="  Captured   in CH ", page="transactions", query="?country=CH&status=captured"
    )
    assert created.status_code == 201
    view = created.get_json()
    assert created.headers["Location"] == f"/api/v1/views/{view['id']}"
    assert created.headers["Cache-Control"] == "no-store"
    assert view["name"] == "Captured in CH"
    assert view["query"] == "status=captured&country=CH"  # the page's own order of keys
    assert view["shared"] is False and view["mine"] is True and view["default_for"] == []
    assert view["url"] == "/transactions?status=captured&country=CH"
    assert view["link"] == f"https://localhost/views/{view['id']}"
    assert me.get(view["id"]).get_json() == view

    me.create(name="Counter 7 days", page="counter", query="period=7d")
    assert [v["name"] for v in me.list().get_json()["data"]] == ["Captured in CH", "Counter 7 days"]
    assert [v["page"] for v in me.list("?page=counter").get_json()["data"]] == ["counter"]

    changed = me.patch(view["id"], name="Swiss captures", query="status=captured&order=amount_desc")
    assert changed.status_code == 200
    assert changed.get_json()["name"] == "Swiss captures"
    assert changed.get_json()["query"] == "status=captured&order=amount_desc"
    shared = me.patch(view["id"], shared=True).get_json()
    assert shared["shared"] is True and shared["name"] == "Swiss captures"  # left out: kept

    assert me.delete(view["id"]).status_code == 204
    assert problem_of(me.get(view["id"]), 404)["code"] == "view_not_found"
    assert problem_of(me.delete(view["id"]), 404)["code"] == "view_not_found"
    with provider_app.extensions["sarportal"].store.unit_of_work() as uow:
        names = list(uow.session.scalars(select(SavedViewRow.name)))
    assert names == ["Counter 7 days"]


def test_the_query_keeps_filters_only_and_bad_ones_are_named(api: Callable[..., Api]) -> None:
    me = api()
    kept = me.create(
        name="Web shop",
        page="transactions",
        query="shop=web&cursor=abc&customer_email=anna%40example.de&per_page=100&job=x",
    ).get_json()
    assert dict(parse_qsl(kept["query"])) == {"shop": "web", "per_page": "100"}
    statistics = me.create(name="Statistics", page="dashboard", query="").get_json()
    assert "period=" in statistics["query"]  # the page's default period, kept explicitly

    bad = problem_of(me.create(name="Lost", page="transactions", query="status=lost"), 400)
    assert bad["code"] == "invalid_request" and bad["param"] == "query"
    assert "`status`" in bad["detail"]
    email = me.create(name="Anna", page="transactions", query="order_reference=anna@example.de")
    refused = problem_of(email, 400)
    assert refused["code"] == "view_query_email" and refused["param"] == "query"
    assert "anna" not in refused["detail"]  # the input is not echoed


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"page": "transactions"}, "name"),
        ({"name": "x", "page": "elsewhere"}, "page"),
        ({"name": "x", "page": "counter", "shared": "yes"}, "shared"),
        ({"name": "x", "page": "counter", "owner": 1}, "owner"),
        ({"name": "x" * 201, "page": "counter"}, "name"),
    ],
)
def test_a_malformed_body_is_400_naming_the_field(
    api: Callable[..., Api], body: dict[str, Any], param: str
) -> None:
    refused = problem_of(api().create(**body), 400)
    assert refused["param"] == param


@pytest.mark.parametrize(
    ("name", "code", "german", "english"),
    [
        ("   ", "view_name_invalid", "1 bis 80 Zeichen", "1 to 80 characters"),
        ("x" * 81, "view_name_invalid", "1 bis 80 Zeichen", "1 to 80 characters"),
        ("Calls of anna@example.de", "view_name_email", "keine E-Mail-Adresse", "e-mail address"),
    ],
)
def test_a_bad_name_is_400_in_the_callers_language(
    api: Callable[..., Api], name: str, code: str, german: str, english: str
) -> None:
    me = api()
    refused = problem_of(me.create(name=name, page="counter"), 400)
    assert refused["code"] == code and refused["param"] == "name"
    assert german in refused["detail"]  # a token user's default language is German
    asked = me.client.post(
        "/api/v1/views",
        json={"name": name, "page": "counter"},
        headers=me.headers | {"Accept-Language": "en"},
    )
    assert english in problem_of(asked, 400)["detail"]


def test_a_taken_name_is_409_and_changes_nothing(api: Callable[..., Api]) -> None:
    me = api()
    first = me.create(name="Overdue", page="transactions", query="dunning_level=1").get_json()
    taken = problem_of(me.create(name="OVERDUE", page="transactions", query="status=refunded"), 409)
    assert taken["code"] == "view_name_taken" and taken["param"] == "name"
    other = me.create(name="Other", page="transactions").get_json()
    renamed = problem_of(me.patch(other["id"], name="overdue"), 409)
    assert renamed["code"] == "view_name_taken"
    assert [v["name"] for v in me.list().get_json()["data"]] == ["Other", "Overdue"]
    assert me.get(first["id"]).get_json()["query"] == "dunning_level=1"


def test_who_may_see_and_change_a_view(api: Callable[..., Api]) -> None:
    owner, colleague, admin = api(Role.OPERATOR), api(Role.VIEWER), api(Role.ADMIN)
    stranger = api(organisation="Andere AG")
    private = owner.create(name="Mine", page="counter").get_json()
    shared = owner.create(name="Ours", page="counter", shared=True).get_json()

    for other in (colleague, admin, stranger):
        assert problem_of(other.get(private["id"]), 404)["code"] == "view_not_found"
        assert problem_of(other.patch(private["id"], name="x"), 404)["code"] == "view_not_found"
        assert problem_of(other.delete(private["id"]), 404)["code"] == "view_not_found"
    assert problem_of(stranger.get(shared["id"]), 404)["code"] == "view_not_found"
    assert stranger.list().get_json()["data"] == []

    seen = colleague.get(shared["id"]).get_json()
    assert seen["mine"] is False and seen["owner"]["id"] == shared["owner"]["id"]
    assert [v["id"] for v in colleague.list().get_json()["data"]] == [shared["id"]]
    for change in ({"name": "Theirs"}, {"shared": False}, {"query": "status=refunded"}):
        refused = problem_of(colleague.patch(shared["id"], **change), 403)
        assert refused["code"] == "view_forbidden"
    assert problem_of(colleague.delete(shared["id"]), 403)["code"] == "view_forbidden"

    # An admin renames and deletes a shared view, but its query and sharing are the owner's.
    assert admin.patch(shared["id"], name="Team counter").get_json()["name"] == "Team counter"
    assert problem_of(admin.patch(shared["id"], shared=False), 403)["code"] == "view_forbidden"
    assert admin.delete(shared["id"]).status_code == 204
    assert [v["id"] for v in owner.list().get_json()["data"]] == [private["id"]]


def test_an_unknown_key_is_404_whatever_its_shape(api: Callable[..., Api]) -> None:
    me = api()
    for key in ("nothere", "x" * 300, "%00", "..%2f"):
        assert problem_of(me.get(key), 404)["code"] in ("view_not_found", "not_found")


def test_the_views_api_needs_credentials_and_a_csrf_token_in_a_session(
    provider_app: Flask,
) -> None:
    anonymous = provider_app.test_client()
    assert problem_of(anonymous.get("/api/v1/views"), 401)["code"]
    refused = anonymous.post("/api/v1/views", json={"name": "x", "page": "counter"})
    assert refused.status_code in (400, 401)


def test_the_openapi_document_describes_the_views(api: Callable[..., Api]) -> None:
    me = api()
    document = me.client.get("/api/openapi.json", headers=me.headers).get_json()
    paths = document["paths"]
    assert set(paths["/api/v1/views"]) >= {"get", "post"}
    item = next(path for path in paths if path.startswith("/api/v1/views/{"))
    assert set(paths[item]) >= {"get", "patch", "delete"}
    assert set(paths["/api/v1/views"]["post"]["responses"]) >= {"201", "400", "409"}
