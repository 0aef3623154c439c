"""Deterministic transaction data for one merchant, generated into columns.

Every transaction is a row index into a set of numpy arrays, ordered by creation time, so a list
request is a slice and a filter is a vectorised mask. Only what a write can change is mutable;
personal data is never stored here but derived on demand (see `people.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sarportal.sandbox import vocab as v

Int64Array = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]

HISTORY_DAYS = 730

# Relative order volume per weekday (Monday first) and per month (January first).
WEEKDAY_WEIGHT = np.array([1.05, 1.0, 1.0, 1.02, 0.95, 0.8, 1.18])
MONTH_WEIGHT = np.array([0.85, 0.82, 0.9, 0.92, 0.95, 0.9, 0.88, 0.9, 0.97, 1.02, 1.3, 1.75])
# Relative order volume per hour of the day: quiet nights, a lunch bump, an evening peak.
HOUR_WEIGHT = np.array(
    [
        *(0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.6, 1.1, 1.5, 1.7, 1.8, 1.9),
        *(2.1, 2.0, 1.8, 1.8, 1.9, 2.1, 2.4, 2.8, 3.0, 2.7, 2.0, 1.2),
    ]
)


@dataclass
class MerchantData:
    """The columns of one merchant's transactions, in creation order."""

    merchant_no: int
    shops: tuple[str, ...]
    order_prefix: str
    created: Int64Array
    amount: Int64Array
    customer: Int64Array
    method: UInt8Array
    country: UInt8Array
    customer_type: UInt8Array
    shop: UInt8Array
    # Mutable by writes and by the passing of time:
    status: UInt8Array
    settlement: UInt8Array
    captured: Int64Array
    refunded: Int64Array
    cancelled: Int64Array
    captured_at: Int64Array  # -1: not captured
    paid_at: Int64Array  # -1: not paid
    dunning: UInt8Array
    updated: Int64Array
    # Times of the generated history, used to rebuild its events (-1: none).
    cancelled_at: Int64Array
    refunded_at: Int64Array
    written_off: npt.NDArray[np.bool_]

    currency: UInt8Array = field(init=False)
    # When the invoice is due (-1: nothing captured): 14 days after the first capture, later
    # once the due date is extended. Mutable like the columns above.
    due_at: Int64Array = field(init=False)

    def __post_init__(self) -> None:
        self.currency = np.asarray(v.CURRENCY_OF_COUNTRY, dtype=np.uint8)[self.country]
        self.due_at = due_of(self.captured_at)

    @property
    def size(self) -> int:
        return int(self.created.shape[0])


def _customer_traits(customers: Int64Array, seed: int) -> tuple[UInt8Array, UInt8Array]:
    """Country and customer type follow the customer, so repeat customers stay consistent."""
    h = mix(customers.astype(np.uint64) ^ np.uint64(seed * 0x9E3779B1 & 0xFFFFFFFF))
    pct = (h % np.uint64(100)).astype(np.int64)
    country = np.where(pct < 70, 0, np.where(pct < 88, 1, 2)).astype(np.uint8)
    pct2 = ((h >> np.uint64(17)) % np.uint64(100)).astype(np.int64)
    customer_type = (pct2 < 12).astype(np.uint8)
    return country, customer_type


def mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser, vectorised: a cheap, well-spread hash of 64-bit integers."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _creation_times(rng: np.random.Generator, n: int, now: int) -> Int64Array:
    """Creation times over the history window with a weekly rhythm and a December peak."""
    today = now // v.DAY
    days = np.arange(today - HISTORY_DAYS, today + 1, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    growth = 0.8 + 0.4 * np.arange(days.shape[0]) / days.shape[0]
    weight = WEEKDAY_WEIGHT[weekday] * MONTH_WEIGHT[month] * growth
    elapsed_today = (now - today * v.DAY) / v.DAY
    weight[-1] *= elapsed_today
    counts = rng.multinomial(n, weight / weight.sum())
    day_of_row = np.repeat(days, counts)
    hour = rng.choice(24, size=n, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    time_of_day = hour * 3600 + rng.integers(0, 3600, size=n)
    is_today = day_of_row == today
    time_of_day[is_today] = (time_of_day[is_today] * elapsed_today).astype(np.int64)
    created: Int64Array = np.sort(day_of_row * v.DAY + time_of_day)
    return np.minimum(created, now - 1).astype(np.int64)


def _amounts(rng: np.random.Generator, customer_type: UInt8Array) -> Int64Array:
    """Log-normal order amounts in minor units: median near 60, a tail to several thousand."""
    n = customer_type.shape[0]
    b2b = customer_type == v.B2B
    mu = np.where(b2b, np.log(24_000.0), np.log(6_000.0))
    sigma = np.where(b2b, 1.05, 0.95)
    raw = np.exp(rng.normal(mu, sigma))
    amount = np.clip(raw, 299, 2_500_000).astype(np.int64)
    # Shop prices mostly end in .99 or .90.
    ending = rng.random(n)
    whole = amount // 100 * 100
    amount = np.where(ending < 0.5, whole + 99, np.where(ending < 0.7, whole + 90, amount))
    return np.maximum(amount, 199).astype(np.int64)


def _methods(rng: np.random.Generator, customer_type: UInt8Array, amount: Int64Array) -> UInt8Array:
    u = rng.random(customer_type.shape[0])
    b2c_method = np.where(u < 0.62, v.INVOICE, np.where(u < 0.78, v.INSTALLMENTS, v.DIRECT_DEBIT))
    # Installments are offered from 100 EUR on; B2B buys on invoice or by direct debit.
    b2c_method = np.where((b2c_method == v.INSTALLMENTS) & (amount < 10_000), v.INVOICE, b2c_method)
    b2b_method = np.where(u < 0.85, v.INVOICE, v.DIRECT_DEBIT)
    return np.where(customer_type == v.B2B, b2b_method, b2c_method).astype(np.uint8)


def generate(
    n: int,
    *,
    seed: int,
    merchant_no: int,
    now: int,
    shops: tuple[str, ...],
    order_prefix: str,
    backlog_days: int = 0,
) -> MerchantData:
    """Generate `n` transactions for one merchant, the same for the same seed and day. The
    orders of the last `backlog_days` days are not shipped yet: no capture or cancel has
    happened to them (a merchant with a backlog; the last 30 days are still authorized)."""
    rng = np.random.default_rng([seed, merchant_no])
    created = _creation_times(rng, n, now)
    pool = max(1, int(n * 0.45))
    customer = (pool * rng.random(n) ** 2.2).astype(np.int64)
    country, customer_type = _customer_traits(customer, seed + merchant_no)
    amount = _amounts(rng, customer_type)
    method = _methods(rng, customer_type, amount)
    if len(shops) >= 4:
        shop = np.where(customer_type == v.B2B, 3, country).astype(np.uint8)
    else:
        shop = np.zeros(n, dtype=np.uint8)

    data = MerchantData(
        merchant_no=merchant_no,
        shops=shops,
        order_prefix=order_prefix,
        created=created,
        amount=amount,
        customer=customer,
        method=method,
        country=country,
        customer_type=customer_type,
        shop=shop,
        status=np.full(n, v.AUTHORIZED, dtype=np.uint8),
        settlement=np.zeros(n, dtype=np.uint8),
        captured=np.zeros(n, dtype=np.int64),
        refunded=np.zeros(n, dtype=np.int64),
        cancelled=np.zeros(n, dtype=np.int64),
        captured_at=np.full(n, -1, dtype=np.int64),
        paid_at=np.full(n, -1, dtype=np.int64),
        dunning=np.zeros(n, dtype=np.uint8),
        updated=created.copy(),
        cancelled_at=np.full(n, -1, dtype=np.int64),
        refunded_at=np.full(n, -1, dtype=np.int64),
        written_off=np.zeros(n, dtype=np.bool_),
    )
    _simulate_history(rng, data, now, backlog_days)
    return data


def _simulate_history(
    rng: np.random.Generator, d: MerchantData, now: int, backlog_days: int = 0
) -> None:
    """Play each transaction's life up to `now`: decline, capture, cancel, refund, pay, dun.
    Orders of the last `backlog_days` days have been neither captured nor cancelled yet."""
    n = d.size
    big = d.amount > 50_000
    declined = rng.random(n) < np.where(big, 0.13, 0.075)

    fate = rng.random(n)
    never_captured = fate < 0.015
    fully_cancelled = (fate >= 0.015) & (fate < 0.055)
    partial = (fate >= 0.055) & (fate < 0.115)
    rest_cancelled = partial & (rng.random(n) < 0.5)

    delay = (rng.exponential(1.8, n) + 0.02) * v.DAY
    delay = np.minimum(delay, (v.AUTHORIZATION_DAYS - 1) * v.DAY).astype(np.int64)
    action_at = d.created + delay
    happened = (action_at < now) & (d.created < now - backlog_days * v.DAY)
    live = ~declined

    capture = live & ~never_captured & ~fully_cancelled & happened
    partial_fraction = rng.uniform(0.3, 0.9, n)
    captured_amount = np.where(partial, (d.amount * partial_fraction).astype(np.int64), d.amount)
    captured_amount = np.maximum(captured_amount, 1)
    d.captured[:] = np.where(capture, captured_amount, 0)
    d.captured_at[:] = np.where(capture, action_at, -1)

    cancel_all = live & fully_cancelled & happened
    cancel_rest = capture & rest_cancelled
    d.cancelled[:] = np.where(cancel_all, d.amount, np.where(cancel_rest, d.amount - d.captured, 0))
    d.cancelled_at[:] = np.where(cancel_all | cancel_rest, action_at, -1)

    refund_roll = rng.random(n)
    refund_at = d.captured_at + ((rng.exponential(8.0, n) + 0.05) * v.DAY).astype(np.int64)
    refund_happened = capture & (refund_at < now)
    full_refund = refund_happened & (refund_roll < 0.05)
    part_refund = refund_happened & (refund_roll >= 0.05) & (refund_roll < 0.12)
    refund_fraction = rng.uniform(0.1, 0.8, n)
    part_amount = np.maximum((d.captured * refund_fraction).astype(np.int64), 1)
    d.refunded[:] = np.where(full_refund, d.captured, np.where(part_refund, part_amount, 0))
    d.refunded_at[:] = np.where(full_refund | part_refund, refund_at, -1)

    _settle(rng, d, now, capture & ~full_refund)

    status = status_from_amounts(d.amount, d.captured, d.refunded, d.cancelled)
    expires = d.created + v.AUTHORIZATION_DAYS * v.DAY
    status = np.where((status == v.AUTHORIZED) & (expires <= now), v.EXPIRED, status)
    d.status[:] = np.where(declined, v.DECLINED, status).astype(np.uint8)

    d.updated[:] = np.maximum.reduce(
        [d.created, d.captured_at, d.cancelled_at, d.refunded_at, d.paid_at, _last_dunning_at(d)]
    )
    d.updated[d.status == v.EXPIRED] = np.maximum(
        d.updated[d.status == v.EXPIRED], expires[d.status == v.EXPIRED]
    )


def _settle(
    rng: np.random.Generator, d: MerchantData, now: int, settled: npt.NDArray[np.bool_]
) -> None:
    """Payment behaviour after capture: most pay near the due date, some late, a few never."""
    n = d.size
    roll = rng.random(n)
    days_to_pay = np.select(
        [roll < 0.2, roll < 0.8, roll < 0.93, roll < 0.965],
        [
            rng.uniform(1, 10, n),
            np.clip(rng.normal(13.0, 2.5, n), 1, None),
            v.DUE_DAYS + rng.exponential(18.0, n),
            v.DUE_DAYS + rng.uniform(40, 90, n),
        ],
        default=np.inf,
    )
    debit = d.method == v.DIRECT_DEBIT
    debit_ok = rng.random(n) < 0.96
    days_to_pay = np.where(debit & debit_ok, v.DUE_DAYS + rng.uniform(0, 1, n), days_to_pay)
    never = ~np.isfinite(days_to_pay)
    pay_offset = np.where(never, 0, days_to_pay * v.DAY).astype(np.int64)
    paid_time = d.captured_at + pay_offset
    paid = settled & ~never & (paid_time < now)
    d.paid_at[:] = np.where(paid, paid_time, -1)

    d.due_at[:] = due_of(d.captured_at)
    due = d.due_at
    until = np.where(paid, d.paid_at, now)
    d.dunning[:] = np.where(settled, dunning_level(until - due), 0).astype(np.uint8)
    written_off = settled & never & (now - due >= v.WRITE_OFF_DAYS * v.DAY)
    d.written_off[:] = written_off
    d.settlement[:] = np.select(
        [~settled, paid, written_off, past_due(due, now)],
        [v.NO_SETTLEMENT, v.PAID, v.WRITTEN_OFF, v.OVERDUE],
        default=v.OPEN,
    ).astype(np.uint8)


def due_of(captured_at: Int64Array) -> Int64Array:
    """The moments invoices captured at `captured_at` are due (-1 for -1: not captured)."""
    return np.where(captured_at >= 0, captured_at + v.DUE_DAYS * v.DAY, -1).astype(np.int64)


def past_due(due: Int64Array, now: int) -> npt.NDArray[np.bool_]:
    """Whether invoices due at `due` are overdue at `now`: from the day after their due date
    (a calendar date in UTC), never during it."""
    return now >= (due // v.DAY + 1) * v.DAY


def dunning_level(seconds_past_due: Int64Array) -> Int64Array:
    """The highest dunning level reached this long after the due date (0: none)."""
    thresholds = np.asarray(v.DUNNING_DAYS, dtype=np.int64) * v.DAY
    return np.searchsorted(thresholds, seconds_past_due, side="right").astype(np.int64)


def _last_dunning_at(d: MerchantData) -> Int64Array:
    due = d.due_at
    offsets = np.asarray((0, *v.DUNNING_DAYS), dtype=np.int64) * v.DAY
    at = np.where(d.dunning > 0, due + offsets[d.dunning], -1)
    return np.where(d.written_off, due + v.WRITE_OFF_DAYS * v.DAY, at)


def status_from_amounts(
    amount: Int64Array, captured: Int64Array, refunded: Int64Array, cancelled: Int64Array
) -> Int64Array:
    """The status rules of domain.md, in their order, for rows neither declined nor expired."""
    return np.select(
        [
            (captured > 0) & (refunded == captured),
            (refunded > 0) & (refunded < captured),
            (captured == 0) & (cancelled == amount),
            (captured > 0) & (captured + cancelled == amount),
            captured > 0,
        ],
        [v.REFUNDED, v.PARTIALLY_REFUNDED, v.CANCELLED, v.CAPTURED, v.PARTIALLY_CAPTURED],
        default=v.AUTHORIZED,
    ).astype(np.int64)
