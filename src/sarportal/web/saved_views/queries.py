"""What a saved view keeps of a page's query, and where a view opens.

A view keeps the canonical query of its page, rebuilt from the parsed filters: on the
transactions table the filters and the table's view (sort, page size), on the dashboard and the
counter page the filters (with the period they default to) and the display choices. Cursors,
job ids and unknown keys never reach it, and nothing a page does not take as a filter can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl, urlencode

from flask import url_for
from werkzeug.datastructures import MultiDict

from sarportal.domain.filters import QueryLike, TransactionFilters, parse_table
from sarportal.domain.saved_views import SavedView, ViewPage
from sarportal.web.stats.query import parse_query

ENDPOINTS: Final[Mapping[ViewPage, str]] = {
    ViewPage.TRANSACTIONS: "transactions.index",
    ViewPage.DASHBOARD: "pages.index",
    ViewPage.COUNTER: "counter.index",
}
PAGE_OF_ENDPOINT: Final = {endpoint: page for page, endpoint in ENDPOINTS.items()}


def canonical_query(page: ViewPage, query: QueryLike, locale: str) -> str:
    """The page's query as a view keeps it; `FilterError` for input the page would refuse."""
    if page is ViewPage.TRANSACTIONS:
        filters, view = parse_table(query, locale)
        return urlencode(filters.query_pairs() + view.query_pairs())
    return urlencode(parse_query(query, locale).pairs())


def canonical_text(page: ViewPage, text: str, locale: str = "en") -> str:
    """`canonical_query` of a query string (`status=captured&period=7d`, a leading '?' allowed)."""
    pairs = parse_qsl(text.removeprefix("?"), keep_blank_values=True)
    return canonical_query(page, MultiDict(pairs), locale)


def filters_of(view: SavedView) -> TransactionFilters:
    """What the view matches (for counting): its filters, without how its page shows them."""
    query = MultiDict(parse_qsl(view.query))
    if view.page is ViewPage.TRANSACTIONS:
        return parse_table(query, "en")[0]
    return parse_query(query, "en").filters


def page_url(view: SavedView) -> str:
    """The page showing the view: its page's URL with the view's query."""
    base: str = url_for(ENDPOINTS[view.page])
    return f"{base}?{view.query}" if view.query else f"{base}?view=all"
