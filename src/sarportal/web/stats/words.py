"""The translated words of the statistics pages, handed to the pure shaping in `charts`."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from sarportal.web.ui.filter_form import vocabulary
from sarportal.web.ui.locale import per_locale


@per_locale
def chart_words() -> dict[str, Any]:
    """Names of figures, columns, captions and phrases for the dashboard, in the user's language.

    Phrases hold `%(name)s` placeholders that `web.stats.charts` fills in."""
    words = vocabulary()
    return {
        "status": words["status"],
        "settlement_status": words["settlement_status"],
        "payment_method": words["payment_method"],
        "country": words["country"],
        "figure": {
            "volume": _("Authorized volume"),
            "count": _("Transactions"),
            "average_order_value": _("Average order value"),
            "approval_rate": _("Approval rate"),
            "refund_rate": _("Refund rate"),
            "open_receivables": _("Open receivables"),
            "overdue_amount": _("Overdue"),
            "dso": _("DSO"),
        },
        "dso_detail": _("Days sales outstanding"),
        "pending": _(
            "The comparison with the previous period follows when all transactions are counted."
        ),
        "no_compare": _("No comparison: the previous period has no figure."),
        "balance_today": _(
            "A balance as of today, not compared: the previous period's invoices have had "
            "longer to be paid."
        ),
        "up": _("Up %(change)s compared with the previous period."),
        "down": _("Down %(change)s compared with the previous period."),
        "flat": _("Unchanged compared with the previous period."),
        "points": _("pp"),
        "period": _("Period"),
        "from": _("From"),
        "to": _("To"),
        "currency": _("Currency"),
        "count_of": _("%(name)s: count"),
        "amount_of": _("%(name)s: amount"),
        "total_count": _("Total count"),
        "total_amount": _("Total amount"),
        "transactions": _("Transactions"),
        "total": _("Total"),
        "amount": _("Amount"),
        "share": _("Share"),
        "share_of_amount": _("Share of amount"),
        "status_column": _("Status"),
        "payment_method_column": _("Payment method"),
        "country_column": _("Country"),
        "order_amount": _("Order amount"),
        "days_to_pay": _("Days to pay"),
        # Functions, called with a number and its text in the locale: the plural comes from it.
        "day_count": day_count,
        "median_days": median_days,
        "invoice_count": invoice_count,
        "due": _("Due after %(days)s days"),
        "paid_invoices": _("Paid invoices"),
        "invoices_column": _("Invoices"),
        "invoices_total": _("Invoices (captured)"),
        "stage": _("Stage"),
        "share_of_invoices": _("Share of invoices"),
        "invoice_net": _("Invoice amount (net of refunds)"),
        "dunning_reached": {
            "1": _("Reached reminder"),
            "2": _("Reached first dunning"),
            "3": _("Reached second dunning"),
            "4": _("Reached collection"),
        },
        "captions": {
            "volume": _(
                "Authorized volume over time by status, %(currency)s (declined not included)"
            ),
            "status": _("Transactions by status, %(currency)s"),
            "payment_methods": _(
                "Order amounts by payment method, %(currency)s (every status, declined included)"
            ),
            "countries": _(
                "Order amounts by country, %(currency)s (every status, declined included)"
            ),
            "amounts": _("Transactions by order amount, %(currency)s"),
            "days_to_pay": _("Days from capture to payment, %(currency)s; median %(median)s"),
            "settlement": _("Settlement and dunning of captured invoices, %(currency)s"),
        },
    }


def _plural_n(count: float) -> int:
    # A fraction of a day reads plural (in English and German alike): "1.5 days".
    return int(count) if float(count).is_integer() else 2


def day_count(count: float, formatted: str) -> str:
    """`formatted` (the number `count` as the locale writes it) with "day" or "days"."""
    return str(ngettext("%(days)s day", "%(days)s days", _plural_n(count), days=formatted))


def invoice_count(count: int, formatted: str) -> str:
    """`formatted` (the number `count` in the locale) with "invoice" or "invoices"."""
    text: str = ngettext("%(count)s invoice", "%(count)s invoices", count, count=formatted)
    return text


def median_days(count: float, formatted: str) -> str:
    """The label of the median line: "Median 1 day", "Median 12.5 days"."""
    text: str = ngettext(
        "Median %(days)s day", "Median %(days)s days", _plural_n(count), days=formatted
    )
    return text


@per_locale
def chart_titles() -> dict[str, str]:
    """The headings of the dashboard's chart cards."""
    return {
        "volume": _("Authorized volume over time"),
        "status": _("Status"),
        "payment_method": _("Payment methods"),
        "country": _("Countries"),
        "amount": _("Order amounts"),
        "days_to_pay": _("Days to pay"),
        "settlement": _("Settlement and dunning"),
    }


@per_locale
def chart_notes() -> dict[str, str]:
    """One sentence under each chart's heading: what it counts."""
    return {
        "volume": _(
            "Authorized volume (order amounts of transactions not declined) created in each "
            "period, by their status today: its total is the Authorized volume figure."
        ),
        "status": _("Share of transactions by their current status."),
        "payment_method": _("Order amounts by payment method, declined transactions included."),
        "country": _("Order amounts by the customer's country, declined transactions included."),
        "amount": _("Number of transactions by order amount (log scale bins)."),
        "days_to_pay": _("Days from capture to payment for paid invoices."),
        "settlement": _(
            "Captured invoices by settlement state, and how many reached each dunning level."
        ),
    }
