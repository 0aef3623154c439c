"""Bulk actions against the sandbox (threads of the app, SQLite): plan from ticked rows, from
the table's filters or from a CSV file; review; run; each row's outcome, with the provider's
reason for a refusal; the approval threshold per row; a job resumed after its worker stopped
mid-row applies nothing twice; the outcome as CSV. A restart of a served portal mid-job is in
`test_served_portal.py`.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import select, update

from sarportal.actions import Actor
from sarportal.approvals import ApprovalDesk
from sarportal.bulk import BulkDesk, run_job
from sarportal.domain.actions import ActionKind
from sarportal.domain.approvals import Decider, Policy
from sarportal.domain.bulk import RowState
from sarportal.domain.roles import Role
from sarportal.store.models import BulkJobRow, BulkRowRow
from tests.fixtures.polling import poll
from tests.fixtures.portal import csrf_token, new_client, sign_in_fully
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_transaction import audit_rows, provider_view


class Operator:
    def __init__(self, app: Flask, role: Role = Role.OPERATOR) -> None:
        self.app = app
        self.user = make_provider_user(app, role)
        self.client = new_client(app)
        assert (
            sign_in_fully(self.client, self.user, app.extensions["sarportal"].settings.clock())
            == 303
        )

    def post(self, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        body = {"csrf_token": csrf_token(self.client, "/account"), **(data or {})}
        return self.client.post(path, data=body, **extra)

    def plan(self, kind: str, **data: Any) -> str:
        answer = self.post("/bulk", {"kind": kind, **data})
        assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
        found = re.fullmatch(r"/bulk/([\w-]+)", answer.headers["Location"])
        assert found, answer.headers["Location"]
        return found.group(1)

    def finished(self, key: str) -> None:
        def job() -> Any:
            with self.app.extensions["sarportal"].store.unit_of_work() as uow:
                return uow.bulk.get(key)

        poll(job, lambda found: found is not None and found.finished, timeout=60, every=0.05)


def rows_of(app: Flask, key: str) -> list[BulkRowRow]:
    with app.extensions["sarportal"].store.unit_of_work() as uow:
        job_id = uow.session.scalar(select(BulkJobRow.id).where(BulkJobRow.key == key))
        query = select(BulkRowRow).where(BulkRowRow.job_id == job_id).order_by(BulkRowRow.position)
        return list(uow.session.scalars(query))


def test_ticked_rows_are_reviewed_then_captured_in_full_once_each(
    provider_app: Flask, fresh_rows: RowPicker, sandbox: SandboxHandle
) -> None:
    operator = Operator(provider_app)
    chosen = [fresh_rows.take("authorized", currency="EUR") for _ in range(3)]
    declined = fresh_rows.take("declined", currency="EUR")
    key = operator.plan("capture", tx=[row["id"] for row in chosen] + [declined["id"]])
    review = operator.client.get(f"/bulk/{key}")
    assert review.headers["Cache-Control"] == "no-store"
    page = BeautifulSoup(review.get_data(as_text=True), "html.parser")
    text = page.get_text(" ")
    assert "Capture the full capturable amount of 3 transactions" in text
    assert "nothing left to capture" in text and declined["id"] in text
    total = sum(row["amount"] - row["captured_amount"] - row["cancelled_amount"] for row in chosen)
    assert f"€{total / 100:,.2f}" in text
    assert all(provider_view(sandbox, row["id"])["captured_amount"] == 0 for row in chosen)

    assert operator.post(f"/bulk/{key}/start").status_code == 303
    operator.finished(key)
    again = operator.post(f"/bulk/{key}/start")
    assert again.status_code == 303  # refused with a sentence: started already
    for row in chosen:
        after = provider_view(sandbox, row["id"])
        assert after["captured_amount"] == row["amount"]
        assert len([e for e in after["events"] if e["type"] == "capture"]) == 1
        assert [e["outcome"] for e in audit_rows(provider_app, row["id"])] == [
            "pending",
            "succeeded",
        ]
    assert [row.state for row in rows_of(provider_app, key)] == ["done"] * 3

    download = operator.client.get(f"/bulk/{key}/result.csv")
    assert download.headers["Cache-Control"] == "no-store"
    lines = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0] == ["Row", "Transaction", "Amount", "Currency", "Outcome", "Why"]
    assert [line[1] for line in lines[1:]] == [row["id"] for row in chosen]
    assert {line[4] for line in lines[1:]} == {"Done"}


def test_a_row_that_changed_meanwhile_is_refused_with_the_providers_reason(
    provider_app: Flask, fresh_rows: RowPicker, sandbox: SandboxHandle
) -> None:
    operator = Operator(provider_app)
    first, second = (fresh_rows.take("authorized", currency="EUR") for _ in range(2))
    key = operator.plan("capture", tx=[first["id"], second["id"]])
    with sandbox.client("demo-operator") as direct:  # somebody captures one meanwhile
        direct.post(
            f"/v1/transactions/{first['id']}/captures",
            json={"amount": 100},
            headers={"Idempotency-Key": f"meanwhile-{first['id']}"},
        ).raise_for_status()
    operator.post(f"/bulk/{key}/start")
    operator.finished(key)
    rows = rows_of(provider_app, key)
    assert (rows[0].state, rows[0].code) == ("refused", "amount_exceeds_available")
    assert rows[1].state == "done"
    assert provider_view(sandbox, first["id"])["captured_amount"] == 100
    page = operator.client.get(f"/bulk/{key}").get_data(as_text=True)
    assert "Refused" in page and "Done" in page


def test_every_match_of_the_filters_and_the_limit(
    provider_app: Flask, sandbox: SandboxHandle
) -> None:
    operator = Operator(provider_app)
    refused = operator.post("/bulk", {"kind": "refund", "f.status": "captured"})
    assert refused.status_code == 400
    assert "at most 1,000 transactions" in refused.get_data(as_text=True)
    viewer = Operator(provider_app, Role.VIEWER)
    assert viewer.post("/bulk", {"kind": "capture"}).status_code == 403
    with sandbox.client("demo-operator") as direct:
        some = direct.get(
            "/v1/transactions", params={"status": "authorized", "currency": "CHF", "limit": 1}
        ).json()["data"][0]
    key = operator.plan(
        "cancellation", **{"f.status": "authorized", "f.order_reference": some["order_reference"]}
    )
    (row,) = rows_of(provider_app, key)
    assert row.transaction_id == some["id"] and row.amount == some["amount"]
    other = Operator(provider_app)
    assert other.client.get(f"/bulk/{key}").status_code == 404  # another user's job
    assert operator.post(f"/bulk/{key}/cancel").status_code == 303  # discarded, nothing sent
    assert provider_view(sandbox, some["id"])["cancelled_amount"] == 0


def test_rows_above_the_threshold_become_requests_for_approval(
    provider_app: Flask, fresh_rows: RowPicker, sandbox: SandboxHandle
) -> None:
    store = provider_app.extensions["sarportal"].store
    operator = Operator(provider_app)
    with store.unit_of_work() as uow:
        organisation_id = uow.organisations.get_or_create("Musterhaus GmbH").id
        uow.commit()
    small, large = sorted(
        (fresh_rows.take("authorized", currency="CHF") for _ in range(2)),
        key=lambda row: row["amount"],
    )
    while large["amount"] == small["amount"]:
        large = fresh_rows.take("authorized", currency="CHF")
    threshold = small["amount"]  # the small one is at it, the large one above
    ApprovalDesk(store).set_policies(
        Decider(0, organisation_id, Role.ADMIN),
        {"CHF": Policy("CHF", threshold, captures=True)},
    )
    try:
        key = operator.plan("capture", tx=[small["id"], large["id"]])
        review = operator.client.get(f"/bulk/{key}").get_data(as_text=True)
        assert "1 row is above your organisation" in review
        operator.post(f"/bulk/{key}/start")
        operator.finished(key)
        rows = {row.transaction_id: row for row in rows_of(provider_app, key)}
        assert rows[small["id"]].state == "done"
        assert rows[large["id"]].state == "approval" and rows[large["id"]].approval_key
        assert provider_view(sandbox, large["id"])["captured_amount"] == 0
        waiting = ApprovalDesk(store).listed(Decider(0, organisation_id, Role.ADMIN))
        assert rows[large["id"]].approval_key in [request.key for request in waiting]
    finally:
        ApprovalDesk(store).set_policies(Decider(0, organisation_id, Role.ADMIN), {"CHF": None})


def test_a_job_resumed_after_its_worker_stopped_mid_row_applies_nothing_twice(
    provider_app: Flask, fresh_rows: RowPicker, sandbox: SandboxHandle
) -> None:
    store = provider_app.extensions["sarportal"].store
    operator = Operator(provider_app)
    chosen = [fresh_rows.take("authorized", currency="EUR") for _ in range(3)]
    session = provider_app.extensions["sarportal"].provider.session
    with store.unit_of_work() as uow:
        user = uow.users.get(operator.user.id)
        assert user is not None
    actor = Actor(user.id, user.organisation_id)
    desk = BulkDesk(store)
    from sarportal.provider import Credentials

    credentials = Credentials(*store.provider_credentials_for(user.id))  # type: ignore[misc]
    provider = session(credentials)
    planned, _ = desk.plan_ids(provider, ActionKind.CAPTURE, ((r["id"], None) for r in chosen))
    key = desk.create(actor, ActionKind.CAPTURE, planned)
    desk.start(actor, key)
    # A worker sent row 1 (the provider applied it), marked it `sending`, and died holding
    # the lease: the lease runs out, another worker takes the job over.
    first = rows_of(provider_app, key)[0]
    with sandbox.client("demo-operator") as direct:
        direct.post(
            f"/v1/transactions/{first.transaction_id}/captures",
            json={"amount": first.amount},
            headers={"Idempotency-Key": first.idempotency_key},
        ).raise_for_status()

    def held_by_the_dead_worker(until: timedelta) -> None:
        with store.unit_of_work() as uow:
            uow.session.execute(
                update(BulkRowRow).where(BulkRowRow.id == first.id).values(state="sending")
            )
            uow.session.execute(
                update(BulkJobRow)
                .where(BulkJobRow.key == key)
                .values(
                    state="running", lease_owner="dead-worker", lease_until=store.clock() + until
                )
            )
            uow.commit()

    held_by_the_dead_worker(timedelta(seconds=20))
    assert not run_job(store, key, lambda _user: provider, owner="second-worker")  # not yet
    held_by_the_dead_worker(timedelta(seconds=-1))
    assert run_job(store, key, lambda _user: provider, owner="second-worker")
    assert [row.state for row in rows_of(provider_app, key)] == ["done"] * 3
    for row in chosen:
        after = provider_view(sandbox, row["id"])
        assert after["captured_amount"] == row["amount"]
        assert len([e for e in after["events"] if e["type"] == "capture"]) == 1
    assert not run_job(store, key, lambda _user: provider, owner="third-worker")  # finished


@pytest.mark.parametrize(
    ("content", "kind", "messages"),
    [
        (b"tx_0123456789abcdef;1,00;x\n", "capture", ["Line 1: at most two columns"]),
        (b"transaction,amount\ntx_0123456789abcdef,zw\xc3\xb6lf\n", "refund", ["Line 2: "]),
        (b"tx_0123456789abcdef,5.00\n", "cancellation", ["Line 1: a cancellation takes no"]),
        (b"anna@example.de\n", "capture", ["Line 1: neither a transaction id"]),
        (b"tx_0123456789abcdef\ntx_0123456789abcdef\n", "capture", ["Line 2: this transaction"]),
        (b"\xff\xfe", "capture", ["not UTF-8"]),
        (b"\n\n", "capture", ["holds no transactions"]),
    ],
)
def test_a_bad_file_is_refused_line_by_line_before_anything_runs(
    provider_app: Flask, content: bytes, kind: str, messages: list[str]
) -> None:
    operator = Operator(provider_app)
    answer = operator.post(
        "/bulk/upload",
        {"kind": kind, "file": (io.BytesIO(content), "ids.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
    shown = BeautifulSoup(answer.get_data(as_text=True), "html.parser").select_one("#upload-errors")
    assert shown is not None
    for message in messages:
        assert message in shown.get_text(" ")
    with provider_app.extensions["sarportal"].store.unit_of_work() as uow:
        assert uow.session.scalar(select(BulkJobRow.id)) is None


def test_a_file_of_ids_and_order_references_with_partial_amounts(
    provider_app: Flask, fresh_rows: RowPicker, sandbox: SandboxHandle
) -> None:
    operator = Operator(provider_app)
    by_id, by_reference = (fresh_rows.take("authorized", currency="EUR") for _ in range(2))
    content = (
        f"transaction;amount\n{by_id['id']};1,50\n{by_reference['order_reference']};\n"
    ).encode()
    operator.client.set_cookie("lang", "de")
    answer = operator.post(
        "/bulk/upload",
        {"kind": "capture", "file": (io.BytesIO(content), "ids.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    key = answer.headers["Location"].rsplit("/", 1)[1]
    rows = rows_of(provider_app, key)
    assert [(row.transaction_id, row.amount) for row in rows] == [
        (by_id["id"], 150),
        (by_reference["id"], by_reference["amount"]),
    ]
    operator.post(f"/bulk/{key}/start")
    operator.finished(key)
    assert provider_view(sandbox, by_id["id"])["captured_amount"] == 150
    assert all(row.state == RowState.DONE.value for row in rows_of(provider_app, key))


def test_the_refund_reason_is_required_and_sent_with_every_row(
    provider_app: Flask, fresh_rows: RowPicker, sandbox: SandboxHandle
) -> None:
    operator = Operator(provider_app)
    chosen = [fresh_rows.take("captured", currency="EUR") for _ in range(2)]
    key = operator.plan("refund", tx=[row["id"] for row in chosen])
    operator.post(f"/bulk/{key}/start", {"reason": ""})
    assert "Please choose a reason" in operator.client.get(f"/bulk/{key}").get_data(as_text=True)
    operator.post(f"/bulk/{key}/start", {"reason": "goodwill", "note": "Aktion Herbst"})
    operator.finished(key)
    for row in chosen:
        after = provider_view(sandbox, row["id"])
        assert after["refunded_amount"] == row["captured_amount"] - row["refunded_amount"]
        (refund,) = [e for e in after["events"] if e["type"] == "refund"]
        assert refund["reason"] == "Goodwill: Aktion Herbst"
    with provider_app.extensions["sarportal"].store.unit_of_work() as uow:
        job = uow.bulk.get(key)
    assert job is not None and job.reason is None  # the text is not kept after the job


def test_bulk_writes_need_the_csrf_token(provider_app: Flask) -> None:
    operator = Operator(provider_app)
    assert operator.client.post("/bulk", data={"kind": "capture"}).status_code == 400
