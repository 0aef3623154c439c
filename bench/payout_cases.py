"""A payout's CSV streamed through the portal: its wall time against the download floor (the
same file fetched straight from the provider), and the portal's memory while it streams.

The sandbox pays out monthly here (`--payout-interval month`), so that at a million
transactions its largest payout has about 100,000 lines (12 MB of CSV). The portal
(`sarportal serve`, one worker) passes the file on chunk by chunk (`web.payouts.pages.export`),
so its memory must not grow with the file: the growth of its resident memory while it streams
the largest payout is compared with the growth for the smallest one, in the same run.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.harness import QUICK, Report, measure
from bench.processes import Portal, Sandbox

WALL_TARGET = 1.25  # × the direct download
MEMORY_TARGET = 1.5  # growth streaming the largest payout ÷ growth streaming the smallest


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError("VmRSS")


def _download(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[float, int]:
    """Stream `url`, dropping the chunks: wall seconds and bytes."""
    started = time.perf_counter()
    size = 0
    with client.stream("GET", url, headers=headers) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes(65_536):
            size += len(chunk)
    return time.perf_counter() - started, size


def _growth_while(pids: list[int], work: Callable[[], object]) -> float:
    """The largest rise of the summed resident memory of `pids` while `work` runs, MB."""
    baseline = sum(_rss_mb(pid) for pid in pids)
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(_rss_mb(pid) for pid in pids))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join()
    return peak - baseline


def run(report: Report) -> None:
    size = 200_000 if QUICK else 1_000_000
    runs = 3 if QUICK else 7
    with tempfile.TemporaryDirectory(prefix="bench-payouts-") as folder:
        root = Path(folder)
        (root / "sandbox").mkdir()
        sandbox = Sandbox(root / "sandbox", size, payout_interval="month")
        portal = None
        try:
            portal = Portal(root / "portal", sandbox, workers=1, operators=1)
            token = next(iter(portal.accounts.tokens.values()))
            direct = httpx.Client(base_url=sandbox.url, verify=str(sandbox.ca), timeout=120)
            via = httpx.Client(base_url=portal.url, timeout=120)
            answer = direct.post("/oauth/token", data={
                "grant_type": "client_credentials", "client_id": "demo-operator",
                "client_secret": "demo-operator-secret"})  # fmt: skip
            provider = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            mine = {"Authorization": f"Bearer {token}"}
            payouts = direct.get("/v1/payouts", params={"limit": 100}, headers=provider).json()
            by_lines = sorted(payouts["data"], key=lambda p: p["line_count"])
            largest, smallest = by_lines[-1], by_lines[0]
            path = "/v1/payouts/{id}/export?format=csv"
            ours = "/api/v1/payouts/{id}/export?format=csv"
            walls: dict[str, list[float]] = {"direct": [], "portal": []}
            for _ in range(runs + 1):  # the first of each is a warm-up
                walls["direct"].append(_download(direct, path.format(**largest), provider)[0])
                walls["portal"].append(_download(via, ours.format(**largest), mine)[0])
            _, file_bytes = _download(via, ours.format(**largest), mine)
            pids = portal.pids()
            growth = {
                name: [
                    _growth_while(pids, lambda p=p: _download(via, ours.format(**p), mine))
                    for _ in range(runs)
                ]
                for name, p in (("largest", largest), ("smallest", smallest))
            }
            direct.close()
            via.close()
        finally:
            if portal is not None:
                portal.stop()
            sandbox.stop()
    lines = largest["line_count"]
    floor = statistics.median(walls["direct"][1:])
    report.add(
        measure(
            walls["direct"][1:],
            case=f"payout CSV of {lines:,} lines, straight from the provider",
            unit="s",
            notes=f"{file_bytes / 1e6:.1f} MB; the download floor",
        )
    )
    report.add(
        measure(
            walls["portal"][1:],
            case=f"payout CSV of {lines:,} lines streamed through the portal",
            unit="s",
            reference=WALL_TARGET * floor,
            reference_label=f"{WALL_TARGET} × the provider's download",
            higher_is_better=False,
            notes=f"{statistics.median(walls['portal'][1:]) / floor:.2f}× the floor",
        )
    )
    small = max(statistics.median(growth["smallest"]), 1.0)  # a MB of noise at least
    report.add(
        measure(
            growth["largest"],
            case=f"portal memory growth streaming {lines:,} lines",
            unit="MB",
            reference=MEMORY_TARGET * small,
            reference_label=f"{MEMORY_TARGET} × streaming {smallest['line_count']:,} lines",
            higher_is_better=False,
            notes=f"file {file_bytes / 1e6:.1f} MB; {smallest['line_count']:,} lines: "
            f"{statistics.median(growth['smallest']):.1f} MB",
        )
    )
