"""An uploaded CSV of transactions for a bulk action, read and checked before anything runs.

One line per transaction: its id (`tx_…`) or its order reference, and optionally an amount
(a partial capture or refund, in the user's number format; a cancellation takes the whole rest,
so an amount there is refused). A header line (`transaction`, `id`, `order_reference`, …) is
allowed; `,` or `;` separate the columns. Every problem is reported with its line number, and
none of the file is used unless all of it is good.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Final

from flask_babel import gettext as _

from sarportal.domain.actions import ActionKind
from sarportal.domain.bulk import MAX_ROWS
from sarportal.domain.money import AmountError

_TX_ID: Final = re.compile(r"^tx_[0-9a-f]{16}$")
_REFERENCE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_HEADER_WORDS: Final = frozenset(
    {"transaction", "transaction_id", "id", "order_reference", "reference", "amount", "betrag"}
)
MAX_ERRORS: Final = 20


@dataclass(frozen=True)
class UploadLine:
    number: int
    transaction_id: str | None
    order_reference: str | None
    amount: int | None


class UploadError(Exception):
    """The file cannot be used; `messages` say what is wrong, line by line."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def read_upload(
    data: bytes, kind: ActionKind, locale: str, currency: str = "EUR"
) -> list[UploadLine]:
    """The lines of the file; `UploadError` naming each bad line."""
    from sarportal.domain.money import parse_amount

    if len(data) > 2_000_000:
        raise UploadError([_("The file is too large: at most 2 MB.")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(
            [_("The file is not UTF-8 text. Please save it as CSV (UTF-8).")]
        ) from None
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    lines: list[UploadLine] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, cells in enumerate(rows, start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in _HEADER_WORDS:
            continue
        if len(cells) > 2:
            errors.append(
                _("Line %(n)d: at most two columns (the transaction and an amount).", n=number)
            )
            continue
        ident = cells[0]
        amount = None
        if len(cells) == 2 and cells[1]:
            if kind is ActionKind.CANCEL:
                errors.append(
                    _(
                        "Line %(n)d: a cancellation takes no amount (it cancels the whole rest).",
                        n=number,
                    )
                )
                continue
            try:
                amount = parse_amount(cells[1], currency, locale)
            except AmountError:
                errors.append(
                    _("Line %(n)d: “%(amount)s” is not an amount.", n=number, amount=cells[1][:20])
                )
                continue
        if ident in seen:
            errors.append(_("Line %(n)d: this transaction is in the file already.", n=number))
            continue
        seen.add(ident)
        if _TX_ID.match(ident):
            lines.append(UploadLine(number, ident, None, amount))
        elif _REFERENCE.match(ident):
            lines.append(UploadLine(number, None, ident, amount))
        else:
            errors.append(
                _("Line %(n)d: neither a transaction id nor an order reference.", n=number)
            )
        if len(errors) >= MAX_ERRORS:
            break
    if not lines and not errors:
        errors.append(_("The file holds no transactions."))
    if len(lines) > MAX_ROWS:
        errors.append(_("The file holds more than %(n)d transactions.", n=MAX_ROWS))
    if errors:
        raise UploadError(errors)
    return lines
