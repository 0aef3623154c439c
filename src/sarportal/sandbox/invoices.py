"""The invoice after capture: extend its due date, pause its dunning, send it again, and take
note that the customer paid the merchant directly.

The generated history has none of these; each is written through the API and kept here, sparse,
by row: a few hundred rows at most in a book of millions. The due date itself lives in the
book's `due_at` column, so that lists, sorting, the export and the passing of time all see an
extended one. Nothing here is personal data: rows, amounts, days and moments only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from sarportal.sandbox import vocab as v
from sarportal.sandbox.data import MerchantData
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.payouts import VAT_PERCENT

Int64Array = npt.NDArray[np.int64]

# The extensions on offer, in working days (Monday to Friday), and their fee in basis points
# of the open amount, before VAT; at least EXTENSION_MINIMUM_FEE minor units.
EXTENSION_BASIS_POINTS = {10: 150, 15: 225, 20: 300}
EXTENSION_MINIMUM_FEE = 150
MAX_PAUSE_DAYS = 30
RESEND_INTERVAL = v.DAY  # an invoice is sent again at most once a day
COLLECTION = len(v.DUNNING_DAYS)  # the last dunning level: the case is with collection


def extension_fee(open_amount: int, working_days: int) -> tuple[int, int]:
    """The fee for an extension, VAT included, and that VAT, each rounded half up."""
    net = max(EXTENSION_MINIMUM_FEE, (open_amount * EXTENSION_BASIS_POINTS[working_days] + 5_000)
              // 10_000)  # fmt: skip
    vat = (net * VAT_PERCENT + 50) // 100
    return net + vat, vat


def _day(seconds: int) -> date:
    return datetime.fromtimestamp(seconds, UTC).date()


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Extension:
    working_days: int
    fee_amount: int
    fee_vat: int
    at: int


@dataclass(frozen=True)
class DirectPayment:
    amount: int
    paid_on: date
    at: int


@dataclass
class Invoices:
    """The invoice operations written through the API, by row."""

    data: MerchantData
    extensions: dict[int, Extension] = field(default_factory=dict)
    paused_until: dict[int, date] = field(default_factory=dict)
    sent_again_at: dict[int, list[int]] = field(default_factory=dict)
    direct: dict[int, list[DirectPayment]] = field(default_factory=dict)

    # -- reading -------------------------------------------------------------------------

    def open_amount(self, row: int) -> int:
        """What the customer still owes: the net captured amount less what was paid directly;
        0 once paid or written off, or without a settlement."""
        d = self.data
        if d.settlement[row] not in (v.OPEN, v.OVERDUE):
            return 0
        paid = sum(p.amount for p in self.direct.get(row, ()))
        return max(0, int(d.captured[row] - d.refunded[row]) - paid)

    def paused(self, rows: Int64Array, now: int) -> npt.NDArray[np.bool_]:
        """Which of `rows` have their dunning paused at `now`."""
        if not self.paused_until:
            return np.zeros(rows.shape[0], dtype=np.bool_)
        today = _day(now)
        held = [row for row, until in self.paused_until.items() if until > today]
        return np.isin(rows, np.asarray(held, dtype=np.int64))

    def _new_due_day(self, row: int, working_days: int, now: int) -> date:
        """The due date an extension gives: that many working days after the due date, or
        after today when the due date has passed."""
        start = max(_day(int(self.data.due_at[row])), _day(now))
        return date.fromisoformat(
            str(np.busday_offset(np.datetime64(start, "D"), working_days, roll="forward"))
        )

    def view(self, row: int, now: int) -> dict[str, Any] | None:
        """The invoice as the contract shows it on a transaction's detail; None without one."""
        d = self.data
        if d.settlement[row] == v.NO_SETTLEMENT:
            return None
        open_amount = self.open_amount(row)
        extension = self.extensions.get(row)
        options = []
        if self._extensible(row) is None:
            for days in EXTENSION_BASIS_POINTS:
                fee, vat = extension_fee(open_amount, days)
                due = self._new_due_day(row, days, now).isoformat()
                options.append({"working_days": days, "due_date": due, "fee_amount": fee,
                                "fee_vat": vat})  # fmt: skip
        until = self.paused_until.get(row)
        sent = self.sent_again_at.get(row, [])
        return {
            "due_date": _day(int(d.due_at[row])).isoformat(),
            "original_due_date": _day(int(d.captured_at[row]) + v.DUE_DAYS * v.DAY).isoformat(),
            "open_amount": open_amount,
            "extension": None
            if extension is None
            else {
                "working_days": extension.working_days,
                "fee_amount": extension.fee_amount,
                "fee_vat": extension.fee_vat,
                "extended_at": _iso(extension.at),
            },
            "extension_options": options,
            "dunning_paused_until": None
            if until is None or until <= _day(now)
            else until.isoformat(),
            "sent_at": _iso(sent[-1] if sent else int(d.captured_at[row])),
            "times_sent": 1 + len(sent),
            "direct_payments": [
                {"amount": p.amount, "paid_on": p.paid_on.isoformat(), "reported_at": _iso(p.at)}
                for p in self.direct.get(row, ())
            ],
        }

    # -- the rules -----------------------------------------------------------------------

    def _unpaid(self, row: int) -> str | None:
        settlement = int(self.data.settlement[row])
        if settlement in (v.OPEN, v.OVERDUE):
            return None
        if settlement == v.NO_SETTLEMENT:
            return "No invoice to act on: nothing is captured, or all of it is refunded."
        return f"The invoice is {v.SETTLEMENTS[settlement]}; nothing is open."

    def _extensible(self, row: int) -> str | None:
        """Why the invoice's due date cannot be extended; None when it can."""
        refusal = self._unpaid(row)
        if refusal is not None:
            return refusal
        if row in self.extensions:
            return "The due date has been extended once already."
        if int(self.data.dunning[row]) >= COLLECTION:
            return "The invoice is with collection; its due date cannot change."
        return None

    def _refuse(self, refusal: str | None) -> None:
        if refusal is not None:
            raise Problem.invalid_state(refusal)

    # -- writing -------------------------------------------------------------------------

    def extend(self, row: int, working_days: int, fee_amount: int, now: int) -> Extension:
        """Extend the due date by `working_days`, for the fee the client was shown."""
        if working_days not in EXTENSION_BASIS_POINTS:
            raise Problem.invalid("working_days", "'working_days' must be 10, 15 or 20.")
        self._refuse(self._extensible(row))
        fee, vat = extension_fee(self.open_amount(row), working_days)
        if fee_amount != fee:
            raise Problem.invalid(
                "fee_amount",
                f"The fee for this extension is now {fee} (minor units); show it and ask again.",
            )
        d = self.data
        due = int(d.due_at[row])
        day = self._new_due_day(row, working_days, now)
        epoch = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        d.due_at[row] = epoch + due % v.DAY
        if d.settlement[row] == v.OVERDUE:
            d.settlement[row] = v.OPEN
        extension = Extension(working_days, fee, vat, now)
        self.extensions[row] = extension
        return extension

    def pause(self, row: int, days: int, now: int) -> date:
        """Send no dunning notice for `days` days from today; the day it ends."""
        if not 1 <= days <= MAX_PAUSE_DAYS:
            raise Problem.invalid("days", f"'days' must be 1 to {MAX_PAUSE_DAYS}.")
        self._refuse(self._unpaid(row))
        if int(self.data.dunning[row]) >= COLLECTION:
            self._refuse("The invoice is with collection; its dunning cannot be paused.")
        today = _day(now)
        running = self.paused_until.get(row)
        if running is not None and running > today:
            self._refuse(f"Dunning is paused until {running.isoformat()} already.")
        until = date.fromordinal(today.toordinal() + days)
        self.paused_until[row] = until
        return until

    def send_again(self, row: int, now: int) -> None:
        """Send the invoice to the customer again (at most once a day)."""
        self._refuse(self._unpaid(row))
        sent = self.sent_again_at.setdefault(row, [])
        last = sent[-1] if sent else int(self.data.captured_at[row])
        if now - last < RESEND_INTERVAL:
            self._refuse("The invoice was sent less than 24 hours ago.")
        sent.append(now)

    def paid_directly(self, row: int, amount: int, paid_on: str, now: int) -> DirectPayment:
        """Note that the customer paid `amount` to the merchant directly on `paid_on`."""
        self._refuse(self._unpaid(row))
        try:
            day = date.fromisoformat(paid_on)
        except ValueError:
            raise Problem.invalid("paid_on", "'paid_on' must be a date (YYYY-MM-DD).") from None
        if len(paid_on) != 10:
            raise Problem.invalid("paid_on", "'paid_on' must be a date (YYYY-MM-DD).")
        if day > _day(now):
            raise Problem.invalid("paid_on", "'paid_on' cannot lie in the future.")
        if day < _day(int(self.data.captured_at[row])):
            raise Problem.invalid("paid_on", "'paid_on' cannot lie before the capture.")
        available = self.open_amount(row)
        if amount > available:
            raise Problem.amount_exceeds(available, "report as paid directly")
        payment = DirectPayment(amount, day, now)
        self.direct.setdefault(row, []).append(payment)
        d = self.data
        if amount == available:  # paid in full: the invoice is settled and dunning stops
            d.settlement[row] = v.PAID
            midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
            d.paid_at[row] = max(midnight, int(d.captured_at[row]))
            self.paused_until.pop(row, None)
        return payment
