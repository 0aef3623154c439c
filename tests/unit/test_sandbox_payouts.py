"""The sandbox's payout computation without a server: fees, periods, totals against lines, writes,
line paging across ties, ids, and the IBAN of the camt.053 statement."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from sarportal.sandbox.claims import Claims
from sarportal.sandbox.config import MERCHANTS
from sarportal.sandbox.data import generate
from sarportal.sandbox.ids import IdCodec
from sarportal.sandbox.payout_files import iban, settlement_iban
from sarportal.sandbox.payouts import (
    CAPTURE,
    CLAIM,
    FEE,
    REFUND,
    Lines,
    PayoutFilters,
    Payouts,
    Period,
    fee_of,
)

NOW = 1_750_000_000  # 2025-06-15T15:06:40Z, a Sunday


def _seconds(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def make_payouts(n: int = 3000, interval: str = "week", merchant_no: int = 1) -> Payouts:
    merchant = MERCHANTS[merchant_no - 1]
    data = generate(
        n, seed=3, merchant_no=merchant_no, now=NOW, shops=merchant.shops,
        order_prefix=merchant.order_prefix,
    )  # fmt: skip
    claims = Claims(data, IdCodec(3, "tx"), IdCodec(3, "cl"))
    return Payouts(data, IdCodec(3, "tx"), IdCodec(3, "po"), Period(interval), claims.deductions)


@pytest.mark.parametrize(
    ("captured", "gross", "vat"),
    [(7990, 212, 34), (0, 23, 4), (1, 23, 4), (10_000, 259, 41), (2_500_000, 59_225, 9_456)],
)
def test_the_fee_is_1_99_percent_plus_19_with_19_percent_vat(
    captured: int, gross: int, vat: int
) -> None:
    assert fee_of(captured) == (gross, vat)
    many = fee_of(np.asarray([captured], dtype=np.int64))
    assert (int(many[0][0]), int(many[1][0])) == (gross, vat)


def test_fee_rounding_is_half_up() -> None:
    # 25 × 1.99 % = 0.4975 → 0; 26 × 1.99 % = 0.5174 → 1 (then + 19; VAT of 20 is 3.8 → 4)
    assert fee_of(25) == (19 + 4, 4)
    assert fee_of(26) == (20 + 4, 4)


@pytest.mark.parametrize(
    ("moment", "start", "end", "label"),
    [
        ("2026-11-23T09:12:44", "2026-11-23", "2026-11-30", "2026-48"),
        ("2026-11-29T23:59:59", "2026-11-23", "2026-11-30", "2026-48"),
        ("2027-01-01T00:00:00", "2026-12-28", "2027-01-04", "2026-53"),
        ("1970-01-01T00:00:00", "1969-12-29", "1970-01-05", "1970-01"),
    ],
)
def test_weeks_run_from_monday_midnight_utc(moment: str, start: str, end: str, label: str) -> None:
    period = Period("week")
    number = int(period.index(np.asarray([_seconds(moment)]))[0])
    assert period.start(number) == _seconds(f"{start}T00:00:00")
    assert period.start(number + 1) == _seconds(f"{end}T00:00:00")
    assert period.label(number) == label


def test_months_are_calendar_months() -> None:
    period = Period("month")
    number = int(period.index(np.asarray([_seconds("2024-02-29T23:59:59")]))[0])
    assert period.start(number) == _seconds("2024-02-01T00:00:00")
    assert period.start(number + 1) == _seconds("2024-03-01T00:00:00")
    assert period.label(number) == "2024-02"


@pytest.mark.parametrize("interval", ["week", "month"])
def test_the_counted_totals_are_the_sums_of_the_lines(interval: str) -> None:
    payouts = make_payouts(interval=interval)
    everything = payouts.matching(PayoutFilters(), NOW)
    assert everything
    for payout in everything:
        lines = payouts.lines(payout, NOW)
        t = payout.totals
        assert len(lines) == t.lines > 0
        assert int(lines.amount.sum()) == t.amount
        assert int(lines.amount[lines.kind == CAPTURE].sum()) == t.captures
        assert int(lines.amount[lines.kind == REFUND].sum()) == t.refunds
        assert int(lines.amount[lines.kind == FEE].sum()) == t.fees
        assert int(lines.amount[lines.kind == CLAIM].sum()) == t.claims
        assert int(lines.vat.sum()) == t.fee_vat
        assert np.all((payout.start <= lines.at) & (lines.at < payout.end))
        assert np.all(payouts.data.currency[lines.row] == payout.currency)
    data = payouts.data
    assert sum(p.totals.captures for p in everything) == int(data.captured.sum())
    assert sum(p.totals.refunds for p in everything) == -int(data.refunded.sum())
    booked = payouts.deductions.booked(NOW)
    assert sum(p.totals.claims for p in everything) == -int(payouts.deductions.amount[booked].sum())
    assert booked.shape[0] > 0


def test_written_movements_join_the_payout_of_their_period_not_the_columns() -> None:
    payouts = make_payouts()
    data = payouts.data
    row = int(np.flatnonzero(data.captured_at >= 0)[0])
    at = NOW + 60
    number = int(payouts.period.index(np.asarray([at]))[0])
    # A write changes the columns; the frozen history must not follow them.
    data.captured[row] += 1000
    payouts.record(row, "capture", 1000, at)
    payouts.record(row, "refund", 400, at)
    payouts.record(row, "capture", 7, at)  # the same second, the same row
    payout = next(
        p for p in payouts.matching(PayoutFilters(), NOW) if p.period == number
        and p.currency == int(data.currency[row])
    )  # fmt: skip
    lines = payouts.lines(payout, NOW)
    mine = (lines.row == row) & (lines.at == at)
    kinds = lines.kind[mine].tolist()
    assert kinds == [CAPTURE, FEE, REFUND, CAPTURE, FEE]
    assert lines.amount[mine].tolist() == [1000, -fee_of(1000)[0], -400, 7, -fee_of(7)[0]]
    assert int(lines.amount.sum()) == payout.totals.amount
    assert (
        sum(p.totals.captures for p in payouts.matching(PayoutFilters(), NOW))
        == int(data.captured.sum()) + 7
    )


def test_line_pages_by_position_yield_each_line_once_across_ties() -> None:
    at = np.asarray([5, 5, 5, 5, 9], dtype=np.int64)
    row = np.asarray([1, 1, 2, 2, 1], dtype=np.int64)
    seq = np.asarray([1, 2, 0, 0, 0], dtype=np.int64)
    kind = np.asarray([CAPTURE, CAPTURE, CAPTURE, REFUND, REFUND], dtype=np.int64)
    lines = Lines.of_movements(at, row, seq, kind, np.full(5, 100, dtype=np.int64))
    assert len(lines) == 8
    seen = []
    start = 0
    while start < len(lines):
        page = lines.cut(start, start + 3)
        seen += [page.position(i) for i in range(len(page))]
        start = lines.first_after(page.position(len(page) - 1))
    assert seen == [lines.position(i) for i in range(len(lines))]
    assert len(set(seen)) == len(seen)


def test_ids_name_one_merchants_payouts_only() -> None:
    ours, theirs = make_payouts(merchant_no=1), make_payouts(merchant_no=2)
    payout = ours.matching(PayoutFilters(), NOW)[0]
    assert ours.find(payout.id, NOW) == payout
    assert theirs.find(payout.id, NOW) is None
    for wrong in ("po_0123456789abcdef", payout.id.upper(), payout.id[:-1], "tx_" + payout.id[3:]):
        assert ours.find(wrong, NOW) is None
    names = [p.bank_reference for p in ours.matching(PayoutFilters(), NOW)]
    assert len(set(names)) == len(names)


def test_filters_match_arrival_days_half_open() -> None:
    payouts = make_payouts()
    payout = payouts.matching(PayoutFilters(), NOW)[5]
    day = payout.arrival // 86_400
    assert PayoutFilters(arrival_from=day, arrival_to=day + 1).match(payout, NOW)
    assert not PayoutFilters(arrival_to=day).match(payout, NOW)
    assert not PayoutFilters(arrival_from=day + 1).match(payout, NOW)


def test_ibans_carry_valid_check_digits() -> None:
    assert iban("DE", "370400440532013000") == "DE89370400440532013000"
    account = settlement_iban(1, 0)
    assert account.startswith("DE") and len(account) == 22
    digits = "".join(str(int(ch, 36)) for ch in account[4:] + account[:4])
    assert int(digits) % 97 == 1
    assert settlement_iban(1, 1) != account != settlement_iban(2, 0)
