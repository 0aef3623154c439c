"""The statistics job's figures: wall and CPU time against the floor and the plain way, memory,
the first partial figures, and the rate-limited floor."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import QUICK, Report, measure
from bench.processes import Sandbox
from sarportal.provider import Credentials, Provider, ProviderConfig

RATE = 20.0
LATENCY_MS = 25.0
CPU_TARGET = 2.0  # CPU-s per 1,000,000 transactions, the whole job (issue 14)
EXPORT_CPU_TARGET = 1.0  # the same over the provider's CSV export (issue 14)


def _job(mode: str, sandbox: Sandbox, **flags: Any) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.stats_job", mode, sandbox.url, str(sandbox.ca)]
    for name, value in flags.items():
        args += [f"--{name}", str(value)]
    answer = subprocess.run(args, capture_output=True, text=True, check=True, timeout=900)
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


def _sizes() -> list[int]:
    return [100_000] if QUICK else [100_000, 1_000_000]


def run(report: Report) -> None:
    peaks: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as folder:
        for size in _sizes():
            sandbox = Sandbox(Path(folder) / str(size), size)
            try:
                _job("engine", sandbox)  # warm-up: the sandbox renders, caches fill
                if size == min(_sizes()):
                    _fetch_cpu(report, sandbox)
                samples: dict[str, list[dict[str, Any]]] = {
                    "floor": [], "engine": [], "processes": [], "plain": [], "export-floor": [],
                    "export": [],
                }  # fmt: skip
                runs = 1 if QUICK else (3 if size <= 100_000 else 2)  # to fit the time budget
                for _ in range(runs):
                    for mode in ("floor", "engine", "processes", "export-floor", "export"):
                        samples[mode].append(_job(mode, sandbox))
                samples["plain"].append(_job("plain", sandbox))
                _report_size(report, size, samples)
                peaks[size] = min(s["peak_mb"] for s in samples["engine"])
            finally:
                sandbox.stop()
        if len(peaks) == 2:
            small, large = sorted(peaks)
            report.add(
                measure(
                    [peaks[large] - peaks[small]],
                    case=f"stats job peak memory growth {small:,} → {large:,}",
                    unit="MB",
                    reference=50.0,
                    reference_label="target",
                    higher_is_better=False,
                )
            )
        _with_latency(report, Path(folder))
        _rate_limited(report, Path(folder))


def _report_size(report: Report, size: int, samples: dict[str, list[dict[str, Any]]]) -> None:
    floor_wall = statistics.median(s["wall"] for s in samples["floor"])
    plain_cpu = samples["plain"][0]["cpu"]
    engine, forked, export = samples["engine"], samples["processes"], samples["export"]
    for sample in [*engine, *forked, *export, *samples["floor"], *samples["export-floor"]]:
        if sample["rows"] != size:
            raise RuntimeError(f"a job read {sample['rows']:,} of {size:,} transactions")
    if any(s["check"] != samples["plain"][0]["check"] for s in [*engine, *forked, *export]):
        raise RuntimeError("the engine and the plain way disagree on the figures")
    _report_export(report, size, samples)
    forked_name = ", shards in 4 processes (bench only)"
    _wall(report, engine, f"stats job wall time, {size:,} transactions", floor_wall)
    _wall(report, forked, f"stats job wall time, {size:,}{forked_name}", floor_wall)
    for name, runs in (("", engine), (forked_name, forked)):
        _cpu(report, runs, size, f"stats job CPU per 1,000,000 transactions, at {size:,}{name}",
             CPU_TARGET, "the client's whole job: TLS, HTTP, decoding, folding")  # fmt: skip
    _cpu(report, samples["floor"], size, f"stats job download floor CPU per 1,000,000, at {size:,}",
         None, "the same pages, fetched and dropped: TLS and HTTP only")  # fmt: skip
    report.add(
        measure(
            [plain_cpu / s["cpu"] for s in engine],
            case=f"stats job CPU, plain way ÷ engine, {size:,}",
            unit="×",
            reference=5.0,
            reference_label="target",
            notes=f"the plain way (same tables, pandas per page) took {plain_cpu:.2f} CPU-s",
        )
    )
    _memory_and_first(report, engine, f"{size:,}")


def _report_export(report: Report, size: int, samples: dict[str, list[dict[str, Any]]]) -> None:
    """The same job over the provider's CSV export, against the export's own download floor."""
    floor, export = samples["export-floor"], samples["export"]
    floor_wall = statistics.median(s["wall"] for s in floor)
    _wall(report, export, f"stats job wall time, {size:,}, CSV export", floor_wall,
          "export download floor")  # fmt: skip
    _cpu(report, export, size, f"stats job CPU per 1,000,000 transactions, at {size:,}, CSV export",
         EXPORT_CPU_TARGET, "pages of 10,000 parsed by Arrow's CSV reader")  # fmt: skip
    _cpu(report, floor, size, f"stats job export download floor CPU per 1,000,000, at {size:,}",
         None, "the export's pages, fetched and dropped")  # fmt: skip
    _memory_and_first(report, export, f"{size:,}, CSV export", "Arrow loaded: about 50 MB of it")


def _wall(
    report: Report,
    runs: list[dict[str, Any]],
    case: str,
    floor: float,
    what: str = "download floor",
) -> None:
    report.add(
        measure(
            [s["wall"] for s in runs],
            case=case,
            unit="s",
            reference=1.25 * floor,
            reference_label=f"1.25 × {what} {floor:.2f} s",
            higher_is_better=False,
        )
    )


def _cpu(
    report: Report,
    runs: list[dict[str, Any]],
    size: int,
    case: str,
    target: float | None,
    notes: str,
) -> None:
    """CPU per 1,000,000 transactions of jobs over `size` transactions."""
    report.add(
        measure(
            [s["cpu"] * 1_000_000 / size for s in runs],
            case=case,
            unit="CPU-s",
            reference=target,
            reference_label="target" if target is not None else "",
            higher_is_better=False,
            notes=notes,
        )
    )


def _memory_and_first(
    report: Report, runs: list[dict[str, Any]], what: str, notes: str = ""
) -> None:
    report.add(measure([s["peak_mb"] for s in runs], case=f"stats job peak RSS, {what}",
                       unit="MB", notes=notes))  # fmt: skip
    report.add(
        measure(
            [s["first"] for s in runs if s["first"] is not None],
            case=f"stats job first partial figures, {what}",
            unit="s",
            reference=1.0,
            reference_label="target",
            higher_is_better=False,
            notes="engine only; through the dashboard in a later issue",
        )
    )


def _fetch_cpu(report: Report, sandbox: Sandbox) -> None:
    """The client's CPU time to fetch one list page of 1000: the floor (a bare TLS socket, the
    request written and the answer read into one reused buffer by hand), the bulk reader the
    statistics jobs use, and httpx's own transport (the interactive client)."""
    provider = Provider(ProviderConfig(sandbox.url, ca_bundle=sandbox.ca))
    credentials = Credentials("demo-viewer", "demo-viewer-secret")
    session = provider.session(credentials)
    params = {"limit": 1000}
    path = "/v1/transactions?limit=1000"

    def interactive() -> bytes:
        return provider.request(credentials, "GET", "/v1/transactions", params=params).content

    session.list_page_raw(params)  # the token
    token = provider._tokens.get(credentials, provider._fetch_token)
    bare = _BareTLS(provider.config, path, token)
    ways: dict[str, Callable[[], object]] = {
        "bare TLS socket (floor)": bare.fetch,
        "bulk reader (http.client)": lambda: session.list_page_raw(params),
        "httpx's own transport": interactive,
    }
    if len(bare.fetch()) != len(session.list_page_raw(params)):
        raise RuntimeError("the bare socket read another page than the provider client")
    samples: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for _ in range(3 if QUICK else 9):
            for name, fetch in ways.items():
                fetch()
                started = time.process_time()
                for _ in range(20):
                    fetch()
                samples[name].append((time.process_time() - started) / 20 * 1000)
    finally:
        bare.close()
        provider.close()
    report.side_by_side(
        samples,
        case="fetch a list page of 1000, client CPU, {name}",
        unit="ms",
        reference="bare TLS socket (floor)",
    )


class _BareTLS:
    """The least a client can do per page: one verified TLS connection, the request written by
    hand, the answer read into one preallocated buffer, only Content-Length understood."""

    def __init__(self, config: ProviderConfig, path: str, token: str) -> None:
        origin = urlsplit(config.base_url)
        host, port = origin.hostname or "", origin.port or 443
        raw = socket.create_connection((host, port))
        self._sock = config.ssl_context().wrap_socket(raw, server_hostname=host)
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: application/json\r\nUser-Agent: sarportal\r\n\r\n"
        ).encode()
        self._buffer = bytearray(4 << 20)
        self._view = memoryview(self._buffer)

    def fetch(self) -> memoryview:
        self._sock.sendall(self._request)
        got, end = 0, -1
        while end < 0:
            got += self._sock.recv_into(self._view[got:])
            end = self._buffer.find(b"\r\n\r\n", 0, got)
        head = bytes(self._buffer[:end]).lower()
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        total = end + 4 + length
        while got < total:
            got += self._sock.recv_into(self._view[got:total])
        return self._view[end + 4 : total]

    def close(self) -> None:
        self._sock.close()


def _with_latency(report: Report, folder: Path) -> None:
    """The wall time again with the provider answering after LATENCY_MS, as across a network:
    on loopback the sandbox and the job share the machine's cores, so the floor above leaves
    the job none of the waiting a real provider's answers take."""
    size = 100_000
    sandbox = Sandbox(folder / "latency", size, latency_ms=LATENCY_MS)
    try:
        _job("engine", sandbox)
        samples: dict[str, list[dict[str, Any]]] = {
            "floor": [], "engine": [], "processes": [], "export-floor": [], "export": [],
        }  # fmt: skip
        for _ in range(1 if QUICK else 3):
            for mode in samples:
                samples[mode].append(_job(mode, sandbox))
        floors = {
            "floor": statistics.median(s["wall"] for s in samples["floor"]),
            "export-floor": statistics.median(s["wall"] for s in samples["export-floor"]),
        }
        for mode, name, floor in (
            ("engine", "", "floor"),
            ("processes", ", shards in 4 processes (bench only)", "floor"),
            ("export", ", CSV export", "export-floor"),
        ):
            what = "export download floor" if floor == "export-floor" else "download floor"
            case = f"stats job wall time, {size:,}, provider latency {LATENCY_MS:g} ms{name}"
            _wall(report, samples[mode], case, floors[floor], what)
    finally:
        sandbox.stop()


def _rate_limited(report: Report, folder: Path) -> None:
    size = 20_000 if QUICK else 50_000
    sandbox = Sandbox(folder / "limited", size, rate_limit=RATE)
    try:
        pages = size / 1000 + 8  # the pages, plus one short last page per shard
        results = [_job("engine", sandbox, rate=RATE) for _ in range(2)]
        report.add(
            measure(
                [r["wall"] for r in results],
                case=f"stats job at {RATE:g} requests/s, {size:,} transactions",
                unit="s",
                reference=1.05 * pages / RATE,
                reference_label=f"1.05 × pages / R = {1.05 * pages / RATE:.1f} s",
                higher_is_better=False,
            )
        )
    finally:
        sandbox.stop()
