"""The dashboard's dunning forecast against the sandbox: the same invoices as the schedule says
of the provider's own list, for htmx a fragment, without JavaScript a page, for every role."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
import pytest
from flask import Flask

from sarportal.domain.dunning import upcoming
from sarportal.domain.roles import Role
from sarportal.provider.models import TransactionSummary
from tests.fixtures.sandbox import SandboxHandle, every_page
from tests.integration.test_web_claim_answers import signed_in

pytestmark = pytest.mark.usefixtures("real_time")


def test_the_forecast_lists_what_the_schedule_says_of_the_providers_invoices(
    make_provider_app: Callable[..., Flask], sandbox: SandboxHandle
) -> None:
    with sandbox.client("demo-viewer") as client:
        rows = every_page(client, "/v1/transactions", 1000, settlement_status=["open", "overdue"])
    invoices = msgspec.convert(rows, list[TransactionSummary])
    expected = upcoming(invoices, datetime.now(UTC).date())
    assert any(u.level == 4 for u in expected), "no invoice reaches collection: nothing to check"
    viewer = signed_in(make_provider_app(sandbox), Role.VIEWER)
    fragment = viewer.get("/dashboard/dunning", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "no-store" in fragment.headers["Cache-Control"]
    html = fragment.get_data(as_text=True)
    assert "<html" not in html
    collection = sum(1 for u in expected if u.level == 4)
    assert f"{collection} invoice{'s reach' if collection > 1 else ' reaches'} collection" in html
    listed = re.findall(r'href="/transactions/(tx_[0-9a-f]+)#tx-settlement-title"', html)
    assert listed == [u.transaction.id for u in expected[:25]]
    assert "cus_" not in html  # summaries carry customer ids; the card shows none
    page = viewer.get("/dashboard/dunning")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    dashboard = viewer.get("/").get_data(as_text=True)
    assert 'hx-get="/dashboard/dunning"' in dashboard
