"""What the payouts page shows: arrival dates, statuses and currencies, read from a query.

Pure values, like `filters` for transactions: the page parses the query string with
`parse_payout_filters`, refused fields come back as one `FieldError` each, and the provider's
parameters are `PayoutFilters.provider_params()`. The arrival range is of calendar dates (the
provider's are UTC dates, as bank statements are), `to` inclusive on the page and half-open at
the provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sarportal.domain.filters import CURRENCIES, FieldError, FilterError, QueryLike, QueryReader
from sarportal.domain.vocabulary import PAYOUT_STATUSES

ProviderValue = str | date | tuple[str, ...]


@dataclass(frozen=True)
class PayoutFilters:
    """Payouts arriving from `arrival_from` to `arrival_to` (both inclusive), of these statuses
    and currencies (empty: all)."""

    arrival_from: date | None = None
    arrival_to: date | None = None
    statuses: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()

    @property
    def is_default(self) -> bool:
        return self == PayoutFilters()

    def provider_params(self) -> dict[str, ProviderValue]:
        params: dict[str, ProviderValue] = {}
        if self.arrival_from is not None:
            params["arrival_from"] = self.arrival_from.isoformat()
        if self.arrival_to is not None:
            params["arrival_to"] = (self.arrival_to + timedelta(days=1)).isoformat()
        if self.statuses:
            params["status"] = self.statuses
        if self.currencies:
            params["currency"] = self.currencies
        return params

    def query_pairs(self) -> list[tuple[str, str]]:
        """The filters as the page's query string (the canonical form of a shared link)."""
        pairs: list[tuple[str, str]] = []
        if self.arrival_from is not None:
            pairs.append(("from", self.arrival_from.isoformat()))
        if self.arrival_to is not None:
            pairs.append(("to", self.arrival_to.isoformat()))
        pairs += [("status", status) for status in self.statuses]
        pairs += [("currency", currency) for currency in self.currencies]
        return pairs


def parse_payout_filters(query: QueryLike) -> PayoutFilters:
    """Read `from`, `to`, `status` and `currency`; raise `FilterError` naming each bad field."""
    reader = QueryReader(query)
    start, end = reader.day("from"), reader.day("to")
    statuses = reader.choices("status", PAYOUT_STATUSES)
    currencies = reader.choices("currency", CURRENCIES)
    if start is not None and end is not None and end < start:
        reader.fail("to", "date_order")
    if reader.errors:
        raise FilterError(reader.errors)
    return PayoutFilters(start, end, statuses, currencies)


__all__ = ["FieldError", "FilterError", "PayoutFilters", "parse_payout_filters"]
