"""The sandbox's HTTP surface: a small ASGI application implementing the provider contract."""

from __future__ import annotations

import asyncio
import base64
import importlib.resources
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
import yaml

from sarportal.sandbox import multipart, params, payout_files
from sarportal.sandbox.book import Book, Page
from sarportal.sandbox.config import READ, WRITE, SandboxConfig
from sarportal.sandbox.errors import Problem
from sarportal.sandbox.guards import (
    FAULTS_AFTER_SERVING,
    Faults,
    Grant,
    Idempotency,
    RateLimiter,
    Tokens,
)
from sarportal.sandbox.payouts import Payouts

log = logging.getLogger("sarportal.sandbox")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON = "application/json"
PROBLEM = "application/problem+json"
CSV = "text/csv; charset=utf-8"
TX_PATH = re.compile(
    r"^/v1/transactions/([^/]+)(?:/(captures|refunds|cancellations|due-date-extensions"
    r"|dunning-pauses|invoice-resends|direct-payments))?$"
)
CUSTOMER_PATH = re.compile(r"^/v1/customers/([^/]+)/transactions$")
PAYOUTS_PATH = "/v1/payouts"
PAYOUT_PATH = re.compile(r"^/v1/payouts/([^/]+)(?:/(lines|export))?$")
CLAIMS_PATH = "/v1/claims"
CLAIM_PATH = re.compile(r"^/v1/claims/([^/]+)(?:/(acceptance|contestation))?$")
ACTION_FIELDS: dict[str, dict[str, type]] = {
    "captures": {"amount": int},
    "refunds": {"amount": int, "reason": str},
    "cancellations": {},
    "due-date-extensions": {"working_days": int, "fee_amount": int},
    "dunning-pauses": {"days": int},
    "invoice-resends": {},
    "direct-payments": {"amount": int, "paid_on": str},
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: bytes
    headers: dict[str, str]
    body: bytes
    request_id: str


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] | None = None


EXPORT_PATH = "/v1/exports/transactions"


def load_contract(*, export: bool = True) -> bytes:
    """The provider contract (OpenAPI 3.1) as JSON bytes; without the optional CSV export for a
    sandbox that does not offer it."""
    text = (importlib.resources.files("sarportal") / "openapi" / "provider-v1.yaml").read_text()
    document = yaml.safe_load(text)
    if not export:
        del document["paths"][EXPORT_PATH]
    return orjson.dumps(document)


class SandboxApp:
    """Routes requests to the books, behind tokens, the rate limit, idempotency and faults."""

    def __init__(self, config: SandboxConfig, books: dict[int, Book], control_token: str) -> None:
        self.config = config
        self.books = books
        self.control_token = control_token
        self.tokens = Tokens(config.clients, config.token_ttl, time.monotonic)
        self.limiter = RateLimiter(config.rate_limit, time.monotonic)
        self.idempotency = Idempotency(time.monotonic)
        self.faults = Faults(config.fault_rate, config.seed)
        self.cursors = params.Cursors(secrets.token_bytes(32))
        self.contract = load_contract(export=config.export)
        self.requests_served = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = f"req_{secrets.token_hex(8)}"
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        upload = path.startswith(CLAIMS_PATH) and path.endswith("/contestation")
        body = await _read_body(receive, multipart.MAX_BODY if upload else params.MAX_BODY)
        self.requests_served += 1
        fault = self.faults.draw(method, path) if path.startswith("/v1/") else None
        try:
            if fault is not None and fault not in FAULTS_AFTER_SERVING:
                self._fault_before(fault)
            request = Request(method, path, scope["query_string"], headers, body, request_id)
            response = await self._route(request)
        except Problem as problem:
            response = Response(
                problem.status, orjson.dumps(problem.body(request_id)), PROBLEM, problem.headers
            )
        except Exception:
            log.exception("sandbox: unexpected error (request %s)", request_id)
            internal = Problem("internal", "An unexpected error occurred in the sandbox.")
            response = Response(500, orjson.dumps(internal.body(request_id)), PROBLEM)
        if fault in FAULTS_AFTER_SERVING:  # the request was served (and a write applied) first
            response = await self._fault_after(fault, response)
        await _send(send, response, request_id)

    @staticmethod
    def _fault_before(fault: str) -> None:
        if fault == "error_500":
            raise Problem("internal", "Injected fault: internal error.")
        if fault == "error_503":
            raise Problem(
                "unavailable", "Injected fault: service unavailable.", headers={"Retry-After": "1"}
            )

    async def _fault_after(self, fault: str | None, response: Response) -> Response:
        if fault == "hang":
            await asyncio.sleep(self.config.hang_seconds)
            return response
        if fault == "truncated":
            cut = response.body[: max(1, len(response.body) // 2)]  # as a broken proxy would
            return Response(response.status, cut, response.content_type, response.headers)
        return Response(response.status, b'{"data": [<<not json>>', JSON)

    async def _route(self, request: Request) -> Response:
        method, path, headers = request.method, request.path, request.headers
        if path == "/openapi.json" and method == "GET":
            return Response(200, self.contract)
        if path == "/oauth/token":
            _allow(method, "POST")
            return self._token(headers, request.body)
        if path.startswith("/_sandbox/"):
            return self._control(method, path, headers, request.body)
        if not path.startswith("/v1/"):
            raise Problem("not_found", "No such endpoint.")
        grant = self.tokens.check(headers.get("authorization"))
        remaining = self.limiter.take(grant.client.client_id)
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        book = self.books[grant.client.merchant_no]
        book.advance_time(time.time())
        response = await self._v1(request, grant, book)
        if self.limiter.rate > 0:
            response.headers = {
                **(response.headers or {}),
                "X-RateLimit-Limit": f"{self.limiter.rate:g}",
                "X-RateLimit-Remaining": str(int(remaining)),
            }
        return response

    async def _v1(self, request: Request, grant: Grant, book: Book) -> Response:
        method, path, query = request.method, request.path, request.query
        if path == "/v1/transactions":
            _allow(method, "GET")
            _require_scope(grant, READ)
            return self._list(book, params.parse_query(query, params.LIST_PARAMS))
        if path == EXPORT_PATH and self.config.export:
            _allow(method, "GET")
            _require_scope(grant, READ)
            return self._export(book, params.parse_query(query, params.LIST_PARAMS))
        if path == PAYOUTS_PATH or path.startswith(f"{PAYOUTS_PATH}/"):
            _allow(method, "GET")
            _require_scope(grant, READ)
            return self._payouts(book.payouts, path, query, int(time.time()))
        if path == CLAIMS_PATH or path.startswith(f"{CLAIMS_PATH}/"):
            return await self._claims(request, grant, book)
        match = CUSTOMER_PATH.match(path)
        if match:
            _allow(method, "GET")
            _require_scope(grant, READ)
            customer = book.customer_of_id(match.group(1))
            if customer is None:
                raise Problem("not_found", "No such customer.")
            return self._list(
                book, params.parse_query(query, params.CUSTOMER_LIST_PARAMS), customer
            )
        match = TX_PATH.match(path)
        if not match:
            raise Problem("not_found", "No such endpoint.")
        transaction_id, action = match.groups()
        if action is None:
            _allow(method, "GET")
            _require_scope(grant, READ)
            row = _row(book, transaction_id)
            return Response(200, orjson.dumps(book.detail(row, int(time.time()))))
        _allow(method, "POST")
        _require_scope(grant, WRITE)
        return await self._write(request, book, grant, transaction_id, action)

    def _page(self, book: Book, query: params.ListQuery) -> tuple[Page, str | None, int | None]:
        """The rows of a list query's page, the cursor of the next one (None on the last) and,
        if asked for, the total."""
        if query.sort == "created":
            after = None if query.after is None else query.after[0]
            page = book.page(
                query.filters, ascending=query.ascending, after=after, limit=query.limit
            )
            position: tuple[int, ...] | None = (int(page.rows[-1]),) if page.has_more else None
        else:
            last = None if query.after is None else (query.after[0], query.after[1])
            page, position = book.sorted_page(
                query.filters, key=query.sort, ascending=query.ascending, after=last,
                limit=query.limit,
            )  # fmt: skip
        cursor = (
            None if position is None else self.cursors.issue(query.filters, query.order, position)
        )
        total = book.count(query.filters) if query.include_total else None
        return page, cursor, total

    def _list(
        self, book: Book, query_params: dict[str, list[str]], customer: int | None = None
    ) -> Response:
        query = params.parse_list(query_params, book.data.shops, self.cursors, customer)
        page, next_cursor, total = self._page(book, query)
        rest: dict[str, Any] = {"has_more": page.has_more, "next_cursor": next_cursor}
        if total is not None:
            rest["total_count"] = total
        # {"data": [...], "has_more": ..., ...}: the rendered rows spliced before the rest.
        body = b'{"data":' + book.renderer.render(page.rows) + b"," + orjson.dumps(rest)[1:]
        return Response(200, body)

    def _export(self, book: Book, query_params: dict[str, list[str]]) -> Response:
        query = params.parse_list(
            query_params, book.data.shops, self.cursors, paging=params.EXPORT_PAGING
        )
        page, next_cursor, total = self._page(book, query)
        headers = {"X-Has-More": "true" if page.has_more else "false",
                   "X-Row-Count": str(page.rows.shape[0])}  # fmt: skip
        if next_cursor is not None:
            headers["X-Next-Cursor"] = next_cursor
        if total is not None:
            headers["X-Total-Count"] = str(total)
        return Response(200, book.renderer.render_csv(page.rows), CSV, headers)

    def _payouts(self, payouts: Payouts, path: str, query: bytes, now: int) -> Response:
        """The payout reads: the list, one payout, its lines, and its export."""
        if path == PAYOUTS_PATH:
            asked = params.parse_query(query, params.PAYOUT_LIST_PARAMS)
            q = params.parse_payout_list(asked, self.cursors)
            matching = payouts.matching(q.filters, now)
            body, last = payout_files.payout_page(matching, q.after, q.limit, now, q.include_totals)
            if last is not None:
                body["next_cursor"] = self.cursors.issue(q.filters, params.PAYOUT_ORDER, last)
            return Response(200, orjson.dumps(body))
        match = PAYOUT_PATH.match(path)
        if match is None:
            raise Problem("not_found", "No such endpoint.")
        payout = payouts.find(match.group(1), now)
        if payout is None:
            raise Problem("not_found", "No such payout.")
        if match.group(2) is None:
            return Response(200, orjson.dumps(payout_files.payout_json(payout, now)))
        if match.group(2) == "lines":
            asked = params.parse_query(query, params.PAYOUT_LINES_PARAMS)
            limit, after = params.parse_payout_lines(asked, self.cursors, payout.id)
            body, last = payout_files.lines_page(payouts, payouts.lines(payout, now), after, limit)
            if last is not None:
                body["next_cursor"] = self.cursors.issue(payout.id, params.PAYOUT_LINES_ORDER, last)
            return Response(200, orjson.dumps(body))
        file_format = params.parse_payout_format(
            params.parse_query(query, params.PAYOUT_EXPORT_PARAMS)
        )
        exported = payout_files.export(payouts, payout, file_format, now)
        headers = {"Content-Disposition": f'attachment; filename="{exported.filename}"',
                   "X-Line-Count": str(exported.line_count)}  # fmt: skip
        return Response(200, exported.body, exported.content_type, headers)

    async def _claims(self, request: Request, grant: Grant, book: Book) -> Response:
        """The claim reads (the list, one claim) and the two answers to a claim."""
        method, path, now = request.method, request.path, int(time.time())
        claims = book.claims
        if path == CLAIMS_PATH:
            _allow(method, "GET")
            _require_scope(grant, READ)
            asked = params.parse_query(request.query, params.CLAIM_LIST_PARAMS)
            q = params.parse_claim_list(asked, self.cursors, book.row_of_id)
            matching = claims.matching(q.filters, now)
            picks, last = claims.page(matching, q.order == "created_desc", q.after, q.limit)
            cursor = None if last is None else self.cursors.issue(q.filters, q.order, (last,))
            body: dict[str, Any] = {
                "data": claims.answers(picks, now, book.payouts.ids_at),
                "has_more": last is not None,
                "next_cursor": cursor,
            }
            if q.include_total:
                body["total_count"] = int(matching.shape[0])
            return Response(200, orjson.dumps(body))
        match = CLAIM_PATH.match(path)
        if match is None:
            raise Problem("not_found", "No such endpoint.")
        claim_id, answer = match.groups()
        if answer is None:
            _allow(method, "GET")
            _require_scope(grant, READ)
            return Response(200, orjson.dumps(book.claim_answer(_claim(book, claim_id), now)))
        _allow(method, "POST")
        _require_scope(grant, WRITE)
        key = params.idempotency_key(request.headers.get("idempotency-key"))
        if answer == "acceptance":
            params.json_body(request.body, {})
            canonical = b"{}"
        else:
            contestation = multipart.parse_contestation(
                request.headers.get("content-type"), request.body
            )
            canonical = contestation.fingerprint()
        index = _claim(book, claim_id)

        def act(at: int) -> Any:
            if answer == "acceptance":
                claims.accept(index, at)
            else:
                evidence = [e.json() for e in contestation.evidence]
                claims.contest(index, contestation.text, evidence, at)
            return book.claim_answer(index, at)

        return await self._once(request, grant, key, canonical, act)

    async def _write(
        self, request: Request, book: Book, grant: Grant, transaction_id: str, action: str
    ) -> Response:
        key = params.idempotency_key(request.headers.get("idempotency-key"))
        fields = params.json_body(request.body, ACTION_FIELDS[action])
        row = _row(book, transaction_id)
        canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)

        def act(now: int) -> Any:
            if action == "captures":
                return book.capture(row, fields["amount"], now)
            if action == "refunds":
                return book.refund(row, fields["amount"], fields["reason"].strip(), now)
            if action == "cancellations":
                return book.cancel(row, now)
            if action == "due-date-extensions":
                return book.extend_due_date(row, fields["working_days"], fields["fee_amount"], now)
            if action == "dunning-pauses":
                return book.pause_dunning(row, fields["days"], now)
            if action == "invoice-resends":
                return book.send_invoice_again(row, now)
            return book.paid_directly(row, fields["amount"], fields["paid_on"], now)

        return await self._once(request, grant, key, canonical, act)

    async def _once(
        self, request: Request, grant: Grant, key: str, canonical: bytes, act: Callable[[int], Any]
    ) -> Response:
        """A write under its idempotency key: the first answer, or its replay. `canonical` is
        what makes two requests to this path the same."""
        client_id = grant.client.client_id
        remembered = self.idempotency.begin(
            client_id, key, self.idempotency.fingerprint("POST", request.path, canonical)
        )
        if remembered is not None:
            return Response(
                remembered.status or 500,
                remembered.body,
                remembered.content_type,
                {"Idempotent-Replayed": "true"},
            )
        try:
            if self.config.latency_ms > 0:
                await asyncio.sleep(self.config.latency_ms / 1000)
            result = act(int(time.time()))
        except Problem as problem:
            answer = orjson.dumps(problem.body(request.request_id))
            self.idempotency.finish(client_id, key, problem.status, answer, PROBLEM)
            raise
        except BaseException:
            self.idempotency.forget(client_id, key)
            raise
        answer = orjson.dumps(result)
        self.idempotency.finish(client_id, key, 201, answer, JSON)
        return Response(201, answer)

    def _token(self, headers: dict[str, str], body: bytes) -> Response:
        if len(body) > params.MAX_BODY:
            raise Problem.invalid("body", "The body is too large.")
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise Problem.invalid("body", "The body must be form-encoded.") from exc
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(basic[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise Problem("unauthorized", "The Basic credentials are malformed.") from exc
        if form.get("grant_type") != "client_credentials":
            raise Problem.invalid("grant_type", "Only grant_type=client_credentials is supported.")
        if not client_id or not secret:
            raise Problem.invalid("client_id", "client_id and client_secret are required.")
        token, grant = self.tokens.issue(client_id, secret, form.get("scope"))
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.config.token_ttl,
            "scope": " ".join(sorted(grant.scopes)),
        }
        return Response(200, orjson.dumps(answer))

    def _control(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Sandbox-only controls for tests: schedule faults, expire tokens. Not in the contract."""
        if headers.get("authorization") != f"Bearer {self.control_token}":
            raise Problem("unauthorized", "The sandbox control token is missing or wrong.")
        _allow(method, "POST")
        try:
            request = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise Problem.invalid("body", "The body is not valid JSON.") from exc
        if path == "/_sandbox/faults":
            if request.get("clear"):
                self.faults.clear()
            else:
                self.faults.schedule(
                    str(request.get("kind")),
                    str(request.get("path_prefix", "/v1/")),
                    request.get("method"),
                    int(request.get("count", 1)),
                )
            return Response(200, b"{}")
        if path == "/_sandbox/expire-tokens":
            return Response(200, orjson.dumps({"expired": self.tokens.expire_all()}))
        raise Problem("not_found", "No such control.")


def _row(book: Book, transaction_id: str) -> int:
    row = book.row_of_id(transaction_id)
    if row is None:
        raise Problem("not_found", "No such transaction.")
    return row


def _claim(book: Book, claim_id: str) -> int:
    index = book.claims.find(claim_id)
    if index is None:
        raise Problem("not_found", "No such claim.")
    return index


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise Problem.invalid("method", f"Use {allowed} on this endpoint.")


def _require_scope(grant: Grant, scope: str) -> None:
    if scope not in grant.scopes:
        raise Problem("forbidden", f"The token lacks the scope {scope}.")


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The body, cut just past the limit: enough to tell that it is too large."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if size <= limit:
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)[: limit + 1]


async def _send(send: Send, response: Response, request_id: str) -> None:
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
        (b"cache-control", b"no-store"),
        (b"request-id", request_id.encode()),
    ]
    for name, value in (response.headers or {}).items():
        headers.append((name.lower().encode(), value.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
