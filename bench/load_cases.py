"""Many users: 50 simulated users on loopback against `sarportal serve` (gunicorn) with Redis and
Celery workers, for a fixed time, with 1 and with 2 gunicorn workers, and once more with the
provider limited to 20 requests a second; and the same users without their pauses, with 1 and 2
gunicorn workers, for the most one machine carries (in the full run only).

A small load generator of our own (threads and httpx, no locust): each user is a thread with its
own connection that signs in (users share ten portal accounts, eight viewers and two operators,
like tabs of one person), then until the deadline picks an action, performs it and thinks for a
random 0.5-2.5 s. The actions mix the dashboard (the page, then its job status every half second
while the job runs, as the page's script does), the counter, the transactions table, the detail
page and, for operators, the occasional refund of one cent through the API with a personal token.
An error is any answer other than 2xx/3xx, or no answer within 30 s.
"""

from __future__ import annotations

import html
import random
import re
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import QUICK, Report, measure
from bench.processes import Portal, RedisDatabase, Sandbox, redis_database, sign_in

USERS = 50
SIZE = 100_000
DURATION = 10.0 if QUICK else 60.0
RATE = 20.0
THINK = (0.5, 2.5)
CELERY_WORKERS = 2
PERIODS = ("30d", "7d", "this_month", "this_year")
TABLES = ("", "?page=2", "?status=captured", "?order=created_asc", "?payment_method=invoice")
# What a user does next: weights of the actions (operators also refund).
MIX = {"dashboard": 30, "counter": 15, "table": 25, "detail": 25, "refund": 5}


@dataclass
class Sample:
    kind: str
    started: float
    seconds: float
    status: int  # 0: no answer


@dataclass
class Run:
    """What the users saw in one run."""

    samples: list[Sample] = field(default_factory=list)
    jobs_done: list[float] = field(default_factory=list)  # seconds from the page to complete
    jobs_open: int = 0  # dashboards whose job was still running when the user moved on
    progress_seen: int = 0  # polls that showed more progress than the poll before
    failures: Counter[str] = field(default_factory=Counter)  # no answer (by exception), resent
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


class User:
    def __init__(
        self,
        number: int,
        portal: Portal,
        cookies: httpx.Cookies,
        token: str | None,
        world: Any,
        think: tuple[float, float] = THINK,
    ) -> None:
        self.random = random.Random(number)
        self.think = think
        self.client = httpx.Client(base_url=portal.url, cookies=cookies, timeout=30)
        self.token = token
        self.world = world

    def request(self, run: Run, kind: str, method: str, path: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            try:
                answer = self.client.request(method, path, **kwargs)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # gunicorn closed the idle keep-alive connection as the request went out:
                # like a browser, send it again on a new connection.
                with run.lock:
                    run.failures["resent after a closed keep-alive connection"] += 1
                answer = self.client.request(method, path, **kwargs)
            status = answer.status_code
        except httpx.HTTPError as error:
            answer, status = None, 0
            with run.lock:
                run.failures[type(error).__name__] += 1
        run.add(Sample(kind, started, time.perf_counter() - started, status))
        return answer

    def dashboard(self, run: Run, deadline: float, kind: str = "dashboard") -> None:
        query = f"?period={self.random.choice(PERIODS)}"
        started = time.perf_counter()
        path = "/" if kind == "dashboard" else "/counter"
        page = self.request(run, kind, "GET", path + query)
        if page is None or kind != "dashboard" or 'data-state="running"' not in page.text:
            return
        match = re.search(r'data-status-url="([^"]+)"', page.text)
        if match is None:
            return
        status_url, percent = html.unescape(match.group(1)), -1
        while time.perf_counter() + 0.5 < deadline:
            time.sleep(0.5)
            answer = self.request(run, "job status", "GET", status_url)
            if answer is None or answer.status_code != 200:
                return
            job = answer.json()["job"]
            if job["percent"] > percent >= 0:
                with run.lock:
                    run.progress_seen += 1
            percent = job["percent"]
            if not job["running"]:
                with run.lock:
                    run.jobs_done.append(time.perf_counter() - started)
                return
        with run.lock:
            run.jobs_open += 1

    def refund(self, run: Run) -> None:
        self.request(
            run, "refund", "POST",
            f"/api/v1/transactions/{self.random.choice(self.world['refundable'])}/refunds",
            json={"amount": 1, "reason": "bench: goodwill"},
            headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": str(uuid.uuid4())},
        )  # fmt: skip

    def loop(self, run: Run, start: float, deadline: float) -> None:
        time.sleep(self.random.uniform(0, self.think[1]))  # not all at once
        kinds = [k for k in MIX if k != "refund" or self.token]
        weights = [MIX[k] for k in kinds]
        while time.perf_counter() < deadline:
            kind = self.random.choices(kinds, weights)[0]
            if kind in ("dashboard", "counter"):
                self.dashboard(run, deadline, kind)
            elif kind == "table":
                self.request(run, kind, "GET", f"/transactions{self.random.choice(TABLES)}")
            elif kind == "detail":
                tx = self.random.choice(self.world["ids"])
                self.request(run, kind, "GET", f"/transactions/{tx}")
            else:
                self.refund(run)
            time.sleep(self.random.uniform(*self.think))
        self.client.close()


def _world(portal: Portal, cookies: httpx.Cookies) -> dict[str, list[str]]:
    """Transaction ids to open, and captured ones to refund a cent of."""
    with httpx.Client(base_url=portal.url, cookies=cookies, timeout=60) as client:

        def ids(query: str) -> list[str]:
            page = client.get(f"/transactions{query}").text
            return list(dict.fromkeys(re.findall(r'href="/transactions/(tx_[\w-]+)"', page)))

        opened = ids("") + ids("?page=2") + ids("?order=created_asc")
        refundable = ids("?status=captured") + ids("?status=captured&page=2")
    return {"ids": opened, "refundable": refundable}


def _sessions(portal: Portal) -> list[tuple[httpx.Cookies, str | None]]:
    """One signed-in session per account (kept in the instance's database across restarts)."""
    emails = portal.accounts.people["viewer"] + portal.accounts.people["operator"]
    sessions = []
    for email in emails:
        client = httpx.Client(base_url=portal.url, timeout=60)
        sign_in(client, email)
        sessions.append((client.cookies, portal.accounts.tokens.get(email)))
        client.close()
    return sessions


def _drive(
    portal: Portal,
    sessions: list[tuple[httpx.Cookies, str | None]],
    world: Any,
    think: tuple[float, float],
) -> Run:
    run = Run()
    users = [
        User(n, portal, *sessions[n % len(sessions)], world, think=think) for n in range(USERS)
    ]
    start = time.perf_counter()
    deadline = start + DURATION
    threads = [
        threading.Thread(target=u.loop, args=(run, start, deadline), daemon=True) for u in users
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DURATION + 60)
    return run


def _report(report: Report, label: str, run: Run, reference: dict[str, float] | None) -> None:
    samples = run.samples
    errors = [s for s in samples if not 200 <= s.status < 400]
    rates = _rates(run)
    kinds = Counter(s.kind for s in samples)
    by_kind = {kind: _cuts([s for s in samples if s.kind == kind])["p95"] for kind in kinds}
    notes = (
        f"{len(samples)} requests in {DURATION:g} s ({dict(kinds)}); p95 ms by kind "
        f"{ {k: round(v, 1) for k, v in by_kind.items()} }; dashboard jobs completed "
        f"{len(run.jobs_done)}, still running at the end {run.jobs_open}; progress updates "
        f"seen {run.progress_seen}"
    )
    if errors:
        notes += f"; errors by status {dict(Counter(s.status for s in errors))} (0: no answer)"
    if run.failures:
        notes += f"; connection events {dict(run.failures)}"
    against = {"reference_label": "1 gunicorn worker"}
    report.add(
        measure(
            rates,
            case=f"{label}: requests a second",
            unit="req/s",
            reference=None if reference is None else reference["rate"],
            notes=notes + "; spread over 5 s windows",
            **against,
        )
    )
    cuts = _cuts(samples)
    for name, value in cuts.items():
        report.add(
            measure(
                [value],
                case=f"{label}: latency {name}",
                unit="ms",
                reference=None if reference is None else reference[name],
                higher_is_better=False,
                **against,
            )
        )
    report.add(
        measure(
            [float(len(errors))],
            case=f"{label}: errors",
            unit="",
            reference=0.0,
            reference_label="target",
            higher_is_better=False,
            notes=notes,
        )
    )
    if run.jobs_done:
        report.add(
            measure(
                run.jobs_done,
                case=f"{label}: dashboard, page to complete statistics",
                unit="s",
                notes=notes,
            )
        )


def _cuts(samples: list[Sample]) -> dict[str, float]:
    """p50, p95 and p99 of the samples' latency in milliseconds."""
    if len(samples) < 2:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    cuts = statistics.quantiles([s.seconds * 1000 for s in samples], n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def _rates(run: Run) -> list[float]:
    """Requests a second in each whole 5 s window of the run."""
    if not run.samples:
        return [0.0]
    start = min(s.started for s in run.samples)
    windows = Counter(int((s.started - start) // 5) for s in run.samples)
    whole = int(DURATION // 5)
    return [windows[w] / 5 for w in range(whole)] or [len(run.samples) / DURATION]


def _reference(run: Run) -> dict[str, float]:
    return {"rate": statistics.median(_rates(run)), **_cuts(run.samples)}


class LoadBench:
    """The runs share one portal instance folder (users, signed-in sessions) and Redis."""

    def __init__(self, root: Path, redis: RedisDatabase) -> None:
        self.root = root
        self.redis = redis
        self.sessions: list[tuple[httpx.Cookies, str | None]] = []

    def run(
        self,
        sandbox: Sandbox,
        workers: int,
        env: dict[str, str] | None = None,
        think: tuple[float, float] = THINK,
    ) -> Run:
        self.redis.flush()
        portal = Portal(
            self.root, sandbox, workers=workers, redis_url=self.redis.url,
            celery_workers=CELERY_WORKERS, viewers=8, operators=2, env=env,
        )  # fmt: skip
        try:
            if not self.sessions:
                self.sessions = _sessions(portal)
            return _drive(portal, self.sessions, _world(portal, self.sessions[0][0]), think)
        finally:
            portal.stop()


def run(report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder, redis_database() as redis:
        root = Path(folder)
        bench = LoadBench(root / "portal", redis)
        (root / "sandbox").mkdir()
        sandbox = Sandbox(root / "sandbox", SIZE)
        try:
            single = bench.run(sandbox, 1)
            _report(report, f"{USERS} users, 1 gunicorn worker", single, None)
            double = bench.run(sandbox, 2)
            _report(report, f"{USERS} users, 2 gunicorn workers", double, _reference(single))
            if not QUICK:  # the same users without pauses: what one machine carries at most
                busy = bench.run(sandbox, 1, think=(0.0, 0.0))
                _report(report, f"{USERS} users without pauses, 1 gunicorn worker", busy, None)
                busier = bench.run(sandbox, 2, think=(0.0, 0.0))
                label = f"{USERS} users without pauses, 2 gunicorn workers"
                _report(report, label, busier, _reference(busy))
        finally:
            sandbox.stop()
        (root / "limited").mkdir()
        sandbox = Sandbox(root / "limited", SIZE, rate_limit=RATE)
        try:
            # The operator gives the statistics a share of the provider's rate (per worker
            # process), so that the pages keep the rest.
            limited = bench.run(sandbox, 1, {"SARPORTAL_JOBS_RATE_LIMIT": "4"})
            label = f"{USERS} users, provider at {RATE:g} requests/s, 1 gunicorn worker"
            _report(report, label, limited, None)
        finally:
            sandbox.stop()
