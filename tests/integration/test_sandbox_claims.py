"""The sandbox's claims over real TLS, checked against the transaction list and the payouts.

Read-only checks run on a sandbox nobody writes to, so its transaction list is the ground truth
of every claim. The answers run on a larger sandbox of their own (open claims are the last
10 days' only), each test taking claims no other test touches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import SandboxHandle, every_page
from tests.integration.helpers_claims import (
    JPEG,
    MB,
    PDF,
    PNG,
    ClaimPicker,
    claims_sandbox,
    contest,
    evidence,
    key,
)

DEDUCTED = ("accepted", "expired", "lost")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Quiet:
    """A sandbox nobody writes to: its transactions and claims, read at `now`."""

    handle: SandboxHandle
    client: httpx.Client
    transactions: dict[str, dict[str, Any]]
    claims: list[dict[str, Any]]
    now: datetime


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quiet]:
    state_dir = tmp_path_factory.mktemp("quiet-claims")
    with (
        claims_sandbox(state_dir, transactions=40_000) as handle,
        handle.client("demo-viewer") as client,
    ):
        now = datetime.now(UTC)
        claims = every_page(client, "/v1/claims", 1000)
        transactions = {tx["id"]: tx for tx in every_page(client, "/v1/transactions", 1000)}
        yield Quiet(handle, client, transactions, claims, now)


@pytest.fixture
def operator(busy: SandboxHandle) -> Iterator[httpx.Client]:
    with busy.client("demo-operator") as client:
        yield client


# -- ground truth ----------------------------------------------------------------------------


def test_claims_are_on_captured_transactions_within_what_is_left(quiet: Quiet) -> None:
    captured = [tx for tx in quiet.transactions.values() if tx["captured_amount"] > 0]
    assert 0.01 * len(captured) < len(quiet.claims) < 0.02 * len(captured)
    assert len({c["transaction_id"] for c in quiet.claims}) == len(quiet.claims)
    partial = 0
    for claim in quiet.claims:
        tx = quiet.transactions[claim["transaction_id"]]
        net = tx["captured_amount"] - tx["refunded_amount"]
        assert 1 <= claim["amount"] <= net
        partial += claim["amount"] < net
        assert (claim["currency"], claim["order_reference"]) == (
            tx["currency"],
            tx["order_reference"],
        )
        raised = _time(claim["created_at"]) - _time(tx["captured_at"])
        assert timedelta(days=3) <= raised <= timedelta(days=60)
        assert _time(claim["created_at"]) < quiet.now
        assert _time(claim["respond_by"]) - _time(claim["created_at"]) == timedelta(days=10)
    assert 0 < partial < len(quiet.claims) / 2
    assert len({c["reason"] for c in quiet.claims}) == 6


def test_each_status_follows_from_the_times(quiet: Quiet) -> None:
    """Open until respond_by; accepted when answered; expired at respond_by; contested claims
    under review for 14 days, then won or lost. Deducted exactly when accepted, expired, lost."""
    seen = {c["status"] for c in quiet.claims}
    assert seen >= {"open", "accepted", "expired", "won", "lost"}
    for c in quiet.claims:
        created, respond_by = _time(c["created_at"]), _time(c["respond_by"])
        responded = c["responded_at"] and _time(c["responded_at"])
        decided = c["decided_at"] and _time(c["decided_at"])
        response = c["response"]
        assert (c["deducted_in_payout"] is not None) == (c["status"] in DEDUCTED)
        if c["status"] in ("open", "expired"):
            assert response is None and responded is None
            assert (respond_by > quiet.now) == (c["status"] == "open")
            assert decided == (None if c["status"] == "open" else respond_by)
            continue
        assert responded and created < responded < respond_by
        if c["status"] == "accepted":
            assert decided == responded
            assert response == {"type": "acceptance", "text": None, "evidence": []}
            continue
        assert response["type"] == "contestation" and response["text"]
        assert [e["filename"] for e in response["evidence"]] == ["proof-of-delivery.pdf"]
        review_ends = responded + timedelta(days=14)
        if c["status"] == "under_review":
            assert decided is None and review_ends > quiet.now
        else:
            assert decided == review_ends <= quiet.now
    decided_ones = [c for c in quiet.claims if c["status"] != "open"]
    accepted = sum(c["status"] == "accepted" for c in decided_ones) / len(decided_ones)
    assert 0.3 < accepted < 0.5


# -- paging and filters ----------------------------------------------------------------------


def test_pages_yield_each_claim_once_in_either_order(quiet: Quiet) -> None:
    soonest = every_page(quiet.client, "/v1/claims", 37)
    assert soonest == quiet.claims
    assert [c["id"] for c in soonest] == [
        c["id"] for c in sorted(soonest, key=lambda c: (c["respond_by"], c["id"]))
    ]
    newest = every_page(quiet.client, "/v1/claims", 41, order="created_desc")
    assert newest == soonest[::-1]
    assert len({c["id"] for c in soonest}) == len(soonest) > 100
    total = quiet.client.get("/v1/claims", params={"include_total": "true", "limit": 1}).json()
    assert total["total_count"] == len(soonest) and len(total["data"]) == 1


def _cases(quiet: Quiet) -> list[dict[str, Any]]:
    middle = quiet.claims[len(quiet.claims) // 2]
    return [
        {"status": "open"},
        {"status": ["accepted", "lost"]},
        {"reason": ["returned", "other"], "currency": "CHF"},
        {"respond_by_before": middle["respond_by"]},
        {"respond_by_before": _stamp(quiet.now + timedelta(hours=72)), "status": "open"},
        {"transaction_id": middle["transaction_id"]},
        {"transaction_id": "tx_0123456789abcdef"},
        {"currency": ["EUR", "XXX"], "status": "expired", "reason": "not_received"},
    ]


def _wanted(claim: dict[str, Any], params: dict[str, Any]) -> bool:
    def allowed(name: str) -> bool:
        values = params.get(name)
        return values is None or claim[name] in ([values] if isinstance(values, str) else values)

    before = params.get("respond_by_before")
    return all(allowed(name) for name in ("status", "reason", "currency", "transaction_id")) and (
        before is None or _time(claim["respond_by"]) < _time(before)
    )


def test_filters_select_exactly_the_matching_claims(quiet: Quiet) -> None:
    for params in _cases(quiet):
        for order in ("respond_by_asc", "created_desc"):
            got = every_page(quiet.client, "/v1/claims", 25, order=order, **params)
            wanted = [c for c in quiet.claims if _wanted(c, params)]
            assert got == (wanted if order == "respond_by_asc" else wanted[::-1]), params
        counted = quiet.client.get("/v1/claims", params={**params, "include_total": "true"})
        assert counted.json()["total_count"] == len(wanted)
    assert all(any(_wanted(c, p) for c in quiet.claims) for p in _cases(quiet)[:6])


def test_a_cursor_is_bound_to_its_filters_and_order(quiet: Quiet) -> None:
    cursor = quiet.client.get("/v1/claims", params={"limit": 2}).json()["next_cursor"]
    for params in ({"currency": "EUR"}, {"order": "created_desc"}, {"status": "expired"}):
        other = quiet.client.get("/v1/claims", params={"cursor": cursor, **params})
        assert other.status_code == 400 and other.json()["param"] == "cursor"


def test_another_merchants_claim_is_not_found(quiet: Quiet) -> None:
    with quiet.handle.client("other-operator") as other:
        theirs = other.get("/v1/claims", params={"limit": 1}).json()["data"][0]
        assert other.get(f"/v1/claims/{theirs['id']}").status_code == 200
    assert theirs["id"] not in {c["id"] for c in quiet.claims}
    with quiet.handle.client("demo-operator") as ours:
        answers = [
            ours.get(f"/v1/claims/{theirs['id']}"),
            ours.post(f"/v1/claims/{theirs['id']}/acceptance", json={}, headers=key()),
            contest(ours, theirs["id"]),
        ]
        listed = ours.get("/v1/claims", params={"transaction_id": theirs["transaction_id"]})
    for response in answers:
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert listed.json()["data"] == []


# -- answers ---------------------------------------------------------------------------------


def _payout_at(client: httpx.Client, currency: str, at: str) -> dict[str, Any] | None:
    for payout in every_page(client, "/v1/payouts", 10, currency=currency, status="pending"):
        if _time(payout["period_start"]) <= _time(at) < _time(payout["period_end"]):
            return payout
    return None


def test_accepting_deducts_the_amount_in_the_pending_payout(
    picker: ClaimPicker, operator: httpx.Client
) -> None:
    claim = picker.take("open")
    before = _payout_at(operator, claim["currency"], _stamp(datetime.now(UTC)))
    response = operator.post(f"/v1/claims/{claim['id']}/acceptance", json={}, headers=key())
    assert response.status_code == 201, response.text
    accepted = response.json()
    assert accepted["status"] == "accepted"
    assert accepted["responded_at"] == accepted["decided_at"] is not None
    assert accepted["response"] == {"type": "acceptance", "text": None, "evidence": []}
    assert operator.get(f"/v1/claims/{claim['id']}").json() == accepted
    payout = _payout_at(operator, claim["currency"], accepted["decided_at"])
    assert payout is not None and accepted["deducted_in_payout"] == payout["id"]
    lines = every_page(operator, f"/v1/payouts/{payout['id']}/lines", 1000)
    claim_lines = [line for line in lines if line["type"] == "claim"]
    assert {
        "type": "claim",
        "transaction_id": claim["transaction_id"],
        "order_reference": claim["order_reference"],
        "booked_at": accepted["decided_at"],
        "amount": -claim["amount"],
        "vat_amount": 0,
    } in claim_lines
    assert sum(line["amount"] for line in claim_lines) == payout["claims"]
    assert sum(line["amount"] for line in lines) == payout["amount"]
    assert len(lines) == payout["line_count"]
    if before is None:  # the acceptance opened this period's payout
        before = {"id": payout["id"], "claims": 0, "amount": 0, "line_count": 0}
    if before["id"] == payout["id"]:  # the week did not turn
        assert payout["claims"] - before["claims"] == -claim["amount"]
        assert payout["amount"] - before["amount"] == -claim["amount"]
        assert payout["line_count"] - before["line_count"] == 1


def test_a_second_acceptance_replays_with_its_key_and_is_refused_with_another(
    picker: ClaimPicker, operator: httpx.Client
) -> None:
    path, headers = f"/v1/claims/{picker.take('open')['id']}/acceptance", key()
    first = operator.post(path, json={}, headers=headers)
    again = operator.post(path, json={}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = operator.post(path, json={}, headers=key())
    assert other.status_code == 409 and other.json()["code"] == "invalid_state"
    contested = contest(operator, path.split("/")[3])
    assert contested.status_code == 409 and contested.json()["code"] == "invalid_state"


def test_contesting_keeps_the_evidence_metadata_and_puts_the_claim_under_review(
    picker: ClaimPicker, operator: httpx.Client
) -> None:
    claim_id, headers = picker.take("open")["id"], key()
    proof = PDF + b"delivered to the door, signed"
    files = evidence(
        ("C:\\fakepath\\pod.pdf", proof, "application/pdf"), ("label.png", PNG, "image/png")
    )
    response = contest(operator, claim_id, "  Delivered on 3 March.  ", files, headers)
    assert response.status_code == 201, response.text
    contested = response.json()
    assert contested["status"] == "under_review"
    assert contested["decided_at"] is None and contested["deducted_in_payout"] is None
    assert contested["response"] == {
        "type": "contestation",
        "text": "Delivered on 3 March.",
        "evidence": [
            {"filename": "pod.pdf", "content_type": "application/pdf", "size": len(proof),
             "sha256": hashlib.sha256(proof).hexdigest()},
            {"filename": "label.png", "content_type": "image/png", "size": len(PNG),
             "sha256": hashlib.sha256(PNG).hexdigest()},
        ],
    }  # fmt: skip
    assert operator.get(f"/v1/claims/{claim_id}").json() == contested
    # The same text and files under other names are the same request; other bytes are not.
    renamed = evidence(("proof.pdf", proof, "application/pdf"), ("l.png", PNG, "image/png"))
    replay = contest(operator, claim_id, "  Delivered on 3 March.  ", renamed, headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == contested
    changed = evidence(("pod.pdf", proof + b".", "application/pdf"))
    conflict = contest(operator, claim_id, "Delivered on 3 March.", changed, headers)
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    accept = operator.post(f"/v1/claims/{claim_id}/acceptance", json={}, headers=key())
    assert accept.status_code == 409 and accept.json()["code"] == "invalid_state"


OK_TEXT = "Delivered."
BAD_CONTESTATIONS = {
    "wrong_magic": (OK_TEXT, evidence(("pod.pdf", b"%PDX-1.4", "application/pdf")), "evidence"),
    "type_not_allowed": (OK_TEXT, evidence(("pod.txt", PDF, "text/plain")), "evidence"),
    "jpeg_declared_png": (OK_TEXT, evidence(("box.png", JPEG, "image/png")), "evidence"),
    "file_over_5_mb": (
        OK_TEXT,
        evidence(("big.pdf", PDF.ljust(5 * MB + 1, b"\0"), "application/pdf")),
        "evidence",
    ),
    "over_10_mb_together": (
        OK_TEXT,
        evidence(*[(f"p{i}.pdf", PDF.ljust(4 * MB, b"\0"), "application/pdf") for i in range(3)]),
        "evidence",
    ),
    "six_files": (OK_TEXT, evidence(*[("p.pdf", PDF, "application/pdf")] * 6), "evidence"),
    "no_file_name": (OK_TEXT, [("evidence", (None, PDF, "application/pdf"))], "evidence"),
    "no_text": (None, evidence(("pod.pdf", PDF, "application/pdf")), "text"),
    "blank_text": (" \n ", (), "text"),
    "text_over_5000": ("ä" * 5001, (), "text"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTESTATIONS))
def test_a_bad_contestation_is_refused_naming_the_field(
    case: str, picker: ClaimPicker, operator: httpx.Client
) -> None:
    text, files, field = BAD_CONTESTATIONS[case]
    claim = picker.take("open")
    response = contest(operator, claim["id"], text, files)
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["param"]) == ("invalid_request", field)
    assert operator.get(f"/v1/claims/{claim['id']}").json()["status"] == "open"


def test_a_contestation_of_just_under_10_mb_is_taken(
    picker: ClaimPicker, operator: httpx.Client
) -> None:
    files = evidence(*[(f"p{i}.pdf", PDF.ljust(5 * MB, b"\0"), "application/pdf") for i in (1, 2)])
    response = contest(operator, picker.take("open")["id"], "Two scans.", files)
    assert response.status_code == 201, response.text
    assert [e["size"] for e in response.json()["response"]["evidence"]] == [5 * MB, 5 * MB]


@pytest.mark.parametrize("status", ["expired", "accepted", "lost", "won", "under_review"])
def test_only_an_open_claim_can_be_answered(
    status: str, picker: ClaimPicker, operator: httpx.Client
) -> None:
    claim = picker.take(status)
    path = f"/v1/claims/{claim['id']}"
    for response in (
        operator.post(f"{path}/acceptance", json={}, headers=key()),
        contest(operator, claim["id"], files=evidence(("pod.pdf", PDF, "application/pdf"))),
    ):
        assert response.status_code == 409 and response.json()["code"] == "invalid_state"
    assert operator.get(path).json() == claim


def test_some_open_claims_expire_within_72_hours(busy: SandboxHandle) -> None:
    soon = datetime.now(UTC) + timedelta(hours=72)
    with busy.client("demo-viewer") as client:
        params = {"status": "open", "respond_by_before": _stamp(soon)}
        expiring = every_page(client, "/v1/claims", 100, **params)
    assert expiring
    assert all(datetime.now(UTC) < _time(c["respond_by"]) < soon for c in expiring)


def test_no_claim_answer_holds_personal_data(tmp_path: Path) -> None:
    with (
        claims_sandbox(tmp_path, pii_canary=True, transactions=60_000) as handle,
        handle.client("demo-operator") as client,
    ):
        listed = client.get("/v1/claims", params={"limit": 1000, "include_total": "true"})
        claims = listed.json()["data"]
        some_tx = claims[0]["transaction_id"]
        assert "PIICANARY" in client.get(f"/v1/transactions/{some_tx}").text
        opened = [c for c in claims if c["status"] == "open"]
        answers = [listed, *(client.get(f"/v1/claims/{c['id']}") for c in claims[:50])]
        answers.append(
            client.post(f"/v1/claims/{opened[0]['id']}/acceptance", json={}, headers=key())
        )
        answers.append(contest(client, opened[1]["id"]))
        answers.append(client.get("/v1/claims", params={"status": "open", "limit": 1000}))
    assert {"accepted", "expired", "open"} <= {c["status"] for c in claims}
    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        assert b"PIICANARY" not in answer.content
        assert b"@" not in answer.content
