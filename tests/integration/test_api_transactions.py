"""`GET /api/v1/transactions` and the OpenAPI document, against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from sarportal.domain.roles import Role
from tests.fixtures.portal import MadeUser, csrf_token
from tests.fixtures.sandbox import SandboxHandle


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_a_personal_token_lists_pages_like_the_provider(
    provider_app: Flask, provider_token: Callable[..., str], sandbox: SandboxHandle, role: Role
) -> None:
    client = provider_app.test_client()
    headers = bearer(provider_token(role))
    first = client.get(
        "/api/v1/transactions?limit=20&status=captured&include_total=true", headers=headers
    )
    assert first.status_code == 200 and first.mimetype == "application/json"
    body = first.get_json()
    assert set(body) == {"data", "has_more", "next_cursor", "total_count"}
    assert len(body["data"]) == 20 and body["has_more"]
    assert all(row["status"] == "captured" for row in body["data"])
    assert "customer" not in body["data"][0]
    second = client.get(
        f"/api/v1/transactions?limit=20&status=captured&cursor={body['next_cursor']}",
        headers=headers,
    ).get_json()
    assert "total_count" not in second
    with sandbox.client("demo-viewer") as direct:
        truth = direct.get("/v1/transactions", params={"status": "captured", "limit": 40}).json()
    assert [r["id"] for r in body["data"] + second["data"]] == [r["id"] for r in truth["data"]]


def test_the_session_works_for_reads_without_a_csrf_token(
    login_provider: Callable[..., MadeUser], provider_client: FlaskClient
) -> None:
    login_provider(Role.VIEWER)
    response = provider_client.get("/api/v1/transactions?limit=1&order=created_asc")
    assert response.status_code == 200 and len(response.get_json()["data"]) == 1
    assert response.headers["Cache-Control"] == "no-store"
    token = csrf_token(provider_client, "/account")
    refused = provider_client.post("/api/v1/transactions", headers={"X-CSRFToken": token})
    assert refused.status_code == 405 and refused.mimetype == "application/problem+json"


def test_no_credentials_is_401_problem_json(provider_app: Flask) -> None:
    response = provider_app.test_client().get("/api/v1/transactions")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    bad = provider_app.test_client().get("/api/v1/transactions", headers=bearer("sp_nope"))
    assert bad.status_code == 401


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("status=lost", "status"),
        ("country=Germany", "country"),
        ("dunning_level=9", "dunning_level"),
        ("created_from=yesterday", "created_from"),
        ("created_from=2025-01-01T00:00:00", "created_from"),  # no offset
        ("created_from=0", "created_from"),  # not Unix seconds: RFC 3339 only
        ("created_to=1700000000", "created_to"),
        ("created_from=1.5e9", "created_from"),
        ("created_from=2025-02-01T00:00:00Z&created_to=2025-01-01T00:00:00Z", "created_to"),
        ("amount_min=500&amount_max=100", "amount_max"),
        ("amount_min=-1", "amount_min"),
        ("colour=blue", "colour"),
        ("cursor=not-a-cursor-of-these-filters", "cursor"),
    ],
)
def test_bad_parameters_are_problem_json_400_naming_the_parameter(
    provider_app: Flask, provider_token: Callable[..., str], query: str, param: str
) -> None:
    response = provider_app.test_client().get(
        f"/api/v1/transactions?{query}", headers=bearer(provider_token())
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "invalid_request" and problem["param"] == param
    assert problem["support_id"] and "Traceback" not in problem["detail"]


def operation(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"]["/api/v1/transactions"]["get"]
    return found


def test_the_openapi_document_is_valid_and_describes_the_list(
    provider_app: Flask, provider_token: Callable[..., str]
) -> None:
    response = provider_app.test_client().get("/api/openapi.json", headers=bearer(provider_token()))
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    listed = operation(document)
    names = {p["name"] for p in listed["parameters"]}
    assert {"limit", "cursor", "status", "created_from", "amount_min", "order"} <= names
    assert "TransactionList" in document["components"]["schemas"]
    assert "application/problem+json" in listed["responses"]["400"]["content"]
    assert {"personal_token", "session"} <= set(document["components"]["securitySchemes"])
    assert not [rule for rule in provider_app.url_map.iter_rules() if "swagger" in rule.rule]


def test_the_docs_page_is_served_by_the_portal_without_scripts(
    login_provider: Callable[..., MadeUser], provider_client: FlaskClient
) -> None:
    login_provider(Role.VIEWER)
    response = provider_client.get("/api/docs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "/api/v1/transactions" in page and "TransactionSummary" in page
    assert "cdn" not in page.lower() and "<script>" not in page
