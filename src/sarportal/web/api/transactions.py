"""`GET /api/v1/transactions`: the provider's list, page by page, for personal tokens and sessions.

The query takes the provider's filters as they are (design §3: RFC 3339 times, minor units,
repeatable categories) plus `limit` and `cursor`, and answers `{data, has_more, next_cursor}`
(and `total_count` with `include_total=true`). Summaries hold no personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec
from flask import Blueprint, request

from sarportal.domain.roles import Role
from sarportal.domain.vocabulary import CustomerType, PaymentMethod, SettlementStatus, Status
from sarportal.provider.errors import ProviderInvalidRequest
from sarportal.provider.models import TransactionSummary
from sarportal.web.api.openapi import InvalidParameter, SpecResponse, spec
from sarportal.web.core.access import requires
from sarportal.web.core.provider_access import provider_session

bp = Blueprint("api_transactions", __name__, url_prefix="/api/v1")

UtcTime = Annotated[
    datetime,
    msgspec.Meta(tz=True, description="RFC 3339 time with an offset, e.g. 2025-03-01T00:00:00Z."),
]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", description="ISO 4217 code.")]
Country = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
DunningLevel = Annotated[int, msgspec.Meta(ge=0, le=4)]
Minor = Annotated[int, msgspec.Meta(ge=0, le=10**12, description="Minor units (cents).")]


# RFC 3339 date-times only: the lax conversion that query strings need would otherwise read a
# bare number ("0", "1700000000") as Unix seconds, a filter nobody asked for.
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
TIME_PARAMS: Final = ("created_from", "created_to")


def require_rfc3339(args: Mapping[str, str]) -> None:
    """Refuse a time parameter that is not an RFC 3339 date-time with an offset."""
    for name in TIME_PARAMS:
        value = args.get(name)
        if value is not None and not RFC3339.fullmatch(value):
            raise InvalidParameter(
                name,
                f"The parameter `{name}` must be an RFC 3339 date-time with an offset, "
                "such as 2025-03-01T00:00:00Z.",
            )


class ProviderFilters(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The provider's list filters, combined with AND; a list matches any of its values."""

    created_from: UtcTime | None = None
    created_to: UtcTime | None = None
    status: list[Status] | None = None
    settlement_status: list[SettlementStatus] | None = None
    payment_method: list[PaymentMethod] | None = None
    currency: list[Currency] | None = None
    country: list[Country] | None = None
    customer_type: list[CustomerType] | None = None
    shop: list[Text] | None = None
    dunning_level: list[DunningLevel] | None = None
    amount_min: Minor | None = None
    amount_max: Minor | None = None
    order_reference: Text | None = None

    def check_ranges(self, prefix: str = "") -> None:
        """Refuse a created range that ends before it starts and an amount range upside down,
        naming the field (`prefix` is where the filters sit: "filters." in a JSON body)."""
        if self.created_from and self.created_to and self.created_from >= self.created_to:
            raise InvalidParameter(
                f"{prefix}created_to", "`created_to` must be later than `created_from`."
            )
        low, high = self.amount_min, self.amount_max
        if low is not None and high is not None and low > high:
            raise InvalidParameter(
                f"{prefix}amount_max", "`amount_max` must not be below `amount_min`."
            )


class TransactionListQuery(ProviderFilters, forbid_unknown_fields=True, kw_only=True):
    """Filters (combined with AND; a repeated parameter matches any of its values) and paging."""

    order: Literal[
        "created_desc", "created_asc", "amount_desc", "amount_asc", "due_date_desc", "due_date_asc"
    ] = "created_desc"
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    cursor: Annotated[str, msgspec.Meta(min_length=1, max_length=512)] | None = None
    include_total: bool = False


class TransactionList(msgspec.Struct, omit_defaults=True):
    """One page of transaction summaries; follow `next_cursor` while `has_more` is true."""

    data: list[TransactionSummary]
    has_more: bool
    next_cursor: str | None
    total_count: int | None = None


@bp.get("/transactions")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=TransactionList), tags=["transactions"])
def list_transactions(query: TransactionListQuery) -> TransactionList:
    """List transactions.

    The merchant's transactions matching every given filter, newest first unless `order` says
    otherwise: `created_asc`, by `amount` (minor units, whatever the currency) or by `due_date`
    (`_desc` or `_asc`; ties by creation, transactions without a due date last). A `cursor` is
    valid only with the filters and `order` it was issued for.
    """
    require_rfc3339(request.args)
    query.check_ranges()
    params = {
        name: value
        for name in TransactionListQuery.__struct_fields__
        if (value := getattr(query, name)) is not None
    }
    params["include_total"] = query.include_total or None
    try:
        page = provider_session().list_transactions(params)
    except ProviderInvalidRequest as error:
        param = error.param or "cursor"
        raise InvalidParameter(param, f"The provider refused the parameter `{param}`.") from error
    return TransactionList(page.data, page.has_more, page.next_cursor, page.total_count)
