"""`POST /api/v1/stats/jobs` and `GET /api/v1/stats/jobs/{id}` on both back ends."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sarportal.web import create_app
from sarportal.web.api.openapi import spec
from tests.fixtures.jobs import CeleryWorkers, JobsDatabases, JobsWorld
from tests.fixtures.polling import poll
from tests.fixtures.portal import csrf_token, new_client, sign_in
from tests.integration.test_jobs import RANGE, ground_truth, listing

JOB_FIELDS = {"id", "state", "progress", "result", "partial", "error", "error_code"} | {
    "created_at", "finished_at"
}  # fmt: skip


def _close(app: Flask) -> None:
    services = app.extensions["sarportal"]
    close = getattr(services.jobs, "close", None)
    if close is not None:
        close()
    if services.provider is not None:
        services.provider.close()
    services.store.dispose()


@pytest.fixture
def threads_app(jobs_world: JobsWorld) -> Iterator[Flask]:
    app = create_app(jobs_world.settings)
    app.config["TESTING"] = True
    yield app
    _close(app)


@pytest.fixture(params=["threads", "celery"])
def stats_app(request: pytest.FixtureRequest, jobs_world: JobsWorld) -> Iterator[Flask]:
    """The portal on each back end (Celery: the session's worker processes)."""
    settings = jobs_world.settings
    if request.param == "celery":
        workers: CeleryWorkers = request.getfixturevalue("celery_workers")
        assert workers.processes
        request.getfixturevalue("jobs_redis")
        databases: JobsDatabases = request.getfixturevalue("jobs_databases")
        settings = replace(settings, redis_url=databases.url)
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    _close(app)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _poll(client: FlaskClient, location: str, token: str) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        response = client.get(location, headers=_bearer(token))
        assert response.status_code == 200, response.get_data(as_text=True)
        body: dict[str, Any] = response.get_json()
        assert set(body) == JOB_FIELDS
        assert body["state"] in ("succeeded", "failed", "cancelled") or body["result"] is None
        return body

    ended = ("succeeded", "failed", "cancelled")
    return poll(read, lambda body: body["state"] in ended, what="the job's end")[-1]


def test_a_job_over_the_api_gives_the_ground_truth(jobs_world: JobsWorld, stats_app: Flask) -> None:
    client = new_client(stats_app)
    response = client.post(
        "/api/v1/stats/jobs",
        json={"filters": RANGE, "time_zone": "Europe/Berlin", "refresh": True},
        headers=_bearer(jobs_world.token_a),
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    accepted = response.get_json()
    assert set(accepted) == {"id", "state"} and accepted["state"] in ("queued", "running")
    location = response.headers["Location"]
    assert location.endswith(f"/api/v1/stats/jobs/{accepted['id']}")
    body = _poll(client, location, jobs_world.token_a)
    assert body["state"] == "succeeded", body["error"]
    assert body["finished_at"] is not None and body["partial"] is None
    truth = ground_truth(listing(jobs_world, RANGE))
    assert body["result"]["totals"]["count"] == truth["count"]
    assert body["result"]["totals"]["amount_by_currency"] == truth["amount_by_currency"]
    assert body["result"]["by_status"] == truth["by_status"]
    assert (
        body["result"]
        == stats_app.extensions["sarportal"].jobs.get(jobs_world.user_a, accepted["id"]).result
    ), "the API left out part of the figures"
    assert body["progress"]["shards_done"] == body["progress"]["shards_total"] == 16
    other = client.get(location, headers=_bearer(jobs_world.token_b))
    assert other.status_code == 404
    assert other.mimetype == "application/problem+json"
    assert other.get_json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"filters": {"colour": ["red"]}}, "filters.colour"),
        ({"filters": {"status": ["lost"]}}, "filters.status"),
        ({"filters": {"status": "captured"}}, "filters.status"),
        ({"filters": {"amount_min": "ten"}}, "filters.amount_min"),
        ({"filters": {"amount_min": 500, "amount_max": 100}}, "filters.amount_max"),
        ({"filters": {"created_from": "yesterday"}}, "filters.created_from"),
        ({"filters": {"created_to": "2025-01-01T00:00:00"}}, "filters.created_to"),
        ({"filters": {"shop": [""]}}, "filters.shop"),
        ({"filters": []}, "filters"),
        (
            {
                "filters": {
                    "created_from": "2025-02-01T00:00:00Z",
                    "created_to": "2025-01-01T00:00:00Z",
                }
            },
            "filters.created_to",
        ),
        ({"filters": {"currency": ["euro"]}}, "filters.currency"),
        ({"filters": {}, "time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"filters": {}, "limit": 5}, "limit"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(
    jobs_world: JobsWorld, threads_app: Flask, body: dict[str, Any], param: str
) -> None:
    response = new_client(threads_app).post(
        "/api/v1/stats/jobs", json=body, headers=_bearer(jobs_world.token_a)
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "invalid_request"
    assert problem["param"] == param
    assert "lost" not in problem["detail"] and "ten" not in problem["detail"]


def test_a_session_needs_the_csrf_token_to_submit(
    jobs_world: JobsWorld, threads_app: Flask
) -> None:
    client = new_client(threads_app)
    assert sign_in(client, jobs_world.email_a) == 303
    refused = client.post("/api/v1/stats/jobs", json={"filters": {}})
    assert refused.status_code in (400, 403)
    token = csrf_token(client, "/account")
    accepted = client.post(
        "/api/v1/stats/jobs", json={"filters": {}}, headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 202, accepted.get_data(as_text=True)
    assert client.get(accepted.headers["Location"]).status_code == 200


@pytest.fixture
def unspoiled_spec() -> Iterator[None]:
    """spectree deletes the nested `$defs` from its shared models when it builds a document, so
    a second app's document lacks them; keep the models as they were for the tests after this
    one (the fix belongs in `web.api.openapi.document`)."""
    saved = copy.deepcopy(spec.models)
    yield
    spec.models.clear()
    spec.models.update(saved)


def test_the_openapi_document_describes_the_stats_jobs(
    jobs_world: JobsWorld, threads_app: Flask, unspoiled_spec: None
) -> None:
    document = (
        new_client(threads_app)
        .get("/api/openapi.json", headers=_bearer(jobs_world.token_a))
        .get_json()
    )
    post = document["paths"]["/api/v1/stats/jobs"]["post"]
    assert "202" in post["responses"] and "requestBody" in post
    get = document["paths"]["/api/v1/stats/jobs/{job_id}"]["get"]
    assert {"200", "404"} <= set(get["responses"])
    schemas = document["components"]["schemas"]
    assert {"StatsJobRequest", "StatsFilters", "JobStatus", "StatsFigures"} <= set(schemas)
