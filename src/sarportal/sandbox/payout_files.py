"""Payouts as the contract shows them: JSON objects, and the CSV, DATEV and camt.053 exports.

Figures are prepared column by column with numpy; each line of a file is then one f-string over
the columns' lists, which for the ~20,000 lines of a weekly payout at a million transactions is
faster than numpy's string operations. The only texts that are not digits, hex or fixed words
are the merchant's order prefix and the bank reference; they are checked once per file to hold
nothing that CSV or DATEV would have to quote or XML to escape. No format holds personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from sarportal.sandbox import vocab as v
from sarportal.sandbox.payouts import (
    CAPTURE,
    CURRENCY_RANK,
    FEE,
    LINE_TYPES,
    STATUSES,
    Lines,
    Payout,
    Payouts,
)

CSV_HEADER = (
    "payout_id,bank_reference,arrival_date,type,transaction_id,order_reference,booked_at,"
    "currency,amount,vat_amount\n"
)
# DATEV: the provider's clearing account (SKR03) against receivables, or fees with input VAT.
CLEARING, RECEIVABLES, FEES, FEE_VAT_KEY = "1361", "1400", "4970", "9"
DATEV_COLUMNS = (
    "Umsatz (ohne Soll/Haben-Kz);Soll/Haben-Kennzeichen;WKZ Umsatz;Kurs;Basis-Umsatz;"
    "WKZ Basis-Umsatz;Konto;Gegenkonto (ohne BU-Schlüssel);BU-Schlüssel;Belegdatum;Belegfeld 1;"
    "Belegfeld 2;Skonto;Buchungstext"
)
DATEV_TEXT = ("Zahlung", "Gebühr", "Erstattung", "Reklamation")  # by line kind
DATEV_ADVISER = 1001  # Beraternummer of the sandbox's tax adviser
CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
SANDBOX_BANK_CODE = "10020030"  # the settlement accounts' (made-up) German bank code
UNSAFE = frozenset(',;"<>&\r\n')


@dataclass(frozen=True)
class PayoutFile:
    """An export's body with what its answer's headers say about it."""

    body: bytes
    content_type: str
    filename: str
    line_count: int


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def payout_json(payout: Payout, now: int) -> dict[str, Any]:
    totals = payout.totals
    return {
        "id": payout.id,
        "currency": v.CURRENCIES[payout.currency],
        "status": STATUSES[payout.status(now)],
        "period_start": _iso(payout.start),
        "period_end": _iso(payout.end),
        "arrival_date": _day(payout.arrival),
        "amount": totals.amount,
        "captures": totals.captures,
        "refunds": totals.refunds,
        "fees": totals.fees,
        "fee_vat": totals.fee_vat,
        "claims": totals.claims,
        "direct_payments": totals.direct_payments,
        "line_count": totals.lines,
        "bank_reference": payout.bank_reference,
    }


def payout_page(
    matching: list[Payout], after: tuple[int, ...] | None, limit: int, now: int, totals: bool
) -> tuple[dict[str, Any], tuple[int, ...] | None]:
    """A page of the payout list (its `next_cursor` still None) and the position of its last
    payout when more follow. `totals` are over every matching payout, not just this page."""
    rest = matching if after is None else [p for p in matching if p.sort_key() > after]
    page = rest[:limit]
    more = len(rest) > limit
    data = [payout_json(p, now) for p in page]
    body: dict[str, Any] = {"data": data, "has_more": more, "next_cursor": None}
    if totals:
        sums: dict[int, list[int]] = {}
        for payout in sorted(matching, key=lambda p: CURRENCY_RANK[p.currency]):
            count_and_amount = sums.setdefault(payout.currency, [0, 0])
            count_and_amount[0] += 1
            count_and_amount[1] += payout.totals.amount
        body["totals"] = [
            {"currency": v.CURRENCIES[currency], "count": count, "amount": amount}
            for currency, (count, amount) in sums.items()
        ]
    return body, page[-1].sort_key() if more else None


def lines_page(
    payouts: Payouts, lines: Lines, after: tuple[int, ...] | None, limit: int
) -> tuple[dict[str, Any], tuple[int, ...] | None]:
    """A page of a payout's lines (its `next_cursor` still None) and the position of its last
    line when more follow."""
    start = 0 if after is None else lines.first_after(after)
    page = lines.cut(start, start + limit)
    more = start + limit < len(lines)
    body = {"data": lines_json(payouts, page), "has_more": more, "next_cursor": None}
    return body, page.position(len(page) - 1) if more else None


@dataclass(frozen=True)
class _Columns:
    """The lines' fields as lists, ready for formatting."""

    kind: list[int]
    transaction_id: list[str]
    order_reference: list[str]
    booked_at: list[str]  # YYYY-MM-DDTHH:MM:SS
    amount: list[int]
    vat: list[int]


def _columns(payouts: Payouts, lines: Lines) -> _Columns:
    d = payouts.data
    booked = np.datetime_as_string(lines.at.astype("datetime64[s]"), unit="s")
    return _Columns(
        kind=lines.kind.tolist(),
        transaction_id=payouts.tx_ids.encode_many(d.merchant_no, lines.row),
        order_reference=[f"{d.order_prefix}-{r}" for r in (lines.row + v.ORDER_NUMBER_OFFSET)],
        booked_at=booked.tolist(),
        amount=lines.amount.tolist(),
        vat=lines.vat.tolist(),
    )


def lines_json(payouts: Payouts, lines: Lines) -> list[dict[str, Any]]:
    c = _columns(payouts, lines)
    return [
        {"type": LINE_TYPES[kind], "transaction_id": tx, "order_reference": reference,
         "booked_at": f"{at}Z", "amount": amount, "vat_amount": vat}
        for kind, tx, reference, at, amount, vat in zip(
            c.kind, c.transaction_id, c.order_reference, c.booked_at, c.amount, c.vat,
            strict=True,
        )
    ]  # fmt: skip


def export(payouts: Payouts, payout: Payout, file_format: str, now: int) -> PayoutFile:
    """The whole payout as a `csv`, `datev` or `camt053` file."""
    if any(ch in f"{payouts.data.order_prefix}{payout.bank_reference}" for ch in UNSAFE):
        raise ValueError("a payout file's text would need quoting or escaping")
    lines = payouts.lines(payout, now)
    columns = _columns(payouts, lines)
    if file_format == "csv":
        body = _csv(payout, columns).encode("utf-8")
        return PayoutFile(body, "text/csv; charset=utf-8", f"payout-{payout.id}.csv", len(lines))
    if file_format == "datev":
        body = _datev(payouts, payout, lines, columns, now).encode("cp1252")
        content_type = "text/csv; charset=windows-1252"
        return PayoutFile(body, content_type, f"EXTF_payout-{payout.id}.csv", len(lines))
    body = _camt053(payouts, payout, lines, columns, now).encode("utf-8")
    return PayoutFile(body, "application/xml", f"payout-{payout.id}.xml", len(lines))


def _csv(payout: Payout, c: _Columns) -> str:
    head = f"{payout.id},{payout.bank_reference},{_day(payout.arrival)}"
    currency = v.CURRENCIES[payout.currency]
    rows = [
        f"{head},{LINE_TYPES[kind]},{tx},{reference},{at}Z,{currency},{amount},{vat}\n"
        for kind, tx, reference, at, amount, vat in zip(
            c.kind, c.transaction_id, c.order_reference, c.booked_at, c.amount, c.vat,
            strict=True,
        )
    ]  # fmt: skip
    return CSV_HEADER + "".join(rows)


def _decimal(amounts: npt.NDArray[np.int64], separator: str) -> list[str]:
    """Absolute minor units as `whole<separator>cents`."""
    whole, cents = np.divmod(np.abs(amounts), 100)
    return [f"{w}{separator}{c:02d}" for w, c in zip(whole.tolist(), cents.tolist(), strict=True)]


def _datev(payouts: Payouts, payout: Payout, lines: Lines, c: _Columns, now: int) -> str:
    created = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S000")
    first, last = (datetime.fromtimestamp(t, UTC) for t in (payout.start, payout.end - v.DAY))
    currency = v.CURRENCIES[payout.currency]
    header = (
        f'"EXTF";700;21;"Buchungsstapel";13;{created};;"SA";"";"";{DATEV_ADVISER};'
        f"{payouts.data.merchant_no};{first.year}0101;4;{first:%Y%m%d};{last:%Y%m%d};"
        f'"{payout.bank_reference[:30]}";"";1;0;0;"{currency}";;"";;;"03";;;"";""'
    )
    debit = [k == CAPTURE for k in c.kind]  # a capture is debited to the clearing account
    counter = [FEES if k == FEE else RECEIVABLES for k in c.kind]
    rows = [
        f'{amount};"{"S" if is_debit else "H"}";"{currency}";;;;{CLEARING};{account};'
        f'"{FEE_VAT_KEY if account == FEES else ""}";{at[8:10]}{at[5:7]};"{reference}";"";;'
        f'"{DATEV_TEXT[kind]} {tx}"'
        for amount, is_debit, account, at, reference, kind, tx in zip(
            _decimal(lines.amount, ","), debit, counter, c.booked_at, c.order_reference,
            c.kind, c.transaction_id, strict=True,
        )
    ]  # fmt: skip
    return "\r\n".join([header, DATEV_COLUMNS, *rows]) + "\r\n"


def settlement_iban(merchant_no: int, currency: int) -> str:
    """The sandbox IBAN of a merchant's settlement account for a currency (valid checksum)."""
    return iban("DE", f"{SANDBOX_BANK_CODE}{merchant_no:06d}{currency + 1:04d}")


def iban(country: str, bban: str) -> str:
    """An IBAN with its ISO 13616 check digits (mod 97)."""
    digits = "".join(str(int(ch, 36)) for ch in f"{bban}{country}00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def _camt053(payouts: Payouts, payout: Payout, lines: Lines, c: _Columns, now: int) -> str:
    currency = v.CURRENCIES[payout.currency]
    amount = payout.totals.amount
    account = settlement_iban(payouts.data.merchant_no, payout.currency)

    def balance(code: str, value: int, day: int) -> str:
        sign = "CRDT" if value >= 0 else "DBIT"
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="{currency}">{_decimal(np.asarray([value]), ".")[0]}</Amt>'
            f"<CdtDbtInd>{sign}</CdtDbtInd><Dt><Dt>{_day(day)}</Dt></Dt></Bal>"
        )

    entries = [
        f'<Ntry><Amt Ccy="{currency}">{value}</Amt>'
        f"<CdtDbtInd>{'CRDT' if kind == CAPTURE else 'DBIT'}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>{at[:10]}</Dt></BookgDt><ValDt><Dt>{at[:10]}</Dt></ValDt>"
        f"<BkTxCd><Prtry><Cd>{LINE_TYPES[kind].upper()}</Cd><Issr>SAR</Issr></Prtry></BkTxCd>"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>{tx}</EndToEndId></Refs>"
        f"<RmtInf><Ustrd>{order}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
        for value, kind, at, tx, order in zip(
            _decimal(lines.amount, "."), c.kind, c.booked_at, c.transaction_id,
            c.order_reference, strict=True,
        )
    ]  # fmt: skip
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{CAMT_NS}"><BkToCstmrStmt>\n'
        f"<GrpHdr><MsgId>{payout.id}</MsgId><CreDtTm>{_iso(now)}</CreDtTm></GrpHdr>\n"
        f"<Stmt><Id>{payout.id}</Id><CreDtTm>{_iso(now)}</CreDtTm>"
        f"<FrToDt><FrDtTm>{_iso(payout.start)}</FrDtTm><ToDtTm>{_iso(payout.end)}</ToDtTm></FrToDt>"
        f"<Acct><Id><IBAN>{account}</IBAN></Id><Ccy>{currency}</Ccy></Acct>\n"
        f"{balance('OPBD', 0, payout.start)}\n{balance('CLBD', amount, payout.end - v.DAY)}\n"
        f"{''.join(entries)}<AddtlStmtInf>{payout.bank_reference}</AddtlStmtInf></Stmt>\n"
        "</BkToCstmrStmt></Document>\n"
    )
