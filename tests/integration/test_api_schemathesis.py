"""schemathesis over the portal's own OpenAPI document, in process against the Flask app.

The caller is an operator with a personal API token whose provider credentials are the
sandbox's `demo-operator`, on a private sandbox (3000 transactions), so the generated captures,
refunds and cancellations use up no other test's rows. Every answer must: not be a 5xx, be
documented (status, content type, body schema), and, when it is an error, be
`application/problem+json` with a stable `code` and a support id. The stateful run follows the
document's links (list → detail → actions; a job's 202 → its status).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from sarportal.domain.roles import Role
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SandboxHandle

PROBLEM = "application/problem+json"
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Api:
    """The app on a private sandbox, an operator's token headers, and real ids to act on."""

    app: Flask
    headers: dict[str, str]
    tx_ids: tuple[str, ...]  # one transaction per status that allows some action, and a declined
    job_id: str
    view_key: str
    payout_id: str
    claim_id: str


@pytest.fixture
def api(make_sandbox: Callable[..., SandboxHandle], make_provider_app: Callable[..., Flask]) -> Api:
    handle = make_sandbox(transactions=3000, seed=5)
    app = make_provider_app(handle)
    user = make_provider_user(app, Role.OPERATOR)
    with app.extensions["sarportal"].store.unit_of_work() as uow:
        raw, _row = uow.tokens.create(user.id, None)
        uow.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    ids = []
    with handle.client("demo-operator") as client:
        for status in ("authorized", "partially_captured", "captured", "declined"):
            page = client.get("/v1/transactions", params={"status": status, "limit": 1}).json()
            ids.append(page["data"][0]["id"])
        payout_id = client.get("/v1/payouts", params={"limit": 1}).json()["data"][0]["id"]
        claim_id = client.get("/v1/claims", params={"limit": 1}).json()["data"][0]["id"]
    job = app.test_client().post("/api/v1/stats/jobs", json={}, headers=headers)
    assert job.status_code == 202, job.get_data(as_text=True)
    view = app.test_client().post(
        "/api/v1/views",
        json={"name": "Captured", "page": "transactions", "query": "status=captured"},
        headers=headers,
    )
    assert view.status_code == 201, view.get_data(as_text=True)
    return Api(
        app, headers, tuple(ids), job.get_json()["id"], view.get_json()["id"], payout_id, claim_id
    )


def errors_are_problem_json(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx/5xx answer is problem+json with a `code` and the status it was sent with."""
    if response.status_code < 400:
        return None
    media = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media == PROBLEM, f"{response.status_code} answered as {media!r}"
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("code"), str) and body["code"], body
    assert body.get("status") == response.status_code, body
    assert isinstance(body.get("support_id"), str), body
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    errors_are_problem_json,
]
# Derandomized: every run tries the same examples (a seed from the test itself), so that CI
# passes or fails on the code, not on the draw; what a random draw once found is kept as an
# explicit test (`created_from=0` in test_api_transactions.py, the bodies below).
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
    database=None,
)


def _schema(app: Flask, headers: dict[str, str]) -> Any:
    """The document as the app serves it to the token; schemathesis then calls the app in
    process (WSGI)."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers=headers)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_documented_problem_json_never_5xx(
    api: Api, mode: GenerationMode
) -> None:
    schema = _schema(api.app, api.headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 30, [operation.label for operation in operations]
    for operation in operations:
        strategies = [operation.as_strategy(mode)]
        if "{tx_id}" in operation.path:  # random ids are 404s: act on real ones as well
            strategies += [
                operation.as_strategy(mode, path_parameters={"tx_id": tx_id})
                for tx_id in api.tx_ids
            ]
        if "{job_id}" in operation.path:
            strategies.append(operation.as_strategy(mode, path_parameters={"job_id": api.job_id}))
        if "{payout_id}" in operation.path:
            strategies.append(
                operation.as_strategy(mode, path_parameters={"payout_id": api.payout_id})
            )
        if "{claim_id}" in operation.path:
            strategies.append(
                operation.as_strategy(mode, path_parameters={"claim_id": api.claim_id})
            )
        if "{key}" in operation.path:
            strategies.append(operation.as_strategy(mode, path_parameters={"key": api.view_key}))

        @BOUNDED
        @given(case=st.one_of(strategies))
        def run(case: Case) -> None:
            case.call_and_validate(headers=api.headers, checks=CHECKS)

        run()


def test_stateful_runs_follow_the_links_and_stay_documented(
    api: Api,
) -> None:
    headers = api.headers
    machine = _schema(api.app, headers).as_state_machine()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Response, case: Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)

    Workflow.run(
        settings=settings(
            max_examples=10,
            stateful_step_count=6,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )


def test_an_action_body_that_is_not_a_json_object_is_refused_and_nothing_happens(
    api: Api,
) -> None:
    """Found by the run above: a cancellation with the body `""` cancelled the transaction
    (spectree reads a body that is not a JSON object as `{}`)."""
    authorized = api.tx_ids[0]
    client = api.app.test_client()
    for body in ('""', "null", "[]", "0", "not json"):
        for action in ("cancellations", "captures", "refunds"):
            response = client.post(
                f"/api/v1/transactions/{authorized}/{action}",
                data=body,
                headers={**api.headers, "Content-Type": "application/json"},
            )
            assert response.status_code == 400, (body, action, response.status_code)
            assert response.get_json()["code"] == "invalid_request"
    detail = client.get(f"/api/v1/transactions/{authorized}", headers=api.headers)
    assert detail.get_json()["cancelled_amount"] == 0
