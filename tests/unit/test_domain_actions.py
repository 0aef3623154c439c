"""The action rules: what may still be asked for, and whether a lost answer took effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sarportal.actions import provider_key
from sarportal.domain.actions import (
    REASON_NOTE_MAX,
    ActionKind,
    Amounts,
    Effect,
    ReasonError,
    effect_of,
    refund_reason,
)

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def _amounts(money: dict[str, int] | None = None, status: str = "partially_captured") -> Amounts:
    values = {"amount": 10_000, "captured": 4_000, "refunded": 1_000, "cancelled": 0} | (
        money or {}
    )
    return Amounts(status, "EUR", authorization_expires_at=NOW + timedelta(days=3), **values)


def test_limits_follow_the_domain_rules() -> None:
    amounts = _amounts()
    assert amounts.available(ActionKind.CAPTURE, NOW) == 6_000
    assert amounts.available(ActionKind.CANCEL, NOW) == 6_000
    assert amounts.available(ActionKind.REFUND, NOW) == 3_000
    assert amounts.available(ActionKind.CAPTURE, NOW + timedelta(days=4)) == 0  # expired
    assert _amounts({"captured": 10_000}, status="captured").available(ActionKind.CAPTURE, NOW) == 0
    for final in ("declined", "expired"):
        assert _amounts(status=final).available(ActionKind.REFUND, NOW) == 0


@pytest.mark.parametrize(
    ("kind", "after", "effect"),
    [
        (ActionKind.REFUND, {"refunded": 1_500}, Effect.APPLIED),
        (ActionKind.REFUND, {}, Effect.NOT_APPLIED),
        (ActionKind.REFUND, {"refunded": 1_400}, Effect.UNCLEAR),
        (ActionKind.CAPTURE, {"captured": 4_500}, Effect.APPLIED),
        (ActionKind.CAPTURE, {"captured": 4_500, "refunded": 1_100}, Effect.UNCLEAR),
        (ActionKind.CANCEL, {"cancelled": 500}, Effect.APPLIED),
    ],
)
def test_effect_of_a_lost_answer(kind: ActionKind, after: dict[str, int], effect: Effect) -> None:
    assert effect_of(kind, 500, _amounts(), _amounts(after)) is effect


@given(st.integers(1, 10**6), st.integers(0, 10**6))
def test_only_exactly_this_action_counts_as_applied(amount: int, moved: int) -> None:
    before = _amounts()
    after = _amounts({"refunded": before.refunded + moved})
    applied = effect_of(ActionKind.REFUND, amount, before, after) is Effect.APPLIED
    assert applied == (moved == amount)


def test_refund_reason_joins_the_wording_and_the_note() -> None:
    assert refund_reason("damaged") == "Damaged goods"
    assert refund_reason("goodwill", "  late\n delivery ") == "Goodwill: late delivery"
    for code, note, reason in (
        ("nonsense", "", "unknown"),
        ("other", " ", "note_required"),
        ("goodwill", "x" * (REASON_NOTE_MAX + 1), "too_long"),
    ):
        with pytest.raises(ReasonError) as caught:
            refund_reason(code, note)
        assert caught.value.reason == reason


@given(st.text(max_size=300))
def test_a_reason_fits_the_provider_limit(note: str) -> None:
    try:
        text = refund_reason("other", note)
    except ReasonError:
        return
    assert 0 < len(text) <= 500


def test_provider_keys_are_per_user_and_stable() -> None:
    assert provider_key(1, "k") == provider_key(1, "k")
    assert provider_key(1, "k") != provider_key(2, "k")
    assert len(provider_key(1, "k" * 255)) == 64


def test_a_refund_reason_made_by_the_portal_is_read_back_into_its_code_and_note() -> None:
    from sarportal.domain.actions import REFUND_REASONS, parse_refund_reason, refund_reason

    for code, _wording in REFUND_REASONS:
        assert parse_refund_reason(refund_reason(code, "Karton: eingedrückt")) == (
            code, "Karton: eingedrückt"
        )  # fmt: skip
        if code != "other":
            assert parse_refund_reason(refund_reason(code)) == (code, "")
    assert parse_refund_reason("made elsewhere") == (None, "made elsewhere")
    assert parse_refund_reason("Goodwillish") == (None, "Goodwillish")
