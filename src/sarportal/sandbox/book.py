"""One merchant's book: listing, filtering, paging, detail, and the three actions.

Reads are vectorised over the columns of `data.MerchantData`; writes change one row under the
amount rules of domain.md and append events. Everything stays in memory for the process's life.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from sarportal.sandbox import vocab as v
from sarportal.sandbox.claims import Claims
from sarportal.sandbox.data import MerchantData, dunning_level, past_due, status_from_amounts
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.ids import IdCodec
from sarportal.sandbox.invoices import Invoices
from sarportal.sandbox.payouts import Payouts, Period
from sarportal.sandbox.people import People
from sarportal.sandbox.render import SummaryRenderer

Rows = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

ACTIONABLE_CAPTURE = (v.AUTHORIZED, v.PARTIALLY_CAPTURED)
TIME_SWEEP_SECONDS = 5.0


@dataclass(frozen=True)
class Filters:
    """A list request's filters, already validated and mapped to column codes."""

    created_from: int | None = None
    created_to: int | None = None
    status: frozenset[int] | None = None
    settlement: frozenset[int] | None = None
    method: frozenset[int] | None = None
    currency: frozenset[int] | None = None
    country: frozenset[int] | None = None
    customer_type: frozenset[int] | None = None
    shop: frozenset[int] | None = None
    dunning: frozenset[int] | None = None
    amount_min: int | None = None
    amount_max: int | None = None
    order_reference: str | None = None
    customer: int | None = None


@dataclass
class Page:
    rows: Rows
    has_more: bool
    total: int | None = None


@dataclass
class Book:
    """The transactions of one merchant and everything a client can do with them."""

    data: MerchantData
    tx_ids: IdCodec
    customer_ids: IdCodec
    people: People
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    payout_interval: str = "week"
    _swept_at: float = 0.0
    renderer: SummaryRenderer = field(init=False)
    claims: Claims = field(init=False)
    payouts: Payouts = field(init=False)
    invoices: Invoices = field(init=False)

    def __post_init__(self) -> None:
        self.renderer = SummaryRenderer(self.data, self.tx_ids, self.customer_ids)
        self.invoices = Invoices(self.data)
        # Both made before any write: they read the generated captures and refunds.
        self.claims = Claims(self.data, self.tx_ids, IdCodec(self.tx_ids.seed, "cl"))
        payout_ids = IdCodec(self.tx_ids.seed, "po")
        self.payouts = Payouts(
            self.data, self.tx_ids, payout_ids, Period(self.payout_interval),
            self.claims.deductions,
        )  # fmt: skip

    # -- reading -------------------------------------------------------------------------

    def _category_mask(self, column: npt.NDArray[np.uint8], allowed: frozenset[int]) -> Mask:
        table = np.zeros(256, dtype=np.bool_)
        table[list(allowed)] = True
        return table[column]

    def _mask(self, f: Filters, lo: int, hi: int) -> Mask:
        d = self.data
        mask = np.ones(hi - lo, dtype=np.bool_)
        for column, allowed in (
            (d.status, f.status),
            (d.settlement, f.settlement),
            (d.method, f.method),
            (d.country, f.country),
            (d.customer_type, f.customer_type),
            (d.shop, f.shop),
            (d.dunning, f.dunning),
        ):
            if allowed is not None:
                mask &= self._category_mask(column[lo:hi], allowed)
        if f.currency is not None:
            mask &= self._category_mask(d.currency[lo:hi], f.currency)
        if f.amount_min is not None:
            mask &= d.amount[lo:hi] >= f.amount_min
        if f.amount_max is not None:
            mask &= d.amount[lo:hi] <= f.amount_max
        if f.customer is not None:
            mask &= d.customer[lo:hi] == f.customer
        return mask

    def _bounds(self, f: Filters) -> tuple[int, int]:
        created = self.data.created
        lo = 0 if f.created_from is None else int(np.searchsorted(created, f.created_from, "left"))
        hi = (
            self.data.size
            if f.created_to is None
            else int(np.searchsorted(created, f.created_to, "left"))
        )
        if f.order_reference is not None:
            row = self.row_of_order_reference(f.order_reference)
            if row is None or not lo <= row < hi:
                return 0, 0
            lo, hi = row, row + 1
        return lo, max(lo, hi)

    def count(self, f: Filters) -> int:
        lo, hi = self._bounds(f)
        return int(np.count_nonzero(self._mask(f, lo, hi)))

    def page(self, f: Filters, *, ascending: bool, after: int | None, limit: int) -> Page:
        """Up to `limit` matching rows strictly after position `after` in the given order."""
        lo, hi = self._bounds(f)
        if ascending:
            start = lo if after is None else max(lo, after + 1)
            end = hi
        else:
            start = lo
            end = hi if after is None else min(hi, after)
        found: list[Rows] = []
        wanted = limit + 1
        chunk = max(4096, limit * 4)
        while start < end and wanted > 0:
            if ascending:
                a, b = start, min(end, start + chunk)
                start = b
            else:
                a, b = max(start, end - chunk), end
                end = a
            hits = np.flatnonzero(self._mask(f, a, b)) + a
            if not ascending:
                hits = hits[::-1]
            found.append(hits[:wanted])
            wanted -= min(wanted, hits.shape[0])
            chunk *= 2
        rows = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        return Page(rows=rows[:limit].astype(np.int64), has_more=rows.shape[0] > limit)

    def sorted_page(
        self, f: Filters, *, key: str, ascending: bool, after: tuple[int, int] | None, limit: int
    ) -> tuple[Page, tuple[int, int] | None]:
        """Up to `limit` matching rows ordered by `key` ("amount" or "due_date"), ties by creation
        (descending reverses ascending exactly); rows without a due date come last either way.
        Also the position of the last row, for a cursor."""
        lo, hi = self._bounds(f)
        rows = np.flatnonzero(self._mask(f, lo, hi)).astype(np.int64) + lo
        d = self.data
        if key == "amount":
            values, missing = d.amount[rows].astype(np.int64), None
        else:  # due_date: the day payment is due, once captured
            values = d.due_at[rows]
            missing = values < 0
        sign = 1 if ascending else -1
        primary = values * sign
        if missing is not None:
            primary = np.where(missing, np.iinfo(np.int64).max, primary)
        secondary = rows * sign
        if after is not None:
            last_primary, last_secondary = after
            later = (primary > last_primary) | (
                (primary == last_primary) & (secondary > last_secondary)
            )
            rows, primary, secondary = rows[later], primary[later], secondary[later]
        if rows.shape[0] > limit + 1:  # only the first limit + 1 need sorting
            keep = np.argpartition(primary, limit)[: limit + 1]
            cut = primary[keep].max()
            keep = np.flatnonzero(primary <= cut)
            rows, primary, secondary = rows[keep], primary[keep], secondary[keep]
        order = np.lexsort((secondary, primary))[: limit + 1]
        chosen = rows[order]
        page = Page(rows=chosen[:limit], has_more=chosen.shape[0] > limit)
        if not page.has_more:
            return page, None
        last = order[limit - 1]
        return page, (int(primary[last]), int(secondary[last]))

    def summaries(self, rows: Rows) -> list[dict[str, Any]]:
        """The summaries of the given rows, built column by column."""
        d = self.data
        n = rows.shape[0]
        if n == 0:
            return []
        created = d.created[rows]
        captured_at = d.captured_at[rows]
        paid_at = d.paid_at[rows]
        due = d.due_at[rows]
        settlement = [v.SETTLEMENTS[i] for i in d.settlement[rows].tolist()]
        columns: dict[str, list[Any]] = {
            "id": self.tx_ids.encode_many(d.merchant_no, rows),
            "created_at": _times(created),
            "updated_at": _times(d.updated[rows]),
            "status": [v.STATUSES[i] for i in d.status[rows].tolist()],
            "settlement_status": settlement,
            "payment_method": [v.PAYMENT_METHODS[i] for i in d.method[rows].tolist()],
            "currency": [v.CURRENCIES[i] for i in d.currency[rows].tolist()],
            "amount": d.amount[rows].tolist(),
            "captured_amount": d.captured[rows].tolist(),
            "refunded_amount": d.refunded[rows].tolist(),
            "cancelled_amount": d.cancelled[rows].tolist(),
            "order_reference": [
                f"{d.order_prefix}-{r + v.ORDER_NUMBER_OFFSET}" for r in rows.tolist()
            ],
            "shop": [d.shops[i] for i in d.shop[rows].tolist()],
            "country": [v.COUNTRIES[i] for i in d.country[rows].tolist()],
            "customer_type": [v.CUSTOMER_TYPES[i] for i in d.customer_type[rows].tolist()],
            "customer_id": self.customer_ids.encode_many(d.merchant_no, d.customer[rows]),
            "authorization_expires_at": _times(created + v.AUTHORIZATION_DAYS * v.DAY),
            "captured_at": _times(captured_at, nullable=True),
            "due_date": _dates(due),
            "paid_at": _times(paid_at, nullable=True),
            "dunning_level": d.dunning[rows].tolist(),
        }
        keys = tuple(columns)
        return [
            dict(zip(keys, values, strict=True)) for values in zip(*columns.values(), strict=True)
        ]

    def summary(self, row: int) -> dict[str, Any]:
        return self.summaries(np.asarray([row], dtype=np.int64))[0]

    def detail(self, row: int, now: int) -> dict[str, Any]:
        """The summary plus the customer's personal data, the order lines, the history and the
        invoice."""
        d = self.data
        body = self.summary(row)
        body["customer"] = self.people.customer(
            merchant_no=d.merchant_no,
            customer_no=int(d.customer[row]),
            customer_id=body["customer_id"],
            country=body["country"],
            b2b=body["customer_type"] == "b2b",
            transaction_no=row,
            direct_debit=body["payment_method"] == "direct_debit",
        )
        body["items"] = self.people.order_lines(d.merchant_no, row, int(d.amount[row]))
        body["events"] = self._events(row)
        body["invoice"] = self.invoices.view(row, now)
        return body

    def claim_answer(self, index: int, now: int) -> dict[str, Any]:
        """One claim as the contract shows it, with the payout that holds its deduction."""
        picks = np.asarray([index], dtype=np.int64)
        return self.claims.answers(picks, now, self.payouts.ids_at)[0]

    def row_of_id(self, transaction_id: str) -> int | None:
        decoded = self.tx_ids.decode(transaction_id)
        if decoded is None or decoded[0] != self.data.merchant_no or decoded[1] >= self.data.size:
            return None
        return decoded[1]

    def customer_of_id(self, customer_id: str) -> int | None:
        decoded = self.customer_ids.decode(customer_id)
        if decoded is None or decoded[0] != self.data.merchant_no:
            return None
        customer = decoded[1]
        if not np.any(self.data.customer == customer):
            return None
        return customer

    def row_of_order_reference(self, reference: str) -> int | None:
        prefix, _, digits = reference.partition("-")
        if (
            prefix != self.data.order_prefix
            or len(digits) != v.ORDER_NUMBER_DIGITS
            or not digits.isascii()
            or not digits.isdigit()
        ):
            return None
        row = int(digits) - v.ORDER_NUMBER_OFFSET
        return row if 0 <= row < self.data.size else None

    # -- history -------------------------------------------------------------------------

    def _events(self, row: int) -> list[dict[str, Any]]:
        if row in self.events:
            return list(self.events[row])
        return self._generated_events(row)

    def _generated_events(self, row: int) -> list[dict[str, Any]]:
        """The history implied by the generated columns (before any write to this row)."""
        d = self.data
        currency = v.CURRENCIES[int(d.currency[row])]
        amount = int(d.amount[row])
        events: list[tuple[int, str, int | None, str, str | None, int | None]] = []
        created = int(d.created[row])
        if d.status[row] == v.DECLINED:
            reason = v.DECLINE_REASONS[row % len(v.DECLINE_REASONS)]
            events.append((created, "decline", amount, "failed", reason, None))
        else:
            events.append((created, "authorization", amount, "succeeded", None, None))
        captured_at = int(d.captured_at[row])
        if captured_at >= 0:
            events.append((captured_at, "capture", int(d.captured[row]), "succeeded", None, None))
        if d.cancelled_at[row] >= 0:
            cancelled = int(d.cancelled[row])
            events.append(
                (int(d.cancelled_at[row]), "cancellation", cancelled, "succeeded", None, None)
            )
        if d.refunded_at[row] >= 0:
            refunded = int(d.refunded[row])
            reason = "customer_return"
            events.append((int(d.refunded_at[row]), "refund", refunded, "succeeded", reason, None))
        net = int(d.captured[row] - d.refunded[row])
        if captured_at >= 0:
            due = captured_at + v.DUE_DAYS * v.DAY  # the history was made before any extension
            for level in range(1, int(d.dunning[row]) + 1):
                at = due + v.DUNNING_DAYS[level - 1] * v.DAY
                events.append(
                    (at, "dunning_notice", net, "succeeded", v.DUNNING_LEVELS[level], level)
                )
            if d.written_off[row]:
                at = due + v.WRITE_OFF_DAYS * v.DAY
                events.append((at, "write_off", net, "succeeded", "uncollectible", None))
        if d.paid_at[row] >= 0:
            events.append((int(d.paid_at[row]), "payment", net, "succeeded", None, None))
        events.sort(key=lambda e: e[0])
        return [
            {
                "id": f"evt_{row:x}{i:02x}{d.merchant_no:x}",
                "type": kind,
                "occurred_at": _iso(at),
                "amount": value,
                "currency": currency,
                "outcome": outcome,
                "reason": reason,
                "dunning_level": level,
            }
            for i, (at, kind, value, outcome, reason, level) in enumerate(events)
        ]

    # -- the passing of time -------------------------------------------------------------

    def advance_time(self, now: float) -> None:
        """Expire authorizations and move unpaid invoices into dunning as time passes."""
        if now - self._swept_at < TIME_SWEEP_SECONDS:
            return
        self._swept_at = now
        d = self.data
        t = int(now)
        expired = (d.status == v.AUTHORIZED) & (d.created + v.AUTHORIZATION_DAYS * v.DAY <= t)
        d.status[expired] = v.EXPIRED
        d.updated[expired] = t
        self.renderer.refresh(np.flatnonzero(expired))
        unpaid = (d.settlement == v.OPEN) | (d.settlement == v.OVERDUE)
        rows = np.flatnonzero(unpaid)
        due = d.due_at[rows]
        overdue = past_due(due, t)
        became_overdue = overdue & (d.settlement[rows] == v.OPEN)
        d.settlement[rows[overdue]] = v.OVERDUE
        level = dunning_level(t - due)
        raised = (level > d.dunning[rows]) & ~self.invoices.paused(rows, t)
        d.dunning[rows[raised]] = level[raised].astype(np.uint8)
        d.updated[rows[raised | became_overdue]] = t
        self.renderer.refresh(rows[raised | became_overdue])

    # -- writing -------------------------------------------------------------------------

    def capturable(self, row: int, now: int) -> int:
        d = self.data
        if d.status[row] not in ACTIONABLE_CAPTURE:
            return 0
        if d.created[row] + v.AUTHORIZATION_DAYS * v.DAY <= now:
            return 0
        return int(d.amount[row] - d.captured[row] - d.cancelled[row])

    def capture(self, row: int, amount: int, now: int) -> dict[str, Any]:
        d = self.data
        self._refuse_final(row)
        if d.status[row] not in ACTIONABLE_CAPTURE:
            raise Problem.invalid_state(
                "Only an authorized or partially captured transaction can be captured."
            )
        if d.created[row] + v.AUTHORIZATION_DAYS * v.DAY <= now:
            raise Problem.invalid_state("The authorization has expired.")
        available = self.capturable(row, now)
        if amount > available:
            raise Problem.amount_exceeds(available, "capture")
        self._materialise_events(row)
        if d.captured[row] == 0:
            d.captured_at[row] = now
            d.due_at[row] = now + v.DUE_DAYS * v.DAY
            d.settlement[row] = v.OPEN
            d.dunning[row] = 0
        d.captured[row] += amount
        return self._record(row, "capture", amount, None, now)

    def refund(self, row: int, amount: int, reason: str, now: int) -> dict[str, Any]:
        d = self.data
        self._refuse_final(row)
        available = int(d.captured[row] - d.refunded[row])
        if available <= 0:
            raise Problem.invalid_state("Nothing has been captured that could be refunded.")
        if amount > available:
            raise Problem.amount_exceeds(available, "refund")
        self._materialise_events(row)
        d.refunded[row] += amount
        if d.refunded[row] == d.captured[row]:
            d.settlement[row] = v.NO_SETTLEMENT
            d.dunning[row] = 0
        return self._record(row, "refund", amount, reason, now)

    def cancel(self, row: int, now: int) -> dict[str, Any]:
        d = self.data
        self._refuse_final(row)
        rest = int(d.amount[row] - d.captured[row] - d.cancelled[row])
        if rest <= 0:
            raise Problem.invalid_state("Nothing uncaptured remains that could be cancelled.")
        self._materialise_events(row)
        d.cancelled[row] += rest
        return self._record(row, "cancellation", rest, None, now)

    # -- the invoice -----------------------------------------------------------------------

    def extend_due_date(
        self, row: int, working_days: int, fee_amount: int, now: int
    ) -> dict[str, Any]:
        self._materialise_events(row)
        extension = self.invoices.extend(row, working_days, fee_amount, now)
        self.payouts.record(row, "extension_fee", extension.fee_amount - extension.fee_vat, now)
        return self._invoice_change(row, "due_date_extension", extension.fee_amount, now)

    def pause_dunning(self, row: int, days: int, now: int) -> dict[str, Any]:
        self._materialise_events(row)
        until = self.invoices.pause(row, days, now)
        return self._invoice_change(row, "dunning_pause", None, now, f"until {until.isoformat()}")

    def send_invoice_again(self, row: int, now: int) -> dict[str, Any]:
        self._materialise_events(row)
        self.invoices.send_again(row, now)
        return self._invoice_change(row, "invoice_resend", None, now)

    def paid_directly(self, row: int, amount: int, paid_on: str, now: int) -> dict[str, Any]:
        self._materialise_events(row)
        self.invoices.paid_directly(row, amount, paid_on, now)
        self.payouts.record(row, "direct_payment", amount, now)
        return self._invoice_change(row, "direct_payment", amount, now)

    def _invoice_change(
        self, row: int, kind: str, amount: int | None, now: int, reason: str | None = None
    ) -> dict[str, Any]:
        """Record an invoice operation on the row: its event, and the answer to the client."""
        d = self.data
        d.updated[row] = now
        self.renderer.refresh(np.asarray([row]))
        currency = self._event(row, kind, amount, reason, now)
        return {
            "id": f"iop_{secrets.token_hex(12)}",
            "type": kind,
            "amount": amount,
            "currency": currency,
            "created_at": _iso(now),
            "transaction": self.summary(row),
            "invoice": self.invoices.view(row, now),
        }

    def _event(self, row: int, kind: str, amount: int | None, reason: str | None, now: int) -> str:
        """Append a written event to the row's history; the row's currency."""
        currency = v.CURRENCIES[int(self.data.currency[row])]
        self.events[row].append(
            {
                "id": f"evt_{secrets.token_hex(12)}",
                "type": kind,
                "occurred_at": _iso(now),
                "amount": amount,
                "currency": currency,
                "outcome": "succeeded",
                "reason": reason,
                "dunning_level": None,
            }
        )
        return currency

    def _refuse_final(self, row: int) -> None:
        status = int(self.data.status[row])
        if status in (v.DECLINED, v.EXPIRED):
            raise Problem.invalid_state(f"A {v.STATUSES[status]} transaction takes no action.")

    def _materialise_events(self, row: int) -> None:
        if row not in self.events:
            self.events[row] = self._generated_events(row)

    def _record(
        self, row: int, kind: str, amount: int, reason: str | None, now: int
    ) -> dict[str, Any]:
        d = self.data
        one = np.asarray([row])
        d.status[row] = status_from_amounts(
            d.amount[one], d.captured[one], d.refunded[one], d.cancelled[one]
        )[0]
        d.updated[row] = now
        self.renderer.refresh(one)
        if kind in ("capture", "refund"):
            self.payouts.record(row, kind, amount, now)
        action_id = f"act_{secrets.token_hex(12)}"
        currency = self._event(row, kind, amount, reason, now)
        return {
            "id": action_id,
            "type": kind,
            "amount": amount,
            "currency": currency,
            "reason": reason,
            "created_at": _iso(now),
            "transaction": self.summary(row),
        }


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _times(seconds: npt.NDArray[np.int64], *, nullable: bool = False) -> list[str | None]:
    text = np.strings.add(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), "Z")
    values: list[str | None] = text.tolist()
    if nullable:
        return [t if s >= 0 else None for t, s in zip(values, seconds.tolist(), strict=True)]
    return values


def _dates(seconds: npt.NDArray[np.int64]) -> list[str | None]:
    text = np.datetime_as_string(seconds.astype("datetime64[s]").astype("datetime64[D]"))
    return [t if s >= 0 else None for t, s in zip(text.tolist(), seconds.tolist(), strict=True)]
