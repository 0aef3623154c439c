"""Idempotent writes over HTTP: one key and one body, sent many times, apply exactly once.

Sequentially, every repeat is the first answer replayed (`Idempotent-Replayed: true`). From many
threads at once, exactly one request applies; each other one is either that answer replayed or,
while the first is still running, `409 idempotency_conflict` (the contract allows both), and a
later retry of a refused one replays the first answer. The transaction's amounts and history show
one action, whatever the interleaving.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import RowPicker, SandboxHandle

REPEATS = 6
THREADS = 8

# (action, status of a row it applies to, body for that row, the amount field it moves)
ACTIONS = {
    "captures": ("authorized", lambda row: {"amount": max(1, row["amount"] // 3)}, "captured"),
    "refunds": (
        "captured",
        lambda row: {"amount": max(1, row["captured_amount"] // 4), "reason": "damaged"},
        "refunded",
    ),
    "cancellations": ("authorized", lambda row: {}, "cancelled"),
}
EVENT_OF = {"captures": "capture", "refunds": "refund", "cancellations": "cancellation"}


def _amounts(client: httpx.Client, tx: str) -> tuple[dict[str, int], list[dict[str, Any]]]:
    detail = client.get(f"/v1/transactions/{tx}")
    assert detail.status_code == 200, detail.text[:300]
    body = detail.json()
    fields = ("captured_amount", "refunded_amount", "cancelled_amount")
    return {f: body[f] for f in fields}, body["events"]


def _applied_once(
    before: tuple[dict[str, int], list[dict[str, Any]]],
    after: tuple[dict[str, int], list[dict[str, Any]]],
    action: str,
    moved: int,
    field: str,
) -> None:
    (amounts_before, events_before), (amounts_after, events_after) = before, after
    expected = {**amounts_before, f"{field}_amount": amounts_before[f"{field}_amount"] + moved}
    assert amounts_after == expected
    assert events_after[: len(events_before)] == events_before
    added = events_after[len(events_before) :]
    assert [(e["type"], e["amount"]) for e in added] == [(EVENT_OF[action], moved)]


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_same_key_and_body_sent_sequentially_applies_once(
    sandbox: SandboxHandle, fresh_rows: RowPicker, action: str
) -> None:
    status, make_body, field = ACTIONS[action]
    row = fresh_rows.take(status)
    body, headers = make_body(row), {"Idempotency-Key": str(uuid.uuid4())}
    with sandbox.client() as client:
        before = _amounts(client, row["id"])
        answers = [
            client.post(f"/v1/transactions/{row['id']}/{action}", json=body, headers=headers)
            for _ in range(REPEATS)
        ]
        after = _amounts(client, row["id"])
    first, *repeats = answers
    assert first.status_code == 201, first.text[:300]
    assert "idempotent-replayed" not in first.headers
    for again in repeats:
        assert again.status_code == 201
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.content == first.content
    _applied_once(before, after, action, first.json()["amount"], field)


@pytest.mark.parametrize("latency_ms", [0, 80], ids=["instant", "slow_write"])
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_same_key_and_body_sent_concurrently_applies_once(
    make_sandbox: Any, action: str, latency_ms: int
) -> None:
    """With a slow write, the others arrive while the first is running: 409, then a replay."""
    handle: SandboxHandle = make_sandbox(latency_ms=latency_ms, seed=11)
    status, make_body, field = ACTIONS[action]
    picker = RowPicker(handle)
    row = picker.take(status)
    body, headers = make_body(row), {"Idempotency-Key": str(uuid.uuid4())}
    path = f"/v1/transactions/{row['id']}/{action}"
    token = handle.token("demo-operator")
    start = threading.Barrier(THREADS)

    def send(_: int) -> httpx.Response:
        with httpx.Client(
            base_url=handle.url,
            verify=handle.ssl_context(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as client:
            client.get("/openapi.json")  # connect (TLS handshake) before the race starts
            start.wait(timeout=30)
            return client.post(path, json=body, headers=headers)

    with handle.client() as client:
        before = _amounts(client, row["id"])
        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(send, range(THREADS)))
        # Retry every request that was told the key was in flight: now it must replay.
        retried = [
            client.post(path, json=body, headers=headers) if a.status_code == 409 else a
            for a in answers
        ]
        after = _amounts(client, row["id"])

    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "idempotency_conflict"
        else:
            assert answer.status_code == 201, answer.text[:300]
    originals = [a for a in retried if "idempotent-replayed" not in a.headers]
    assert len(originals) == 1, [(a.status_code, dict(a.headers)) for a in retried]
    first = originals[0]
    assert first.status_code == 201
    for answer in retried:
        assert answer.status_code == 201
        assert answer.content == first.content
        if answer is not first:
            assert answer.headers["idempotent-replayed"] == "true"
    _applied_once(before, after, action, first.json()["amount"], field)
    if latency_ms:
        # The slow write really was raced: someone arrived while it was in flight.
        assert any(a.status_code == 409 for a in answers)
