"""The sandbox's claims without a server: generation, status over time, deductions in payouts,
answers, ids, paging, and the contestation's multipart body."""

from __future__ import annotations

import hashlib

import httpx
import numpy as np
import pytest

from sarportal.sandbox import claims as c
from sarportal.sandbox.claims import ClaimFilters, Claims
from sarportal.sandbox.config import MERCHANTS
from sarportal.sandbox.data import MerchantData, generate
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.ids import IdCodec
from sarportal.sandbox.multipart import MB, parse_contestation
from sarportal.sandbox.payouts import CLAIM, PayoutFilters, Payouts, Period

NOW = 1_750_000_000  # 2025-06-15T15:06:40Z
DAY = 86_400
PDF = b"%PDF-1.7\r\n\r\n--not-a-boundary\r\n\xff\x00\r"
BIG_PDF = PDF.ljust(5 * MB + 1)


def make_data(n: int = 40_000, seed: int = 3, merchant_no: int = 1) -> MerchantData:
    merchant = MERCHANTS[merchant_no - 1]
    return generate(
        n, seed=seed, merchant_no=merchant_no, now=NOW, shops=merchant.shops,
        order_prefix=merchant.order_prefix,
    )  # fmt: skip


def make_claims(data: MerchantData, seed: int = 3) -> Claims:
    return Claims(data, IdCodec(seed, "tx"), IdCodec(seed, "cl"))


@pytest.fixture(scope="module")
def data() -> MerchantData:
    return make_data()


@pytest.fixture
def claims(data: MerchantData) -> Claims:
    return make_claims(data)


def _all(claims: Claims) -> np.ndarray:
    return np.arange(claims.size, dtype=np.int64)


def test_claims_are_drawn_the_same_from_the_same_seed(data: MerchantData) -> None:
    one, two = make_claims(data), make_claims(data)
    for column in ("row", "created", "amount", "reason", "response", "responded_at", "lost"):
        assert np.array_equal(getattr(one, column), getattr(two, column))
    other = make_claims(make_data(seed=4), seed=4)
    assert not np.array_equal(one.row[:50], other.row[:50])


def test_claims_are_on_net_captured_rows_raised_3_to_60_days_after(
    claims: Claims, data: MerchantData
) -> None:
    net = (data.captured - data.refunded)[claims.row]
    assert np.all(data.captured_at[claims.row] >= 0)
    assert np.all((claims.amount >= 1) & (claims.amount <= net))
    assert 0.1 < float(np.mean(claims.amount < net)) < 0.3
    after = claims.created - data.captured_at[claims.row]
    assert np.all((after >= 3 * DAY) & (after <= 60 * DAY))
    assert np.all(claims.created < NOW)
    assert np.array_equal(claims.respond_by, claims.created + 10 * DAY)
    assert np.unique(claims.row).shape[0] == claims.size
    captured = int(np.count_nonzero(data.captured_at >= 0))
    assert 0.01 * captured < claims.size < 0.02 * captured
    assert np.all(np.bincount(claims.reason, minlength=6) > 0)


def test_the_list_order_is_respond_by_then_id(claims: Claims, data: MerchantData) -> None:
    ids = claims.ids.encode_many(data.merchant_no, claims.row)
    keys = list(zip(claims.respond_by.tolist(), ids, strict=True))
    assert keys == sorted(keys)


def test_claims_still_open_when_the_book_was_made_have_no_answer(claims: Claims) -> None:
    young = claims.respond_by > NOW
    assert np.any(young)
    assert np.all(claims.response[young] == c.NO_RESPONSE)
    assert {c.STATUSES[s] for s in claims.status(np.flatnonzero(young), NOW)} == {"open"}


def test_statuses_and_deductions_follow_the_clock_together(claims: Claims) -> None:
    """At any moment a claim's deduction is booked exactly when its status deducts."""
    picks = _all(claims)
    for later in (0, DAY, 5 * DAY, 11 * DAY, 30 * DAY):
        now = NOW + later
        status = claims.status(picks, now)
        booked = np.zeros(claims.size, dtype=bool)
        booked[claims.deductions.booked(now)] = True
        assert np.array_equal(booked, np.isin(status, c.DEDUCTED))
    decided = claims.status(picks, NOW + 30 * DAY)
    assert not np.any(decided == c.OPEN) and not np.any(decided == c.UNDER_REVIEW)
    shares = np.bincount(claims.status(picks, NOW), minlength=6) / claims.size
    assert 0.3 < shares[c.ACCEPTED] < 0.5 and 0.25 < shares[c.EXPIRED] < 0.45


def test_a_contested_claim_is_decided_14_days_after_the_response(claims: Claims) -> None:
    index = int(np.flatnonzero(claims.respond_by > NOW)[0])
    claims.contest(index, "Delivered.", [], NOW)
    one = np.asarray([index])
    assert claims.status(one, NOW + 14 * DAY - 1)[0] == c.UNDER_REVIEW
    final = c.LOST if claims.lost[index] else c.WON
    assert claims.status(one, NOW + 14 * DAY)[0] == final
    at = claims.deductions.at[index]
    assert at == (NOW + 14 * DAY if claims.lost[index] else -1)


def test_answers_are_refused_unless_open_before_respond_by(claims: Claims) -> None:
    young = np.flatnonzero(claims.respond_by > NOW)
    first, second = int(young[0]), int(young[1])
    claims.accept(first, NOW)
    assert claims.deductions.at[first] == NOW
    with pytest.raises(Problem) as refused:
        claims.accept(first, NOW + 1)
    assert refused.value.code == "invalid_state" and "accepted" in refused.value.detail
    with pytest.raises(Problem):
        claims.contest(second, "Too late.", [], int(claims.respond_by[second]))
    assert claims.response[second] == c.NO_RESPONSE


def _payouts(data: MerchantData, claims: Claims) -> Payouts:
    return Payouts(data, claims.tx_ids, IdCodec(3, "po"), Period("week"), claims.deductions)


def _claim_total(payouts: Payouts, now: int) -> int:
    return sum(p.totals.claims for p in payouts.matching(PayoutFilters(), now))


def test_an_expiry_books_its_deduction_in_the_payout_of_its_moment() -> None:
    data = make_data()
    claims = make_claims(data)
    payouts = _payouts(data, claims)
    index = int(np.flatnonzero(claims.respond_by > NOW)[0])
    expiry = int(claims.respond_by[index])
    amount = int(claims.amount[index])
    assert _claim_total(payouts, expiry) - _claim_total(payouts, expiry - 1) <= -amount
    [payout_id] = payouts.ids_at(
        np.asarray([expiry]), np.asarray([data.currency[claims.row[index]]])
    )
    payout = payouts.find(payout_id, expiry)
    assert payout is not None
    lines = payouts.lines(payout, expiry)
    mine = (lines.kind == CLAIM) & (lines.row == claims.row[index])
    assert lines.at[mine].tolist() == [expiry] and lines.amount[mine].tolist() == [-amount]
    assert int(lines.amount.sum()) == payout.totals.amount
    answer = claims.answers(np.asarray([index]), expiry, payouts.ids_at)[0]
    assert answer["status"] == "expired" and answer["deducted_in_payout"] == payout_id


def test_an_acceptance_moves_the_deduction_to_now_and_a_contestation_removes_it() -> None:
    data = make_data()
    claims = make_claims(data)
    payouts = _payouts(data, claims)
    young = np.flatnonzero(claims.respond_by > NOW)
    accepted, contested = int(young[0]), int(young[1])
    before = _claim_total(payouts, NOW)
    claims.accept(accepted, NOW)
    assert _claim_total(payouts, NOW) == before - int(claims.amount[accepted])
    late = int(claims.respond_by[contested])
    expected_later = _claim_total(payouts, late)
    claims.contest(contested, "Delivered.", [], NOW)
    assert _claim_total(payouts, late) == expected_later + int(claims.amount[contested])


def test_ids_name_one_merchants_claims_only(claims: Claims, data: MerchantData) -> None:
    theirs = make_claims(make_data(4_000, merchant_no=2))
    for index in (0, claims.size // 2, claims.size - 1):
        claim_id = claims.ids.encode(data.merchant_no, int(claims.row[index]))
        assert claims.find(claim_id) == index
        assert theirs.find(claim_id) is None
    unclaimed = next(r for r in range(data.size) if claims.of_row(r) is None)
    for wrong in (
        "cl_0123456789abcdef",
        claims.ids.encode(data.merchant_no, unclaimed),
        claims.tx_ids.encode(data.merchant_no, int(claims.row[0])),
        "cl_" + "A" * 16,
    ):
        assert claims.find(wrong) is None


def test_pages_yield_each_claim_once_in_either_order(claims: Claims) -> None:
    matching = claims.matching(ClaimFilters(status=frozenset({c.ACCEPTED, c.EXPIRED})), NOW)
    for newest_first in (False, True):
        seen: list[int] = []
        after = None
        while True:
            page, last = claims.page(matching, newest_first, after, 7)
            seen += page.tolist()
            if last is None:
                break
            after = last
        assert seen == (matching[::-1] if newest_first else matching).tolist()


def test_filters_combine(claims: Claims, data: MerchantData) -> None:
    cut = int(claims.respond_by[claims.size // 2])
    f = ClaimFilters(
        status=frozenset({c.EXPIRED}), reason=frozenset({0, 1}), respond_by_before=cut,
        currency=frozenset({0}),
    )  # fmt: skip
    got = claims.matching(f, NOW)
    picks = _all(claims)
    wanted = picks[
        (claims.status(picks, NOW) == c.EXPIRED)
        & (claims.reason <= 1)
        & (claims.respond_by < cut)
        & (data.currency[claims.row] == 0)
    ]
    assert got.tolist() == wanted.tolist() and got.shape[0] > 0
    row = int(claims.row[5])
    assert claims.matching(ClaimFilters(transaction=row), NOW).tolist() == [5]
    assert claims.matching(ClaimFilters(transaction=-1), NOW).tolist() == []


def test_generated_contestations_carry_one_proof_file(claims: Claims) -> None:
    index = int(np.flatnonzero(claims.response == c.CONTESTATION)[0])
    answer = claims.answers(np.asarray([index]), NOW, lambda at, cur: ["po_x"] * at.shape[0])[0]
    claim_id = answer["id"]
    assert answer["response"]["text"] == c.PROOF_TEXT
    [proof] = answer["response"]["evidence"]
    assert proof["filename"] == "proof-of-delivery.pdf"
    assert (
        proof["sha256"] == hashlib.sha256(f"{claim_id}:proof-of-delivery.pdf".encode()).hexdigest()
    )


# -- the contestation's body -------------------------------------------------------------------


def _form(*parts: tuple[str, tuple[str | None, bytes, str | None]]) -> tuple[str, bytes]:
    request = httpx.Request("POST", "https://sandbox.test/", files=list(parts))
    return request.headers["content-type"], request.read()


def _text(value: str) -> tuple[str, tuple[None, bytes, None]]:
    return ("text", (None, value.encode(), None))


def test_a_contestation_keeps_the_files_metadata_byte_exact() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    content_type, body = _form(
        _text("Zugestellt am 3. März.\r\n"),
        ("evidence", ("C:\\fakepath\\pod.pdf", PDF, "application/pdf")),
        ("evidence", ("label.png", png, "image/png")),
    )
    parsed = parse_contestation(content_type, body)
    assert parsed.text == "Zugestellt am 3. März."
    assert [(e.filename, e.content_type, e.size, e.sha256) for e in parsed.evidence] == [
        ("pod.pdf", "application/pdf", len(PDF), hashlib.sha256(PDF).hexdigest()),
        ("label.png", "image/png", len(png), hashlib.sha256(png).hexdigest()),
    ]


def test_the_fingerprint_is_the_text_and_the_files_bytes_not_their_names() -> None:
    one = parse_contestation(*_form(_text("A"), ("evidence", ("a.pdf", PDF, "application/pdf"))))
    two = parse_contestation(*_form(_text("A"), ("evidence", ("b.pdf", PDF, "application/pdf"))))
    three = parse_contestation(
        *_form(_text("A"), ("evidence", ("a.pdf", PDF + b"x", "application/pdf")))
    )
    assert one.fingerprint() == two.fingerprint() != three.fingerprint()


@pytest.mark.parametrize(
    ("parts", "param"),
    [
        ((("evidence", ("a.pdf", PDF, "application/pdf")),), "text"),
        ((_text("one"), _text("two")), "text"),
        ((_text("\t \n"),), "text"),
        ((("text", (None, b"\xff\xfe", None)),), "text"),
        ((_text("A"), ("evidence", ("a.gif", b"GIF89a", "image/gif"))), "evidence"),
        ((_text("A"), ("evidence", ("a.jpg", PDF, "image/jpeg"))), "evidence"),
        ((_text("A"), ("evidence", ("a.pdf", b"", "application/pdf"))), "evidence"),
        ((_text("A"), ("evidence", (None, PDF, "application/pdf"))), "evidence"),
        ((_text("A"), *[("evidence", ("a.pdf", PDF, "application/pdf"))] * 6), "evidence"),
        ((_text("A"), ("evidence", ("a.pdf", BIG_PDF, "application/pdf"))), "evidence"),
        ((_text("A"), ("note", (None, b"hi", None))), "note"),
    ],
    ids=[
        "no_text", "two_texts", "blank_text", "text_not_utf8", "gif", "pdf_called_jpeg",
        "empty_file", "no_filename", "six_files", "over_5_mb", "unknown_field",
    ],
)  # fmt: skip
def test_a_bad_contestation_names_its_field(
    parts: tuple[tuple[str, tuple[str | None, bytes, str | None]], ...], param: str
) -> None:
    with pytest.raises(Problem) as refused:
        parse_contestation(*_form(*parts))
    assert (refused.value.code, refused.value.param) == ("invalid_request", param)


def test_a_body_that_is_not_multipart_names_the_body() -> None:
    for content_type, body in (("application/json", b'{"text": "A"}'), (None, b"")):
        with pytest.raises(Problem) as refused:
            parse_contestation(content_type, body)
        assert refused.value.param == "body"
    with pytest.raises(Problem) as cut:
        parse_contestation("multipart/form-data; boundary=x", b"x" * (10 * MB + 64 * 1024 + 1))
    assert cut.value.param == "evidence"
