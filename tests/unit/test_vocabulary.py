"""One vocabulary: the portal's codes are the contract's, and every code has one label and tone."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
import yaml

from sarportal.domain import vocabulary
from sarportal.sandbox import vocab as sandbox_vocab
from sarportal.web.stats import charts
from sarportal.web.ui import labels

SCHEMAS: dict[str, Any] = yaml.safe_load(
    (files("sarportal") / "openapi" / "provider-v1.yaml").read_text(encoding="utf-8")
)["components"]["schemas"]


def contract_enum(name: str) -> set[Any]:
    schema = SCHEMAS[name]
    if "enum" in schema:
        return set(schema["enum"])
    return set(range(schema["minimum"], schema["maximum"] + 1))


@pytest.mark.parametrize(
    ("schema", "ours", "sandbox"),
    [
        ("TransactionStatus", vocabulary.STATUSES, sandbox_vocab.STATUSES),
        ("SettlementStatus", vocabulary.SETTLEMENT_STATUSES, sandbox_vocab.SETTLEMENTS[1:]),
        ("PaymentMethod", vocabulary.PAYMENT_METHODS, sandbox_vocab.PAYMENT_METHODS),
        ("CustomerType", vocabulary.CUSTOMER_TYPES, sandbox_vocab.CUSTOMER_TYPES),
        ("DunningLevel", vocabulary.DUNNING_LEVELS, range(len(sandbox_vocab.DUNNING_LEVELS))),
    ],
)
def test_the_portal_and_the_sandbox_speak_the_contracts_words(
    schema: str, ours: tuple[Any, ...], sandbox: tuple[Any, ...]
) -> None:
    """The portal's list (written once) and the sandbox's own copy both say what the document
    says, each word once."""
    assert len(set(ours)) == len(ours)
    assert set(ours) == contract_enum(schema) == set(sandbox)


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        (labels.STATUS, vocabulary.STATUSES),
        (labels.STATUS_TONE, vocabulary.STATUSES),
        (labels.SETTLEMENT, vocabulary.SETTLEMENT_STATUSES),
        (labels.SETTLEMENT_TONE, vocabulary.SETTLEMENT_STATUSES),
        (labels.PAYMENT_METHOD, vocabulary.PAYMENT_METHODS),
        (labels.CUSTOMER_TYPE, vocabulary.CUSTOMER_TYPES),
        (labels.DUNNING_LEVEL, vocabulary.DUNNING_LEVELS),
    ],
)
def test_every_word_has_one_label_in_the_vocabularys_order(
    table: dict[Any, Any], codes: tuple[Any, ...]
) -> None:
    assert tuple(table) == codes


def test_the_charts_draw_every_status_and_settlement_state_once() -> None:
    assert sorted(charts.STATUS_ORDER) == sorted(vocabulary.STATUSES)
    assert sorted(charts.SETTLEMENTS) == sorted(vocabulary.SETTLEMENT_STATUSES)
