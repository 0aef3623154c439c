"""Claims: customers' disputes against captured transactions, and the merchant's answers.

About 1.5 % of the transactions with something captured and not refunded in full carry one
claim, raised 3 to 60 days after the capture (never after the book was made), for the whole net
amount or, one in five, a part of it. Every figure is a hash of the row, so the same seed gives
the same claims. So is a claim's fate: accepted a few days after it was raised, left to expire,
or contested and decided 14 days after the response. A claim whose time to respond had not run
out when the book was made has no fate drawn: it stays open until it is answered through the API
or its `respond_by` passes. The status follows from these columns and the clock at each request.

The columns are in list order (by `respond_by`, ties by id), so a claim's index is its place in
the list and a cursor needs nothing else. Each claim's deduction, the moment a payout books it,
is kept in a `Deductions` column shared with the payouts. Nothing here is personal data: the
customer's own words stay with the provider.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sarportal.sandbox import vocab as v
from sarportal.sandbox.data import MerchantData, mix
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.ids import IdCodec
from sarportal.sandbox.payouts import Deductions

Int64Array = npt.NDArray[np.int64]
UInt64Array = npt.NDArray[np.uint64]
PayoutIds = Callable[[Int64Array, Int64Array], list[str]]

STATUSES = ("open", "accepted", "under_review", "won", "lost", "expired")
OPEN, ACCEPTED, UNDER_REVIEW, WON, LOST, EXPIRED = range(6)
DEDUCTED = (ACCEPTED, LOST, EXPIRED)
REASONS = ("not_received", "returned", "defective", "not_as_described", "not_ordered", "other")
REASON_SHARES = np.cumsum([30, 25, 15, 15, 10, 5])  # percent, in the order of REASONS
RESPONSE_TYPES = (None, "acceptance", "contestation")
NO_RESPONSE, ACCEPTANCE, CONTESTATION = range(3)
CLAIMS_PER_10_000 = 150
RAISED_AFTER = (3 * v.DAY, 60 * v.DAY)  # after the capture
RESPOND_SECONDS = 10 * v.DAY
REVIEW_SECONDS = 14 * v.DAY  # from the contestation to the decision
PARTIAL_PERCENT = 20  # claims for a part of the net amount
# The generated answers: accepted 1 to 7 days after the claim was raised, contested after 1 to 9.
ACCEPTED_AFTER, CONTESTED_AFTER = (v.DAY, 7 * v.DAY), (v.DAY, 9 * v.DAY)
FATE_PERCENT = (40, 75)  # below 40: accepted; below 75: expired; the rest contested
PROOF_TEXT = "Proof of delivery attached."
PROOF_FILE = "proof-of-delivery.pdf"


@dataclass(frozen=True)
class ClaimFilters:
    """A claim list's filters, validated and mapped to codes; `transaction` is a row (-1: one
    that is not ours, which matches nothing)."""

    status: frozenset[int] | None = None
    reason: frozenset[int] | None = None
    respond_by_before: int | None = None
    transaction: int | None = None
    currency: frozenset[int] | None = None


def _uniform(draw: UInt64Array, span: tuple[int, int]) -> Int64Array:
    """A hash mapped onto the whole seconds from span[0] to span[1] (inclusive)."""
    low, high = span
    return low + (draw % np.uint64(high - low + 1)).astype(np.int64)


class Claims:
    """One merchant's claims: generated with the book, answered through the API."""

    def __init__(self, data: MerchantData, tx_ids: IdCodec, ids: IdCodec) -> None:
        self.data, self.tx_ids, self.ids = data, tx_ids, ids
        # The book's own "now": its latest recorded moment, before any write.
        as_of = int(max(data.created.max(), data.updated.max())) + 1 if data.size else 0
        salt = np.uint64((ids.seed * 1_000_003 + data.merchant_no * 7_919 + 0xC1A1) % 2**64)
        net = data.captured - data.refunded
        candidates = np.flatnonzero((data.captured_at >= 0) & (net > 0))
        picked = mix(candidates.astype(np.uint64) ^ salt) % np.uint64(10_000) < CLAIMS_PER_10_000
        rows = candidates[picked].astype(np.int64)
        created = data.captured_at[rows] + _uniform(
            mix(rows.astype(np.uint64) + salt), RAISED_AFTER
        )
        rows, created = rows[created < as_of], created[created < as_of]
        base = mix(rows.astype(np.uint64) ^ salt ^ np.uint64(0xB5))
        reason, share, fate, answer, size = (mix(base ^ np.uint64(k)) for k in range(5))
        respond_by = created + RESPOND_SECONDS
        roll = (fate % np.uint64(100)).astype(np.int64)
        response = np.where(roll < FATE_PERCENT[0], ACCEPTANCE, NO_RESPONSE)
        response[roll >= FATE_PERCENT[1]] = CONTESTATION
        response[respond_by > as_of] = NO_RESPONSE  # still open when the book was made
        after = np.where(
            response == ACCEPTANCE,
            _uniform(answer, ACCEPTED_AFTER),
            _uniform(answer, CONTESTED_AFTER),
        )
        percent = (share % np.uint64(100)).astype(np.int64)
        whole = net[rows]
        part = np.maximum(1, whole * (PARTIAL_PERCENT + percent * 3) // 100)
        order = np.lexsort((ids.permuted(data.merchant_no, rows), respond_by))
        self.row = rows[order]
        self.created, self.respond_by = created[order], respond_by[order]
        self.amount = np.where(percent < PARTIAL_PERCENT, part, whole)[order]
        reason_code = np.searchsorted(REASON_SHARES, reason % np.uint64(100), side="right")
        self.reason = reason_code.astype(np.uint8)[order]
        self.response = response.astype(np.uint8)[order]
        self.responded_at = np.where(response == NO_RESPONSE, -1, created + after)[order]
        self.lost = ((fate >> np.uint64(32)) % np.uint64(2) == 1)[order]
        self.proof_size = (20_000 + size % np.uint64(480_000)).astype(np.int64)[order]
        self.written: dict[int, dict[str, Any]] = {}  # answers given through the API
        self._by_row = np.argsort(self.row)
        self.deductions = Deductions(self.row, self.amount, self._deducted_at())

    @property
    def size(self) -> int:
        return int(self.row.shape[0])

    def _deducted_at(self) -> Int64Array:
        """When each claim's deduction is booked: at its expiry, its acceptance, or the decision
        it lost (-1: won, nothing deducted)."""
        lost_at = np.where(self.lost, self.responded_at + REVIEW_SECONDS, -1)
        return np.select(
            [self.response == ACCEPTANCE, self.response == CONTESTATION],
            [self.responded_at, lost_at],
            default=self.respond_by,
        ).astype(np.int64)

    # -- reading -------------------------------------------------------------------------

    def of_row(self, row: int) -> int | None:
        """The claim on a transaction row, if it has one."""
        sorted_rows = self.row[self._by_row]
        place = int(np.searchsorted(sorted_rows, row))
        if place < self.size and sorted_rows[place] == row:
            return int(self._by_row[place])
        return None

    def find(self, claim_id: str) -> int | None:
        """The claim of this id; None for a malformed, unknown or another merchant's id."""
        decoded = self.ids.decode(claim_id)
        if decoded is None or decoded[0] != self.data.merchant_no:
            return None
        return self.of_row(decoded[1])

    def status(self, picks: Int64Array, now: int) -> Int64Array:
        response = self.response[picks]
        contested = response == CONTESTATION
        decided = self.responded_at[picks] + REVIEW_SECONDS <= now
        return np.select(
            [response == ACCEPTANCE, contested & ~decided, contested, self.respond_by[picks] > now],
            [ACCEPTED, UNDER_REVIEW, np.where(self.lost[picks], LOST, WON), OPEN],
            default=EXPIRED,
        ).astype(np.int64)

    def matching(self, f: ClaimFilters, now: int) -> Int64Array:
        """The claims that match, in list order."""
        end = self.size
        if f.respond_by_before is not None:
            end = int(np.searchsorted(self.respond_by, f.respond_by_before, side="left"))
        if f.transaction is None:
            picks = np.arange(end, dtype=np.int64)
        else:
            claim = self.of_row(f.transaction) if f.transaction >= 0 else None
            picks = np.asarray([] if claim is None or claim >= end else [claim], dtype=np.int64)
        if f.status is not None:
            picks = picks[np.isin(self.status(picks, now), list(f.status))]
        if f.reason is not None:
            picks = picks[np.isin(self.reason[picks], list(f.reason))]
        if f.currency is not None:
            picks = picks[np.isin(self.data.currency[self.row[picks]], list(f.currency))]
        return picks

    @staticmethod
    def page(
        matching: Int64Array, newest_first: bool, after: int | None, limit: int
    ) -> tuple[Int64Array, int | None]:
        """A page of matching claims in either order, after the claim a cursor points at, and
        the claim the next page's cursor will (None on the last page)."""
        if newest_first:
            matching = matching[::-1]
        if after is not None:
            matching = matching[matching < after] if newest_first else matching[matching > after]
        picks = matching[:limit]
        return picks, int(picks[-1]) if matching.shape[0] > limit else None

    def answers(self, picks: Int64Array, now: int, payout_ids: PayoutIds) -> list[dict[str, Any]]:
        """The claims as the contract shows them; `payout_ids` names the payouts that hold
        deductions booked at given moments in given currencies."""
        d = self.data
        rows = self.row[picks]
        status = self.status(picks, now)
        responded = self.responded_at[picks]
        decided = np.select(
            [status == ACCEPTED, (status == WON) | (status == LOST), status == EXPIRED],
            [responded, responded + REVIEW_SECONDS, self.respond_by[picks]],
            default=-1,
        )
        currency = d.currency[rows].astype(np.int64)
        deducted = np.isin(status, DEDUCTED)
        named = iter(payout_ids(decided[deducted], currency[deducted]))
        ids = self.ids.encode_many(d.merchant_no, rows)
        transaction_ids = self.tx_ids.encode_many(d.merchant_no, rows)
        columns = zip(
            picks.tolist(), ids, transaction_ids, rows.tolist(), currency.tolist(),
            self.amount[picks].tolist(), self.reason[picks].tolist(), status.tolist(),
            _times(self.created[picks]), _times(self.respond_by[picks]), _times(responded),
            _times(decided), deducted.tolist(), strict=True,
        )  # fmt: skip
        return [
            {
                "id": claim_id,
                "transaction_id": tx,
                "order_reference": f"{d.order_prefix}-{row + v.ORDER_NUMBER_OFFSET}",
                "currency": v.CURRENCIES[code],
                "amount": amount,
                "reason": REASONS[reason],
                "status": STATUSES[state],
                "created_at": created,
                "respond_by": respond_by,
                "responded_at": responded_at,
                "decided_at": decided_at,
                "deducted_in_payout": next(named) if is_deducted else None,
                "response": self._response(index, claim_id),
            }
            for (
                index, claim_id, tx, row, code, amount, reason, state, created, respond_by,
                responded_at, decided_at, is_deducted,
            ) in columns
        ]  # fmt: skip

    def _response(self, index: int, claim_id: str) -> dict[str, Any] | None:
        kind = int(self.response[index])
        if kind == NO_RESPONSE:
            return None
        if index in self.written:
            return self.written[index]
        if kind == ACCEPTANCE:
            return {"type": "acceptance", "text": None, "evidence": []}
        proof = {
            "filename": PROOF_FILE,
            "content_type": "application/pdf",
            "size": int(self.proof_size[index]),
            "sha256": hashlib.sha256(f"{claim_id}:{PROOF_FILE}".encode()).hexdigest(),
        }
        return {"type": "contestation", "text": PROOF_TEXT, "evidence": [proof]}

    # -- answering -----------------------------------------------------------------------

    def _answer(self, index: int, kind: int, response: dict[str, Any], now: int) -> None:
        if self.response[index] != NO_RESPONSE or self.respond_by[index] <= now:
            state = STATUSES[int(self.status(np.asarray([index]), now)[0])]
            raise Problem.invalid_state(
                f"Only an open claim can be answered before its respond_by; this one is {state}."
            )
        self.response[index], self.responded_at[index] = kind, now
        self.written[index] = response
        self.deductions.at[index] = self._deducted_at()[index]

    def accept(self, index: int, now: int) -> None:
        """The merchant agrees: the claim is deducted now."""
        self._answer(index, ACCEPTANCE, {"type": "acceptance", "text": None, "evidence": []}, now)

    def contest(self, index: int, text: str, evidence: list[dict[str, Any]], now: int) -> None:
        """The merchant disagrees: the claim is under review for 14 days, then won or lost."""
        response = {"type": "contestation", "text": text, "evidence": evidence}
        self._answer(index, CONTESTATION, response, now)


def _times(seconds: Int64Array) -> list[str | None]:
    """RFC 3339 times in UTC; None where there is no time (-1)."""
    text = np.datetime_as_string(np.maximum(seconds, 0).astype("datetime64[s]"), unit="s")
    return [
        f"{t}Z" if s >= 0 else None for t, s in zip(text.tolist(), seconds.tolist(), strict=True)
    ]
