"""The sandbox over real TLS: transport, auth, isolation, listing, paging, actions, faults."""

from __future__ import annotations

import socket
import ssl
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import SANDBOX_TRANSACTIONS, SandboxHandle


def _all_rows(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/transactions", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        rows.extend(body["data"])
        if not body["has_more"]:
            return rows
        cursor = body["next_cursor"]


# -- transport ----------------------------------------------------------------------------


def test_plain_http_gets_no_http_answer(sandbox: SandboxHandle) -> None:
    host, port = sandbox.url.removeprefix("https://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /v1/transactions HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(4096)
    assert not answer.startswith(b"HTTP/")


def test_client_without_the_ca_fails_verification(sandbox: SandboxHandle) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{sandbox.url}/openapi.json", verify=ssl.create_default_context())


def test_tls_below_1_2_is_refused(sandbox: SandboxHandle) -> None:
    context = sandbox.ssl_context()
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sandbox.url}/openapi.json", verify=context)


def test_ca_file_is_written_to_the_state_dir(sandbox: SandboxHandle) -> None:
    assert sandbox.ca == sandbox.state_dir / "ca.pem"
    assert sandbox.ca.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_accepted_connections_have_nagle_off(sandbox: SandboxHandle) -> None:
    # A response goes out as two TLS records (headers, body); with Nagle on, the second waits
    # for the client's delayed ACK, 40 ms a request. The server's side of our connection must
    # have TCP_NODELAY set.
    host, port = sandbox.url.removeprefix("https://").rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        sandbox.ssl_context().wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        assert tls.recv(4096).startswith(b"HTTP/1.1 200")
        ours = tls.getsockname()[1]
        connections = list(sandbox.running.server.server_state.connections)
        [accepted] = [
            c.transport.get_extra_info("socket")
            for c in connections
            if c.transport.get_extra_info("peername")[1] == ours
        ]
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


# -- auth -----------------------------------------------------------------------------------


def test_token_with_basic_auth_and_scopes(sandbox: SandboxHandle) -> None:
    response = httpx.post(
        f"{sandbox.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-viewer", "demo-viewer-secret"),
        verify=sandbox.ssl_context(),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "transactions:read"
    assert body["expires_in"] > 0
    assert response.headers["cache-control"] == "no-store"


def _form(client_id: str | None, secret: str | None, **extra: str) -> dict[str, str]:
    form = {"grant_type": "client_credentials", **extra}
    if client_id is not None and secret is not None:
        form |= {"client_id": client_id, "client_secret": secret}
    return form


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (_form("demo-viewer", "x"), 401, "unauthorized"),
        (_form("nobody", "x"), 401, "unauthorized"),
        (_form("demo-viewer", "demo-viewer-secret", grant_type="password"), 400, "invalid_request"),
        (_form(None, None), 400, "invalid_request"),
        (
            _form("demo-viewer", "demo-viewer-secret", scope="transactions:write"),
            400,
            "invalid_request",
        ),
    ],
)
def test_bad_token_requests_are_refused(
    sandbox: SandboxHandle, data: dict[str, str], status: int, code: str
) -> None:
    response = httpx.post(f"{sandbox.url}/oauth/token", data=data, verify=sandbox.ssl_context())
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_requests_without_a_valid_token_are_unauthorized(sandbox: SandboxHandle) -> None:
    with httpx.Client(base_url=sandbox.url, verify=sandbox.ssl_context()) as client:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
            response = client.get("/v1/transactions", headers=headers)
            assert response.status_code == 401
            assert response.json()["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_viewer_cannot_write(sandbox: SandboxHandle, fresh_rows: Any) -> None:
    row = fresh_rows.take("authorized")
    with sandbox.client("demo-viewer") as client:
        response = client.post(
            f"/v1/transactions/{row['id']}/captures",
            json={"amount": 1},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        after = client.get(f"/v1/transactions/{row['id']}").json()
    assert after["captured_amount"] == row["captured_amount"]


def test_token_expires(make_sandbox: Any) -> None:
    handle = make_sandbox(token_ttl=1)
    with handle.client() as client:
        assert client.get("/v1/transactions", params={"limit": 1}).status_code == 200
        handle.running.app.tokens.expire_all()
        response = client.get("/v1/transactions", params={"limit": 1})
    assert response.status_code == 401


# -- isolation ------------------------------------------------------------------------------


def test_another_merchants_transaction_and_customer_are_not_found(sandbox: SandboxHandle) -> None:
    with sandbox.client("demo-operator") as a, sandbox.client("other-operator") as b:
        mine = a.get("/v1/transactions", params={"limit": 1}).json()["data"][0]
        theirs = b.get("/v1/transactions", params={"limit": 1}).json()["data"][0]
        assert mine["id"] != theirs["id"]
        for path in (
            f"/v1/transactions/{theirs['id']}",
            f"/v1/customers/{theirs['customer_id']}/transactions",
        ):
            response = a.get(path)
            assert response.status_code == 404
            assert response.json()["code"] == "not_found"
        refund = a.post(
            f"/v1/transactions/{theirs['id']}/refunds",
            json={"amount": 1, "reason": "test"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert refund.status_code == 404
        assert b.get(f"/v1/transactions/{theirs['id']}").status_code == 200


# -- listing --------------------------------------------------------------------------------


def test_walking_all_pages_yields_total_count_once_each(sandbox: SandboxHandle) -> None:
    with sandbox.client() as client:
        total = client.get("/v1/transactions", params={"include_total": "true", "limit": 1}).json()
        rows = _all_rows(client, limit=1000)
    ids = [r["id"] for r in rows]
    assert len(ids) == total["total_count"] == SANDBOX_TRANSACTIONS
    assert len(set(ids)) == len(ids)
    created = [r["created_at"] for r in rows]
    assert created == sorted(created, reverse=True)


def test_paging_while_writes_happen_neither_skips_nor_repeats(
    sandbox: SandboxHandle, fresh_rows: Any
) -> None:
    targets = [fresh_rows.take("captured") for _ in range(5)]
    with sandbox.client() as client:
        expected = {r["id"] for r in _all_rows(client, limit=1000, order="created_asc")}
        seen: list[str] = []
        cursor = None
        step = 0
        while True:
            params: dict[str, Any] = {"limit": 250, "order": "created_asc"}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/v1/transactions", params=params).json()
            seen.extend(r["id"] for r in body["data"])
            if step < len(targets):
                refund = client.post(
                    f"/v1/transactions/{targets[step]['id']}/refunds",
                    json={"amount": 1, "reason": "paging test"},
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                assert refund.status_code == 201, refund.text
            step += 1
            if not body["has_more"]:
                break
            cursor = body["next_cursor"]
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"status": "captured"}, lambda r: r["status"] == "captured"),
        ({"status": ["refunded", "cancelled"]}, lambda r: r["status"] in ("refunded", "cancelled")),
        ({"settlement_status": "overdue"}, lambda r: r["settlement_status"] == "overdue"),
        ({"payment_method": "direct_debit"}, lambda r: r["payment_method"] == "direct_debit"),
        ({"currency": "CHF"}, lambda r: r["currency"] == "CHF" and r["country"] == "CH"),
        ({"country": "AT"}, lambda r: r["country"] == "AT"),
        ({"customer_type": "b2b"}, lambda r: r["customer_type"] == "b2b"),
        ({"shop": "musterhaus-ch"}, lambda r: r["shop"] == "musterhaus-ch"),
        ({"dunning_level": ["3", "4"]}, lambda r: r["dunning_level"] >= 3),
        ({"amount_min": 10000, "amount_max": 20000}, lambda r: 10000 <= r["amount"] <= 20000),
    ],
)
def test_filters_select_exactly_the_matching_rows(
    sandbox: SandboxHandle, params: dict[str, Any], check: Any
) -> None:
    with sandbox.client() as client:
        everything = _all_rows(client, limit=1000)
        matching = _all_rows(client, limit=1000, **params)
    assert matching, "the seeded data should contain matching rows"
    assert all(check(r) for r in matching)
    assert {r["id"] for r in matching} == {r["id"] for r in everything if check(r)}


def test_created_range_is_half_open(sandbox: SandboxHandle) -> None:
    with sandbox.client() as client:
        rows = client.get("/v1/transactions", params={"limit": 3}).json()["data"]
        newest = rows[0]["created_at"]
        exact = client.get("/v1/transactions", params={"created_from": newest}).json()["data"]
        before = client.get("/v1/transactions", params={"created_to": newest, "limit": 1}).json()
    assert rows[0]["id"] in {r["id"] for r in exact}
    assert before["data"][0]["created_at"] < newest


def test_order_reference_finds_one_transaction(sandbox: SandboxHandle) -> None:
    with sandbox.client() as client:
        row = client.get("/v1/transactions", params={"limit": 7}).json()["data"][6]
        found = client.get("/v1/transactions", params={"order_reference": row["order_reference"]})
    assert [r["id"] for r in found.json()["data"]] == [row["id"]]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "paid"}, "status"),
        ({"settlement_status": "late"}, "settlement_status"),
        ({"currency": "eur"}, "currency"),
        ({"country": "DEU"}, "country"),
        ({"amount_min": "-5"}, "amount_min"),
        ({"amount_max": "1.5"}, "amount_max"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_to": "2025-01-01"}, "created_to"),
        ({"created_to": "2025-01-01T00:00:00"}, "created_to"),
        ({"cursor": "garbage"}, "cursor"),
        ({"order": "amount_largest"}, "order"),
        ({"include_total": "yes"}, "include_total"),
        ({"dunning_level": "5"}, "dunning_level"),
        ({"colour": "red"}, "colour"),
        ({"limit": ["1", "2"]}, "limit"),
    ],
)
def test_bad_list_parameters_are_named(
    sandbox: SandboxHandle, params: dict[str, Any], param: str
) -> None:
    with sandbox.client() as client:
        response = client.get("/v1/transactions", params=params)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "invalid_request" and problem["param"] == param
    assert problem["request_id"] == response.headers["request-id"]


def test_cursor_is_bound_to_its_filters(sandbox: SandboxHandle) -> None:
    with sandbox.client() as client:
        cursor = client.get("/v1/transactions", params={"limit": 5}).json()["next_cursor"]
        same = client.get("/v1/transactions", params={"limit": 5, "cursor": cursor})
        other = client.get(
            "/v1/transactions", params={"limit": 5, "cursor": cursor, "status": "captured"}
        )
    assert same.status_code == 200
    assert other.status_code == 400 and other.json()["param"] == "cursor"


@pytest.mark.parametrize("order", ["amount_desc", "amount_asc", "due_date_asc", "due_date_desc"])
def test_pages_sorted_by_amount_or_due_date_follow_on_through_their_cursors(
    sandbox: SandboxHandle, order: str
) -> None:
    params: dict[str, Any] = {"limit": 200, "order": order, "currency": "EUR", "country": "AT"}
    with sandbox.client() as client:
        every = _all_rows(client, limit=1000, currency="EUR", country="AT")
        walked: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = client.get(
                "/v1/transactions", params=params | ({"cursor": cursor} if cursor else {})
            )
            assert page.status_code == 200, page.text
            body = page.json()
            walked += body["data"]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                break
        created_cursor = client.get("/v1/transactions", params={"limit": 5}).json()["next_cursor"]
        mixed = client.get(
            "/v1/transactions", params={"limit": 5, "order": order, "cursor": created_cursor}
        )
    assert sorted(t["id"] for t in walked) == sorted(t["id"] for t in every)
    key = order.rsplit("_", 1)[0]
    values = [t[key] for t in walked if t[key] is not None]
    assert values == sorted(values, reverse=order.endswith("_desc"))
    if key == "due_date":  # not captured: no due date, last both ways
        dated = [t[key] is not None for t in walked]
        assert dated == sorted(dated, reverse=True)
    assert mixed.status_code == 400 and mixed.json()["param"] == "cursor"


def test_an_unknown_order_is_named_with_the_ones_there_are(sandbox: SandboxHandle) -> None:
    with sandbox.client() as client:
        response = client.get("/v1/transactions", params={"order": "customer_name_asc"})
    assert response.status_code == 400 and response.json()["param"] == "order"
    assert "amount_desc" in response.json()["detail"]


# -- detail ---------------------------------------------------------------------------------


def test_detail_has_customer_items_and_history(sandbox: SandboxHandle) -> None:
    with sandbox.client() as client:
        row = _all_rows(client, limit=1000, status="partially_refunded")[0]
        detail = client.get(f"/v1/transactions/{row['id']}").json()
        others = client.get(f"/v1/customers/{row['customer_id']}/transactions").json()
    assert {k: detail[k] for k in row} == row
    assert sum(item["total_amount"] for item in detail["items"]) == detail["amount"]
    kinds = [e["type"] for e in detail["events"]]
    assert kinds[0] == "authorization" and "capture" in kinds and "refund" in kinds
    times = [e["occurred_at"] for e in detail["events"]]
    assert times == sorted(times)
    assert detail["customer"]["id"] == row["customer_id"]
    assert detail["customer"]["email"].count("@") == 1
    assert row["id"] in {r["id"] for r in others["data"]}
    assert all(r["customer_id"] == row["customer_id"] for r in others["data"])


def test_pii_canary_marks_every_personal_field(make_sandbox: Any) -> None:
    handle = make_sandbox(pii_canary=True)
    with handle.client() as client:
        row = client.get(
            "/v1/transactions", params={"limit": 1, "payment_method": "direct_debit"}
        ).json()
        detail = client.get(f"/v1/transactions/{row['data'][0]['id']}").json()
    customer = detail["customer"]
    for field in ("first_name", "last_name", "name", "email", "phone", "iban_masked"):
        assert customer[field].startswith("PIICANARY"), field
    for address in ("billing_address", "shipping_address"):
        assert customer[address]["line1"].startswith("PIICANARY")
        assert customer[address]["city"].startswith("PIICANARY")
    summary_text = str(row)
    assert "PIICANARY" not in summary_text


# -- actions --------------------------------------------------------------------------------


def _act(
    client: httpx.Client, tx: str, action: str, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return client.post(
        f"/v1/transactions/{tx}/{action}",
        json=body,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


def test_capture_refund_and_cancel_follow_the_amount_rules(
    sandbox: SandboxHandle, fresh_rows: Any
) -> None:
    row = fresh_rows.take("authorized")
    tx, amount = row["id"], row["amount"]
    with sandbox.client() as client:
        too_much = _act(client, tx, "captures", {"amount": amount + 1})
        assert too_much.status_code == 422 and too_much.json()["code"] == "amount_exceeds_available"
        part = _act(client, tx, "captures", {"amount": amount // 2})
        assert part.status_code == 201
        assert part.json()["transaction"]["status"] == "partially_captured"
        assert part.json()["transaction"]["settlement_status"] == "open"
        assert part.json()["transaction"]["due_date"] is not None
        refund = _act(client, tx, "refunds", {"amount": 1, "reason": "damaged"})
        assert refund.json()["transaction"]["status"] == "partially_refunded"
        cancel = _act(client, tx, "cancellations", {})
        assert cancel.status_code == 201
        after = cancel.json()["transaction"]
        assert after["cancelled_amount"] == amount - amount // 2
        again = _act(client, tx, "cancellations", {})
        assert again.status_code == 409 and again.json()["code"] == "invalid_state"
        detail = client.get(f"/v1/transactions/{tx}").json()
    kinds = [e["type"] for e in detail["events"]]
    assert kinds[-3:] == ["capture", "refund", "cancellation"]


@pytest.mark.parametrize("status", ["declined", "expired"])
def test_declined_and_expired_take_no_action(
    sandbox: SandboxHandle, fresh_rows: Any, status: str
) -> None:
    row = fresh_rows.take(status)
    with sandbox.client() as client:
        for action, body in (
            ("captures", {"amount": 1}),
            ("cancellations", {}),
            ("refunds", {"amount": 1, "reason": "x"}),
        ):
            response = _act(client, row["id"], action, body)
            assert response.status_code == 409, (action, response.text)
            assert response.json()["code"] == "invalid_state"
        assert client.get(f"/v1/transactions/{row['id']}").json()["status"] == status


@pytest.mark.parametrize(
    ("action", "body", "param"),
    [
        ("captures", {"amount": -5}, "amount"),
        ("captures", {"amount": 0}, "amount"),
        ("captures", {"amount": 1.5}, "amount"),
        ("captures", {"amount": "100"}, "amount"),
        ("captures", {"amount": True}, "amount"),
        ("captures", {}, "amount"),
        ("captures", {"amount": 1, "extra": 1}, "extra"),
        ("refunds", {"amount": 1}, "reason"),
        ("refunds", {"amount": 1, "reason": ""}, "reason"),
        ("refunds", {"amount": 1, "reason": "x" * 501}, "reason"),
        ("cancellations", {"amount": 1}, "amount"),
    ],
)
def test_bad_action_bodies_are_refused_and_change_nothing(
    sandbox: SandboxHandle, fresh_rows: Any, action: str, body: dict[str, Any], param: str
) -> None:
    row = fresh_rows.take("captured" if action == "refunds" else "authorized")
    with sandbox.client() as client:
        response = _act(client, row["id"], action, body)
        assert response.status_code == 400, response.text
        assert response.json()["param"] == param
        after = client.get(f"/v1/transactions/{row['id']}").json()
    assert {k: after[k] for k in row} == row


def test_malformed_and_oversized_bodies_and_missing_key(
    sandbox: SandboxHandle, fresh_rows: Any
) -> None:
    row = fresh_rows.take("authorized")
    path = f"/v1/transactions/{row['id']}/captures"
    with sandbox.client() as client:
        missing = client.post(path, json={"amount": 1})
        assert missing.status_code == 400 and missing.json()["param"] == "Idempotency-Key"
        key = {"Idempotency-Key": str(uuid.uuid4())}
        broken = client.post(path, content=b"{amount: 1", headers=key)
        assert broken.status_code == 400 and broken.json()["param"] == "body"
        huge = client.post(
            path, content=b'{"amount": 1, "x": "' + b"a" * 20000 + b'"}', headers=key
        )
        assert huge.status_code == 400 and huge.json()["param"] == "body"
        assert client.get(f"/v1/transactions/{row['id']}").json()["captured_amount"] == 0


def test_idempotent_replay_and_conflict(sandbox: SandboxHandle, fresh_rows: Any) -> None:
    row = fresh_rows.take("captured")
    key = str(uuid.uuid4())
    with sandbox.client() as client:
        first = _act(client, row["id"], "refunds", {"amount": 100, "reason": "late delivery"}, key)
        again = _act(client, row["id"], "refunds", {"amount": 100, "reason": "late delivery"}, key)
        other = _act(client, row["id"], "refunds", {"amount": 200, "reason": "late delivery"}, key)
        after = client.get(f"/v1/transactions/{row['id']}").json()
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert after["refunded_amount"] == row["refunded_amount"] + 100


# -- limits and faults ----------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(make_sandbox: Any) -> None:
    handle = make_sandbox(rate_limit=2)
    with handle.client() as client:
        answers = [client.get("/v1/transactions", params={"limit": 1}) for _ in range(6)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].json()["code"] == "rate_limited"
    assert answers[0].headers["x-ratelimit-limit"] == "2"


@pytest.mark.parametrize(
    ("kind", "status", "code"), [("error_500", 500, "internal"), ("error_503", 503, "unavailable")]
)
def test_injected_errors(make_sandbox: Any, kind: str, status: int, code: str) -> None:
    handle = make_sandbox()
    handle.running.app.faults.schedule(kind, "/v1/transactions", "GET", 1)
    with handle.client() as client:
        failed = client.get("/v1/transactions", params={"limit": 1})
        recovered = client.get("/v1/transactions", params={"limit": 1})
    assert failed.status_code == status and failed.json()["code"] == code
    assert recovered.status_code == 200


@pytest.mark.parametrize("kind", ["truncated", "malformed"])
def test_injected_broken_json(make_sandbox: Any, kind: str) -> None:
    handle = make_sandbox()
    handle.running.app.faults.schedule(kind, "/v1/transactions", "GET", 1)
    with handle.client() as client:
        broken = client.get("/v1/transactions", params={"limit": 5})
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()


def test_hang_after_a_write_applies_it_and_a_retry_replays(make_sandbox: Any) -> None:
    handle = make_sandbox(hang_seconds=2.0)
    with handle.client() as client:
        row = client.get("/v1/transactions", params={"status": "captured", "limit": 1}).json()[
            "data"
        ][0]
        handle.running.app.faults.schedule("hang", "/v1/transactions/", "POST", 1)
        key = str(uuid.uuid4())
        with pytest.raises(httpx.ReadTimeout):
            client.post(
                f"/v1/transactions/{row['id']}/refunds",
                json={"amount": 50, "reason": "test"},
                headers={"Idempotency-Key": key},
                timeout=0.5,
            )
        retry = _act(client, row["id"], "refunds", {"amount": 50, "reason": "test"}, key)
        after = client.get(f"/v1/transactions/{row['id']}").json()
    assert retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    assert after["refunded_amount"] == row["refunded_amount"] + 50


def test_data_covers_twenty_four_months(sandbox: SandboxHandle) -> None:
    with sandbox.client() as client:
        oldest = client.get("/v1/transactions", params={"order": "created_asc", "limit": 1}).json()
    first = datetime.fromisoformat(oldest["data"][0]["created_at"])
    age = datetime.now(UTC) - first
    assert timedelta(days=700) < age <= timedelta(days=731)
