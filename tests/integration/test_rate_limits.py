"""Per-user request limits on the API: counted on the shared counters (the database, or Redis),
answered with 429 `rate_limited`, `Retry-After` and a sentence, and lifted when the window ends."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask

from sarportal.config import Settings
from sarportal.domain.roles import Role
from sarportal.web import create_app
from tests.fixtures.portal import FakeClock
from tests.fixtures.portal_provider import make_provider_user

FILTERS = {"filters": {"currency": ["EUR"]}}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def _refused_clearly(answer: object, limit: str) -> int:
    """The 429's Retry-After (seconds), after checking that it says what happened."""
    response = answer  # a Flask test response
    assert response.status_code == 429, response.status_code  # type: ignore[attr-defined]
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert body["code"] == "rate_limited" and limit in body["detail"], body
    wait = int(response.headers["Retry-After"])  # type: ignore[attr-defined]
    assert 1 <= wait <= 60 and f"{wait} seconds" in body["detail"], body
    return wait


def test_the_api_budget_is_per_user_and_comes_back_after_its_minute(
    provider_app: Flask, provider_token: Callable[..., str], clock: FakeClock
) -> None:
    client = provider_app.test_client()
    mine, theirs = _bearer(provider_token(Role.VIEWER)), _bearer(provider_token(Role.VIEWER))
    answers = [client.get("/api/v1/me", headers=mine).status_code for _ in range(300)]
    assert answers == [200] * 300
    wait = _refused_clearly(client.get("/api/v1/me", headers=mine), "300 requests a minute")
    assert client.get("/api/v1/me", headers=theirs).status_code == 200  # another user's budget
    assert client.get("/login").status_code == 200  # pages are not counted against it
    clock.advance(timedelta(seconds=wait))
    assert client.get("/api/v1/me", headers=mine).status_code == 200


def test_statistics_jobs_and_money_actions_have_a_tighter_budget_of_their_own(
    provider_app: Flask, provider_token: Callable[..., str]
) -> None:
    client = provider_app.test_client()
    viewer, operator = _bearer(provider_token(Role.VIEWER)), _bearer(provider_token(Role.OPERATOR))
    jobs = [client.post("/api/v1/stats/jobs", json=FILTERS, headers=viewer) for _ in range(30)]
    assert [answer.status_code for answer in jobs] == [202] * 30
    assert len({answer.get_json()["id"] for answer in jobs}) == 1  # the same job every time
    again = client.post("/api/v1/stats/jobs", json=FILTERS, headers=viewer)
    _refused_clearly(again, "30 requests a minute")
    assert client.get(jobs[0].headers["Location"], headers=viewer).status_code == 200  # reads go on
    path = "/api/v1/transactions/tx_0000000000000000/refunds"
    refunds = [client.post(path, json={"amount": "x"}, headers=operator) for _ in range(30)]
    assert [answer.status_code for answer in refunds] == [422] * 30  # each one counts
    _refused_clearly(
        client.post(path, json={"amount": 1}, headers=operator), "30 requests a minute"
    )


@pytest.fixture
def redis_app(provider_settings: Settings, redis_url: str) -> Iterator[Flask]:
    """The portal on Redis: its counters (and jobs) there."""
    settings = dataclasses.replace(
        provider_settings, redis_url=redis_url, api_rate_limit="5/minute"
    )
    application = create_app(settings)
    yield application
    application.extensions["sarportal"].close()


def test_on_redis_the_budget_is_counted_in_redis(redis_app: Flask, redis_url: str) -> None:
    import redis

    user = make_provider_user(redis_app, Role.VIEWER)
    store = redis_app.extensions["sarportal"].store
    with store.unit_of_work() as uow:
        raw, _row = uow.tokens.create(user.id, None)
        uow.commit()
    client = redis_app.test_client()
    answers = [client.get("/api/v1/me", headers=_bearer(raw)).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429], answers
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*rate:*")]
    assert any(f"user:{user.id}" in key for key in keys), keys
