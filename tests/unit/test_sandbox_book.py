"""Property tests of the sandbox's book: the amount rules, paging, ids and generated data.

The oracle is domain.md and the contract, written out here independently of the sandbox's code:
the status rules, the limits of each action, the filters as a plain Python loop over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sarportal.sandbox import vocab as v
from sarportal.sandbox.book import Book, Filters
from sarportal.sandbox.config import MERCHANTS
from sarportal.sandbox.data import MerchantData, generate
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.ids import IdCodec
from sarportal.sandbox.people import People

NOW = 1_750_000_000  # 2025-06-15T15:06:40Z, the data's fixed "today"
SEED = 10  # at this size and seed: 6 recent authorizations, rows with an uncaptured rest
N = 1000
DAY = 86_400
AUTH_DAYS = 30
MUTABLE = [
    "status",
    "settlement",
    "captured",
    "refunded",
    "cancelled",
    "captured_at",
    "paid_at",
    "dunning",
    "updated",
]


def make_data(
    n: int = N, seed: int = SEED, merchant_no: int = 1, backlog_days: int = 0
) -> MerchantData:
    merchant = MERCHANTS[merchant_no - 1]
    return generate(
        n,
        seed=seed,
        merchant_no=merchant_no,
        now=NOW,
        shops=merchant.shops,
        order_prefix=merchant.order_prefix,
        backlog_days=backlog_days,
    )


def make_book(n: int = N, seed: int = SEED) -> Book:
    """A book as `server.build_app` makes one, for merchant A."""
    return Book(
        make_data(n, seed),
        IdCodec(seed, "tx"),
        IdCodec(seed, "cus"),
        People(seed, pii_canary=False),
    )


def expected_status(amount: int, captured: int, refunded: int, cancelled: int) -> str:
    """domain.md's rules 2-7, in their order (rule 1, declined/expired, is set elsewhere)."""
    if captured > 0 and refunded == captured:
        return "refunded"
    if 0 < refunded < captured:
        return "partially_refunded"
    if captured == 0 and cancelled == amount:
        return "cancelled"
    if captured > 0 and captured + cancelled == amount:
        return "captured"
    if captured > 0 and captured + cancelled < amount:
        return "partially_captured"
    assert captured == 0 and cancelled < amount
    return "authorized"


def has_settlement(captured: int, refunded: int) -> bool:
    """domain.md: only transactions with something captured and not fully refunded."""
    return captured > 0 and refunded < captured


# -- (a) random actions never break the amount rules ------------------------------------------

TEMPLATE = make_data()
# Rows worth acting on more often than chance would pick them: still capturable or cancellable.
LIVELY = sorted(
    int(r)
    for r in np.flatnonzero(
        ~np.isin(TEMPLATE.status, [v.DECLINED, v.EXPIRED])
        & (
            (TEMPLATE.created + AUTH_DAYS * DAY > NOW)
            | (TEMPLATE.captured + TEMPLATE.cancelled < TEMPLATE.amount)
        )
    )
)
ROWS = st.one_of(st.sampled_from(LIVELY), st.integers(0, N - 1))
HOW_MUCH = st.sampled_from(["all", "one_more", "part", "one", "huge"])


@dataclass(frozen=True)
class Snapshot:
    values: dict[str, int]
    created: int
    amount: int
    events: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return v.STATUSES[self.values["status"]]


def snapshot(book: Book, row: int) -> Snapshot:
    d = book.data
    values = {name: int(getattr(d, name)[row]) for name in MUTABLE}
    return Snapshot(
        values,
        int(d.created[row]),
        int(d.amount[row]),
        book.detail(row, int(d.updated.max()))["events"],
    )


def pick_amount(how: str, available: int, fraction: float) -> int:
    if how == "all":
        return max(1, available)
    if how == "one_more":
        return available + 1
    if how == "part":
        return max(1, int(available * fraction))
    if how == "one":
        return 1
    return 10**9


def capture_refusal(s: Snapshot, amount: int, now: int) -> str | None:
    """Why the contract refuses this capture, or None when it must succeed."""
    if s.status not in ("authorized", "partially_captured"):
        return "invalid_state"
    if s.created + AUTH_DAYS * DAY <= now:
        return "invalid_state"
    v_ = s.values
    if amount > s.amount - v_["captured"] - v_["cancelled"]:
        return "amount_exceeds_available"
    return None


def refund_refusal(s: Snapshot, amount: int) -> str | None:
    v_ = s.values
    if s.status in ("declined", "expired") or v_["captured"] - v_["refunded"] <= 0:
        return "invalid_state"
    if amount > v_["captured"] - v_["refunded"]:
        return "amount_exceeds_available"
    return None


def cancel_refusal(s: Snapshot) -> str | None:
    """design §3 and the contract: cancel needs only an uncaptured rest and a status that is
    neither declined nor expired ("cancel only while something uncaptured remains")."""
    v_ = s.values
    if s.status in ("declined", "expired"):
        return "invalid_state"
    if s.amount - v_["captured"] - v_["cancelled"] <= 0:
        return "invalid_state"
    return None


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = make_book()
        self.now = NOW
        self.touched: set[int] = set()

    def _act(self, row: int, kind: str, amount: int, refusal: str | None) -> None:
        before = snapshot(self.book, row)
        self.now += 7
        self.touched.add(row)
        try:
            if kind == "capture":
                result = self.book.capture(row, amount, self.now)
            elif kind == "refund":
                result = self.book.refund(row, amount, "damaged", self.now)
            else:
                result = self.book.cancel(row, self.now)
        except Problem as problem:
            after = snapshot(self.book, row)
            event(f"{kind} refused: {problem.code}")
            assert problem.code == refusal, (kind, amount, before)
            assert after == before, "a refused action changed the row"
            return
        event(f"{kind} applied ({before.status} → {v.STATUSES[self.book.data.status[row]]})")
        after = snapshot(self.book, row)
        assert refusal is None, (kind, amount, before, "should have been refused")
        moved = {"capture": "captured", "refund": "refunded", "cancellation": "cancelled"}[kind]
        changed = {
            k for k in ("captured", "refunded", "cancelled") if after.values[k] != before.values[k]
        }
        assert changed == {moved}
        assert after.values[moved] - before.values[moved] == amount == result["amount"]
        assert after.values["updated"] == self.now
        assert after.events[: len(before.events)] == before.events
        (added,) = after.events[len(before.events) :]
        assert (added["type"], added["amount"], added["outcome"]) == (kind, amount, "succeeded")
        assert result["transaction"] == self.book.summary(row)
        if kind == "capture" and before.values["captured"] == 0:
            assert after.values["captured_at"] == self.now

    @rule(row=ROWS, how=HOW_MUCH, fraction=st.floats(0.01, 0.99))
    def capture(self, row: int, how: str, fraction: float) -> None:
        s = snapshot(self.book, row)
        available = s.amount - s.values["captured"] - s.values["cancelled"]
        amount = pick_amount(how, available, fraction)
        self._act(row, "capture", amount, capture_refusal(s, amount, self.now + 7))

    @rule(row=ROWS, how=HOW_MUCH, fraction=st.floats(0.01, 0.99))
    def refund(self, row: int, how: str, fraction: float) -> None:
        s = snapshot(self.book, row)
        amount = pick_amount(how, s.values["captured"] - s.values["refunded"], fraction)
        self._act(row, "refund", amount, refund_refusal(s, amount))

    @rule(row=ROWS)
    def cancel(self, row: int) -> None:
        s = snapshot(self.book, row)
        self._act(
            row,
            "cancellation",
            s.amount - s.values["captured"] - s.values["cancelled"],
            cancel_refusal(s),
        )

    @invariant()
    def touched_rows_keep_the_rules(self) -> None:
        d = self.book.data
        for row in self.touched:
            amount, captured = int(d.amount[row]), int(d.captured[row])
            refunded, cancelled = int(d.refunded[row]), int(d.cancelled[row])
            assert 0 <= refunded <= captured
            assert cancelled >= 0 and captured + cancelled <= amount
            status = v.STATUSES[int(d.status[row])]
            if status not in ("declined", "expired"):
                assert status == expected_status(amount, captured, refunded, cancelled)
            assert (d.settlement[row] != v.NO_SETTLEMENT) == has_settlement(captured, refunded)
            assert (d.captured_at[row] >= 0) == (captured > 0)


BookMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookActions = BookMachine.TestCase


def test_cancel_releases_the_uncaptured_rest_after_a_partial_refund() -> None:
    """The contract: cancellation is allowed "while something uncaptured remains and the
    transaction is neither declined nor expired". Captured part, refunded part: rest remains."""
    book = make_book()
    d = book.data
    row = next(r for r in LIVELY if d.status[r] == v.AUTHORIZED and d.created[r] + 30 * DAY > NOW)
    amount = int(d.amount[row])
    book.capture(row, amount // 2, NOW)
    book.refund(row, 1, "damaged", NOW)
    assert v.STATUSES[d.status[row]] == "partially_refunded"
    result = book.cancel(row, NOW)
    assert result["amount"] == amount - amount // 2
    assert int(d.cancelled[row]) == amount - amount // 2


# -- (b) paging yields exactly the filtered rows, once each, in order -------------------------

BOOK = make_book()
D = BOOK.data
# Each row's order reference as its summary shows it (the format is the sandbox's business).
REFERENCES = [s["order_reference"] for s in BOOK.summaries(np.arange(D.size, dtype=np.int64))]
CREATED = st.integers(int(D.created[0]) - DAY, NOW + DAY)


def _codes(vocabulary: tuple[Any, ...]) -> st.SearchStrategy[frozenset[int] | None]:
    codes = [i for i, name in enumerate(vocabulary) if name is not None]
    return st.none() | st.frozensets(st.sampled_from(codes), min_size=1)


@st.composite
def filters(draw: st.DrawFn) -> Filters:
    amount_min = draw(st.none() | st.integers(0, 20_000))
    amount_max = draw(st.none() | st.integers(0, 200_000))
    created_from = draw(st.none() | CREATED)
    created_to = draw(st.none() | CREATED)
    reference = draw(
        st.none()
        | st.sampled_from(["MH-0000001", "BV-1000001", "MH-1000000x", REFERENCES[0] + "0"])
        | st.sampled_from(REFERENCES)
    )
    return Filters(
        created_from=created_from,
        created_to=created_to,
        status=draw(_codes(v.STATUSES)),
        settlement=draw(_codes(v.SETTLEMENTS)),
        method=draw(_codes(v.PAYMENT_METHODS)),
        currency=draw(_codes(v.CURRENCIES)),
        country=draw(_codes(v.COUNTRIES)),
        customer_type=draw(_codes(v.CUSTOMER_TYPES)),
        amount_min=amount_min,
        amount_max=amount_max,
        order_reference=reference,
    )


def brute_force(f: Filters) -> list[int]:
    """The matching rows in creation order, one row at a time, straight from the columns."""
    found = []
    for row in range(D.size):
        checks = (
            (f.status, D.status[row]),
            (f.settlement, D.settlement[row]),
            (f.method, D.method[row]),
            (f.currency, D.currency[row]),
            (f.country, D.country[row]),
            (f.customer_type, D.customer_type[row]),
        )
        if any(allowed is not None and int(value) not in allowed for allowed, value in checks):
            continue
        amount, created = int(D.amount[row]), int(D.created[row])
        if f.amount_min is not None and amount < f.amount_min:
            continue
        if f.amount_max is not None and amount > f.amount_max:
            continue
        if f.created_from is not None and created < f.created_from:
            continue
        if f.created_to is not None and created >= f.created_to:
            continue
        if f.order_reference is not None and f.order_reference != REFERENCES[row]:
            continue
        found.append(row)
    return found


@settings(max_examples=150, deadline=None)
@given(f=filters(), limit=st.integers(1, 120), ascending=st.booleans())
def test_walking_all_pages_yields_exactly_the_filtered_rows_in_order(
    f: Filters, limit: int, ascending: bool
) -> None:
    walked: list[int] = []
    after = None
    for _ in range(D.size + 2):
        page = BOOK.page(f, ascending=ascending, after=after, limit=limit)
        assert len(page.rows) <= limit
        walked += [int(r) for r in page.rows]
        if not page.has_more:
            break
        assert len(page.rows) == limit
        after = int(page.rows[-1])
    expected = brute_force(f)
    assert walked == (expected if ascending else expected[::-1])
    assert BOOK.count(f) == len(expected)
    created = [int(D.created[r]) for r in walked]
    assert created == sorted(created, reverse=not ascending)


def _sort_key(row: int, key: str) -> int | None:
    if key == "amount":
        return int(D.amount[row])
    captured = int(D.captured_at[row])
    return None if captured < 0 else captured + v.DUE_DAYS * v.DAY


@settings(max_examples=120, deadline=None)
@given(
    f=filters(),
    limit=st.integers(1, 120),
    key=st.sampled_from(["amount", "due_date"]),
    ascending=st.booleans(),
)
def test_walking_pages_sorted_by_amount_or_due_date_yields_each_row_once_in_order(
    f: Filters, limit: int, key: str, ascending: bool
) -> None:
    """Ties go by creation; descending reverses ascending exactly, except that the rows without a
    due date (not captured) come last both ways."""
    walked: list[int] = []
    after = None
    for _ in range(D.size + 2):
        page, position = BOOK.sorted_page(f, key=key, ascending=ascending, after=after, limit=limit)
        assert len(page.rows) <= limit
        walked += [int(r) for r in page.rows]
        if not page.has_more:
            assert position is None
            break
        assert len(page.rows) == limit and position is not None
        after = position
    rows = brute_force(f)
    dated = sorted(
        (r for r in rows if _sort_key(r, key) is not None), key=lambda r: (_sort_key(r, key), r)
    )
    undated = [r for r in rows if _sort_key(r, key) is None]
    expected = (dated if ascending else dated[::-1]) + (undated if ascending else undated[::-1])
    assert walked == expected


def test_equal_creation_times_keep_one_stable_order() -> None:
    """The contract's `order`: same-second ties keep a stable order; ascending reverses it."""
    book = make_book(100_000, seed=1)
    d = book.data
    _, counts = np.unique(d.created, return_counts=True)
    assert int((counts > 1).sum()) >= 20, "too few ties at this size to tell"
    descending = book.page(Filters(), ascending=False, after=None, limit=d.size).rows.tolist()
    ascending = book.page(Filters(), ascending=True, after=None, limit=d.size).rows.tolist()
    again = book.page(Filters(), ascending=False, after=None, limit=d.size).rows.tolist()
    assert ascending == descending[::-1]
    assert again == descending


# -- (c) ids ------------------------------------------------------------------------------------

CODEC = IdCodec(SEED, "tx")
ROW = st.integers(0, (1 << 40) - 1)


@settings(max_examples=300, deadline=None)
@given(merchant=st.integers(1, 1000), row=ROW)
def test_id_round_trips(merchant: int, row: int) -> None:
    text = CODEC.encode(merchant, row)
    assert text.startswith("tx_") and len(text) == 19
    assert all(c in "0123456789abcdef" for c in text[3:])
    assert CODEC.decode(text) == (merchant, row)
    assert IdCodec(SEED, "cus").decode(text) is None
    assert IdCodec(SEED + 1, "tx").decode(text) != (merchant, row)


@settings(max_examples=200, deadline=None)
@given(row=st.integers(0, N - 1))
def test_another_merchants_id_is_not_found(row: int) -> None:
    assert BOOK.row_of_id(CODEC.encode(2, row)) is None
    assert BOOK.row_of_id(CODEC.encode(1, row)) == row


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=24) | st.from_regex(r"tx_[0-9a-fA-F _+x-]{16}", fullmatch=True))
def test_a_random_string_names_no_row_of_ours(text: str) -> None:
    decoded = CODEC.decode(text)
    assert decoded is None or decoded[0] != 1 or BOOK.row_of_id(text) is None


@settings(max_examples=200, deadline=None)
@given(row=st.integers(0, N - 1), spelling=st.sampled_from(["upper", "plus", "space"]))
def test_only_the_canonical_spelling_of_an_id_decodes(row: int, spelling: str) -> None:
    """The contract's TransactionId is `^tx_[0-9a-f]{16}$`; "a malformed one answers 404"."""
    text = CODEC.encode(1, row)
    digits = text[3:]
    if spelling == "upper":
        other = "tx_" + digits.upper()
    else:
        lead = "+" if spelling == "plus" else " "
        other = "tx_" + lead + digits[1:] if digits[0] == "0" else "tx_" + digits.upper()
    if other == text:
        return
    assert CODEC.decode(other) is None, other
    assert BOOK.row_of_id(other) is None


# -- (d) generation -----------------------------------------------------------------------------

COLUMNS = [
    "created",
    "amount",
    "customer",
    "method",
    "country",
    "customer_type",
    "shop",
    "status",
    "settlement",
    "captured",
    "refunded",
    "cancelled",
    "captured_at",
    "paid_at",
    "dunning",
    "updated",
    "cancelled_at",
    "refunded_at",
    "written_off",
    "currency",
]


def test_generation_is_deterministic_for_a_seed_and_a_day() -> None:
    a, b, c = make_data(2000, 9), make_data(2000, 9), make_data(2000, 10)
    for name in COLUMNS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.amount, c.amount)


@pytest.fixture(scope="module")
def big() -> MerchantData:
    return make_data(20_000, 3)


def test_generated_mix_is_plausible(big: MerchantData) -> None:
    d = big
    declined = np.mean(d.status == v.DECLINED)
    assert 0.05 <= declined <= 0.11
    eur = d.currency == v.CURRENCIES.index("EUR")
    assert 4_000 <= np.median(d.amount[eur]) <= 9_000
    assert d.amount.max() >= 200_000  # a tail to several thousand
    assert set(np.unique(d.currency).tolist()) == {0, 1}
    assert set(np.unique(d.status).tolist()) == set(range(len(v.STATUSES)))
    assert set(np.unique(d.settlement).tolist()) == set(range(len(v.SETTLEMENTS)))
    assert set(np.unique(d.dunning).tolist()) == {0, 1, 2, 3, 4}
    assert set(np.unique(d.method).tolist()) == {0, 1, 2}
    assert set(np.unique(d.customer_type).tolist()) == {0, 1}
    assert np.all(np.diff(d.created) >= 0)
    assert d.created.min() >= NOW - 731 * DAY and d.created.max() < NOW


def test_every_generated_status_follows_from_its_amounts(big: MerchantData) -> None:
    d = big
    for row in range(d.size):
        amount, captured = int(d.amount[row]), int(d.captured[row])
        refunded, cancelled = int(d.refunded[row]), int(d.cancelled[row])
        status = v.STATUSES[int(d.status[row])]
        assert 0 <= refunded <= captured and captured + cancelled <= amount, row
        if status == "declined":
            assert captured == refunded == cancelled == 0, row
        elif status == "expired":
            assert captured == cancelled == 0, row
            assert d.created[row] + AUTH_DAYS * DAY <= NOW, row
        else:
            assert status == expected_status(amount, captured, refunded, cancelled), row
            if status == "authorized":
                assert d.created[row] + AUTH_DAYS * DAY > NOW, row
        settled = d.settlement[row] != v.NO_SETTLEMENT
        assert settled == has_settlement(captured, refunded), row
        assert (d.paid_at[row] >= 0) == (d.settlement[row] == v.PAID), row
        assert (d.captured_at[row] >= 0) == (captured > 0), row
        if not settled:
            assert d.dunning[row] == 0, row


def test_a_backlog_leaves_its_days_orders_authorized_and_the_rest_as_it_was(
    big: MerchantData,
) -> None:
    d = make_data(20_000, 3, backlog_days=20)
    recent = d.created >= NOW - 20 * DAY
    assert set(np.unique(d.status[recent]).tolist()) == {v.AUTHORIZED, v.DECLINED}
    assert not d.captured[recent].any() and not d.cancelled[recent].any()
    assert np.sum(d.status == v.AUTHORIZED) > 5 * np.sum(big.status == v.AUTHORIZED)
    for name in COLUMNS:  # the older orders' lives are the same with or without a backlog
        assert np.array_equal(getattr(d, name)[~recent], getattr(big, name)[~recent]), name


def test_an_invoice_is_overdue_from_the_day_after_its_due_date_never_during_it(
    big: MerchantData,
) -> None:
    d = big
    today = NOW // DAY
    unpaid = (d.settlement == v.OPEN) | (d.settlement == v.OVERDUE)
    due_day = (d.captured_at + v.DUE_DAYS * DAY) // DAY
    assert np.any(unpaid & (due_day == today)), "no invoice is due today: the test sees nothing"
    assert np.array_equal(d.settlement[unpaid] == v.OVERDUE, due_day[unpaid] < today)
    # As time passes: an invoice due today stays open all day and is overdue at midnight (UTC).
    book = make_book()
    data = book.data
    row = int(np.flatnonzero(data.settlement == v.OPEN)[0])
    data.captured_at[row] = (today - v.DUE_DAYS) * DAY + 3600  # due today, since 01:00 UTC
    data.due_at[row] = data.captured_at[row] + v.DUE_DAYS * DAY
    book.advance_time(float((today + 1) * DAY - 10))  # the sweeps are at least 5 s apart
    assert data.settlement[row] == v.OPEN
    book.advance_time(float((today + 1) * DAY))
    assert data.settlement[row] == v.OVERDUE
