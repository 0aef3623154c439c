"""Answering a claim from its page: accept or contest, with step-up, idempotency and audit.

Against a sandbox of this module's own with enough open claims; each test takes claims no other
test touches. Ground truth is the sandbox's claim read directly over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sarportal.domain.roles import Role
from tests.fixtures.portal import PASSWORD, FakeClock, new_client, sign_in_fully
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SandboxHandle
from tests.integration.helpers_claims import JPEG, MB, PDF, PNG, ClaimPicker, key
from tests.integration.helpers_transaction import audit_rows

pytestmark = pytest.mark.usefixtures("real_time")  # the sandbox's claims are relative to now

INTENT = re.compile(
    r'<form method="post" action="/claims/[^/]+/(accept|contest)"[^>]*>.*?'
    r'name="csrf_token" value="([^"]+)".*?name="intent" value="([^"]+)"',
    re.S,
)
STATEMENT = "The parcel was delivered on 2 December; the carrier's proof is attached."


@pytest.fixture
def portal_app(make_provider_app: Callable[..., Flask], busy: SandboxHandle) -> Flask:
    return make_provider_app(busy)


def signed_in(app: Flask, role: Role = Role.OPERATOR) -> FlaskClient:
    client = new_client(app)
    user = make_provider_user(app, role)
    assert sign_in_fully(client, user, app.extensions["sarportal"].settings.clock()) == 303
    return client


@pytest.fixture
def operator(portal_app: Flask) -> FlaskClient:
    return signed_in(portal_app)


def forms(client: FlaskClient, claim_id: str) -> dict[str, dict[str, str]]:
    """The answer forms on the claim's page: per answer, its CSRF token and intent."""
    page = client.get(f"/claims/{claim_id}")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    found = INTENT.findall(page.get_data(as_text=True))
    return {name: {"csrf_token": csrf, "intent": intent} for name, csrf, intent in found}


def sealed_key(intent: str) -> str:
    """The idempotency key inside a form's signed intent (signed, not encrypted)."""
    payload = intent.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(data["k"])


def provider_claim(handle: SandboxHandle, claim_id: str) -> dict[str, Any]:
    with handle.client("demo-viewer") as client:
        answer = client.get(f"/v1/claims/{claim_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_an_accepted_claim_is_deducted_once_however_often_the_form_is_sent(
    busy: SandboxHandle, picker: ClaimPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    claim = picker.take("open")
    fields = forms(operator, claim["id"])["accept"]
    first = operator.post(f"/claims/{claim['id']}/accept", data=fields)
    again = operator.post(f"/claims/{claim['id']}/accept", data=fields)  # a double click
    assert first.status_code == again.status_code == 303
    after = provider_claim(busy, claim["id"])
    assert after["status"] == "accepted" and after["response"]["type"] == "acceptance"
    assert after["deducted_in_payout"]
    entries = audit_rows(portal_app, claim["id"])
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("claim.acceptance", "pending"), ("claim.acceptance", "succeeded"),
        ("claim.acceptance", "pending"), ("claim.acceptance", "replayed"),
    ]  # fmt: skip
    assert entries[3]["details"]["replay_of"] == entries[1]["id"]
    assert entries[1]["details"]["amount"] == claim["amount"]
    page = operator.get(f"/claims/{claim['id']}").get_data(as_text=True)
    assert "You accepted claim" in page and 'id="claim-accept"' not in page


def test_a_contestation_passes_the_statement_and_files_through_and_keeps_neither(
    busy: SandboxHandle, picker: ClaimPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    claim = picker.take("open")
    fields = forms(operator, claim["id"])["contest"]
    files = [(PDF_PROOF, "scans/proof of delivery.pdf"), (PNG_PHOTO, "photo.png")]
    sent = operator.post(
        f"/claims/{claim['id']}/contest",
        data={**fields, "text": f"  {STATEMENT}  ", "evidence": [_file(*f) for f in files]},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)[:2000]
    after = provider_claim(busy, claim["id"])
    assert after["status"] == "under_review"
    response = after["response"]
    assert response["type"] == "contestation" and response["text"] == STATEMENT
    assert [(e["filename"], e["content_type"], e["size"]) for e in response["evidence"]] == [
        ("proof of delivery.pdf", "application/pdf", len(PDF_PROOF)),
        ("photo.png", "image/png", len(PNG_PHOTO)),
    ]
    entries = audit_rows(portal_app, claim["id"])
    assert [e["outcome"] for e in entries] == ["pending", "succeeded"]
    details = entries[1]["details"]
    assert details["evidence_files"] == 2
    assert details["evidence_bytes"] == len(PDF_PROOF) + len(PNG_PHOTO)
    kept = repr(entries)
    assert "parcel" not in kept and "proof of delivery" not in kept and "photo" not in kept
    page = operator.get(f"/claims/{claim['id']}").get_data(as_text=True)
    assert STATEMENT.replace("'", "&#39;") in page and "proof of delivery.pdf" in page


PDF_PROOF = PDF + b"%% carrier's proof of delivery\n" * 40
PNG_PHOTO = PNG + b"\x00" * 300


def _file(data: bytes, name: str, declared: str = "application/octet-stream") -> Any:
    return (io.BytesIO(data), name, declared)


@pytest.mark.parametrize(
    ("text", "files", "field", "message"),
    [
        ("   ", [], "text", "Please say why you contest the claim."),
        ("x" * 5001, [], "text", "at most 5000 characters"),
        (
            STATEMENT,
            [(b"plain text, not a PDF", "notes.txt")],
            "evidence",
            "notes.txt is not a PDF, PNG or JPEG file.",
        ),
        (STATEMENT, [(JPEG, f"p{n}.jpg") for n in range(6)], "evidence", "at most 5 files"),
        (
            STATEMENT,
            [(PDF + b"0" * (5 * MB), "big.pdf")],
            "evidence",
            "big.pdf is larger than 5 MB",
        ),
        (
            STATEMENT,
            [(PDF + b"0" * (4 * MB), f"b{n}.pdf") for n in range(3)],
            "evidence",
            "together are larger than 10 MB",
        ),
    ],
)
def test_a_refused_contestation_names_the_field_keeps_the_statement_and_sends_nothing(
    busy: SandboxHandle,
    picker: ClaimPicker,
    operator: FlaskClient,
    portal_app: Flask,
    text: str,
    files: list[tuple[bytes, str]],
    field: str,
    message: str,
) -> None:
    claim = picker.take("open")
    fields = forms(operator, claim["id"])["contest"]
    refused = operator.post(
        f"/claims/{claim['id']}/contest",
        data={**fields, "text": text, "evidence": [_file(*f) for f in files]},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert f'id="contest-{field}-error"' in page and message in page
    if text.strip() and len(text) <= 5000:
        assert STATEMENT.replace("'", "&#39;") in page  # the statement is kept as typed
    if files:
        assert "again: the portal does not keep files" in page
    assert provider_claim(busy, claim["id"])["status"] == "open"
    assert audit_rows(portal_app, claim["id"]) == []


def test_a_viewer_sees_no_answer_forms_and_cannot_answer(
    busy: SandboxHandle, picker: ClaimPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    claim = picker.take("open")
    fields = forms(operator, claim["id"])["accept"]  # an operator's form, stolen
    viewer = signed_in(portal_app, Role.VIEWER)
    assert forms(viewer, claim["id"]) == {}
    answer = viewer.post(f"/claims/{claim['id']}/accept", data=fields)
    assert answer.status_code == 403
    assert provider_claim(busy, claim["id"])["status"] == "open"
    assert audit_rows(portal_app, claim["id"]) == []


def test_an_operator_whose_provider_client_may_only_read_is_told_the_provider_refused(
    busy: SandboxHandle, picker: ClaimPicker, portal_app: Flask
) -> None:
    claim = picker.take("open")
    client = new_client(portal_app)
    user = make_provider_user(portal_app, Role.OPERATOR, client_id="demo-viewer")
    assert sign_in_fully(client, user, portal_app.extensions["sarportal"].settings.clock()) == 303
    fields = forms(client, claim["id"])["accept"]
    refused = client.post(f"/claims/{claim['id']}/accept", data=fields)
    assert refused.status_code == 422
    assert 'id="claim-answer-error"' in refused.get_data(as_text=True)
    assert provider_claim(busy, claim["id"])["status"] == "open"
    outcomes = [
        (e["outcome"], e["details"].get("code")) for e in audit_rows(portal_app, claim["id"])
    ]
    assert outcomes == [("pending", None), ("failed", "forbidden")]


def test_a_stale_session_confirms_inside_the_form_and_nothing_is_sent_before(
    busy: SandboxHandle,
    picker: ClaimPicker,
    operator: FlaskClient,
    portal_app: Flask,
    clock: FakeClock,
) -> None:
    claim = picker.take("open")
    while datetime.fromisoformat(claim["respond_by"]) < clock.now + timedelta(hours=1):
        claim = picker.take("open")  # one whose deadline is well after the clock's jump
    clock.now += portal_app.extensions["sarportal"].settings.step_up_after + timedelta(minutes=1)
    page = operator.get(f"/claims/{claim['id']}").get_data(as_text=True)
    assert 'id="acceptance-secret"' in page and 'id="contestation-secret"' in page
    fields = forms(operator, claim["id"])["contest"]
    data = {**fields, "text": STATEMENT}
    for secret, status in ((None, 401), ("not my password", 401)):
        attempt = {**data, **({"step_up_secret": secret} if secret else {})}
        refused = operator.post(f"/claims/{claim['id']}/contest", data=attempt)
        assert refused.status_code == status
        shown = refused.get_data(as_text=True)
        assert 'id="contestation-secret-error"' in shown and "parcel was delivered" in shown
    assert provider_claim(busy, claim["id"])["status"] == "open"
    assert audit_rows(portal_app, claim["id"]) == []
    done = operator.post(
        f"/claims/{claim['id']}/contest", data={**data, "step_up_secret": PASSWORD}
    )
    assert done.status_code == 303, re.findall(
        r"(?:alert|feedback)[^>]*>([^<]+)<", done.get_data(as_text=True)
    )
    assert provider_claim(busy, claim["id"])["status"] == "under_review"


def test_a_claim_answered_meanwhile_is_refused_clearly_and_a_new_form_is_offered_no_more(
    busy: SandboxHandle, picker: ClaimPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    claim = picker.take("open")
    fields = forms(operator, claim["id"])["contest"]
    with busy.client("demo-operator") as direct:  # a colleague, at the provider directly
        assert (
            direct.post(f"/v1/claims/{claim['id']}/acceptance", json={}, headers=key()).status_code
            == 201
        )
    refused = operator.post(f"/claims/{claim['id']}/contest", data={**fields, "text": STATEMENT})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "can no longer be answered" in page and 'id="claim-contest"' not in page
    outcomes = [
        (e["outcome"], e["details"].get("code")) for e in audit_rows(portal_app, claim["id"])
    ]
    assert outcomes == [("pending", None), ("failed", "invalid_state")]
    assert provider_claim(busy, claim["id"])["response"]["type"] == "acceptance"


def test_an_expired_form_is_not_sent(
    busy: SandboxHandle, picker: ClaimPicker, operator: FlaskClient, portal_app: Flask
) -> None:
    claim = picker.take("open")
    other = picker.take("open")
    fields = forms(operator, other["id"])["accept"]  # an intent made for another claim
    refused = operator.post(f"/claims/{claim['id']}/accept", data=fields)
    assert refused.status_code == 422 and "This form has expired" in refused.get_data(as_text=True)
    tampered = {**fields, "intent": fields["intent"][:-2] + "xx"}
    assert operator.post(f"/claims/{other['id']}/accept", data=tampered).status_code == 422
    assert provider_claim(busy, claim["id"])["status"] == "open"
    assert provider_claim(busy, other["id"])["status"] == "open"


def test_a_lost_answer_is_checked_at_the_provider_and_sending_again_does_not_act_twice(
    make_provider_app: Callable[..., Flask], make_sandbox: Callable[..., SandboxHandle]
) -> None:
    handle = make_sandbox(transactions=160_000, seed=11, hang_seconds=1.5)
    app = make_provider_app(handle, provider_read_timeout=0.5)
    client = signed_in(app)
    claims = ClaimPicker(handle)
    # every attempt times out after the provider recorded the acceptance
    applied = claims.take("open")
    fields = forms(client, applied["id"])["accept"]
    handle.running.app.faults.schedule("hang", "/v1/claims/", "POST", 10)
    done = client.post(f"/claims/{applied['id']}/accept", data=fields)
    handle.running.app.faults.clear()
    assert done.status_code == 303
    assert "answered late" in client.get(f"/claims/{applied['id']}").get_data(as_text=True)
    entries = audit_rows(app, applied["id"])
    assert [e["outcome"] for e in entries] == ["pending", "succeeded"]
    assert entries[1]["details"]["reconciled"] is True
    # every attempt is refused before the provider acts: not applied, and the same form again
    untouched = claims.take("open")
    fields = forms(client, untouched["id"])["contest"]
    handle.running.app.faults.schedule("error_503", "/v1/claims/", "POST", 10)
    failed = client.post(f"/claims/{untouched['id']}/contest", data={**fields, "text": STATEMENT})
    handle.running.app.faults.clear()
    assert failed.status_code == 422
    page = failed.get_data(as_text=True)
    assert "was not carried out" in page or "not carried out" in page
    (shown,) = [i for name, _csrf, i in INTENT.findall(page) if name == "contest"]
    assert sealed_key(shown) == sealed_key(fields["intent"])  # the same key: sending again is safe
    assert provider_claim(handle, untouched["id"])["status"] == "open"
    again = client.post(f"/claims/{untouched['id']}/contest", data={**fields, "text": STATEMENT})
    assert again.status_code == 303
    outcomes = [(e["outcome"], e["details"].get("code")) for e in audit_rows(app, untouched["id"])]
    assert outcomes == [("pending", None), ("failed", "not_applied"), ("pending", None),
                        ("succeeded", None)]  # fmt: skip


# -- the API ---------------------------------------------------------------------------------


def bearer(app: Flask, role: Role = Role.OPERATOR) -> dict[str, str]:
    user = make_provider_user(app, role)
    with app.extensions["sarportal"].store.unit_of_work() as uow:
        raw, _row = uow.tokens.create(user.id, None)
        uow.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_the_api_accepts_a_claim_once_per_idempotency_key(
    busy: SandboxHandle, picker: ClaimPicker, portal_app: Flask
) -> None:
    claim = picker.take("open")
    client, headers = portal_app.test_client(), {**bearer(portal_app), **key()}
    url = f"/api/v1/claims/{claim['id']}/acceptance"
    answers = [client.post(url, json={}, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    expected = {**provider_claim(busy, claim["id"]), "assignee_user_id": None}  # the portal's own
    assert answers[0].get_json() == answers[1].get_json() == expected
    assert answers[0].headers["Location"] == f"/api/v1/claims/{claim['id']}"
    outcomes = [e["outcome"] for e in audit_rows(portal_app, claim["id"])]
    assert outcomes == ["pending", "succeeded", "pending", "replayed"]
    english = {**headers, **key(), "Accept-Language": "en"}
    again = client.post(url, json={}, headers=english)  # a new key: a new intent
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_state"
    assert "can no longer be answered" in again.get_json()["detail"]


def test_the_api_contests_a_claim_with_files_passed_through(
    busy: SandboxHandle, picker: ClaimPicker, portal_app: Flask
) -> None:
    claim = picker.take("open")
    client, headers = portal_app.test_client(), bearer(portal_app)
    url = f"/api/v1/claims/{claim['id']}/contestation"
    done = client.post(
        url,
        data={"text": STATEMENT, "evidence": [_file(PDF_PROOF, "proof.pdf", "application/pdf")]},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert done.status_code == 201, done.get_data(as_text=True)
    body = done.get_json()
    assert body["status"] == "under_review" and body["response"]["text"] == STATEMENT
    (sent,) = body["response"]["evidence"]
    assert sent["sha256"] == hashlib.sha256(PDF_PROOF).hexdigest()


@pytest.mark.parametrize(
    ("body", "content_type", "param"),
    [
        ({"text": STATEMENT}, "application/x-www-form-urlencoded", "body"),
        ({}, "multipart/form-data", "text"),
        ({"text": "   "}, "multipart/form-data", "text"),
        ({"text": STATEMENT, "note": "x"}, "multipart/form-data", "note"),
        (
            {"text": STATEMENT, "evidence": [(b"MZ\x90\x00", "setup.exe")]},
            "multipart/form-data",
            "evidence",
        ),
    ],
)
def test_the_api_refuses_a_bad_contestation_naming_the_field(
    busy: SandboxHandle,
    picker: ClaimPicker,
    portal_app: Flask,
    body: dict[str, Any],
    content_type: str,
    param: str,
) -> None:
    claim = picker.take("open")
    data = {
        name: [_file(*f) for f in value] if name == "evidence" else value
        for name, value in body.items()
    }
    refused = portal_app.test_client().post(
        f"/api/v1/claims/{claim['id']}/contestation",
        data=data,
        headers=bearer(portal_app),
        content_type=content_type,
    )
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["param"] == param
    assert provider_claim(busy, claim["id"])["status"] == "open"
    assert audit_rows(portal_app, claim["id"]) == []


def test_the_api_lets_no_viewer_answer(
    busy: SandboxHandle, picker: ClaimPicker, portal_app: Flask
) -> None:
    claim = picker.take("open")
    client, headers = portal_app.test_client(), bearer(portal_app, Role.VIEWER)
    accepted = client.post(f"/api/v1/claims/{claim['id']}/acceptance", json={}, headers=headers)
    contested = client.post(
        f"/api/v1/claims/{claim['id']}/contestation",
        data={"text": STATEMENT},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert accepted.status_code == contested.status_code == 403
    assert provider_claim(busy, claim["id"])["status"] == "open"
