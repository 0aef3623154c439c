"""Payouts: what the merchant receives each period and currency, derived from its bookings.

A payout is one period (a week from Monday 00:00 UTC by default, or a calendar month) in one
currency. Its lines are the period's bookings: each capture followed by the provider's fee for
it, each refund, and each claim deduction. The generated history's captures and refunds are
frozen into one time-ordered table of movements when the book is made, because writes change
those columns later; every capture or refund written through the API is appended as a movement of
its own, so it lands in the payout of the period it happened in, and so is the fee for a due-date
extension (a fee line of its own) and each invoice the customer paid the merchant directly (a
deduction). The totals of every payout are counted once with `np.bincount` and kept up to date by
each write; a payout's lines are a slice of the table. Claim deductions are different: each is
booked at a moment that may still lie ahead (a claim expires, a contested one is lost), so they
are counted at each request from the claims' own column (`Deductions`, a few thousand rows), and
a payout shows those whose moment has come. Nothing here is personal data: rows, amounts, times
and currencies only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from sarportal.sandbox import vocab as v
from sarportal.sandbox.data import MerchantData
from sarportal.sandbox.ids import IdCodec

Int64Array = npt.NDArray[np.int64]
Amounts = TypeVar("Amounts", int, Int64Array)

INTERVALS = ("week", "month")
STATUSES = ("pending", "in_transit", "paid")
PENDING, IN_TRANSIT, PAID = range(3)
# Line kinds in the order they take at one moment of one transaction.
LINE_TYPES = ("capture", "fee", "refund", "claim", "direct_payment")
CAPTURE, FEE, REFUND, CLAIM, DIRECT_PAYMENT = range(5)
WRITTEN_KINDS = {"capture": CAPTURE, "refund": REFUND, "extension_fee": FEE,
                 "direct_payment": DIRECT_PAYMENT}  # fmt: skip
ARRIVAL_DAYS = 2
FEE_BASIS_POINTS, FEE_FIXED, VAT_PERCENT = 199, 19, 19  # 1.99 % + 0.19, plus 19 % VAT
CURRENCY_SLOTS = 4  # a payout id holds period × 4 + currency
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
# Each currency code's place in alphabetical order, which orders lists and totals.
CURRENCY_RANK = [sorted(v.CURRENCIES).index(code) for code in v.CURRENCIES]


def fee_of(captured: Amounts) -> tuple[Amounts, Amounts]:
    """The provider's fee for a capture, VAT included, and that VAT: 1.99 % + 19 minor units,
    plus 19 % VAT, each rounded half up to the minor unit."""
    net = (captured * FEE_BASIS_POINTS + 5_000) // 10_000 + FEE_FIXED
    vat = vat_of(net)
    return net + vat, vat


def vat_of(net: Amounts) -> Amounts:
    """The VAT on a net fee, rounded half up to the minor unit."""
    return (net * VAT_PERCENT + 50) // 100


@dataclass(frozen=True)
class Period:
    """Payout periods of one interval, numbered from the one that holds 1970-01-01."""

    interval: str = "week"

    def index(self, at: Int64Array) -> Int64Array:
        days = at // v.DAY
        if self.interval == "week":
            return (days + 3) // 7  # 1970-01-01 was a Thursday; its week began on -3
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)

    def start(self, number: int) -> int:
        """The first second of period `number`."""
        if self.interval == "week":
            return (number * 7 - 3) * v.DAY
        return int(np.datetime64(number, "M").astype("datetime64[s]").astype(np.int64))

    def label(self, number: int) -> str:
        """The period as the bank reference names it: ISO year-week, or year-month."""
        day = datetime.fromtimestamp(self.start(number), UTC).date()
        if self.interval == "week":
            year, week, _ = day.isocalendar()
            return f"{year}-{week:02d}"
        return f"{day.year}-{day.month:02d}"


@dataclass
class Totals:
    """A payout's sums by kind of booking (signed minor units) and its number of lines."""

    captures: int = 0
    refunds: int = 0
    fees: int = 0
    fee_vat: int = 0
    lines: int = 0
    claims: int = 0
    direct_payments: int = 0

    @property
    def amount(self) -> int:
        return self.captures + self.refunds + self.fees + self.claims + self.direct_payments

    def add(self, kind: int, amount: int) -> None:
        """Count a written movement: a capture (and its fee), a refund, a fee of its own (its
        net `amount`), or a direct payment."""
        if kind == CAPTURE:
            fee, vat = fee_of(amount)
            self.captures += amount
            self.fees -= fee
            self.fee_vat -= vat
            self.lines += 2
            return
        self.lines += 1
        if kind == FEE:
            vat = vat_of(amount)
            self.fees -= amount + vat
            self.fee_vat -= vat
        elif kind == DIRECT_PAYMENT:
            self.direct_payments -= amount
        else:
            self.refunds -= amount


@dataclass(frozen=True)
class Payout:
    """One payout as it stands: its period, currency, names and totals."""

    period: int
    currency: int
    id: str
    bank_reference: str
    start: int
    end: int
    totals: Totals

    @property
    def arrival(self) -> int:
        """Midnight UTC of the arrival day."""
        return self.end + ARRIVAL_DAYS * v.DAY

    def status(self, now: int) -> int:
        return PENDING if now < self.end else IN_TRANSIT if now < self.arrival else PAID

    def sort_key(self) -> tuple[int, int]:
        """Newest first: by arrival day descending, then by currency code."""
        return -self.arrival, CURRENCY_RANK[self.currency]


@dataclass(frozen=True)
class PayoutFilters:
    """A payout list's filters: arrival days (days since 1970, half-open), codes."""

    arrival_from: int | None = None
    arrival_to: int | None = None
    status: frozenset[int] | None = None
    currency: frozenset[int] | None = None

    def match(self, payout: Payout, now: int) -> bool:
        day = payout.arrival // v.DAY
        return (
            (self.arrival_from is None or day >= self.arrival_from)
            and (self.arrival_to is None or day < self.arrival_to)
            and (self.status is None or payout.status(now) in self.status)
            and (self.currency is None or payout.currency in self.currency)
        )


@dataclass(frozen=True)
class Deductions:
    """The claims' deductions, one per claim: its transaction row, its amount, and the moment it
    is booked (-1: never). The claims set `at` as they are answered; a deduction belongs to a
    payout once its moment has come."""

    row: Int64Array
    amount: Int64Array
    at: Int64Array

    def booked(self, now: int) -> Int64Array:
        """The claims whose deduction is booked by `now`."""
        return np.flatnonzero((self.at >= 0) & (self.at <= now))


@dataclass(frozen=True)
class Lines:
    """A payout's lines in booking order (time, row, write sequence, kind), as columns."""

    at: Int64Array
    row: Int64Array
    seq: Int64Array  # 0 for the generated history, n for the n-th write
    kind: Int64Array
    amount: Int64Array
    vat: Int64Array

    @classmethod
    def of_movements(
        cls, at: Int64Array, row: Int64Array, seq: Int64Array, kind: Int64Array, amount: Int64Array
    ) -> Lines:
        """The lines of ordered movements: a capture becomes a capture line and its fee line,
        a fee of its own (its net amount) a fee line with its VAT, a refund, a claim or a direct
        payment one negative line."""
        source = np.repeat(np.arange(at.shape[0]), np.where(kind == CAPTURE, 2, 1))
        line_kind = kind[source]
        of_capture = np.zeros(source.shape[0], dtype=np.bool_)
        of_capture[1:] = source[1:] == source[:-1]
        line_kind[of_capture] = FEE
        value = amount[source]
        gross, vat = fee_of(value)
        own = (line_kind == FEE) & ~of_capture
        own_vat = vat_of(value)
        return cls(
            at=at[source],
            row=row[source],
            seq=seq[source],
            kind=line_kind,
            amount=np.select(
                [line_kind == CAPTURE, of_capture, own], [value, -gross, -(value + own_vat)], -value
            ),
            vat=np.select([of_capture, own], [-vat, -own_vat], 0),
        )

    def __len__(self) -> int:
        return int(self.at.shape[0])

    def cut(self, start: int, stop: int) -> Lines:
        return Lines(*(column[start:stop] for column in self._columns()))

    def position(self, index: int) -> tuple[int, int, int, int]:
        """The sort key of line `index`, for a cursor."""
        return (
            int(self.at[index]),
            int(self.row[index]),
            int(self.seq[index]),
            int(self.kind[index]),
        )

    def first_after(self, position: tuple[int, ...]) -> int:
        """The index of the first line that sorts after `position` (keys are unique)."""
        at, row, seq, kind = position
        later = (self.at > at) | (self.at == at) & (
            (self.row > row)
            | (self.row == row) & ((self.seq > seq) | (self.seq == seq) & (self.kind > kind))
        )
        return len(self) - int(np.count_nonzero(later))

    def _columns(self) -> tuple[Int64Array, ...]:
        return self.at, self.row, self.seq, self.kind, self.amount, self.vat


class Payouts:
    """One merchant's payouts: the frozen history of its bookings plus every write since."""

    def __init__(
        self,
        data: MerchantData,
        tx_ids: IdCodec,
        ids: IdCodec,
        period: Period,
        deductions: Deductions,
    ) -> None:
        self.data, self.tx_ids, self.ids, self.period = data, tx_ids, ids, period
        self.deductions = deductions
        captured = np.flatnonzero(data.captured_at >= 0)
        refunded = np.flatnonzero(data.refunded_at >= 0)
        rows = np.concatenate([captured, refunded]).astype(np.int64)
        at = np.concatenate([data.captured_at[captured], data.refunded_at[refunded]])
        order = np.lexsort((rows, at))
        self._rows, self._at = rows[order], at[order].astype(np.int64)
        counts = [captured.shape[0], refunded.shape[0]]
        self._kind = np.repeat(np.asarray([CAPTURE, REFUND], dtype=np.uint8), counts)[order]
        self._amount = np.concatenate([data.captured[captured], data.refunded[refunded]])[order]
        self._written: list[tuple[int, int, int, int]] = []  # (at, row, kind, amount)
        self._totals = self._count()
        self._names: dict[tuple[int, int], tuple[str, str]] = {}

    def _count(self) -> dict[tuple[int, int], Totals]:
        """The totals of every payout of the history: one bincount per figure. The sums go
        through float64, exact below 2**53 minor units."""
        if self._at.shape[0] == 0:
            return {}
        number = self.period.index(self._at)
        first = int(number.min())
        key = (number - first) * CURRENCY_SLOTS + self.data.currency[self._rows]
        capture = self._kind == CAPTURE
        gross, vat = fee_of(self._amount)

        def total(weights: Int64Array) -> list[int]:
            sums = np.bincount(key, weights=weights, minlength=int(key.max()) + 1)
            return [int(x) for x in np.rint(sums).tolist()]

        captures = total(np.where(capture, self._amount, 0))
        refunds = total(np.where(capture, 0, -self._amount))
        fees, fee_vat = total(np.where(capture, -gross, 0)), total(np.where(capture, -vat, 0))
        lines = total(np.where(capture, 2, 1))
        return {
            (first + slot // CURRENCY_SLOTS, slot % CURRENCY_SLOTS): Totals(
                captures[slot], refunds[slot], fees[slot], fee_vat[slot], lines[slot]
            )
            for slot in np.flatnonzero(np.asarray(lines)).tolist()
        }

    def record(self, row: int, kind: str, amount: int, at: int) -> None:
        """A capture, refund, extension fee (net) or direct payment written through the API: a
        movement of the period it happened in."""
        code = WRITTEN_KINDS[kind]
        self._written.append((at, row, code, amount))
        number = int(self.period.index(np.asarray([at], dtype=np.int64))[0])
        key = (number, int(self.data.currency[row]))
        self._totals.setdefault(key, Totals()).add(code, amount)

    # -- reading -------------------------------------------------------------------------

    def _claims(self, now: int) -> dict[tuple[int, int], Totals]:
        """The claim deductions booked by `now`, summed by payout."""
        d = self.deductions
        booked = d.booked(now)
        key = self.period.index(d.at[booked]) * CURRENCY_SLOTS + self.data.currency[d.row[booked]]
        keys, slot = np.unique(key, return_inverse=True)
        sums = np.bincount(slot, weights=d.amount[booked], minlength=keys.shape[0])
        counts = np.bincount(slot, minlength=keys.shape[0])
        return {
            divmod(k, CURRENCY_SLOTS): Totals(lines=n, claims=-round(total))
            for k, total, n in zip(keys.tolist(), sums.tolist(), counts.tolist(), strict=True)
        }

    def _payout(self, number: int, currency: int, claims: Totals | None) -> Payout:
        names = self._names.get((number, currency))
        if names is None:
            value = np.asarray([number * CURRENCY_SLOTS + currency], dtype=np.int64)
            payout_id = self.ids.encode_many(self.data.merchant_no, value)[0]
            digest = int.from_bytes(hashlib.blake2b(payout_id.encode(), digest_size=4).digest())
            code = "".join(CODE_ALPHABET[(digest >> (5 * i)) & 31] for i in range(6))
            label = self.period.label(number)
            names = payout_id, f"SAR {label} {v.CURRENCIES[currency]} {code}"
            self._names[(number, currency)] = names
        totals = replace(self._totals.get((number, currency), Totals()))
        if claims is not None:
            totals.claims, totals.lines = claims.claims, totals.lines + claims.lines
        start, end = self.period.start(number), self.period.start(number + 1)
        return Payout(number, currency, *names, start, end, totals)

    def find(self, payout_id: str, now: int) -> Payout | None:
        """The payout of this id; None for a malformed, unknown or another merchant's id."""
        decoded = self.ids.decode(payout_id)
        if decoded is None or decoded[0] != self.data.merchant_no:
            return None
        key = divmod(decoded[1], CURRENCY_SLOTS)
        claims = self._claims(now)
        if key not in self._totals and key not in claims:
            return None
        return self._payout(*key, claims.get(key))

    def matching(self, filters: PayoutFilters, now: int) -> list[Payout]:
        """Every payout that matches, newest first."""
        claims = self._claims(now)
        payouts = (self._payout(*key, claims.get(key)) for key in self._totals.keys() | claims)
        return sorted((p for p in payouts if filters.match(p, now)), key=Payout.sort_key)

    def ids_at(self, at: Int64Array, currency: Int64Array) -> list[str]:
        """The ids of the payouts whose periods hold these moments, in these currencies."""
        value = self.period.index(at) * CURRENCY_SLOTS + currency.astype(np.int64)
        return self.ids.encode_many(self.data.merchant_no, value)

    def lines(self, payout: Payout, now: int) -> Lines:
        """The payout's lines as they stand at `now`, in booking order."""
        lo, hi = np.searchsorted(self._at, [payout.start, payout.end])
        pick = lo + np.flatnonzero(self.data.currency[self._rows[lo:hi]] == payout.currency)
        history = (self._at[pick], self._rows[pick], self._kind[pick].astype(np.int64),
                   self._amount[pick], np.zeros(pick.shape[0], dtype=np.int64))  # fmt: skip
        written = [
            (*movement, seq)
            for seq, movement in enumerate(self._written, start=1)
            if payout.start <= movement[0] < payout.end
            and self.data.currency[movement[1]] == payout.currency
        ]
        d = self.deductions
        claims = d.booked(now)
        claims = claims[
            (d.at[claims] >= payout.start)
            & (d.at[claims] < payout.end)
            & (self.data.currency[d.row[claims]] == payout.currency)
        ]
        added = np.asarray(written, dtype=np.int64).reshape(-1, 5).T
        none = np.zeros(claims.shape[0], dtype=np.int64)
        booked = np.stack([d.at[claims], d.row[claims], none + CLAIM, d.amount[claims], none])
        at, row, kind, amount, seq = (
            np.concatenate(parts) for parts in zip(history, added, booked, strict=True)
        )
        if added.shape[1] or booked.shape[1]:
            order = np.lexsort((kind, seq, row, at))
            at, row, kind, amount, seq = (x[order] for x in (at, row, kind, amount, seq))
        return Lines.of_movements(at, row, seq, kind, amount)
