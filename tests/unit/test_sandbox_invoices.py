"""The sandbox's invoice operations on a book: the rules of the contract, and what each one does
to the due date, the dunning, the settlement and the payouts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from sarportal.sandbox import vocab as v
from sarportal.sandbox.book import Book, Filters
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.invoices import extension_fee
from sarportal.sandbox.payouts import DIRECT_PAYMENT, FEE, Payout, PayoutFilters
from tests.unit.test_sandbox_book import make_book

DAY = v.DAY


@pytest.fixture
def book() -> Book:
    return make_book()


def now_of(book: Book) -> int:
    return int(book.data.updated.max()) + 1


def a_row(book: Book, settlement: int, **where: int) -> int:
    d = book.data
    mask = d.settlement == settlement
    for name, value in where.items():
        mask &= getattr(d, name) == value
    return int(np.flatnonzero(mask)[0])


def current_payout(book: Book, row: int, now: int) -> Payout:
    """The payout that books what happens to `row` at `now`."""
    currency = int(book.data.currency[row])
    payouts = book.payouts.matching(PayoutFilters(), now)
    return next(p for p in payouts if p.currency == currency and p.start <= now < p.end)


def refused(code: str, call: object, *args: object) -> Problem:
    with pytest.raises(Problem) as caught:
        call(*args)  # type: ignore[operator]
    assert caught.value.code == code, caught.value.detail
    return caught.value


def test_the_fee_is_a_share_of_the_open_amount_with_a_floor_plus_vat() -> None:
    assert extension_fee(100_000, 10) == (1785, 285)  # 1.5 % = 1500, + 19 % VAT
    assert extension_fee(100_000, 15) == (2678, 428)  # 2.25 % = 2250
    assert extension_fee(100_000, 20) == (3570, 570)  # 3 % = 3000
    assert extension_fee(1_000, 10) == (179, 29)  # the floor: 150


def test_an_extension_moves_the_due_date_by_working_days_and_reopens_an_overdue_invoice(
    book: Book,
) -> None:
    now = now_of(book)
    row = a_row(book, v.OVERDUE, dunning=1)
    invoice = book.detail(row, now)["invoice"]
    option = {o["working_days"]: o for o in invoice["extension_options"]}[15]
    today = datetime.fromtimestamp(now, UTC).date()
    expected = np.busday_offset(np.datetime64(today, "D"), 15, roll="forward")
    assert option["due_date"] == str(expected)  # from today: the due date has passed
    assert date.fromisoformat(option["due_date"]).weekday() < 5

    answer = book.extend_due_date(row, 15, option["fee_amount"], now)

    assert answer["transaction"]["due_date"] == option["due_date"]
    assert answer["transaction"]["settlement_status"] == "open"
    assert answer["transaction"]["dunning_level"] == 1  # a level reached stays
    after = answer["invoice"]
    assert after["extension"]["fee_amount"] == option["fee_amount"]
    assert after["extension_options"] == []
    assert after["original_due_date"] != after["due_date"]
    # lists and sorting see the new due date
    listed = book.summaries(np.asarray([row], dtype=np.int64))[0]
    assert listed["due_date"] == option["due_date"]
    assert book.data.settlement[row] == v.OPEN
    # the fee is a fee line of the current payout, VAT included
    payout = current_payout(book, row, now)
    lines = book.payouts.lines(payout, now)
    mine = (lines.row == row) & (lines.kind == FEE)
    assert lines.amount[mine].tolist() == [-option["fee_amount"]]
    assert lines.vat[mine].tolist() == [-option["fee_vat"]]
    # and refused a second time
    refused("invalid_state", book.extend_due_date, row, 10, 150, now)


def test_an_extension_at_a_fee_no_longer_offered_is_refused_and_changes_nothing(
    book: Book,
) -> None:
    now = now_of(book)
    row = a_row(book, v.OPEN)
    before = book.detail(row, now)
    fee = before["invoice"]["extension_options"][0]["fee_amount"]
    problem = refused("invalid_request", book.extend_due_date, row, 10, fee + 1, now)
    assert problem.param == "fee_amount"
    refused("invalid_request", book.extend_due_date, row, 11, fee, now)
    assert book.detail(row, now)["invoice"] == before["invoice"]


def test_a_paused_invoice_reaches_no_new_dunning_level_until_the_pause_ends(book: Book) -> None:
    now = now_of(book)
    d = book.data
    row = a_row(book, v.OVERDUE, dunning=0)
    level_one_at = int(d.due_at[row]) + v.DUNNING_DAYS[0] * DAY
    start = max(now, level_one_at - 2 * DAY)
    until = book.pause_dunning(row, 5, start)["invoice"]["dunning_paused_until"]
    assert until is not None
    book.advance_time(float(level_one_at + DAY))
    assert d.dunning[row] == 0
    ends = int(datetime.fromisoformat(until).replace(tzinfo=UTC).timestamp())
    book.advance_time(float(ends + 60))
    assert d.dunning[row] == 1
    assert book.detail(row, ends + 60)["invoice"]["dunning_paused_until"] is None


def test_a_pause_is_refused_while_one_runs_and_outside_one_to_thirty_days(book: Book) -> None:
    now = now_of(book)
    row = a_row(book, v.OPEN)
    assert refused("invalid_request", book.pause_dunning, row, 31, now).param == "days"
    book.pause_dunning(row, 3, now)
    refused("invalid_state", book.pause_dunning, row, 3, now + DAY)
    book.pause_dunning(row, 3, now + 3 * DAY)  # the first has ended


def test_an_invoice_is_sent_again_at_most_once_a_day(book: Book) -> None:
    now = now_of(book)
    row = a_row(book, v.OVERDUE)
    first = book.send_invoice_again(row, now)["invoice"]
    assert first["times_sent"] == 2
    refused("invalid_state", book.send_invoice_again, row, now + DAY - 1)
    assert book.send_invoice_again(row, now + DAY)["invoice"]["times_sent"] == 3
    paid = a_row(book, v.PAID)
    refused("invalid_state", book.send_invoice_again, paid, now)


def test_a_direct_payment_of_the_rest_settles_the_invoice_and_is_deducted_from_the_payout(
    book: Book,
) -> None:
    now = now_of(book)
    row = a_row(book, v.OVERDUE)
    open_amount = book.detail(row, now)["invoice"]["open_amount"]
    today = datetime.fromtimestamp(now, UTC).date().isoformat()

    part = book.paid_directly(row, 100, today, now)
    assert part["transaction"]["settlement_status"] == "overdue"
    assert part["invoice"]["open_amount"] == open_amount - 100
    problem = refused("amount_exceeds_available", book.paid_directly, row, open_amount, today, now)
    assert str(open_amount - 100) in problem.detail

    rest = book.paid_directly(row, open_amount - 100, today, now)
    assert rest["transaction"]["settlement_status"] == "paid"
    assert rest["transaction"]["paid_at"] is not None
    assert rest["invoice"]["open_amount"] == 0
    assert [p["amount"] for p in rest["invoice"]["direct_payments"]] == [100, open_amount - 100]
    payout = current_payout(book, row, now)
    assert payout.totals.direct_payments == -open_amount
    lines = book.payouts.lines(payout, now)
    mine = (lines.row == row) & (lines.kind == DIRECT_PAYMENT)
    assert lines.amount[mine].tolist() == [-100, -(open_amount - 100)]
    assert int(lines.amount.sum()) == payout.totals.amount
    # paid now: no dunning any more, and nothing more can be reported
    refused("invalid_state", book.paid_directly, row, 1, today, now)
    book.advance_time(float(now + 60 * DAY))
    assert book.data.settlement[row] == v.PAID


@pytest.mark.parametrize("paid_on", ["tomorrow", "2001-01-01", "08.12.2026", "2026-2-1"])
def test_a_direct_payment_on_a_day_that_cannot_be_is_refused(book: Book, paid_on: str) -> None:
    now = now_of(book)
    row = a_row(book, v.OPEN)
    if paid_on == "tomorrow":
        paid_on = datetime.fromtimestamp(now + DAY, UTC).date().isoformat()
    assert refused("invalid_request", book.paid_directly, row, 1, paid_on, now).param == "paid_on"


def test_an_invoice_without_a_settlement_takes_no_operation(book: Book) -> None:
    now = now_of(book)
    row = a_row(book, v.NO_SETTLEMENT)
    assert book.detail(row, now)["invoice"] is None
    refused("invalid_state", book.send_invoice_again, row, now)
    refused("invalid_state", book.pause_dunning, row, 3, now)


def test_the_due_date_sort_follows_an_extended_due_date(book: Book) -> None:
    now = now_of(book)
    row = a_row(book, v.OVERDUE, dunning=1)
    fee = book.detail(row, now)["invoice"]["extension_options"][2]["fee_amount"]
    book.extend_due_date(row, 20, fee, now)
    filters = Filters(settlement=frozenset({v.OPEN, v.OVERDUE}))
    page, _ = book.sorted_page(filters, key="due_date", ascending=False, after=None, limit=5)
    assert int(book.data.due_at[row]) == int(book.data.due_at[page.rows].max())


def test_an_invoice_with_collection_can_be_neither_extended_nor_paused(book: Book) -> None:
    now = now_of(book)
    row = a_row(book, v.OVERDUE, dunning=4)
    assert book.detail(row, now)["invoice"]["extension_options"] == []
    refused("invalid_state", book.extend_due_date, row, 10, 150, now)
    refused("invalid_state", book.pause_dunning, row, 3, now)
    book.send_invoice_again(row, now)  # it can still be sent again
