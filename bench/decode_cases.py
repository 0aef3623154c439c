"""Typed decoding of a page of 1000 summaries: msgspec (what the provider client uses) against
pydantic, with stdlib json (untyped) for scale; then the statistics engine's fold of a decoded page.
Same page, same process, side by side."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pydantic

from bench.harness import QUICK, Report
from sarportal.provider.models import TransactionPage
from sarportal.sandbox.config import SandboxConfig
from sarportal.sandbox.server import build_app
from sarportal.stats import Aggregate, Columns, PageDecoder
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


def _page() -> bytes:
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        app = build_app(SandboxConfig(state_dir=Path(folder), transactions=5000, seed=2))
    rows = np.arange(1000, 2000, dtype=np.int64)
    body = app.books[1].renderer.render(rows)
    return b'{"data":' + body + b',"has_more":true,"next_cursor":"x"}'


def _time(work: Any, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(report: Report) -> None:
    raw = _page()
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
