"""The sandbox's faults during every kind of request: clear errors, retries that are safe.

A private sandbox (1500 transactions, a `hang` holds an answer 0.6 s) and a portal whose provider
read timeout is 0.3 s. The faults: `error_500`, `error_503` (before the provider acts), `hang`,
`truncated`, `malformed` (after it acted), 429 from the rate limit, and every token expiring in
the middle of a statistics job. The requests: the table, the detail page, a reveal, the action
dialog and the action API, the CSV export, the list API, and a statistics job.

- a fault that passes (once) is retried away: the answer is the same as without it;
- a fault that persists is a clear 503 ("The payment provider is not answering", problem+json
  `provider_unavailable` on the API, `Retry-After` after a 429), never a trace or a 500;
- an action is applied exactly once whatever the fault, its outcome is what the provider did,
  and both audit lines are written;
- a statistics job (reading the CSV export) survives a passing fault and a token expiry with the
  exact ground truth, and fails with a sentence for people when the provider stays silent.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from sarportal.domain.roles import Role
from sarportal.provider import Provider
from sarportal.sandbox.config import SandboxConfig
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.server import sandbox_in_thread
from sarportal.web.transactions.table import ExportInterrupted
from tests.fixtures.polling import poll
from tests.fixtures.portal import FakeClock, csrf_token, new_client, sign_in
from tests.fixtures.portal_provider import (
    build_provider_app,
    close_provider_app,
    make_provider_user,
)
from tests.fixtures.sandbox import SandboxHandle
from tests.integration.helpers_transaction import (
    HTMX,
    audit_rows,
    open_dialog,
    post_step,
    provider_view,
)

UNAVAILABLE = "The payment provider is not answering"
BEFORE = ("error_500", "error_503")  # the provider did nothing
AFTER = ("hang", "truncated", "malformed")  # the provider acted, then the answer was lost
TRANSACTIONS = 1500


@dataclass
class World:
    """The sandbox, the portal, an operator's session and personal token."""

    handle: SandboxHandle
    app: Flask
    browser: FlaskClient
    api: FlaskClient
    token: str
    slept: list[float] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def fault(self, kind: str, prefix: str, method: str | None = None, count: int = 1) -> None:
        self.handle.running.app.faults.schedule(kind, prefix, method, count)

    def clear(self) -> None:
        self.handle.running.app.faults.clear()

    def take(self, status: str) -> str:
        """A EUR transaction in `status` that no other step of the test has used."""
        with self.handle.client("demo-operator") as client:
            params = {"status": status, "currency": "EUR", "limit": 200}
            rows = client.get("/v1/transactions", params=params).json()["data"]
        for row in rows:
            if row["id"] not in self.taken:
                self.taken.add(row["id"])
                return str(row["id"])
        raise LookupError(status)


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One sandbox and portal for the module: each test takes rows no other test touched."""
    folder = tmp_path_factory.mktemp("faults")
    config = SandboxConfig(
        state_dir=folder / "sandbox", port=0, transactions=TRANSACTIONS, seed=9, hang_seconds=0.6
    )
    with sandbox_in_thread(config) as running:
        handle = SandboxHandle(running, folder / "sandbox")
        app = build_provider_app(folder, FakeClock(), handle, provider_read_timeout=0.3)
        user = make_provider_user(app, Role.OPERATOR)
        browser = new_client(app)
        assert sign_in(browser, user.email) == 303
        with app.extensions["sarportal"].store.unit_of_work() as uow:
            raw, _row = uow.tokens.create(user.id, None)
            uow.commit()
        found = World(handle, app, browser, app.test_client(), raw)
        provider: Provider = app.extensions["sarportal"].provider
        # Retries wait (backoff, Retry-After) without slowing the tests; the waits are kept.
        provider._sleep = found.slept.append
        yield found
        close_provider_app(app)


@pytest.fixture
def world(shared_world: World) -> Iterator[World]:
    shared_world.slept.clear()
    yield shared_world
    shared_world.clear()


# -- reads ---------------------------------------------------------------------------------------

Read = Callable[[World, str], TestResponse]


def _table(world: World, tx_id: str) -> TestResponse:
    return world.browser.get("/transactions?period=custom")


def _detail(world: World, tx_id: str) -> TestResponse:
    return world.browser.get(f"/transactions/{tx_id}")


def _reveal(world: World, tx_id: str) -> TestResponse:
    token = csrf_token(world.browser, "/account")
    return world.browser.post(
        f"/transactions/{tx_id}/customer/email", data={"csrf_token": token}, headers=HTMX
    )


def _export(world: World, tx_id: str) -> TestResponse:
    return world.browser.get("/transactions/export.csv?period=custom")


def _api_list(world: World, tx_id: str) -> TestResponse:
    return world.api.get("/api/v1/transactions?limit=50", headers=world.auth)


def _api_detail(world: World, tx_id: str) -> TestResponse:
    return world.api.get(f"/api/v1/transactions/{tx_id}", headers=world.auth)


# (name, how, the provider path it reads)
READS: tuple[tuple[str, Read, str], ...] = (
    ("table", _table, "/v1/transactions"),
    ("detail", _detail, "/v1/transactions/"),
    ("reveal", _reveal, "/v1/transactions/"),
    ("export", _export, "/v1/transactions"),
    ("api-list", _api_list, "/v1/transactions"),
    ("api-detail", _api_detail, "/v1/transactions/"),
)


def _assert_unavailable(name: str, response: TestResponse) -> None:
    """The clear answer for a provider that does not answer: 503, no trace, no data."""
    text = response.get_data(as_text=True)
    assert response.status_code == 503, (name, response.status_code, text[:300])
    assert "Traceback" not in text and "PIICANARY" not in text
    if name.startswith("api"):
        assert response.mimetype == "application/problem+json", name
        assert response.get_json()["code"] == "provider_unavailable", name
    else:
        assert UNAVAILABLE in text, name


@pytest.mark.parametrize("kind", [*BEFORE, *AFTER])
def test_a_passing_fault_is_retried_away_on_every_read(world: World, kind: str) -> None:
    tx_id = world.take("captured")
    for name, read, prefix in READS:
        world.fault(kind, prefix, "GET", count=1)
        response = read(world, tx_id)
        assert response.status_code == 200, (name, kind, response.status_code)
        assert world.handle.running.app.faults.scheduled == [], (name, "the fault was not hit")
        if name == "export":
            lines = response.get_data(as_text=True).splitlines()
            assert len(lines) == TRANSACTIONS + 1, (kind, len(lines))  # the header and every row
        if name == "api-detail":
            assert response.get_json()["id"] == tx_id


@pytest.mark.parametrize("kind", ["error_503", "malformed"])
def test_a_persistent_fault_is_a_clear_503_on_every_read(world: World, kind: str) -> None:
    tx_id = world.take("captured")
    world.fault(kind, "/v1/", count=10_000)
    for name, read, _prefix in READS:
        _assert_unavailable(name, read(world, tx_id))


def test_rate_limited_reads_honour_retry_after_then_say_so_with_retry_after(
    world: World,
) -> None:
    tx_id = world.take("captured")
    sandbox = world.handle.running.app
    real = sandbox.limiter

    class Refusing:
        """The provider's rate limit, refusing the next `left` requests (Retry-After: 2)."""

        rate = 1.0
        left = 0

        def take(self, client_id: str) -> float:
            if self.left > 0:
                self.left -= 1
                raise Problem("rate_limited", "Slow down.", headers={"Retry-After": "2"})
            return 1.0

    refusing = Refusing()
    sandbox.limiter = refusing  # type: ignore[assignment]
    try:
        for name, read, _prefix in READS:
            refusing.left, world.slept[:] = 2, []
            assert read(world, tx_id).status_code == 200, name
            assert world.slept == [2.0, 2.0], (name, world.slept)  # waited as the provider said
            refusing.left = 10_000
            response = read(world, tx_id)
            _assert_unavailable(name, response)
            assert response.headers["Retry-After"] == "2", name
    finally:
        sandbox.limiter = real


def test_an_export_cut_off_by_the_provider_is_not_completed(world: World) -> None:
    response = world.browser.get("/transactions/export.csv?period=custom", buffered=False)
    assert response.status_code == 200  # the first page came before the answer started
    world.fault("error_500", "/v1/transactions", "GET", count=10_000)
    received = []
    with pytest.raises(ExportInterrupted):
        for chunk in response.response:
            received.append(chunk)
    rows = b"".join(received).decode().splitlines()
    assert 1 < len(rows) < TRANSACTIONS + 1  # a download that visibly broke off, not a whole file


# -- actions -------------------------------------------------------------------------------------

ActionCall = Callable[[World, str], TestResponse]


def _refund_by_page(world: World, tx_id: str) -> TestResponse:
    token, intent = open_dialog(world.browser, tx_id, "refund")
    return post_step(
        world.browser, tx_id, "refund", token, intent, "confirm", amount="1.00", reason="goodwill"
    )


def _refund_by_api(world: World, tx_id: str) -> TestResponse:
    body = {"amount": 100, "reason": "goodwill"}
    return world.api.post(f"/api/v1/transactions/{tx_id}/refunds", json=body, headers=world.auth)


def _succeeded(response: TestResponse) -> bool:
    return response.status_code == 201 or "HX-Redirect" in response.headers


@pytest.mark.parametrize("way", [_refund_by_page, _refund_by_api], ids=["page", "api"])
@pytest.mark.parametrize(
    ("kind", "count", "applied"),
    [
        ("error_503", 1, True),  # retried with the same key: applied once
        ("error_500", 10_000, False),  # never reached the provider: not applied, said so
        ("error_503", 10_000, False),
        ("hang", 1, True),  # applied, the answer lost, the retry replays
        ("hang", 10_000, True),  # every answer lost: reconciled from the provider
        ("malformed", 1, True),  # applied, the answer garbled: reconciled
        ("truncated", 10_000, True),
    ],
)
def test_an_action_under_a_fault_applies_at_most_once_and_says_what_happened(
    world: World, way: ActionCall, kind: str, count: int, applied: bool
) -> None:
    tx_id = world.take("captured")
    before = provider_view(world.handle, tx_id)["refunded_amount"]
    if way is _refund_by_page:
        token, intent = open_dialog(world.browser, tx_id, "refund")
        world.fault(kind, "/v1/transactions/", "POST", count)
        response = post_step(
            world.browser, tx_id, "refund", token, intent, "confirm",
            amount="1.00", reason="goodwill",
        )  # fmt: skip
    else:
        world.fault(kind, "/v1/transactions/", "POST", count)
        response = way(world, tx_id)
    world.clear()
    after = provider_view(world.handle, tx_id)["refunded_amount"]
    assert after - before == (100 if applied else 0)
    assert _succeeded(response) is applied, (response.status_code, response.headers)
    entries = audit_rows(world.app, tx_id)
    refunds = [e for e in entries if e["action"].endswith("refund")]
    assert [e["outcome"] for e in refunds] == ["pending", "succeeded" if applied else "failed"]
    assert refunds[1]["completes_id"] == refunds[0]["id"]
    if not applied:
        assert refunds[1]["details"]["code"] == "not_applied"
        if way is _refund_by_api:
            assert response.status_code == 503
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["code"] == "not_applied"
        else:  # the dialog stays open (htmx) and says so; the same key is kept for a retry
            assert response.status_code == 200
            assert "the action was not carried out" in response.get_data(as_text=True)


# -- statistics jobs ----------------------------------------------------------------------------


def _ground_truth(world: World, filters: dict[str, Any]) -> int:
    total = 0
    cursor = None
    with world.handle.client("demo-operator") as client:
        while True:
            query = {**filters, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            body = client.get("/v1/transactions", params=query).json()
            total += len(body["data"])
            if not body["has_more"]:
                return total
            cursor = body["next_cursor"]


FILTERS: dict[str, Any] = {}  # everything: from the oldest transaction (probed) to now


def _run_job(world: World, timeout: float = 30.0) -> dict[str, Any]:
    body = {"filters": FILTERS, "refresh": True}
    submitted = world.api.post("/api/v1/stats/jobs", json=body, headers=world.auth)
    assert submitted.status_code == 202, submitted.get_data(as_text=True)
    location = submitted.headers["Location"]

    def read() -> dict[str, Any]:
        view: dict[str, Any] = world.api.get(location, headers=world.auth).get_json()
        return view

    ended = ("succeeded", "failed", "cancelled")
    # every 0.1 s: the module's jobs share one user's API budget of 300 requests a minute
    seen = poll(read, lambda v: v["state"] in ended, timeout=timeout, every=0.1, what="the job")
    return seen[-1]


def test_a_statistics_job_survives_a_token_expiry_in_its_middle(world: World) -> None:
    """Every token expires while the job's pages are being read; the client asks for a new one
    once, and the job ends with the exact ground truth."""
    tokens = world.handle.running.app.tokens
    original = tokens.check
    calls = itertools.count()
    expired: list[int] = []

    def check(authorization: str | None) -> Any:
        if next(calls) == 3:  # the third page of the job
            expired.append(tokens.expire_all())
        return original(authorization)

    tokens.check = check  # type: ignore[method-assign]
    try:
        view = _run_job(world)
    finally:
        tokens.check = original  # type: ignore[method-assign]
    assert expired and expired[0] >= 1, "no token was expired during the job"
    assert view["state"] == "succeeded", view["error"]
    assert view["result"]["totals"]["count"] == _ground_truth(world, FILTERS) == TRANSACTIONS


# A job reads the provider's CSV export, which the sandbox offers; a cut-short page keeps its
# headers there, so only its row count shows that rows are missing.
JOB_READS = "/v1/exports/transactions"


@pytest.mark.parametrize("kind", ["error_500", "hang", "malformed", "truncated"])
def test_a_statistics_job_retries_a_passing_fault_and_stays_exact(world: World, kind: str) -> None:
    world.fault(kind, JOB_READS, "GET", count=2)
    view = _run_job(world)
    assert world.handle.running.app.faults.scheduled == []
    assert view["state"] == "succeeded", view["error"]
    assert view["result"]["totals"]["count"] == TRANSACTIONS


@pytest.mark.parametrize("kind", ["error_500", "truncated"])
def test_a_statistics_job_fails_cleanly_when_the_provider_stays_silent(
    world: World, kind: str
) -> None:
    world.fault(kind, JOB_READS, "GET", count=10_000)
    view = _run_job(world)
    assert view["state"] == "failed"
    assert view["error_code"] == "provider_unavailable"
    # The sentence of the one error table, in the API user's language (German by default).
    assert view["error"].startswith("Der Zahlungsanbieter war nicht erreichbar")
    assert view["result"] is None and view["partial"] is None
    world.clear()
    assert _run_job(world)["state"] == "succeeded"  # and the next job works again


def test_the_dashboard_shows_a_failed_job_as_a_sentence(world: World) -> None:
    world.fault("error_500", JOB_READS, "GET", count=10_000)
    page = world.browser.get("/?period=custom&amount_min=1")  # filters no other job had
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    marker = "/dashboard/jobs/"
    start = text.index(marker)
    url = text[start : text.index('"', start)].replace("&amp;", "&")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = world.browser.get(url)
        assert status.status_code == 200, status.status_code
        job = status.get_json()["job"]
        if job["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.02)
    assert job["state"] == "failed", job
    assert job["failure"]["title"] == UNAVAILABLE, job  # the same words as the pages use
    assert "Traceback" not in str(job)
