"""The counter page (`/counter`) against the sandbox: counters, the table by period, its CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from sarportal.domain.roles import Role
from sarportal.web.core.access import load_user
from sarportal.web.stats.counter_table import COUNTER_STATUSES
from sarportal.web.stats.query import parse_query, stats_request
from tests.fixtures.portal import MadeUser
from tests.fixtures.stats_pages import wait_for_counter_job

_ROW = re.compile(r'<tr data-row="([^"]+)" data-count="(\d+)" data-amount="(\d+)">')
_COUNTER = re.compile(r'data-counter="([\w-]+)"\s+data-count="(\d+)" data-amount="(\d+)"')


def _result(app: Flask, user: MadeUser, path: str) -> dict[str, Any]:
    """The finished job's figures for the page at `path` (the job the page used, from the cache)."""
    query = MultiDict(parse_qsl(path.partition("?")[2]))
    with app.test_request_context(path):
        g.user = load_user(user.id, via_token=False)
        request = stats_request(parse_query(query, "en").filters)
        job = app.extensions["sarportal"].jobs.submit(user.id, request)
    assert job.state == "succeeded" and job.result is not None
    return dict(job.result)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_the_counter_page_renders_for_every_role(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser], role: Role
) -> None:
    stats_login(role)
    response = provider_client.get("/counter")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'id="counter-results"' in response.get_data(as_text=True)


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_table_totals_equal_the_sum_of_the_rows_and_the_job_totals(
    provider_app: Flask,
    provider_client: FlaskClient,
    stats_login: Callable[..., MadeUser],
    granularity: str,
) -> None:
    user = stats_login()
    path = f"/counter?period=last_month&granularity={granularity}"
    region = wait_for_counter_job(provider_client, path)
    rows = [(key, int(count), int(amount)) for key, count, amount in _ROW.findall(region)]
    body, totals = [r for r in rows if r[0] != "total"], [r for r in rows if r[0] == "total"]
    assert body and len(totals) == 1
    assert totals[0][1] == sum(r[1] for r in body)
    assert totals[0][2] == sum(r[2] for r in body)
    result = _result(provider_app, user, path)
    currency = "EUR"  # the busiest currency is shown first
    assert totals[0][1] == result["key_figures"][currency]["count"]["value"]
    assert totals[0][2] == result["totals"]["amount_by_currency"][currency]
    counters = {key: (int(n), int(a)) for key, n, a in _COUNTER.findall(region)}
    by_status = result["breakdowns"]["status"][currency]
    for status in COUNTER_STATUSES:
        assert counters[f"status-{status}"] == (
            by_status[status]["count"],
            by_status[status]["amount"],
        )
    settled = result["breakdowns"]["settlement_status"][currency]
    assert counters["settlement-overdue"] == (
        settled["overdue"]["count"],
        settled["overdue"]["net"],
    )


def test_csv_export_in_the_users_locale(
    provider_app: Flask, provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    user = stats_login()
    path = "/counter?period=last_month&granularity=month"
    wait_for_counter_job(provider_client, path)
    response = provider_client.get(
        path.replace("/counter?", "/counter/export.csv?"), headers={"Accept-Language": "de"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Zeitraum", "Von", "Bis", "Währung"]
    assert all(len(row) == len(header) for row in body)
    result = _result(provider_app, user, path)
    totals = {row[3]: row for row in body if row[0] == "Summe"}
    assert set(totals) == set(result["key_figures"])
    for currency, row in totals.items():
        assert int(row[-2]) == result["key_figures"][currency]["count"]["value"]
        minor = int(row[-1].replace(",", ""))
        assert minor == result["totals"]["amount_by_currency"][currency]
        assert "," in row[-1] and "." not in row[-1]  # the German decimal comma
        months = [r for r in body if r[3] == currency and r[0] != "Summe"]
        assert sum(int(r[-2]) for r in months) == int(row[-2])


def test_csv_export_in_english_uses_commas(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    response = provider_client.get("/counter/export.csv?period=7d")
    text = response.get_data(as_text=True).lstrip("\ufeff")
    assert response.status_code == 200
    assert text.startswith("Period,From,To,Currency,")


def test_an_empty_range_shows_a_friendly_empty_state(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    region = wait_for_counter_job(provider_client, "/counter?from=2001-01-01&to=2001-01-31")
    assert "No transactions in this period" in region
    assert "counter-period-table" not in region


def test_bad_filter_input_gets_a_clear_message(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    for path in ("/counter?amount_max=zehn", "/counter/export.csv?from=2025-02-30"):
        response = provider_client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, path
        assert "Please check the filters" in page and "Traceback" not in page


def test_the_results_region_alone_for_htmx(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    region = wait_for_counter_job(provider_client, "/counter?period=7d")
    assert region.lstrip().startswith("<div") and "<html" not in region
    assert 'data-state="succeeded"' in region and "Export CSV" in region
