"""The dashboard (`/`) against the sandbox: roles, figures equal to the job's, filters, failures."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from sarportal.domain.roles import Role
from sarportal.jobs import JobView
from sarportal.web.stats.dashboard import FinishedViews
from sarportal.web.ui.formats import format_money, format_number, format_percent
from tests.fixtures.portal import FakeClock, MadeUser, csrf_token, new_client, sign_in
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.stats_pages import status_url, wait_for_dashboard_job


def _job(app: Flask, user: MadeUser, job_id: str) -> JobView:
    found: JobView | None = app.extensions["sarportal"].jobs.get(user.id, job_id)
    assert found is not None
    return found


def _cards(page: str) -> dict[str, str]:
    """Each key figure card's shown value, by its figure."""
    cards = BeautifulSoup(page, "html.parser").select("[data-figure]")
    return {
        str(card["data-figure"]): value.get_text()
        for card in cards
        if (value := card.select_one('dd[data-bind="value"]')) is not None
    }


def _finished_page(client: FlaskClient, path: str) -> tuple[str, dict[str, Any]]:
    """The page at `path` once its job has ended (the reload renders the cached result)."""
    first = client.get(path)
    assert first.status_code == 200
    answer = wait_for_dashboard_job(client, first.get_data(as_text=True))
    again = client.get(path)
    assert again.status_code == 200
    return again.get_data(as_text=True), answer


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ADMIN])
def test_the_dashboard_renders_for_every_role(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser], role: Role
) -> None:
    stats_login(role)
    response = provider_client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Authorized volume over time" in page and 'id="dashboard"' in page
    assert '<option value="30d" selected>' in page  # the default period
    assert "dashboard.js" in page


def test_a_finished_jobs_key_figures_are_on_the_page(
    provider_app: Flask, provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    user = stats_login()
    page, answer = _finished_page(provider_client, "/")
    job = _job(provider_app, user, answer["job"]["id"])
    assert job.state == "succeeded" and job.result is not None
    assert 'data-state="succeeded"' in page and "As of" in page
    currency = answer["view"]["currency"]
    figures = job.result["key_figures"][currency]
    cards = _cards(page)
    assert cards["volume"] == format_money(figures["volume"]["value"], currency, "en")
    assert cards["count"] == format_number(figures["count"]["value"], "en")
    assert cards["approval_rate"] == format_percent(figures["approval_rate"]["value"], "en")
    assert cards["open_receivables"] == format_money(
        figures["open_receivables"]["value"], currency, "en"
    )
    assert cards["overdue_amount"] == format_money(
        figures["overdue_amount"]["value"], currency, "en"
    )
    table = BeautifulSoup(page, "html.parser").select_one("#figures-status")
    assert table is not None
    counts = [row.select("td")[0].get_text() for row in table.select("tbody tr")]
    assert sum(int(n.replace(",", "")) for n in counts) == figures["count"]["value"]


def test_a_filter_in_the_query_string_reaches_the_job(
    provider_app: Flask, provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    user = stats_login()
    page, answer = _finished_page(
        provider_client,
        "/?period=last_month&status=captured&country=DE&currency=EUR&order=amount_desc&per_page=25",
    )
    job = _job(provider_app, user, answer["job"]["id"])
    assert job.result is not None
    assert set(job.result["key_figures"]) == {"EUR"}
    counts = {status: n for status, n in job.result["by_status"].items() if n}
    assert list(counts) == ["captured"] and counts["captured"] > 0
    countries = {c for c, row in job.result["breakdowns"]["country"]["EUR"].items() if row["count"]}
    assert countries == {"DE"}
    assert 'value="last_month" selected' in page
    # a segment opens the transactions table with the page's filters and its own
    assert "/transactions?period=last_month&amp;status=captured&amp;currency=EUR" in page
    # a link from the table carries its sort and page size; the statistics leave them out
    links = re.findall(r'href="(/transactions\?[^"]*)"', page)
    assert links and not [x for x in links if "amount_desc" in x or "per_page" in x]


def _without_tokens(page: str) -> str:
    return re.sub(r'(name="csrf[-_]token"[^>]*(?:value|content)=")[^"]+', r"\1", page)


def test_a_reload_shows_the_kept_figures_in_the_language_of_the_request(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    """A finished job's figures are shaped once and kept for reloads: the same page again, and
    in another language that language, on the page and in the JSON status."""
    stats_login()
    page, _answer = _finished_page(provider_client, "/")
    assert _without_tokens(provider_client.get("/").get_data(as_text=True)) == _without_tokens(page)
    assert "Transactions by status, " in page
    provider_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    german = provider_client.get("/").get_data(as_text=True)
    assert "Transaktionen nach Status, " in german and "Transactions by status" not in german
    view = provider_client.get(status_url(german)).get_json()["view"]
    assert view["charts"]["status"]["table"]["caption"].startswith("Transaktionen nach Status")


def test_the_kept_shapings_are_made_once_and_only_the_most_recent_stay() -> None:
    views, made = FinishedViews(2), []

    def make(value: int) -> Callable[[], int]:
        return lambda: made.append(value) or value

    assert views.get("a", make(1)) == 1
    assert views.get("a", make(2)) == 1
    views.get("b", make(3))
    views.get("c", make(4))  # "a" is now the least recently used of three: it goes
    assert views.get("a", make(5)) == 5
    assert made == [1, 3, 4, 5]


def test_the_json_status_shapes_the_same_figures(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    answer = wait_for_dashboard_job(
        provider_client, provider_client.get("/").get_data(as_text=True)
    )
    view = answer["view"]
    assert answer["job"]["complete"] and answer["job"]["percent"] == 100
    assert set(view["charts"]) == {"volume", "status", "payment_method", "country", "amount",
                                   "days_to_pay", "settlement"}  # fmt: skip
    assert view["granularity_used"] == "day"  # 30 days
    week = wait_for_dashboard_job(
        provider_client, provider_client.get("/?granularity=week").get_data(as_text=True)
    )
    assert week["view"]["granularity_used"] == "week"


def test_an_empty_range_shows_a_friendly_empty_state(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    page, answer = _finished_page(provider_client, "/?from=2001-01-01&to=2001-01-31")
    assert answer["job"]["complete"] and answer["view"]["empty"]
    html = BeautifulSoup(page, "html.parser")
    empty, shown = html.select_one("#dashboard-empty"), html.select_one("#dashboard-figures")
    assert empty is not None and not empty.has_attr("hidden")
    assert "No transactions in this period" in empty.get_text()
    assert shown is not None and shown.has_attr("hidden")


def test_a_preset_that_matches_nothing_submits_no_job(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    response = provider_client.get("/?preset=overdue&settlement_status=paid")
    assert response.status_code == 200
    assert 'id="dashboard"' not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["period=bogus", "amount_min=abc", "from=2025-13-01", "status=nope&status=x",
              "to=2020-01-01&from=2021-01-01", "country=%00"],
)  # fmt: skip
def test_bad_filter_input_gets_a_clear_message(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser], query: str
) -> None:
    stats_login()
    response = provider_client.get(f"/?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please check the filters" in page and "Traceback" not in page
    assert 'id="dashboard"' not in page


def test_provider_outage_shows_a_clear_message_and_no_charts(
    make_provider_app: Callable[..., Flask], sandbox: SandboxHandle, clock: FakeClock
) -> None:
    clock.now = datetime.now(UTC)
    app = make_provider_app(url="https://127.0.0.1:9", ca=sandbox.ca)  # nothing listens there
    user = make_provider_user(app)
    client = new_client(app)
    assert sign_in(client, user.email) == 303
    answer = wait_for_dashboard_job(client, client.get("/").get_data(as_text=True))
    assert answer["job"]["state"] == "failed"
    response = client.get(f"/?job={answer['job']['id']}")  # where the page reloads itself to
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert answer["job"]["failure"]["title"] == "The payment provider is not answering"
    assert answer["view"]["charts"] == {}
    assert "The payment provider is not answering" in page and "Try again" in page
    html = BeautifulSoup(page, "html.parser")
    alert, shown = html.select_one('[data-part="failed"]'), html.select_one("#dashboard-figures")
    assert alert is not None and not alert.has_attr("hidden")  # shown
    assert alert["role"] == "alert"
    assert shown is not None and shown.has_attr("hidden")
    assert "Traceback" not in page


def test_the_job_status_is_only_for_its_owner(
    provider_app: Flask, provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    url = status_url(provider_client.get("/").get_data(as_text=True))
    assert provider_client.get(url).status_code == 200
    assert provider_client.get("/dashboard/jobs/unknown").status_code == 404
    assert provider_client.get(url + "&amount_min=abc").status_code == 400
    other = new_client(provider_app)
    assert sign_in(other, make_provider_user(provider_app).email) == 303
    assert other.get(url).status_code == 404


def test_refresh_computes_the_figures_again(
    provider_client: FlaskClient, stats_login: Callable[..., MadeUser]
) -> None:
    stats_login()
    _page, answer = _finished_page(provider_client, "/?period=7d")
    token = csrf_token(provider_client, "/")
    response = provider_client.post(
        "/dashboard/refresh", data={"csrf_token": token, "period": "7d", "granularity": "day"}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/?period=7d&granularity=day")
    again = wait_for_dashboard_job(
        provider_client, provider_client.get("/?period=7d").get_data(as_text=True)
    )
    assert again["job"]["id"] != answer["job"]["id"]
