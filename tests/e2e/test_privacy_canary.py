"""No customer data kept, anywhere: a scripted session over every page and endpoint against a
sandbox that marks every personal field with a PIICANARY marker, then a scan of everything the
portal could have kept. It passes only with zero hits.

Two set-ups: threads and SQLite (the embedded default), and Celery workers on Redis with
PostgreSQL (production's shape).
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import PASSWORD, Portal, running_portal
from tests.e2e.privacy import (
    Recorder,
    files,
    postgres_rows,
    redis_values,
    scan,
)
from tests.fixtures.services import REDIS_SERVER, port_open, require_redis, require_service
from tests.fixtures.statements import Booking, camt053, mt940, payout_bookings

pytestmark = pytest.mark.e2e

REDIS_URL = f"{REDIS_SERVER}/13"
CUSTOMER_FIELDS = (
    "name", "company", "email", "phone", "date_of_birth", "billing_address",
    "shipping_address", "iban_masked",
)  # fmt: skip


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


class Walker:
    """A signed-in browser session and an API client, recording every answer."""

    def __init__(self, portal: Portal, recorder: Recorder) -> None:
        self.portal = portal
        self.recorder = recorder
        hooks = {"response": [recorder.record]}
        self.web = httpx.Client(base_url=portal.url, event_hooks=hooks, timeout=60)
        self.api = httpx.Client(base_url=portal.url, event_hooks=hooks, timeout=60)

    def sign_in(self, role: str) -> None:
        login = self.web.get("/login")
        answer = self.web.post(
            "/login",
            data={
                "email": f"{role}@demo.example",
                "password": PASSWORD,
                "csrf_token": _csrf(login.text),
            },
        )
        assert answer.status_code in (200, 302, 303), answer.status_code
        command = [sys.executable, "-m", "sarportal", "tokens", "create"]
        created = subprocess.run(
            [*command, "--email", f"{role}@demo.example"],
            env=self.portal.env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip().splitlines()[-1]
        self.api.headers["Authorization"] = f"Bearer {token}"

    def page(self, path: str, **params: Any) -> httpx.Response:
        return self.web.get(path, params=params, follow_redirects=True)

    def post_page(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        token = _csrf(self.page("/account").text)
        return self.web.post(
            path, data={**(data or {}), "csrf_token": token}, headers={"X-CSRFToken": token}
        )

    def stats_job(self, filters: dict[str, Any]) -> dict[str, Any]:
        created = self.api.post("/api/v1/stats/jobs", json={"filters": filters})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.api.get(f"/api/v1/stats/jobs/{job_id}").json()
            if job["state"] in ("succeeded", "failed"):
                return job
            time.sleep(0.2)
        raise AssertionError("the statistics job did not finish")


def _walk(portal: Portal, recorder: Recorder) -> None:
    walker = Walker(portal, recorder)
    walker.sign_in("operator")
    job = walker.stats_job({})
    assert job["state"] == "succeeded", job
    for path in ("/", "/counter", "/transactions", "/account", "/api/docs"):
        assert walker.page(path).status_code == 200, path
    walker.page("/transactions", status="captured", sort="created_asc")
    walker.page("/transactions/export.csv")
    walker.page("/counter/export.csv")
    listing = walker.api.get("/api/v1/transactions", params={"limit": 200}).json()["data"]
    by_status: dict[str, dict[str, Any]] = {}
    for row in listing:
        by_status.setdefault(row["status"], row)
    debit = next(r for r in listing if r["payment_method"] == "direct_debit")
    for row in (*by_status.values(), debit):
        tx = row["id"]
        assert walker.page(f"/transactions/{tx}").status_code == 200
        walker.page(f"/transactions/{tx}/related")
        for field in CUSTOMER_FIELDS:
            revealed = walker.post_page(f"/transactions/{tx}/customer/{field}")
            assert revealed.status_code in (200, 404), (field, revealed.status_code)
        walker.api.get(f"/api/v1/transactions/{tx}")
    captured = by_status.get("captured") or by_status["partially_refunded"]
    authorized = by_status["authorized"]
    writes = [
        (f"/api/v1/transactions/{captured['id']}/refunds", {"amount": 100, "reason": "goodwill"}),
        (f"/api/v1/transactions/{authorized['id']}/captures", {"amount": 100}),
        (f"/api/v1/transactions/{authorized['id']}/cancellations", {}),
    ]
    for path, body in writes:
        answer = walker.api.post(path, json=body, headers={"Idempotency-Key": secrets.token_hex(8)})
        assert answer.status_code == 201, answer.text
    # Failing requests: the provider breaks, ids are wrong, input is bad.
    portal.control(
        "/_sandbox/faults", {"kind": "error_500", "path_prefix": "/v1/transactions/", "count": 20}
    )
    walker.page(f"/transactions/{captured['id']}")
    walker.api.get(f"/api/v1/transactions/{captured['id']}")
    portal.control("/_sandbox/faults", {"clear": True})
    portal.control(
        "/_sandbox/faults", {"kind": "malformed", "path_prefix": "/v1/transactions/", "count": 5}
    )
    walker.page(f"/transactions/{captured['id']}")
    portal.control("/_sandbox/faults", {"clear": True})
    _walk_views(walker)
    _walk_approvals(walker, listing)
    _walk_bulk(walker, listing)
    _walk_payouts(walker)
    walker.page("/transactions/tx_0000000000000000")
    walker.page("/transactions", amount_min="zwölf")
    walker.api.post(f"/api/v1/transactions/{captured['id']}/refunds", json={"amount": -1})
    # The walk must really have seen personal data, or the scan proves nothing.
    assert recorder.personal_answers() >= 3 * len(CUSTOMER_FIELDS), recorder.personal_answers()


PLANTED = "PIICANARY5a17ed5a17ed"
"""A marker the walk offers as customer filters; no view may keep it."""


def _walk_views(walker: Walker) -> None:
    """Saved views: save the table's filters with customer fields added (dropped), open, count,
    share, list and delete views in the browser and over the API."""
    planted = f"status=captured&customer_name={PLANTED}&email={PLANTED}%40example.de&shop=web"
    saved = walker.post_page(
        "/views", {"page": "transactions", "query": planted, "name": "Captured web"}
    )
    assert saved.status_code == 303, saved.status_code
    refused = walker.post_page(
        "/views", {"page": "counter", "query": f"order_reference={PLANTED}@x.de", "name": "No"}
    )
    assert refused.status_code == 400, refused.status_code
    made = walker.api.post(
        "/api/v1/views",
        json={"name": "Dashboard", "page": "dashboard", "query": planted, "shared": True},
    )
    assert made.status_code == 201, made.text
    for view in walker.api.get("/api/v1/views").json()["data"]:
        assert PLANTED not in view["query"], view
        assert walker.page(f"/views/{view['id']}").status_code == 200
        walker.page(f"/views/{view['id']}/count")
        walker.api.get(f"/api/v1/views/{view['id']}")
    for path in ("/views", "/", "/counter", "/transactions"):
        assert walker.page(path).status_code == 200, path
    walker.api.patch(f"/api/v1/views/{made.json()['id']}", json={"name": "Dashboard 2"})
    walker.api.delete(f"/api/v1/views/{made.json()['id']}")


def _walk_approvals(walker: Walker, listing: list[dict[str, Any]]) -> None:
    """Four-eyes approval: a refund above the threshold waits; the admin approves another and
    rejects one; the pages and the API show them."""
    portal = walker.portal
    portal.approval_thresholds({"EUR": 100, "CHF": 100}, captures=True)
    admin = Walker(portal, walker.recorder)
    admin.sign_in("admin")  # a token (the API needs no second factor)
    captured = [r for r in listing if r["status"] == "captured" and r["captured_amount"] > 500]
    keys = []
    for row in captured[:2]:
        asked = walker.api.post(
            f"/api/v1/transactions/{row['id']}/refunds",
            json={"amount": 300, "reason": "Goodwill"},
            headers={"Idempotency-Key": secrets.token_hex(8)},
        )
        assert asked.status_code == 202, asked.text
        keys.append(asked.json()["id"])
        assert walker.page(f"/transactions/{row['id']}").status_code == 200
    assert walker.page("/approvals").status_code == 200
    approved = admin.api.post(f"/api/v1/approvals/{keys[0]}/approve")
    assert approved.json()["outcome"] == "succeeded", approved.text
    assert admin.api.post(f"/api/v1/approvals/{keys[1]}/reject").status_code == 200
    walker.api.get("/api/v1/approvals")
    walker.api.get(f"/api/v1/approvals/{keys[0]}")
    assert walker.page("/approvals").status_code == 200


def _walk_bulk(walker: Walker, listing: list[dict[str, Any]]) -> None:
    """Bulk actions: ticked rows captured (those above the threshold become approvals), the
    outcome as CSV, a file of ids and order references checked, the pages."""
    authorized = [row["id"] for row in listing if row["status"] == "authorized"][:4]
    token = _csrf(walker.page("/account").text)
    planned = walker.web.post(
        "/bulk", data={"csrf_token": token, "kind": "capture", "tx": authorized}
    )
    assert planned.status_code == 303, planned.text[:500]
    job = planned.headers["location"]
    assert walker.page(job).status_code == 200
    assert walker.web.post(f"{job}/start", data={"csrf_token": token}).status_code == 303
    deadline = time.monotonic() + 60
    while "hx-get" in walker.page(f"{job}/progress").text:  # it polls while the job runs
        assert time.monotonic() < deadline, "the bulk job did not finish"
        time.sleep(0.2)
    walker.page(job)
    walker.page(f"{job}/result.csv")
    walker.page("/bulk")
    lines = "\n".join([authorized[0], listing[0]["order_reference"], f"{PLANTED}@x.de"])
    walker.web.post(
        "/bulk/upload",
        data={"csrf_token": token, "kind": "refund"},
        files={"file": ("ids.csv", lines.encode(), "text/csv")},
    )


def _walk_payouts(walker: Walker) -> None:
    """Payouts: the list, a payout with its lines and files, the API; then a bank statement
    naming a person (and big enough that Werkzeug would spool it to a temporary file) dropped
    in for reconciliation: the report must not show it, and the scan must not find it."""
    assert walker.page("/payouts").status_code == 200
    payouts = walker.api.get("/api/v1/payouts", params={"status": "paid", "limit": 8}).json()
    paid = payouts["data"]
    assert walker.page(f"/payouts/{paid[0]['id']}").status_code == 200
    for fmt in ("csv", "datev", "camt053"):
        assert walker.page(f"/payouts/{paid[0]['id']}/export/{fmt}").status_code == 200
    walker.api.get(f"/api/v1/payouts/{paid[0]['id']}/lines", params={"limit": 1000})
    days = sorted(date.fromisoformat(p["arrival_date"]) for p in paid)
    bookings = [*payout_bookings(paid), Booking(days[0], 4_990, "EUR", f"Rechnung {PLANTED} Erika")]
    statement = camt053(bookings, days[0], days[-1], padding=1_000_000)
    token = _csrf(walker.page("/payouts/reconcile").text)
    in_euro = [b for b in bookings if b.currency == "EUR"]
    for name, data in (("statement.xml", statement), ("statement.sta", mt940(in_euro))):
        answer = walker.web.post(
            "/payouts/reconcile",
            data={"csrf_token": token},
            files={"statement": (name, data, "application/octet-stream")},
        )
        assert answer.status_code == 200, answer.text[:300]
        assert PLANTED not in answer.text and 'data-outcome="matched"' in answer.text
    listing = walker.api.get("/api/v1/transactions", params={"limit": 3}).json()["data"]
    items = "Kunde;Bestellnummer;Betrag\n" + "".join(
        f"{PLANTED} Erika;{row['order_reference']};1,00\n" for row in listing
    )
    answer = walker.web.post(
        "/payouts/reconcile",
        data={"csrf_token": token},
        files={"statement": ("open-items.csv", items.encode(), "text/csv")},
    )
    assert answer.status_code == 200 and "data-verdict" in answer.text, answer.text[:300]
    assert PLANTED not in answer.text


def _kept(portal: Portal, root: Path, database_url: str | None, redis: bool) -> list[Any]:
    sources = [
        *files(portal.instance_dir, "instance"),
        *files(root / "logs", "logs"),
        *files(root / "tmp", "tmp"),
        ("portal output", portal.log.read_bytes()),
    ]
    worker_log = root / "worker.log"
    if worker_log.exists():
        sources.append(("worker output", worker_log.read_bytes()))
    if database_url:
        sources.extend(postgres_rows(database_url.replace("+psycopg", "")))
    if redis:
        sources.extend(redis_values(REDIS_URL))
    return scan(sources)


@pytest.fixture
def postgres_database() -> Iterator[str]:
    require_service(
        "PostgreSQL", port_open("127.0.0.1", 5432), "start PostgreSQL on 127.0.0.1:5432"
    )
    import psycopg

    name = f"sarportal_canary_{secrets.token_hex(4)}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_threads_and_sqlite_keep_no_customer_data(tmp_path: Path) -> None:
    recorder = Recorder()
    with running_portal(tmp_path, sandbox_flags=("--pii-canary",)) as portal:
        _walk(portal, recorder)
    assert recorder.personal_answers_without_no_store() == []
    hits = _kept(portal, tmp_path, None, redis=False)
    assert hits == [], "\n".join(map(str, hits[:20]))


def test_celery_redis_and_postgresql_keep_no_customer_data(
    tmp_path: Path, postgres_database: str
) -> None:
    require_redis()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    recorder = Recorder()
    env = {"SARPORTAL_DATABASE_URL": postgres_database, "SARPORTAL_REDIS_URL": REDIS_URL}
    with running_portal(
        tmp_path, sandbox_flags=("--pii-canary",), env_extra=env, worker=True
    ) as portal:
        _walk(portal, recorder)
        hits_while_running = _kept(portal, tmp_path, postgres_database, redis=True)
    assert recorder.personal_answers_without_no_store() == []
    hits = hits_while_running + _kept(portal, tmp_path, postgres_database, redis=True)
    assert hits == [], "\n".join(map(str, hits[:20]))


def test_a_planted_leak_is_found(tmp_path: Path) -> None:
    """The scan is not blind: one canary logged by mistake makes it fail."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "portal.log").write_text(
        "INFO revealed name=PIICANARY0123456789ab Erika Mustermann\n"
    )
    hits = scan(files(tmp_path / "logs", "logs"))
    assert [str(h) for h in hits] == ["logs/portal.log: PIICANARY0123456789ab"]
