"""Helpers for the detail page, dialog and API tests: ground truth from the sandbox itself."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from werkzeug.test import TestResponse

from sarportal.store.models import AuditEntry
from tests.fixtures.portal import csrf_token
from tests.fixtures.sandbox import SandboxHandle

HTMX = {"HX-Request": "true"}
INTENT = re.compile(r'name="intent" value="([^"]+)"')


def provider_view(sandbox: SandboxHandle, tx_id: str, client_id: str = "demo-operator") -> Any:
    """The transaction as the provider has it now (not through the portal)."""
    with sandbox.client(client_id) as client:
        response = client.get(f"/v1/transactions/{tx_id}")
        response.raise_for_status()
        return response.json()


def personal_values(customer: dict[str, Any]) -> dict[str, str]:
    """Every personal value of a customer long enough to be searched for without chance hits."""
    found: dict[str, str] = {}
    for name, value in customer.items():
        if name in ("id", "type"):
            continue
        if isinstance(value, dict):
            for part, inner in value.items():
                if part != "country" and isinstance(inner, str):
                    found[f"{name}.{part}"] = inner
        elif isinstance(value, str):
            found[name] = value
    return {k: v for k, v in found.items() if len(v) >= 6}


def audit_text(app: Flask) -> str:
    """The whole audit table as one string, to search for values that must not be in it."""
    store = app.extensions["sarportal"].store
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM audit_log")).fetchall()
    return "\n".join(" ".join(str(value) for value in row) for row in rows)


def audit_rows(app: Flask, tx_id: str) -> list[dict[str, Any]]:
    """The audit entries about one transaction, oldest first."""
    store = app.extensions["sarportal"].store
    with store.unit_of_work() as uow:
        query = select(AuditEntry).where(AuditEntry.target_id == tx_id).order_by(AuditEntry.id)
        return [
            {
                "id": e.id,
                "action": e.action,
                "outcome": e.outcome,
                "details": dict(e.details),
                "completes_id": e.completes_id,
            }
            for e in uow.session.scalars(query)
        ]


def open_dialog(
    client: FlaskClient, tx_id: str, kind: str, *, htmx: bool = True
) -> tuple[str, str]:
    """Open the action dialog: (its CSRF token, its signed intent)."""
    response = client.get(f"/transactions/{tx_id}/actions/{kind}", headers=HTMX if htmx else {})
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    match = INTENT.search(page)
    assert match, page
    return csrf_token(client, f"/transactions/{tx_id}"), match.group(1)


def post_step(
    client: FlaskClient,
    tx_id: str,
    kind: str,
    token: str,
    intent: str,
    step: str,
    *,
    htmx: bool = True,
    form: dict[str, str] | None = None,
    **fields: str,
) -> TestResponse:
    """Send one step of the dialog with the typed `form` (and single `fields`)."""
    data = {"csrf_token": token, "intent": intent, "step": step, **(form or {}), **fields}
    return client.post(
        f"/transactions/{tx_id}/actions/{kind}", data=data, headers=HTMX if htmx else {}
    )
