"""Random query strings on the pages: `/transactions`, `/` (dashboard), `/counter` and their CSV
exports never answer 5xx; a bad filter is a clear page (200 or 4xx with the form's errors).

The parser itself is proven in `tests/unit/test_filters.py`; this runs the whole page: the
parser, the provider call, the statistics job and the templates. A private sandbox (the pages
start statistics jobs for every valid filter they see) keeps the work small.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sarportal.domain.filters import COUNTRIES
from sarportal.domain.roles import Role
from sarportal.domain.vocabulary import PAYMENT_METHODS, SETTLEMENT_STATUSES, STATUSES
from tests.fixtures.portal import new_client, sign_in
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SandboxHandle

PAGES = ("/transactions", "/", "/counter", "/transactions/export.csv", "/counter/export.csv")
KEYS = (
    "period", "from", "to", "status", "settlement_status", "payment_method", "currency",
    "country", "customer_type", "shop", "dunning_level", "amount_min", "amount_max",
    "order_reference", "preset", "order", "per_page", "cursor", "prev", "page", "job", "view",
    "group", "compare", "metric",
)  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        ["1.234,56", "1,234.56", "-5", "0", "99999999999999999", "2025-02-30", "2024-02-29",
         "1900-01-01", "9999-12-31", "7d", "30d", "custom", "EUR", "JPY", "\x00", "%", "../"]
    ),
    st.sampled_from([*STATUSES, *SETTLEMENT_STATUSES, *PAYMENT_METHODS, *COUNTRIES]),
)  # fmt: skip
PAIRS = st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=8), VALUES), max_size=10)
RAW = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="#"), max_size=60
)  # a query string as typed, broken escapes (`%zz`, `%`) included


@pytest.fixture
def viewer(
    make_sandbox: Callable[..., SandboxHandle], make_provider_app: Callable[..., Flask]
) -> FlaskClient:
    handle = make_sandbox(transactions=400, seed=3)
    app = make_provider_app(handle)
    user = make_provider_user(app, Role.VIEWER)
    client = new_client(app)
    assert sign_in(client, user.email) == 303
    return client


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(
    page=st.sampled_from(PAGES),
    query=PAIRS.map(urlencode) | RAW,
    htmx=st.booleans(),
    language=st.sampled_from(["de", "en"]),
)
def test_random_query_strings_never_answer_5xx(
    viewer: FlaskClient, page: str, query: str, htmx: bool, language: str
) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    viewer.set_cookie("lang", language)
    response = viewer.get(f"{page}?{query}", headers=headers)
    assert response.status_code < 500, (page, query, response.status_code)
    if response.status_code >= 400:
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and 'File "' not in text
