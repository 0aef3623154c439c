"""Every sandbox answer, success and error, validated against the provider's OpenAPI document.

Each case makes one real request over TLS, then openapi-core checks the response (status, headers,
media type, body schema) against the operation the request names, and the request itself where
the case sends a valid request. The table names each case, so a failure says which answer broke
the contract. Endpoint behaviour beyond the contract lives in `test_sandbox_api.py`.
"""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types.util import plain_loads
from openapi_core.exceptions import OpenAPIError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.fixtures.sandbox import RowPicker, SandboxHandle
from tests.integration.helpers_claims import (
    JPEG,
    MB,
    PDF,
    PNG,
    ClaimPicker,
    claims_sandbox,
    contest,
    evidence,
)

SPEC: dict[str, Any] = yaml.safe_load(
    (files("sarportal") / "openapi" / "provider-v1.yaml").read_text(encoding="utf-8")
)
# The exports are checked as what their schema says, text (in the charset they name); the
# default would hand the CSV over as bytes and parse the XML.
CONFIG = Config(
    extra_media_type_deserializers={
        "application/problem+json": json.loads,
        "text/csv": plain_loads,
        "application/xml": plain_loads,
    }
)


@cache
def openapi_for(base_url: str) -> OpenAPI:
    """The contract with its server set to where this sandbox listens (its port is random)."""
    spec = {**SPEC, "servers": [{"url": base_url}]}
    return OpenAPI.from_dict(spec, config=CONFIG)


# -- httpx → openapi-core protocols ----------------------------------------------------------


class HttpxOpenAPIRequest:
    """An `httpx.Request` seen through openapi-core's `Request` protocol."""

    def __init__(self, request: httpx.Request) -> None:
        url = request.url
        self.host_url = f"{url.scheme}://{url.netloc.decode('ascii')}"
        self.path = url.path
        self.method = request.method.lower()
        self.body: bytes | None = request.read() or None  # a multipart body is a stream
        self.content_type = request.headers.get("content-type", "")
        query = parse_qsl(url.query.decode("ascii"), keep_blank_values=True)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )


class HttpxOpenAPIResponse:
    """An `httpx.Response` seen through openapi-core's `Response` protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(list(response.headers.items()))
        self.data: bytes | None = response.content


def assert_matches_contract(
    base_url: str, response: httpx.Response, *, check_request: bool = True
) -> None:
    """The response (and, unless told otherwise, the request) conform to the contract."""
    api = openapi_for(base_url)
    request = HttpxOpenAPIRequest(response.request)
    with warnings.catch_warnings():
        # openapi-core has no provider for the oauth2 scheme and warns; the sandbox checks it.
        warnings.filterwarnings("ignore", "Unsupported scheme type")
        if check_request:
            api.validate_request(request)
        api.validate_response(request, HttpxOpenAPIResponse(response))


# -- the cases ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a case may use to make its request."""

    sandbox: SandboxHandle
    rows: RowPicker
    make_sandbox: Callable[..., SandboxHandle]
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    base_url: str = ""
    claims: ClaimPicker | None = None  # for the claim cases, on a sandbox with open claims

    def client(self, client_id: str = "demo-operator") -> httpx.Client:
        if client_id not in self.clients:
            self.clients[client_id] = self.sandbox.client(client_id)
        return self.clients[client_id]

    def anonymous(self) -> httpx.Client:
        if "" not in self.clients:
            self.clients[""] = httpx.Client(
                base_url=self.sandbox.url, verify=self.sandbox.ssl_context()
            )
        return self.clients[""]

    def other_merchants_row(self) -> dict[str, Any]:
        page = self.client("other-operator").get("/v1/transactions", params={"limit": 1})
        return dict(page.json()["data"][0])

    def claim(self, status: str) -> dict[str, Any]:
        assert self.claims is not None, "a claim case runs on the claims sandbox"
        return self.claims.take(status)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    code: str | None  # the problem `code`, None for a success
    make: Callable[[Ctx], httpx.Response]
    param: str | None = None  # the problem's `param`, where the contract names one
    valid_request: bool = True  # whether openapi-core should also accept the request
    replayed: bool = False  # whether the answer must carry `Idempotent-Replayed: true`
    media_type: str = "application/json"  # a success's content type


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _token(ctx: Ctx, **form: str) -> httpx.Response:
    return ctx.anonymous().post("/oauth/token", data=form)


def _list(ctx: Ctx, **params: Any) -> httpx.Response:
    return ctx.client().get("/v1/transactions", params=params)


def _detail_of(ctx: Ctx, status: str) -> httpx.Response:
    row = ctx.rows.take(status)
    return ctx.client().get(f"/v1/transactions/{row['id']}")


def _write(
    ctx: Ctx, action: str, status: str, body: dict[str, Any], client_id: str = "demo-operator"
) -> httpx.Response:
    row = ctx.rows.take(status)
    return ctx.client(client_id).post(
        f"/v1/transactions/{row['id']}/{action}", json=body, headers=key()
    )


def _replay(ctx: Ctx, action: str, status: str, body: dict[str, Any]) -> httpx.Response:
    row = ctx.rows.take(status)
    path, headers = f"/v1/transactions/{row['id']}/{action}", key()
    first = ctx.client().post(path, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = ctx.client().post(path, json=body, headers=headers)
    assert again.content == first.content
    return again


def _key_conflict(ctx: Ctx) -> httpx.Response:
    row = ctx.rows.take("authorized")
    path, headers = f"/v1/transactions/{row['id']}/captures", key()
    first = ctx.client().post(path, json={"amount": 1}, headers=headers)
    assert first.status_code == 201, first.text
    return ctx.client().post(path, json={"amount": 2}, headers=headers)


def _without_key(ctx: Ctx, action: str, status: str, body: dict[str, Any]) -> httpx.Response:
    row = ctx.rows.take(status)
    return ctx.client().post(f"/v1/transactions/{row['id']}/{action}", json=body)


def _unknown_tx_write(ctx: Ctx, action: str, body: dict[str, Any]) -> httpx.Response:
    other = ctx.other_merchants_row()["id"]
    return ctx.client().post(f"/v1/transactions/{other}/{action}", json=body, headers=key())


def _too_much(ctx: Ctx, action: str, status: str) -> httpx.Response:
    row = ctx.rows.take(status)
    available = (
        row["amount"] - row["captured_amount"] - row["cancelled_amount"]
        if action == "captures"
        else row["captured_amount"] - row["refunded_amount"]
    )
    body: dict[str, Any] = {"amount": available + 1}
    if action == "refunds":
        body["reason"] = "too much"
    return ctx.client().post(f"/v1/transactions/{row['id']}/{action}", json=body, headers=key())


Body = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


def _invoice_write(
    ctx: Ctx, action: str, settlement: str, body: Body, client_id: str = "demo-operator"
) -> httpx.Response:
    """An invoice operation on an untouched transaction whose invoice is `settlement`; `body`
    may be made from the transaction's detail (its invoice's fees and amounts)."""
    row = ctx.rows.take("captured", settlement_status=settlement)
    path = f"/v1/transactions/{row['id']}"
    if callable(body):
        body = body(ctx.client().get(path).json())
    return ctx.client(client_id).post(f"{path}/{action}", json=body, headers=key())


def _extension(detail: dict[str, Any], working_days: int = 10) -> dict[str, Any]:
    options = {o["working_days"]: o for o in detail["invoice"]["extension_options"]}
    return {"working_days": working_days, "fee_amount": options[working_days]["fee_amount"]}


def _paid_directly(detail: dict[str, Any], more: int = 0) -> dict[str, Any]:
    return {"amount": detail["invoice"]["open_amount"] + more, "paid_on": TODAY}


def _invoice_twice(ctx: Ctx, action: str, first: Body, second: Body) -> httpx.Response:
    """The second of two operations on one invoice, each with its own key."""
    row = ctx.rows.take("captured", settlement_status="overdue")
    path = f"/v1/transactions/{row['id']}"
    for body in (first, second):
        made = body(ctx.client().get(path).json()) if callable(body) else body
        answer = ctx.client().post(f"{path}/{action}", json=made, headers=key())
    return answer


def _customer_list(ctx: Ctx, **params: Any) -> httpx.Response:
    row = ctx.rows.take("captured")
    return ctx.client().get(f"/v1/customers/{row['customer_id']}/transactions", params=params)


def _rate_limited(path: str) -> Callable[[Ctx], httpx.Response]:
    def make(ctx: Ctx) -> httpx.Response:
        limited = ctx.make_sandbox(rate_limit=1)
        ctx.base_url = limited.url
        with limited.client("demo-viewer") as client:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                response = client.get(path, params={"limit": 1})
                if response.status_code == 429:
                    return response
                assert response.status_code == 200, response.text
                assert_matches_contract(limited.url, response)  # the 200 with X-RateLimit-*
        raise AssertionError("no 429 within 10 s at 1 request a second")

    return make


def _fault(kind: str, method: str) -> Callable[[Ctx], httpx.Response]:
    def make(ctx: Ctx) -> httpx.Response:
        row = ctx.rows.take("authorized")
        path = f"/v1/transactions/{row['id']}"
        ctx.sandbox.running.app.faults.schedule(kind, path, method, 1)
        if method == "GET":
            return ctx.client().get(path)
        return ctx.client().post(f"{path}/captures", json={"amount": 1}, headers=key())

    return make


def _payouts(ctx: Ctx, **params: Any) -> httpx.Response:
    return ctx.client("demo-viewer").get("/v1/payouts", params=params)


def _payout_id(ctx: Ctx, which: str = "paid", client_id: str = "demo-viewer") -> str:
    """The id of the newest payout, or of the newest paid one."""
    params = {"limit": 1} if which == "newest" else {"limit": 1, "status": which}
    page = ctx.client(client_id).get("/v1/payouts", params=params).json()
    payout_id: str = page["data"][0]["id"]
    return payout_id


def _payout(ctx: Ctx, part: str = "", which: str = "paid", **params: Any) -> httpx.Response:
    return ctx.client("demo-viewer").get(
        f"/v1/payouts/{_payout_id(ctx, which)}{part}", params=params
    )


def _other_merchants_payout(ctx: Ctx, part: str = "", **params: Any) -> httpx.Response:
    payout_id = _payout_id(ctx, client_id="other-operator")
    return ctx.client("demo-viewer").get(f"/v1/payouts/{payout_id}{part}", params=params)


def _second_page(ctx: Ctx, path: str, **params: Any) -> httpx.Response:
    client = ctx.client("demo-viewer")
    cursor = client.get(path, params={**params, "limit": 3}).json()["next_cursor"]
    return client.get(path, params={**params, "limit": 3, "cursor": cursor})


def _lines_with_cursor_of_another_payout(ctx: Ctx) -> httpx.Response:
    client = ctx.client("demo-viewer")
    paid = client.get("/v1/payouts", params={"status": "paid", "limit": 2}).json()["data"]
    cursor = client.get(f"/v1/payouts/{paid[0]['id']}/lines", params={"limit": 1}).json()
    return client.get(
        f"/v1/payouts/{paid[1]['id']}/lines", params={"cursor": cursor["next_cursor"]}
    )


def _payouts_without_read_scope(ctx: Ctx) -> httpx.Response:
    token = ctx.sandbox.token("demo-operator", "transactions:write")
    return ctx.anonymous().get("/v1/payouts", headers={"Authorization": f"Bearer {token}"})


def _payout_fault(kind: str, part: str, **params: Any) -> Callable[[Ctx], httpx.Response]:
    def make(ctx: Ctx) -> httpx.Response:
        path = f"/v1/payouts/{_payout_id(ctx)}{part}"
        ctx.sandbox.running.app.faults.schedule(kind, path, "GET", 1)
        return ctx.client("demo-viewer").get(path, params=params)

    return make


def _claims(ctx: Ctx, client_id: str = "demo-viewer", **params: Any) -> httpx.Response:
    return ctx.client(client_id).get("/v1/claims", params=params)


def _claim(ctx: Ctx, status: str, client_id: str = "demo-viewer") -> httpx.Response:
    return ctx.client(client_id).get(f"/v1/claims/{ctx.claim(status)['id']}")


def _other_merchants_claim(ctx: Ctx) -> str:
    claim_id: str = _claims(ctx, "other-operator", limit=1).json()["data"][0]["id"]
    return claim_id


def _claim_without_read_scope(ctx: Ctx, path: str) -> httpx.Response:
    token = ctx.sandbox.token("demo-operator", "transactions:write")
    return ctx.anonymous().get(path, headers={"Authorization": f"Bearer {token}"})


def _accept(
    ctx: Ctx, status: str = "open", body: Any = None, client_id: str = "demo-operator"
) -> httpx.Response:
    claim = ctx.claim(status)
    return ctx.client(client_id).post(
        f"/v1/claims/{claim['id']}/acceptance", json={} if body is None else body, headers=key()
    )


def _accept_twice(ctx: Ctx, same_key: bool) -> httpx.Response:
    path, headers = f"/v1/claims/{ctx.claim('open')['id']}/acceptance", key()
    first = ctx.client().post(path, json={}, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = ctx.client().post(path, json={}, headers=headers if same_key else key())
    if same_key:
        assert again.content == first.content
    return again


def _key_on_two_claims(ctx: Ctx, answer: str) -> httpx.Response:
    """One key for the acceptances of two claims (or two contestations of one): a conflict."""
    headers, claim = key(), ctx.claim("open")
    if answer == "acceptance":
        path = f"/v1/claims/{claim['id']}/acceptance"
        assert ctx.client().post(path, json={}, headers=headers).status_code == 201
        other = f"/v1/claims/{ctx.claim('open')['id']}/acceptance"
        return ctx.client().post(other, json={}, headers=headers)
    assert contest(ctx.client(), claim["id"], "First.", headers=headers).status_code == 201
    return contest(ctx.client(), claim["id"], "Second thoughts.", headers=headers)


def _contest(
    ctx: Ctx,
    status: str = "open",
    text: str | None = "The parcel was delivered on 3 March; the proof is attached.",
    files: Any = (),
    client_id: str = "demo-operator",
) -> httpx.Response:
    return contest(ctx.client(client_id), ctx.claim(status)["id"], text, files)


def _contest_replayed(ctx: Ctx) -> httpx.Response:
    claim_id, headers = ctx.claim("open")["id"], key()
    files = evidence(("pod.pdf", PDF, "application/pdf"))
    first = contest(ctx.client(), claim_id, "Delivered.", files, headers)
    assert first.status_code == 201, first.text
    again = contest(ctx.client(), claim_id, "Delivered.", files, headers)
    assert again.content == first.content
    return again


def _claim_fault(kind: str, part: str | None) -> Callable[[Ctx], httpx.Response]:
    """A fault on the list (`part` None), on one claim ("") or on an answer to it."""

    def make(ctx: Ctx) -> httpx.Response:
        path = "/v1/claims" if part is None else f"/v1/claims/{ctx.claim('open')['id']}{part}"
        method = "POST" if part else "GET"
        ctx.sandbox.running.app.faults.schedule(kind, path, method, 1)
        if part == "/contestation":
            return contest(ctx.client(), path.split("/")[3])
        if part:
            return ctx.client().post(path, json={}, headers=key())
        return ctx.client().get(path)

    return make


TOKEN = {"grant_type": "client_credentials"}
OPERATOR = {**TOKEN, "client_id": "demo-operator", "client_secret": "demo-operator-secret"}
LAST_YEAR = (datetime.now(UTC) - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
LAST_MONTH = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
REFUND = {"amount": 1, "reason": "customer return"}
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")
NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
A_PDF = ("pod.pdf", PDF, "application/pdf")

CASES = [
    # token
    Case("token_200", 200, None, lambda c: _token(c, **OPERATOR)),
    Case(
        "token_200_narrowed_scope",
        200,
        None,
        lambda c: _token(c, **OPERATOR, scope="transactions:read"),
    ),
    Case(
        "token_200_basic_auth",
        200,
        None,
        lambda c: c.anonymous().post(
            "/oauth/token", data=TOKEN, auth=("demo-viewer", "demo-viewer-secret")
        ),
    ),
    Case(
        "token_400_grant_type",
        400,
        "invalid_request",
        lambda c: _token(c, **{**OPERATOR, "grant_type": "password"}),
        "grant_type",
        valid_request=False,
    ),
    Case(
        "token_400_missing_secret",
        400,
        "invalid_request",
        lambda c: _token(c, **TOKEN, client_id="demo-operator"),
        "client_id",
    ),
    Case(
        "token_400_scope_not_held",
        400,
        "invalid_request",
        lambda c: _token(
            c,
            **{**OPERATOR, "client_id": "demo-viewer", "client_secret": "demo-viewer-secret"},
            scope="transactions:write",
        ),
        "scope",
    ),
    Case(
        "token_401_wrong_secret",
        401,
        "unauthorized",
        lambda c: _token(c, **{**OPERATOR, "client_secret": "wrong"}),
    ),
    Case(
        "token_401_unknown_client",
        401,
        "unauthorized",
        lambda c: _token(c, **{**OPERATOR, "client_id": "nobody"}),
    ),
    # list
    Case("list_200", 200, None, lambda c: _list(c)),
    Case("list_200_include_total", 200, None, lambda c: _list(c, include_total="true", limit=50)),
    Case(
        "list_200_statuses_asc",
        200,
        None,
        lambda c: _list(
            c, status=["captured", "refunded", "partially_refunded"], order="created_asc", limit=200
        ),
    ),
    Case(
        "list_200_settlement_dunning",
        200,
        None,
        lambda c: _list(
            c,
            settlement_status=["overdue", "written_off"],
            dunning_level=[2, 3, 4],
            include_total="true",
        ),
    ),
    Case(
        "list_200_method_country_currency",
        200,
        None,
        lambda c: _list(
            c, payment_method=["installments", "direct_debit"], country=["CH"], currency="CHF"
        ),
    ),
    Case(
        "list_200_amounts_and_time",
        200,
        None,
        lambda c: _list(
            c,
            amount_min=5000,
            amount_max=20000,
            created_from=LAST_YEAR,
            created_to=LAST_MONTH,
            limit=1000,
        ),
    ),
    Case(
        "list_200_shop_customer_type",
        200,
        None,
        lambda c: _list(c, shop="musterhaus-b2b", customer_type="b2b", include_total="false"),
    ),
    Case(
        "list_200_empty",
        200,
        None,
        lambda c: _list(c, order_reference="NO-SUCH-ORDER", include_total="true"),
    ),
    Case(
        "list_200_second_page",
        200,
        None,
        lambda c: _list(c, limit=10, cursor=_list(c, limit=10).json()["next_cursor"]),
    ),
    Case(
        "list_400_limit_0",
        400,
        "invalid_request",
        lambda c: _list(c, limit=0),
        "limit",
        valid_request=False,
    ),
    Case(
        "list_400_limit_1001",
        400,
        "invalid_request",
        lambda c: _list(c, limit=1001),
        "limit",
        valid_request=False,
    ),
    Case(
        "list_400_unknown_status",
        400,
        "invalid_request",
        lambda c: _list(c, status="lost"),
        "status",
        valid_request=False,
    ),
    Case(
        "list_400_bad_date",
        400,
        "invalid_request",
        lambda c: _list(c, created_from="yesterday"),
        "created_from",
        valid_request=False,
    ),
    Case(
        "list_400_negative_amount",
        400,
        "invalid_request",
        lambda c: _list(c, amount_min=-1),
        "amount_min",
        valid_request=False,
    ),
    Case(
        "list_400_bad_order",
        400,
        "invalid_request",
        lambda c: _list(c, order="amount_largest"),
        "order",
        valid_request=False,
    ),
    Case(
        "list_400_bad_cursor",
        400,
        "invalid_request",
        lambda c: _list(c, cursor="not-a-cursor"),
        "cursor",
    ),
    Case(
        "list_400_unknown_param",
        400,
        "invalid_request",
        lambda c: _list(c, colour="blue"),
        "colour",
    ),
    Case(
        "list_400_include_total_yes",
        400,
        "invalid_request",
        lambda c: _list(c, include_total="yes"),
        "include_total",
        valid_request=False,
    ),
    Case(
        "list_401_no_token",
        401,
        "unauthorized",
        lambda c: c.anonymous().get("/v1/transactions"),
        valid_request=False,
    ),
    Case(
        "list_401_bad_token",
        401,
        "unauthorized",
        lambda c: c.anonymous().get("/v1/transactions", headers={"Authorization": "Bearer nope"}),
    ),
    # detail
    Case("detail_200_captured", 200, None, lambda c: _detail_of(c, "captured")),
    Case("detail_200_declined", 200, None, lambda c: _detail_of(c, "declined")),
    Case("detail_200_partially_refunded", 200, None, lambda c: _detail_of(c, "partially_refunded")),
    Case("detail_200_expired", 200, None, lambda c: _detail_of(c, "expired")),
    Case(
        "detail_404_unknown",
        404,
        "not_found",
        lambda c: c.client().get("/v1/transactions/tx_0123456789abcdef"),
    ),
    Case(
        "detail_404_other_merchant",
        404,
        "not_found",
        lambda c: c.client().get(f"/v1/transactions/{c.other_merchants_row()['id']}"),
    ),
    Case(
        "detail_404_malformed",
        404,
        "not_found",
        lambda c: c.client().get("/v1/transactions/order-42"),
        valid_request=False,
    ),
    # A non-canonical spelling of a real id (upper-case hex) is malformed: 404, like any other.
    Case(
        "detail_404_uppercase_id",
        404,
        "not_found",
        lambda c: c.client().get(
            f"/v1/transactions/tx_{c.rows.take('captured')['id'][3:].upper()}"
        ),
        valid_request=False,
    ),
    Case(
        "detail_401_no_token",
        401,
        "unauthorized",
        lambda c: c.anonymous().get(f"/v1/transactions/{c.rows.take('captured')['id']}"),
        valid_request=False,
    ),
    # customer transactions
    Case("customer_200", 200, None, lambda c: _customer_list(c)),
    Case(
        "customer_200_asc_limit",
        200,
        None,
        lambda c: _customer_list(c, order="created_asc", limit=1),
    ),
    Case(
        "customer_400_filter_not_offered",
        400,
        "invalid_request",
        lambda c: _customer_list(c, status="captured"),
        "status",
    ),
    Case(
        "customer_404_unknown",
        404,
        "not_found",
        lambda c: c.client().get("/v1/customers/cus_0123456789abcdef/transactions"),
    ),
    Case(
        "customer_404_other_merchant",
        404,
        "not_found",
        lambda c: c.client().get(
            f"/v1/customers/{c.other_merchants_row()['customer_id']}/transactions"
        ),
    ),
    # captures
    Case("capture_201", 201, None, lambda c: _write(c, "captures", "authorized", {"amount": 100})),
    Case(
        "capture_201_replayed",
        201,
        None,
        lambda c: _replay(c, "captures", "authorized", {"amount": 100}),
        replayed=True,
    ),
    Case(
        "capture_400_missing_key",
        400,
        "invalid_request",
        lambda c: _without_key(c, "captures", "authorized", {"amount": 1}),
        "Idempotency-Key",
        valid_request=False,
    ),
    Case(
        "capture_400_fractional_amount",
        400,
        "invalid_request",
        lambda c: _write(c, "captures", "authorized", {"amount": 1.5}),
        "amount",
        valid_request=False,
    ),
    Case(
        "capture_403_viewer",
        403,
        "forbidden",
        lambda c: _write(c, "captures", "authorized", {"amount": 1}, "demo-viewer"),
    ),
    Case(
        "capture_404_other_merchant",
        404,
        "not_found",
        lambda c: _unknown_tx_write(c, "captures", {"amount": 1}),
    ),
    Case(
        "capture_409_declined",
        409,
        "invalid_state",
        lambda c: _write(c, "captures", "declined", {"amount": 1}),
    ),
    Case(
        "capture_409_expired",
        409,
        "invalid_state",
        lambda c: _write(c, "captures", "expired", {"amount": 1}),
    ),
    Case("capture_409_key_conflict", 409, "idempotency_conflict", _key_conflict, "Idempotency-Key"),
    Case(
        "capture_422_too_much",
        422,
        "amount_exceeds_available",
        lambda c: _too_much(c, "captures", "authorized"),
        "amount",
    ),
    # refunds
    Case("refund_201", 201, None, lambda c: _write(c, "refunds", "captured", REFUND)),
    Case(
        "refund_201_replayed",
        201,
        None,
        lambda c: _replay(c, "refunds", "captured", REFUND),
        replayed=True,
    ),
    Case(
        "refund_400_missing_key",
        400,
        "invalid_request",
        lambda c: _without_key(c, "refunds", "captured", REFUND),
        "Idempotency-Key",
        valid_request=False,
    ),
    Case(
        "refund_400_missing_reason",
        400,
        "invalid_request",
        lambda c: _write(c, "refunds", "captured", {"amount": 1}),
        "reason",
        valid_request=False,
    ),
    Case(
        "refund_403_viewer",
        403,
        "forbidden",
        lambda c: _write(c, "refunds", "captured", REFUND, "demo-viewer"),
    ),
    Case(
        "refund_404_other_merchant",
        404,
        "not_found",
        lambda c: _unknown_tx_write(c, "refunds", REFUND),
    ),
    Case(
        "refund_409_nothing_captured",
        409,
        "invalid_state",
        lambda c: _write(c, "refunds", "authorized", REFUND),
    ),
    Case(
        "refund_409_declined",
        409,
        "invalid_state",
        lambda c: _write(c, "refunds", "declined", REFUND),
    ),
    Case(
        "refund_422_too_much",
        422,
        "amount_exceeds_available",
        lambda c: _too_much(c, "refunds", "partially_refunded"),
        "amount",
    ),
    # cancellations
    Case("cancel_201", 201, None, lambda c: _write(c, "cancellations", "authorized", {})),
    Case(
        "cancel_201_replayed",
        201,
        None,
        lambda c: _replay(c, "cancellations", "authorized", {}),
        replayed=True,
    ),
    Case(
        "cancel_400_missing_key",
        400,
        "invalid_request",
        lambda c: _without_key(c, "cancellations", "authorized", {}),
        "Idempotency-Key",
        valid_request=False,
    ),
    Case(
        "cancel_400_body_not_empty",
        400,
        "invalid_request",
        lambda c: _write(c, "cancellations", "authorized", {"amount": 1}),
        "amount",
        valid_request=False,
    ),
    Case(
        "cancel_403_viewer",
        403,
        "forbidden",
        lambda c: _write(c, "cancellations", "authorized", {}, "demo-viewer"),
    ),
    Case(
        "cancel_404_other_merchant",
        404,
        "not_found",
        lambda c: _unknown_tx_write(c, "cancellations", {}),
    ),
    Case(
        "cancel_409_fully_captured",
        409,
        "invalid_state",
        lambda c: _write(c, "cancellations", "captured", {}),
    ),
    Case(
        "cancel_409_cancelled",
        409,
        "invalid_state",
        lambda c: _write(c, "cancellations", "cancelled", {}),
    ),
    # invoice operations
    Case(
        "extension_201",
        201,
        None,
        lambda c: _invoice_write(c, "due-date-extensions", "overdue", _extension),
    ),
    Case(
        "extension_400_fee_changed",
        400,
        "invalid_request",
        lambda c: _invoice_write(
            c, "due-date-extensions", "open", lambda d: {**_extension(d), "fee_amount": 1}
        ),
        "fee_amount",
    ),
    Case(
        "extension_400_working_days",
        400,
        "invalid_request",
        lambda c: _invoice_write(
            c, "due-date-extensions", "open", {"working_days": 11, "fee_amount": 100}
        ),
        "working_days",
        valid_request=False,
    ),
    Case(
        "extension_403_viewer",
        403,
        "forbidden",
        lambda c: _invoice_write(c, "due-date-extensions", "open", _extension, "demo-viewer"),
    ),
    Case(
        "extension_404_other_merchant",
        404,
        "not_found",
        lambda c: _unknown_tx_write(
            c, "due-date-extensions", {"working_days": 10, "fee_amount": 150}
        ),
    ),
    Case(
        "extension_409_twice",
        409,
        "invalid_state",
        lambda c: _invoice_twice(
            c, "due-date-extensions", _extension, {"working_days": 15, "fee_amount": 150}
        ),
    ),
    Case(
        "extension_409_paid",
        409,
        "invalid_state",
        lambda c: _invoice_write(
            c, "due-date-extensions", "paid", {"working_days": 10, "fee_amount": 150}
        ),
    ),
    Case(
        "pause_201",
        201,
        None,
        lambda c: _invoice_write(c, "dunning-pauses", "overdue", {"days": 14}),
    ),
    Case(
        "pause_400_days",
        400,
        "invalid_request",
        lambda c: _invoice_write(c, "dunning-pauses", "open", {"days": 31}),
        "days",
        valid_request=False,
    ),
    Case(
        "pause_403_viewer",
        403,
        "forbidden",
        lambda c: _invoice_write(c, "dunning-pauses", "open", {"days": 3}, "demo-viewer"),
    ),
    Case(
        "pause_404_other_merchant",
        404,
        "not_found",
        lambda c: _unknown_tx_write(c, "dunning-pauses", {"days": 3}),
    ),
    Case(
        "pause_409_running",
        409,
        "invalid_state",
        lambda c: _invoice_twice(c, "dunning-pauses", {"days": 3}, {"days": 5}),
    ),
    Case("resend_201", 201, None, lambda c: _invoice_write(c, "invoice-resends", "overdue", {})),
    Case(
        "resend_400_body_not_empty",
        400,
        "invalid_request",
        lambda c: _invoice_write(c, "invoice-resends", "open", {"to": "x"}),
        "to",
        valid_request=False,
    ),
    Case(
        "resend_403_viewer",
        403,
        "forbidden",
        lambda c: _invoice_write(c, "invoice-resends", "open", {}, "demo-viewer"),
    ),
    Case(
        "resend_404_other_merchant",
        404,
        "not_found",
        lambda c: _unknown_tx_write(c, "invoice-resends", {}),
    ),
    Case(
        "resend_409_within_a_day",
        409,
        "invalid_state",
        lambda c: _invoice_twice(c, "invoice-resends", {}, {}),
    ),
    Case(
        "directpayment_201",
        201,
        None,
        lambda c: _invoice_write(c, "direct-payments", "overdue", _paid_directly),
    ),
    Case(
        "directpayment_400_future",
        400,
        "invalid_request",
        lambda c: _invoice_write(
            c, "direct-payments", "open", {"amount": 1, "paid_on": NEXT_WEEK[:10]}
        ),
        "paid_on",
    ),
    Case(
        "directpayment_403_viewer",
        403,
        "forbidden",
        lambda c: _invoice_write(c, "direct-payments", "open", _paid_directly, "demo-viewer"),
    ),
    Case(
        "directpayment_404_other_merchant",
        404,
        "not_found",
        lambda c: _unknown_tx_write(c, "direct-payments", {"amount": 1, "paid_on": TODAY}),
    ),
    Case(
        "directpayment_409_paid",
        409,
        "invalid_state",
        lambda c: _invoice_write(c, "direct-payments", "paid", {"amount": 1, "paid_on": TODAY}),
    ),
    Case(
        "directpayment_422_more_than_open",
        422,
        "amount_exceeds_available",
        lambda c: _invoice_write(c, "direct-payments", "open", lambda d: _paid_directly(d, 1)),
        "amount",
    ),
    # payouts
    Case("payouts_200", 200, None, lambda c: _payouts(c)),
    Case(
        "payouts_200_filters_totals",
        200,
        None,
        lambda c: _payouts(
            c,
            status=["paid", "in_transit"],
            currency="EUR",
            arrival_from="2020-01-01",
            arrival_to="2100-01-01",
            include_totals="true",
            limit=100,
        ),
    ),
    Case("payouts_200_second_page", 200, None, lambda c: _second_page(c, "/v1/payouts")),
    Case(
        "payouts_200_empty_with_totals",
        200,
        None,
        lambda c: _payouts(c, arrival_from="2100-01-01", include_totals="true"),
    ),
    Case(
        "payouts_400_limit_101",
        400,
        "invalid_request",
        lambda c: _payouts(c, limit=101),
        "limit",
        valid_request=False,
    ),
    Case(
        "payouts_400_unknown_status",
        400,
        "invalid_request",
        lambda c: _payouts(c, status="lost"),
        "status",
        valid_request=False,
    ),
    Case(
        "payouts_400_bad_date",
        400,
        "invalid_request",
        lambda c: _payouts(c, arrival_from="2026-02-30"),
        "arrival_from",
        valid_request=False,
    ),
    Case(
        "payouts_400_empty_range",
        400,
        "invalid_request",
        lambda c: _payouts(c, arrival_from="2026-03-01", arrival_to="2026-03-01"),
        "arrival_to",
    ),
    Case(
        "payouts_400_include_totals_yes",
        400,
        "invalid_request",
        lambda c: _payouts(c, include_totals="yes"),
        "include_totals",
        valid_request=False,
    ),
    Case(
        "payouts_400_bad_cursor",
        400,
        "invalid_request",
        lambda c: _payouts(c, cursor="not-a-cursor"),
        "cursor",
    ),
    Case(
        "payouts_400_transaction_cursor",
        400,
        "invalid_request",
        lambda c: _payouts(c, cursor=_list(c, limit=1).json()["next_cursor"]),
        "cursor",
    ),
    Case(
        "payouts_400_unknown_param",
        400,
        "invalid_request",
        lambda c: _payouts(c, order="created_asc"),
        "order",
    ),
    Case(
        "payouts_401_no_token",
        401,
        "unauthorized",
        lambda c: c.anonymous().get("/v1/payouts"),
        valid_request=False,
    ),
    Case("payouts_403_write_only_token", 403, "forbidden", _payouts_without_read_scope),
    Case("payouts_429_rate_limited", 429, "rate_limited", _rate_limited("/v1/payouts")),
    Case("payouts_500_fault", 500, "internal", _payout_fault("error_500", "")),
    Case("payout_200_paid", 200, None, lambda c: _payout(c)),
    Case("payout_200_newest", 200, None, lambda c: _payout(c, which="newest")),
    Case(
        "payout_404_unknown",
        404,
        "not_found",
        lambda c: c.client().get("/v1/payouts/po_0123456789abcdef"),
    ),
    Case("payout_404_other_merchant", 404, "not_found", lambda c: _other_merchants_payout(c)),
    Case(
        "payout_404_malformed",
        404,
        "not_found",
        lambda c: c.client().get("/v1/payouts/2026-48-EUR"),
        valid_request=False,
    ),
    Case(
        "payout_404_transaction_id",
        404,
        "not_found",
        lambda c: c.client().get(f"/v1/payouts/po_{c.rows.take('captured')['id'][3:]}"),
    ),
    Case(
        "payout_401_no_token",
        401,
        "unauthorized",
        lambda c: c.anonymous().get("/v1/payouts/po_0123456789abcdef"),
        valid_request=False,
    ),
    Case("payout_503_fault", 503, "unavailable", _payout_fault("error_503", "")),
    Case("payoutlines_200", 200, None, lambda c: _payout(c, "/lines")),
    Case("payoutlines_200_limit_1000", 200, None, lambda c: _payout(c, "/lines", limit=1000)),
    Case(
        "payoutlines_200_second_page",
        200,
        None,
        lambda c: _second_page(c, f"/v1/payouts/{_payout_id(c)}/lines"),
    ),
    Case(
        "payoutlines_400_limit_0",
        400,
        "invalid_request",
        lambda c: _payout(c, "/lines", limit=0),
        "limit",
        valid_request=False,
    ),
    Case(
        "payoutlines_400_bad_cursor",
        400,
        "invalid_request",
        lambda c: _payout(c, "/lines", cursor="bm90LWEtY3Vyc29y"),
        "cursor",
    ),
    Case(
        "payoutlines_400_cursor_of_another_payout",
        400,
        "invalid_request",
        _lines_with_cursor_of_another_payout,
        "cursor",
    ),
    Case(
        "payoutlines_400_unknown_param",
        400,
        "invalid_request",
        lambda c: _payout(c, "/lines", type="fee"),
        "type",
    ),
    Case(
        "payoutlines_404_other_merchant",
        404,
        "not_found",
        lambda c: _other_merchants_payout(c, "/lines"),
    ),
    Case(
        "payoutexport_200_csv",
        200,
        None,
        lambda c: _payout(c, "/export", format="csv"),
        media_type="text/csv; charset=utf-8",
    ),
    Case(
        "payoutexport_200_datev",
        200,
        None,
        lambda c: _payout(c, "/export", format="datev"),
        media_type="text/csv; charset=windows-1252",
    ),
    Case(
        "payoutexport_200_camt053",
        200,
        None,
        lambda c: _payout(c, "/export", which="newest", format="camt053"),
        media_type="application/xml",
    ),
    Case(
        "payoutexport_400_missing_format",
        400,
        "invalid_request",
        lambda c: _payout(c, "/export"),
        "format",
        valid_request=False,
    ),
    Case(
        "payoutexport_400_unknown_format",
        400,
        "invalid_request",
        lambda c: _payout(c, "/export", format="xlsx"),
        "format",
        valid_request=False,
    ),
    Case(
        "payoutexport_404_other_merchant",
        404,
        "not_found",
        lambda c: _other_merchants_payout(c, "/export", format="csv"),
    ),
    Case(
        "payoutexport_401_no_token",
        401,
        "unauthorized",
        lambda c: c.anonymous().get("/v1/payouts/po_0123456789abcdef/export?format=csv"),
        valid_request=False,
    ),
    Case(
        "payoutexport_500_fault",
        500,
        "internal",
        _payout_fault("error_500", "/export", format="datev"),
    ),
    # claims
    Case("claims_200", 200, None, lambda c: _claims(c)),
    Case(
        "claims_200_filters_total",
        200,
        None,
        lambda c: _claims(
            c,
            status=["open", "under_review", "expired"],
            reason=["not_received", "defective", "other"],
            respond_by_before=NEXT_WEEK,
            currency="EUR",
            order="created_desc",
            include_total="true",
            limit=1000,
        ),
    ),
    Case(
        "claims_200_transaction",
        200,
        None,
        lambda c: _claims(c, transaction_id=c.claim("accepted")["transaction_id"]),
    ),
    Case("claims_200_second_page", 200, None, lambda c: _second_page(c, "/v1/claims")),
    Case(
        "claims_200_empty",
        200,
        None,
        lambda c: _claims(c, transaction_id=c.other_merchants_row()["id"], include_total="true"),
    ),
    Case(
        "claims_400_limit_1001",
        400,
        "invalid_request",
        lambda c: _claims(c, limit=1001),
        "limit",
        valid_request=False,
    ),
    Case(
        "claims_400_unknown_status",
        400,
        "invalid_request",
        lambda c: _claims(c, status="pending"),
        "status",
        valid_request=False,
    ),
    Case(
        "claims_400_unknown_reason",
        400,
        "invalid_request",
        lambda c: _claims(c, reason="changed_mind"),
        "reason",
        valid_request=False,
    ),
    Case(
        "claims_400_date_not_time",
        400,
        "invalid_request",
        lambda c: _claims(c, respond_by_before="2026-12-01"),
        "respond_by_before",
        valid_request=False,
    ),
    Case(
        "claims_400_payout_id_as_transaction",
        400,
        "invalid_request",
        lambda c: _claims(c, transaction_id="po_0123456789abcdef"),
        "transaction_id",
        valid_request=False,
    ),
    Case(
        "claims_400_cursor_of_the_other_order",
        400,
        "invalid_request",
        lambda c: _claims(
            c, order="created_desc", cursor=_claims(c, limit=2).json()["next_cursor"]
        ),
        "cursor",
    ),
    Case(
        "claims_400_unknown_param",
        400,
        "invalid_request",
        lambda c: _claims(c, amount_min=1),
        "amount_min",
    ),
    Case(
        "claims_401_no_token",
        401,
        "unauthorized",
        lambda c: c.anonymous().get("/v1/claims"),
        valid_request=False,
    ),
    Case(
        "claims_403_write_only_token",
        403,
        "forbidden",
        lambda c: _claim_without_read_scope(c, "/v1/claims"),
    ),
    Case("claims_429_rate_limited", 429, "rate_limited", _rate_limited("/v1/claims")),
    Case("claims_500_fault", 500, "internal", _claim_fault("error_500", None)),
    Case("claim_200_open", 200, None, lambda c: _claim(c, "open")),
    Case("claim_200_accepted", 200, None, lambda c: _claim(c, "accepted")),
    Case("claim_200_expired", 200, None, lambda c: _claim(c, "expired")),
    Case("claim_200_lost_with_evidence", 200, None, lambda c: _claim(c, "lost")),
    Case("claim_200_won", 200, None, lambda c: _claim(c, "won")),
    Case("claim_200_under_review", 200, None, lambda c: _claim(c, "under_review")),
    Case(
        "claim_404_unknown",
        404,
        "not_found",
        lambda c: c.client().get("/v1/claims/cl_0123456789abcdef"),
    ),
    Case(
        "claim_404_other_merchant",
        404,
        "not_found",
        lambda c: c.client().get(f"/v1/claims/{_other_merchants_claim(c)}"),
    ),
    Case(
        "claim_404_malformed",
        404,
        "not_found",
        lambda c: c.client().get("/v1/claims/CL-1"),
        valid_request=False,
    ),
    Case(
        "claim_404_transaction_id",
        404,
        "not_found",
        lambda c: c.client().get(f"/v1/claims/cl_{c.claim('expired')['transaction_id'][3:]}"),
    ),
    Case(
        "claim_401_no_token",
        401,
        "unauthorized",
        lambda c: c.anonymous().get("/v1/claims/cl_0123456789abcdef"),
        valid_request=False,
    ),
    Case(
        "claim_403_write_only_token",
        403,
        "forbidden",
        lambda c: _claim_without_read_scope(c, f"/v1/claims/{c.claim('open')['id']}"),
    ),
    Case("claim_503_fault", 503, "unavailable", _claim_fault("error_503", "")),
    Case("claimaccept_201", 201, None, lambda c: _accept(c)),
    Case(
        "claimaccept_201_replayed",
        201,
        None,
        lambda c: _accept_twice(c, same_key=True),
        replayed=True,
    ),
    Case(
        "claimaccept_400_missing_key",
        400,
        "invalid_request",
        lambda c: c.client().post(f"/v1/claims/{c.claim('open')['id']}/acceptance", json={}),
        "Idempotency-Key",
        valid_request=False,
    ),
    Case(
        "claimaccept_400_body_not_empty",
        400,
        "invalid_request",
        lambda c: _accept(c, body={"note": "fine"}),
        "note",
        valid_request=False,
    ),
    Case(
        "claimaccept_403_viewer",
        403,
        "forbidden",
        lambda c: _accept(c, client_id="demo-viewer"),
    ),
    Case(
        "claimaccept_404_other_merchant",
        404,
        "not_found",
        lambda c: c.client().post(
            f"/v1/claims/{_other_merchants_claim(c)}/acceptance", json={}, headers=key()
        ),
    ),
    Case("claimaccept_409_expired", 409, "invalid_state", lambda c: _accept(c, "expired")),
    Case(
        "claimaccept_409_under_review", 409, "invalid_state", lambda c: _accept(c, "under_review")
    ),
    Case(
        "claimaccept_409_accepted_already",
        409,
        "invalid_state",
        lambda c: _accept_twice(c, same_key=False),
    ),
    Case(
        "claimaccept_409_key_of_another_claim",
        409,
        "idempotency_conflict",
        lambda c: _key_on_two_claims(c, "acceptance"),
        "Idempotency-Key",
    ),
    Case("claimaccept_500_fault", 500, "internal", _claim_fault("error_500", "/acceptance")),
    Case(
        "claimcontest_201_with_evidence",
        201,
        None,
        lambda c: _contest(
            c,
            files=evidence(A_PDF, ("label.png", PNG, "image/png"), ("box.jpg", JPEG, "image/jpeg")),
        ),
    ),
    Case("claimcontest_201_text_only", 201, None, lambda c: _contest(c)),
    Case("claimcontest_201_replayed", 201, None, _contest_replayed, replayed=True),
    Case(
        "claimcontest_400_missing_key",
        400,
        "invalid_request",
        lambda c: contest(c.client(), c.claim("open")["id"], "Delivered.", headers={}),
        "Idempotency-Key",
        valid_request=False,
    ),
    Case(
        "claimcontest_400_missing_text",
        400,
        "invalid_request",
        lambda c: _contest(c, text=None, files=evidence(A_PDF)),
        "text",
        valid_request=False,
    ),
    Case(
        "claimcontest_400_text_too_long",
        400,
        "invalid_request",
        lambda c: _contest(c, text="x" * 5001),
        "text",
        valid_request=False,
    ),
    Case(
        "claimcontest_400_blank_text",
        400,
        "invalid_request",
        lambda c: _contest(c, text="   "),
        "text",
    ),
    Case(
        "claimcontest_400_not_a_pdf",
        400,
        "invalid_request",
        lambda c: _contest(c, files=evidence(("pod.pdf", b"GIF89a...", "application/pdf"))),
        "evidence",
    ),
    Case(
        "claimcontest_400_a_pdf_called_png",
        400,
        "invalid_request",
        lambda c: _contest(c, files=evidence(("pod.png", PDF, "image/png"))),
        "evidence",
    ),
    Case(
        "claimcontest_400_six_files",
        400,
        "invalid_request",
        lambda c: _contest(c, files=evidence(*[A_PDF] * 6)),
        "evidence",
        valid_request=False,
    ),
    Case(
        "claimcontest_400_file_over_5_mb",
        400,
        "invalid_request",
        lambda c: _contest(
            c, files=evidence(("big.pdf", PDF + b"\0" * (5 * MB - len(PDF) + 1), "application/pdf"))
        ),
        "evidence",
    ),
    Case(
        "claimcontest_400_unknown_field",
        400,
        "invalid_request",
        lambda c: _contest(c, files=[("note", (None, b"hello", None))]),
        "note",
        valid_request=False,
    ),
    Case(
        "claimcontest_400_json_body",
        400,
        "invalid_request",
        lambda c: c.client().post(
            f"/v1/claims/{c.claim('open')['id']}/contestation",
            json={"text": "Delivered."},
            headers=key(),
        ),
        "body",
        valid_request=False,
    ),
    Case(
        "claimcontest_403_viewer",
        403,
        "forbidden",
        lambda c: _contest(c, client_id="demo-viewer"),
    ),
    Case(
        "claimcontest_404_unknown",
        404,
        "not_found",
        lambda c: contest(c.client(), "cl_0123456789abcdef"),
    ),
    Case("claimcontest_409_expired", 409, "invalid_state", lambda c: _contest(c, "expired")),
    Case("claimcontest_409_accepted", 409, "invalid_state", lambda c: _contest(c, "accepted")),
    Case(
        "claimcontest_409_another_text_same_key",
        409,
        "idempotency_conflict",
        lambda c: _key_on_two_claims(c, "contestation"),
        "Idempotency-Key",
    ),
    Case(
        "claimcontest_503_fault",
        503,
        "unavailable",
        _claim_fault("error_503", "/contestation"),
    ),
    # limits and faults
    Case("list_429_rate_limited", 429, "rate_limited", _rate_limited("/v1/transactions")),
    Case("detail_500_fault", 500, "internal", _fault("error_500", "GET")),
    Case("detail_503_fault", 503, "unavailable", _fault("error_503", "GET")),
    Case("capture_500_fault", 500, "internal", _fault("error_500", "POST")),
    Case("capture_503_fault", 503, "unavailable", _fault("error_503", "POST")),
    # the document itself
    Case("openapi_200", 200, None, lambda c: c.anonymous().get("/openapi.json")),
]


@dataclass
class ClaimWorld:
    """A sandbox with open claims for the claim cases, and pickers of its rows and claims."""

    handle: SandboxHandle
    rows: RowPicker
    claims: ClaimPicker


@pytest.fixture(scope="module")
def claim_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClaimWorld]:
    with claims_sandbox(tmp_path_factory.mktemp("claims")) as handle:
        yield ClaimWorld(handle, RowPicker(handle), ClaimPicker(handle))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_answer_matches_the_contract(
    case: Case,
    sandbox: SandboxHandle,
    fresh_rows: RowPicker,
    make_sandbox: Any,
    request: pytest.FixtureRequest,
) -> None:
    ctx = Ctx(sandbox, fresh_rows, make_sandbox, base_url=sandbox.url)
    if case.name.startswith("claim"):
        world: ClaimWorld = request.getfixturevalue("claim_world")
        ctx = Ctx(world.handle, world.rows, make_sandbox, base_url=world.handle.url)
        ctx.claims = world.claims
    try:
        response = case.make(ctx)
    finally:
        ctx.close()
    assert response.status_code == case.status, response.text[:300]
    assert_matches_contract(ctx.base_url, response, check_request=case.valid_request)
    replayed = response.headers.get("idempotent-replayed")
    assert replayed == ("true" if case.replayed else None)
    if case.code is None:
        assert response.headers["content-type"] == case.media_type
        return
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert (problem["status"], problem["code"]) == (case.status, case.code)
    assert problem.get("param") == case.param
    assert problem["request_id"] == response.headers["request-id"]


COVERED = {
    "token": ("/oauth/token", {200, 400, 401}),
    "list": ("/v1/transactions", {200, 400, 401, 429}),
    "detail": ("/v1/transactions/{id}", {200, 401, 404, 500, 503}),
    "customer": ("/v1/customers/{id}/transactions", {200, 400, 404}),
    "capture": ("/v1/transactions/{id}/captures", {201, 400, 403, 404, 409, 422, 500, 503}),
    "refund": ("/v1/transactions/{id}/refunds", {201, 400, 403, 404, 409, 422}),
    "cancel": ("/v1/transactions/{id}/cancellations", {201, 400, 403, 404, 409}),
    "extension": ("/v1/transactions/{id}/due-date-extensions", {201, 400, 403, 404, 409}),
    "pause": ("/v1/transactions/{id}/dunning-pauses", {201, 400, 403, 404, 409}),
    "resend": ("/v1/transactions/{id}/invoice-resends", {201, 400, 403, 404, 409}),
    "directpayment": ("/v1/transactions/{id}/direct-payments", {201, 400, 403, 404, 409, 422}),
    "payouts": ("/v1/payouts", {200, 400, 401, 403, 429, 500}),
    "payout": ("/v1/payouts/{id}", {200, 401, 404, 503}),
    "payoutlines": ("/v1/payouts/{id}/lines", {200, 400, 404}),
    "payoutexport": ("/v1/payouts/{id}/export", {200, 400, 401, 404, 500}),
    "claims": ("/v1/claims", {200, 400, 401, 403, 429, 500}),
    "claim": ("/v1/claims/{id}", {200, 401, 403, 404, 503}),
    "claimaccept": ("/v1/claims/{id}/acceptance", {201, 400, 403, 404, 409, 500}),
    "claimcontest": ("/v1/claims/{id}/contestation", {201, 400, 403, 404, 409, 503}),
}


@pytest.mark.parametrize("prefix", sorted(COVERED))
def test_case_table_covers_the_statuses_each_operation_documents(prefix: str) -> None:
    """The table has a case for each status we promise to check, and each is documented."""
    operation, wanted = COVERED[prefix]
    documented = {int(s) for op in SPEC["paths"][operation].values() for s in op["responses"]}
    cases = {case.status for case in CASES if case.name.split("_")[0] == prefix}
    assert wanted <= documented
    assert wanted <= cases


@pytest.mark.parametrize(
    ("break_it", "complaint"),
    [
        (lambda body, headers: body.pop("has_more"), "has_more"),
        (lambda body, headers: body["data"][0].update(status="lost"), "lost"),
        (lambda body, headers: body["data"][0].update(email="x@example.org"), "email"),
        (lambda body, headers: headers.pop("request-id"), "Request-Id"),
    ],
    ids=["missing_field", "unknown_status", "extra_personal_field", "missing_request_id"],
)
def test_the_check_itself_rejects_a_broken_answer(
    sandbox: SandboxHandle, break_it: Callable[..., Any], complaint: str
) -> None:
    """Guard against a vacuous adapter: a real answer, broken on purpose, fails validation."""
    with sandbox.client("demo-viewer") as client:
        real = client.get("/v1/transactions", params={"limit": 2})
    body, headers = real.json(), dict(real.headers)
    break_it(body, headers)
    headers.pop("content-length", None)
    broken = httpx.Response(real.status_code, headers=headers, json=body, request=real.request)
    with pytest.raises(OpenAPIError) as raised:
        assert_matches_contract(sandbox.url, broken)
    assert complaint in _messages(raised.value)


def _messages(error: BaseException | None) -> str:
    """The error's message with its causes and schema errors, where the detail lives."""
    parts = []
    while error is not None:
        parts.append(str(error))
        parts += [str(e) for e in getattr(error, "schema_errors", ())]
        error = error.__cause__ or error.__context__
    return " | ".join(parts)


def test_served_document_is_the_yaml_contract(sandbox: SandboxHandle) -> None:
    response = httpx.get(f"{sandbox.url}/openapi.json", verify=sandbox.ssl_context())
    assert response.status_code == 200
    assert response.json() == SPEC


def test_replayed_error_answer_is_the_first_answer(
    sandbox: SandboxHandle, fresh_rows: RowPicker
) -> None:
    """The contract: the same key and body within 24 h return the first response, the same
    status and body. That holds for a refusal (422) as much as for a 201."""
    row = fresh_rows.take("authorized")
    path = f"/v1/transactions/{row['id']}/captures"
    body, headers = {"amount": row["amount"] + 1}, key()
    with sandbox.client() as client:
        first = client.post(path, json=body, headers=headers)
        again = client.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()


def test_the_check_rejects_an_export_without_its_line_count(sandbox: SandboxHandle) -> None:
    """The export's headers are part of the check: a body whose line count is missing fails."""
    with sandbox.client("demo-viewer") as client:
        payout = client.get("/v1/payouts", params={"limit": 1}).json()["data"][0]
        real = client.get(f"/v1/payouts/{payout['id']}/export", params={"format": "csv"})
    assert_matches_contract(sandbox.url, real)
    headers = {k: v for k, v in real.headers.items() if k not in ("x-line-count", "content-length")}
    broken = httpx.Response(200, headers=headers, content=real.content, request=real.request)
    with pytest.raises(OpenAPIError) as raised:
        assert_matches_contract(sandbox.url, broken)
    assert "X-Line-Count" in _messages(raised.value)
