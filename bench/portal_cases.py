"""The portal under one user, over HTTP against `sarportal serve`: its own added latency on the
transactions and detail pages (from the `Server-Timing` header: the portal's time minus the
provider calls it made), a dashboard reload within the result's lifetime, and the time from
entering the dashboard to the first partial figures."""

from __future__ import annotations

import html
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.harness import QUICK, Report, measure
from bench.processes import Portal, Sandbox, sign_in

OWN_TARGET_MS = 10.0
RELOAD_TARGET_MS = 50.0
FIRST_TARGET_S = 1.0
TABLE_QUERIES = ("", "?order=created_asc", "?status=captured", "?page=2", "?payment_method=invoice")


def server_timing(response: httpx.Response) -> dict[str, float]:
    """The `Server-Timing` header's durations in milliseconds, by name."""
    found = {}
    for part in response.headers.get("server-timing", "").split(","):
        match = re.match(r"\s*([\w-]+)\s*;.*?dur=([\d.]+)", part)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def _transaction_ids(client: httpx.Client) -> list[str]:
    ids: list[str] = []
    for query in TABLE_QUERIES[:3]:
        page = client.get(f"/transactions{query}")
        ids += re.findall(r'href="/transactions/(tx_[\w-]+)"', page.text)
    return list(dict.fromkeys(ids))


def _own_latency(
    report: Report, client: httpx.Client, name: str, paths: list[str], rounds: int, per_round: int
) -> None:
    """Request `paths` round-robin; report the portal's own time (median of every request, and
    the p95 of each round) and what the provider took."""
    for path in paths[:5]:
        client.get(path)  # warm-up: templates, connections, tokens
    own, provider, total, round_p95 = [], [], [], []
    for _ in range(rounds):
        samples = []
        for i in range(per_round):
            started = time.perf_counter()
            answer = client.get(paths[i % len(paths)])
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status_code == 200, (paths[i % len(paths)], answer.status_code)
            timing = server_timing(answer)
            samples.append(timing["app"])
            provider.append(timing["provider"])
            total.append(elapsed)
        own += samples
        round_p95.append(p95(samples))
    notes = (
        f"provider median {statistics.median(provider):.1f} ms; "
        f"client-side total median {statistics.median(total):.1f} ms"
    )
    report.add(measure(own, case=f"portal's own time, {name}, median", unit="ms", notes=notes))
    report.add(
        measure(
            round_p95,
            case=f"portal's own time, {name}, p95 of {per_round} requests",
            unit="ms",
            reference=OWN_TARGET_MS,
            reference_label="target",
            higher_is_better=False,
            notes=notes,
        )
    )


def _dashboard_query(days_back: int) -> str:
    """A custom period over every transaction of the sandbox (730 days), which starts
    `days_back` days earlier still, so that each query is a new job."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=735 + days_back)
    return f"?period=custom&from={start.isoformat()}&to={today.isoformat()}"


def _status_url(page: httpx.Response) -> str:
    match = re.search(r'data-status-url="([^"]+)"', page.text)
    assert match, "the dashboard names no job status URL"
    return html.unescape(match.group(1))


def _wait(client: httpx.Client, status_url: str, until: str, seconds: float) -> float:
    """Poll the job status until it has partial figures (`until="partial"`) or is done; return
    the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        body = client.get(status_url).json()
        if body["job"]["failure"]:
            raise RuntimeError(f"the statistics job failed: {body['job']['failure']}")
        if until == "partial" and body["view"]["currency"] is not None:
            return time.perf_counter() - started
        if until == "done" and body["job"]["complete"]:
            return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"the statistics job was not {until} within {seconds:.0f} s")


def _first_partial(client: httpx.Client, runs: int) -> list[float]:
    """Enter the dashboard `runs` times, each time with a new job over every transaction."""
    _wait(client, _status_url(client.get("/")), "done", 120)  # warm-up: a small job
    samples = []
    for run in range(1, runs + 1):
        started = time.perf_counter()
        page = client.get(f"/{_dashboard_query(run)}")
        _wait(client, _status_url(page), "partial", 30)
        samples.append(time.perf_counter() - started)
        _wait(client, _status_url(page), "done", 600)  # one job at a time
    return samples


def _reload(report: Report, client: httpx.Client, rounds: int, per_round: int) -> None:
    path = f"/{_dashboard_query(0)}"
    _wait(client, _status_url(client.get(path)), "done", 600)
    client.get(path)
    round_p95, every = [], []
    for _ in range(rounds):
        samples = []
        for _ in range(per_round):
            started = time.perf_counter()
            answer = client.get(path)
            samples.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
        every += samples
        round_p95.append(p95(samples))
    report.add(
        measure(
            round_p95,
            case=f"dashboard reload within the result's lifetime, p95 of {per_round}",
            unit="ms",
            reference=RELOAD_TARGET_MS,
            reference_label="target",
            higher_is_better=False,
            notes=f"client-side, loopback; median {statistics.median(every):.1f} ms",
        )
    )


def run(report: Report) -> None:
    rounds, per_round = (2, 30) if QUICK else (5, 60)
    sizes = [100_000] if QUICK else [100_000, 1_000_000]
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as folder:
        for size in sizes:
            root = Path(folder) / str(size)
            (root / "sandbox").mkdir(parents=True)
            sandbox = Sandbox(root / "sandbox", size)
            portal = None
            try:
                portal = Portal(root / "portal", sandbox, workers=1)
                with httpx.Client(base_url=portal.url, timeout=60) as client:
                    sign_in(client, "viewer@demo.example")
                    if size == sizes[0]:
                        ids = _transaction_ids(client)
                        tables = [f"/transactions{query}" for query in TABLE_QUERIES]
                        _own_latency(report, client, "/transactions", tables, rounds, per_round)
                        details = [f"/transactions/{i}" for i in ids]
                        _own_latency(
                            report, client, "/transactions/<id>", details, rounds, per_round
                        )
                        _reload(report, client, rounds, per_round)
                    report.add(
                        measure(
                            _first_partial(client, 2 if QUICK or size > 100_000 else 5),
                            case=f"dashboard: entering to first partial figures, {size:,}",
                            unit="s",
                            reference=FIRST_TARGET_S,
                            reference_label="target",
                            higher_is_better=False,
                            notes="HTTP: GET / then poll the job status every 20 ms",
                        )
                    )
            finally:
                if portal is not None:
                    portal.stop()
                sandbox.stop()
