"""The sandbox's figures: list throughput over TLS on one core, start time and memory."""

from __future__ import annotations

import ssl
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.harness import QUICK, Report, measure
from bench.processes import Sandbox, cpu_seconds, peak_rss_mb

TARGET_ROWS_PER_SECOND = 200_000
START_TARGET_SECONDS = 10.0
RSS_TARGET_MB = 1024.0


def _token(url: str, context: ssl.SSLContext) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": "demo-viewer",
        "client_secret": "demo-viewer-secret",
    }
    answer = httpx.post(f"{url}/oauth/token", data=form, verify=context)
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def _walk(url: str, context: ssl.SSLContext, token: str, pages: int, order: str) -> int:
    """Read `pages` pages of 1000 with one keep-alive connection; return the rows read."""
    rows = 0
    cursor = None
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, verify=context, headers=headers) as client:
        for _ in range(pages):
            params: dict[str, str | int] = {"limit": 1000, "order": order}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/v1/transactions", params=params).json()
            rows += len(body["data"])
            cursor = body["next_cursor"]
            if not cursor:
                break
    return rows


def run(report: Report) -> None:
    size = 100_000 if QUICK else 1_000_000
    runs = 3 if QUICK else 5
    pages = 30 if QUICK else 100
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as folder:
        starts, sandbox = [], None
        for _ in range(2 if QUICK else 3):
            if sandbox is not None:
                sandbox.stop()
            sandbox = Sandbox(Path(folder), size)
            starts.append(sandbox.start_seconds)
        assert sandbox is not None
        try:
            report.add(
                measure(
                    starts,
                    case=f"sandbox start, {size:,} transactions",
                    unit="s",
                    reference=START_TARGET_SECONDS,
                    reference_label="target",
                    higher_is_better=False,
                )
            )
            context = ssl.create_default_context(cafile=str(sandbox.ca))
            token = _token(sandbox.url, context)
            _walk(sandbox.url, context, token, 5, "created_desc")  # warm-up
            per_cpu, per_wall = [], []
            for i in range(runs):
                cpu0, wall0 = cpu_seconds(sandbox.pid), time.perf_counter()
                order = "created_desc" if i % 2 == 0 else "created_asc"
                with ThreadPoolExecutor(2) as pool:
                    walks = [
                        pool.submit(_walk, sandbox.url, context, token, pages // 2, order)
                        for _ in range(2)
                    ]
                    counts = [w.result() for w in walks]
                cpu = cpu_seconds(sandbox.pid) - cpu0
                wall = time.perf_counter() - wall0
                per_cpu.append(sum(counts) / cpu)
                per_wall.append(sum(counts) / wall)
            report.add(
                measure(
                    per_cpu,
                    case="sandbox list throughput, limit=1000, TLS (per sandbox CPU-second)",
                    unit="rows/s",
                    reference=TARGET_ROWS_PER_SECOND,
                    reference_label="target",
                )
            )
            report.add(
                measure(
                    per_wall,
                    case="sandbox list throughput, wall clock, 2 client connections",
                    unit="rows/s",
                    notes="client and sandbox share the machine's 2 cores",
                )
            )
            rss = peak_rss_mb(sandbox.pid)
            report.add(
                measure(
                    [rss],
                    case=f"sandbox peak memory, {size:,} transactions",
                    unit="MB",
                    reference=RSS_TARGET_MB,
                    reference_label="target",
                    higher_is_better=False,
                )
            )
        finally:
            sandbox.stop()
