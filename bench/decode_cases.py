"""Typed decoding of a page of 1000 summaries: msgspec (what the provider client uses) against
pydantic, with stdlib json (untyped) for scale; then the statistics engine's fold of a decoded page;
then a page of the CSV export, into columns against Arrow's CSV reader alone. Same page, same
process, side by side."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pydantic

from bench.harness import QUICK, Report
from sarportal.jobs.work import EXPORT_PAGE_SIZE
from sarportal.provider.client import ExportPage
from sarportal.provider.models import TransactionPage
from sarportal.sandbox.config import SandboxConfig
from sarportal.sandbox.server import build_app
from sarportal.stats import Aggregate, Columns, PageDecoder, export_pages
from sarportal.stats.columns import _PAGE_DECODER, concat
from sarportal.stats.engine import BATCH_ROWS


class PydanticSummary(pydantic.BaseModel):
    id: str
    created_at: datetime
    updated_at: datetime
    status: str
    settlement_status: str | None
    payment_method: str
    currency: str
    amount: int
    captured_amount: int
    refunded_amount: int
    cancelled_amount: int
    order_reference: str
    shop: str
    country: str
    customer_type: str
    customer_id: str
    authorization_expires_at: datetime
    captured_at: datetime | None
    due_date: date | None
    paid_at: datetime | None
    dunning_level: int


class PydanticPage(pydantic.BaseModel):
    data: list[PydanticSummary]
    has_more: bool
    next_cursor: str | None


def _page() -> tuple[bytes, ExportPage]:
    """A list page of 1000 and an export page of 10,000 of the sandbox's summaries."""
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(SandboxConfig(state_dir=Path(folder), transactions=12_000, seed=2))
    renderer = app.books[1].renderer
    body = renderer.render(np.arange(1000, 2000, dtype=np.int64))
    rows = np.arange(1000, 1000 + EXPORT_PAGE_SIZE, dtype=np.int64)
    export = ExportPage(renderer.render_csv(rows), True, "x", EXPORT_PAGE_SIZE, None)
    return b'{"data":' + body + b',"has_more":true,"next_cursor":"x"}', export


def _time(work: Any, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(report: Report) -> None:
    raw, export = _page()
    rounds = 20 if QUICK else 60
    decoder = msgspec.json.Decoder(TransactionPage)
    columns = PageDecoder()
    cases = {
        "msgspec typed (provider client)": lambda: decoder.decode(raw),
        "pydantic typed": lambda: PydanticPage.model_validate_json(raw),
        "stdlib json, untyped": lambda: json.loads(raw),
        "msgspec alone, the 16 fields the statistics use": lambda: _PAGE_DECODER.decode(raw),
        "msgspec into columns (stats engine)": lambda: columns.decode(raw),
    }
    timings = {name: _time(work, rounds) for name, work in cases.items()}
    _fold(report, columns.decode(raw), rounds)
    report.side_by_side(
        timings, case="decode a page of 1000: {name}", unit="ms", reference="pydantic typed"
    )
    _export(report, export, rounds)


def _export(report: Report, page: ExportPage, rounds: int) -> None:
    """An export page of 10,000, per 1000 rows: Arrow's CSV reader typing the columns the
    statistics read (the floor), and the whole decoding into the engine's columns."""
    per_thousand = page.row_count / 1000
    cases = {
        "Arrow's read_csv alone (floor)": lambda: export_pages._read(
            page.body, export_pages._SECONDS
        ),
        "into columns (stats engine)": lambda: PageDecoder().decode(page),
    }
    timings = {
        name: [t / per_thousand for t in _time(work, rounds)] for name, work in cases.items()
    }
    report.side_by_side(
        timings,
        case="decode the CSV export, per 1000 rows of a page of 10,000: {name}",
        unit="ms",
        reference="Arrow's read_csv alone (floor)",
    )


def _fold(report: Report, page: Columns, rounds: int) -> None:
    """Folding into the aggregate, per 1000 rows, in the engine's batches and page by page."""
    batch = concat([page] * (BATCH_ROWS // len(page)))
    aggregate = Aggregate("Europe/Berlin")
    by_batch = [t / batch.pages for t in _time(lambda: aggregate.fold(batch), rounds)]
    by_page = _time(lambda: aggregate.fold(page), rounds)
    report.side_by_side(
        {"in batches of 8,000": by_batch, "page by page": by_page},
        case="fold 1000 rows into the statistics aggregate, {name}",
        unit="ms",
        reference="page by page",
    )
