"""The provider client: per-user tokens, retries that are safe, typed answers, auto-paging."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec

from sarportal.domain.claims import Upload
from sarportal.domain.moments import rfc3339
from sarportal.domain.vocabulary import PayoutFormat
from sarportal.provider.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderTLSError,
    ProviderUnavailable,
    error_from_problem,
)
from sarportal.provider.models import (
    Action,
    Claim,
    ClaimPage,
    InvoiceOperation,
    Payout,
    PayoutLinePage,
    PayoutPage,
    Problem,
    Token,
    TransactionDetail,
    TransactionPage,
    TransactionSummary,
)
from sarportal.provider.payout_files import PayoutFile
from sarportal.provider.timing import provider_call
from sarportal.provider.transport import (
    BulkReader,
    BulkResponse,
    ProviderConfig,
    make_client,
    translated,
)

log = logging.getLogger("sarportal.provider")

T = TypeVar("T")
R = TypeVar("R", httpx.Response, BulkResponse)
Item = TypeVar("Item", covariant=True)


@dataclass(frozen=True)
class Form:
    """A multipart/form-data body: text fields and files, each under its field's name."""

    fields: Mapping[str, str]
    files: Sequence[tuple[str, tuple[str | None, bytes, str]]]


@dataclass(frozen=True)
class Responded:
    """The claim after the merchant's response, and whether the provider replayed its stored
    first answer to this idempotency key (`Idempotent-Replayed: true`)."""

    claim: Claim
    replayed: bool


class _Page(Protocol[Item]):
    """One page of a cursor-paged list, whichever the list."""

    @property
    def data(self) -> Sequence[Item]: ...
    @property
    def has_more(self) -> bool: ...
    @property
    def next_cursor(self) -> str | None: ...


def _every(read: Callable[[Params], _Page[T]], params: Params, page_size: int) -> Iterator[T]:
    """Every item of a cursor-paged list, page after page, as the pages arrive."""
    cursor: str | None = None
    while True:
        page = read({**params, "limit": page_size, "cursor": cursor})
        yield from page.data
        if not page.has_more or page.next_cursor is None:
            return
        cursor = page.next_cursor


Params = Mapping[str, str | int | bool | datetime | Sequence[str | int] | None]
TOKEN_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Credentials:
    """A user's provider client id and secret; the secret never appears in a repr or a log."""

    client_id: str
    secret: str = field(repr=False)

    @property
    def key(self) -> str:
        digest = hashlib.sha256(f"{self.client_id}\0{self.secret}".encode()).hexdigest()
        return digest


class TokenCache:
    """Access tokens per credentials, in process memory only, until shortly before expiry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, credentials: Credentials, fetch: Callable[[Credentials], Token]) -> str:
        key = credentials.key
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one token request per credentials at a time
            cached = self._tokens.get(key)
            if cached is not None and cached[1] > self._clock():
                return cached[0]
            token = fetch(credentials)
            expires = self._clock() + max(0.0, token.expires_in - TOKEN_MARGIN_SECONDS)
            self._tokens[key] = (token.access_token, expires)
            return token.access_token

    def forget(self, credentials: Credentials) -> None:
        self._tokens.pop(credentials.key, None)


def _retry_after(response: httpx.Response | BulkResponse) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class Provider:
    """The portal's one door to the provider: pools of verified connections and a token cache.

    `http` carries the interactive requests; `bulk` only the list pages a statistics job
    downloads (`read_bulk`), which it reads with less CPU.
    """

    def __init__(
        self,
        config: ProviderConfig,
        *,
        http: httpx.Client | None = None,
        bulk: BulkReader | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.config = config
        self._http = http or make_client(config)
        self._bulk = bulk or BulkReader(config)
        self._tokens = TokenCache()
        self._sleep = sleep
        self._jitter = jitter
        self._discovery_lock = threading.Lock()
        self._contract: tuple[float, dict[str, dict[str, object]]] | None = None

    def close(self) -> None:
        self._http.close()
        self._bulk.close()

    def session(self, credentials: Credentials) -> ProviderSession:
        """The provider as seen with one user's credentials."""
        return ProviderSession(self, credentials)

    def ping(self) -> None:
        """Raise unless the provider answers over verified TLS (any HTTP status will do)."""
        with translated("GET", "/openapi.json"):
            self._http.get("/openapi.json", timeout=self.config.connect_timeout)

    # -- the request loop ---------------------------------------------------------------------

    def _fetch_token(self, credentials: Credentials) -> Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.secret,
        }
        with translated("POST", "/oauth/token"), provider_call():
            response = self._http.post("/oauth/token", data=form)
        if response.status_code != 200:
            raise self._error(response)
        return self._decode(response, Token)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.config.backoff_max * 4)
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2**attempt)
        return self._jitter(0.0, ceiling)

    def request(
        self,
        credentials: Credentials,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        form: Form | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one request with retries; return the successful response (see `_with_retries`).
        The body is `body` as JSON, or `form` as multipart/form-data (its files are bytes in
        memory, sent again as they are on a retry)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        query = _query(params)
        content: dict[str, Any] = {"json": body}
        if form is not None:  # text fields as parts without a file name: multipart even alone
            fields = [(name, (None, value.encode())) for name, value in form.fields.items()]
            content = {"files": [*fields, *form.files]}

        def send(authorization: str) -> httpx.Response:
            with translated(method, path):
                return self._http.request(
                    method, path, params=query, **content,
                    headers={**headers, "Authorization": authorization},
                )  # fmt: skip

        retriable = method == "GET" or idempotency_key is not None
        return self._with_retries(credentials, method, path, send, retriable=retriable)

    def read_bulk(self, credentials: Credentials, path: str, params: Params | None) -> BulkResponse:
        """GET a large body over the bulk reader, with the same retries and tokens."""
        pairs = _query_pairs(params)
        target = f"{path}?{urlencode(pairs)}" if pairs else path

        def send(authorization: str) -> BulkResponse:
            return self._bulk.get(target, {"Authorization": authorization})

        return self._with_retries(credentials, "GET", path, send, retriable=True)

    @contextmanager
    def stream(
        self, credentials: Credentials, path: str, params: Params | None = None
    ) -> Iterator[httpx.Response]:
        """GET a body to pass on while it arrives: retried like any read until the answer has
        started; an error answer is read whole and raised. Closed on leaving."""
        query = _query(params)

        def send(authorization: str) -> httpx.Response:
            with translated("GET", path):
                request = self._http.build_request(
                    "GET", path, params=query, headers={"Authorization": authorization}
                )
                response = self._http.send(request, stream=True)
                if response.status_code >= 400:
                    try:
                        response.read()
                    finally:
                        response.close()
                return response

        response = self._with_retries(credentials, "GET", path, send, retriable=True)
        try:
            yield response
        finally:
            response.close()

    def offers(self, path: str) -> bool:
        """Whether the provider's contract (its `/openapi.json`) has `GET path`: optional parts
        of the contract, such as the CSV export, are used only where offered. Asked at most
        every `DISCOVERY_SECONDS`; a contract that cannot be read offers nothing extra."""
        with self._discovery_lock:
            if self._contract is None or time.monotonic() - self._contract[0] > DISCOVERY_SECONDS:
                self._contract = (time.monotonic(), self._read_paths())
            return "get" in self._contract[1].get(path, {})

    def _read_paths(self) -> dict[str, dict[str, object]]:
        try:
            with translated("GET", "/openapi.json"), provider_call():
                response = self._http.get("/openapi.json")
            if response.status_code != 200:
                return {}
            return msgspec.json.decode(response.content, type=_Contract).paths
        except ProviderTLSError:
            raise  # never a reason to carry on quietly
        except (ProviderError, msgspec.DecodeError):
            return {}

    def _with_retries(
        self,
        credentials: Credentials,
        method: str,
        path: str,
        send: Callable[[str], R],
        *,
        retriable: bool,
    ) -> R:
        """`send(authorization)` until it succeeds or may not be tried again.

        Reads, and writes that carry an idempotency key, are retried on timeouts, 5xx and 429
        (honouring Retry-After); a 401 refreshes the token once. A TLS failure is never retried.
        """
        refreshed = False
        attempt = 0
        while True:
            token = self._tokens.get(credentials, self._fetch_token)
            try:
                with provider_call():
                    response = send(f"Bearer {token}")
                if response.status_code == 401 and not refreshed:
                    self._tokens.forget(credentials)
                    refreshed = True
                    continue
                if response.status_code >= 400:
                    raise self._error(response)
                return response
            except ProviderError as error:
                if not (retriable and error.should_retry and attempt < self.config.max_retries):
                    raise
                delay = self._backoff(attempt, error.retry_after)
                log.warning(
                    "provider %s %s failed (%s); retry %d in %.2fs",
                    method, _path_shape(path), type(error).__name__, attempt + 1, delay,
                )  # fmt: skip
                attempt += 1
                self._sleep(delay)

    def _error(self, response: httpx.Response | BulkResponse) -> ProviderError:
        problem: dict[str, Any] | None = None
        try:
            decoded = msgspec.json.decode(response.content, type=Problem)
            problem = msgspec.structs.asdict(decoded)
        except msgspec.DecodeError:
            problem = None
        error = error_from_problem(response.status_code, problem, _retry_after(response))
        if isinstance(error, ProviderAuthError):
            log.warning("provider refused the credentials (%s)", error.code)
        return error

    @staticmethod
    def _decode(response: httpx.Response, kind: type[T]) -> T:
        try:
            return msgspec.json.decode(response.content, type=kind)
        except msgspec.DecodeError as exc:
            raise ProviderUnavailable(
                "The provider's answer could not be read.", status=response.status_code
            ) from exc


EXPORT_PATH = "/v1/exports/transactions"
DISCOVERY_SECONDS = 600.0


class _Contract(msgspec.Struct):
    paths: dict[str, dict[str, object]] = {}


@dataclass(frozen=True)
class ExportPage:
    """A page of the CSV export: the body, and the page state its headers carried."""

    body: bytes = field(repr=False)
    has_more: bool
    next_cursor: str | None
    row_count: int
    total_count: int | None


def _export_page(response: BulkResponse) -> ExportPage:
    headers = response.headers
    media_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    has_more = headers.get("x-has-more")
    cursor = headers.get("x-next-cursor") or None
    rows, total = headers.get("x-row-count") or "", headers.get("x-total-count")
    if (
        media_type != "text/csv"
        or has_more not in ("true", "false")
        or (has_more == "true") != (cursor is not None)
        or not rows.isdigit()
        or (total is not None and not total.isdigit())
    ):
        raise ProviderUnavailable(
            "The provider's answer could not be read.", status=response.status_code
        )
    return ExportPage(
        response.content,
        has_more == "true",
        cursor,
        int(rows),
        None if total is None else int(total),
    )


class ProviderSession:
    """Typed operations of the provider API for one user's credentials."""

    def __init__(self, provider: Provider, credentials: Credentials) -> None:
        self._provider = provider
        self._credentials = credentials

    def _read(self, fetch: Callable[[], R], understand: Callable[[R], T]) -> T:
        """`understand(fetch())`, fetched again while the answer is garbled (ProviderUnavailable
        from `understand`): a read may be repeated."""
        for attempt in range(self._provider.config.max_retries + 1):
            response = fetch()
            try:
                return understand(response)
            except ProviderUnavailable:
                if attempt == self._provider.config.max_retries:
                    raise
        raise AssertionError("unreachable")

    def _get(self, path: str, kind: type[T], params: Params | None = None) -> T:
        return self._read(
            lambda: self._provider.request(self._credentials, "GET", path, params=params),
            lambda response: self._provider._decode(response, kind),
        )

    def list_transactions(self, params: Params) -> TransactionPage:
        """One page of the list (`params` are the provider's filters, limit, cursor, order)."""
        return self._get("/v1/transactions", TransactionPage, params)

    def list_page_raw(self, params: Params) -> bytes:
        """One page of the list as the provider's bytes, for decoding straight into columns."""
        return self._provider.read_bulk(self._credentials, "/v1/transactions", params).content

    def offers_export(self) -> bool:
        """Whether the provider offers the CSV export (`export_page_raw`)."""
        return self._provider.offers(EXPORT_PATH)

    def export_page_raw(self, params: Params) -> ExportPage:
        """One page of the CSV export, its body as the provider's bytes and its page state from
        the headers (checked: an answer that is not an export page is the provider's fault)."""
        return self._read(
            lambda: self._provider.read_bulk(self._credentials, EXPORT_PATH, params), _export_page
        )

    def iter_transactions(
        self, params: Params, page_size: int = 1000
    ) -> Iterator[TransactionSummary]:
        """Every transaction matching `params`, page after page."""
        return _every(self.list_transactions, params, page_size)

    def transaction(self, transaction_id: str) -> TransactionDetail:
        """A transaction with the customer's personal data, the order lines and the history."""
        return self._get(f"/v1/transactions/{_segment(transaction_id)}", TransactionDetail)

    def customer_transactions(
        self, customer_id: str, params: Params | None = None
    ) -> TransactionPage:
        return self._get(
            f"/v1/customers/{_segment(customer_id)}/transactions", TransactionPage, params
        )

    def list_payouts(self, params: Params) -> PayoutPage:
        """One page of the merchant's payouts, newest first (filters, limit, cursor, totals)."""
        return self._get("/v1/payouts", PayoutPage, params)

    def iter_payouts(self, params: Params, page_size: int = 100) -> Iterator[Payout]:
        """Every payout matching `params`, page after page."""
        return _every(self.list_payouts, params, page_size)

    def payout(self, payout_id: str) -> Payout:
        """One payout with its totals by kind of booking."""
        return self._get(f"/v1/payouts/{_segment(payout_id)}", Payout)

    def payout_lines(self, payout_id: str, params: Params | None = None) -> PayoutLinePage:
        """One page of a payout's lines, in booking order."""
        return self._get(f"/v1/payouts/{_segment(payout_id)}/lines", PayoutLinePage, params)

    @contextmanager
    def payout_export(self, payout_id: str, fmt: PayoutFormat) -> Iterator[PayoutFile]:
        """A payout's accounting file, streamed: nothing of it is held beyond one chunk."""
        path = f"/v1/payouts/{_segment(payout_id)}/export"
        with self._provider.stream(self._credentials, path, {"format": fmt}) as response:
            yield PayoutFile(response, payout_id, fmt)

    def list_claims(self, params: Params) -> ClaimPage:
        """One page of the customers' claims, soonest deadline first unless `order` says not."""
        return self._get("/v1/claims", ClaimPage, params)

    def iter_claims(self, params: Params, page_size: int = 1000) -> Iterator[Claim]:
        """Every claim matching `params`, page after page."""
        return _every(self.list_claims, params, page_size)

    def claim(self, claim_id: str) -> Claim:
        """One claim with the merchant's response, if any."""
        return self._get(f"/v1/claims/{_segment(claim_id)}", Claim)

    def accept_claim(self, claim_id: str, *, idempotency_key: str) -> Responded:
        """Agree with the customer: the claim's amount is deducted from the current payout."""
        path = f"/v1/claims/{_segment(claim_id)}/acceptance"
        response = self._provider.request(
            self._credentials, "POST", path, body={}, idempotency_key=idempotency_key
        )
        return Responded(self._provider._decode(response, Claim), _replayed(response))

    def contest_claim(
        self, claim_id: str, text: str, evidence: Sequence[Upload], *, idempotency_key: str
    ) -> Responded:
        """Disagree, with a statement and evidence files passed through (never kept)."""
        path = f"/v1/claims/{_segment(claim_id)}/contestation"
        files = [("evidence", (f.filename, f.data, f.content_type)) for f in evidence]
        response = self._provider.request(
            self._credentials, "POST", path, form=Form({"text": text}, files),
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return Responded(self._provider._decode(response, Claim), _replayed(response))

    def _act(self, transaction_id: str, action: str, body: Mapping[str, Any], key: str) -> Action:
        path = f"/v1/transactions/{_segment(transaction_id)}/{action}"
        response = self._provider.request(
            self._credentials, "POST", path, body=body, idempotency_key=key
        )
        answer = self._provider._decode(response, Action)
        return msgspec.structs.replace(answer, replayed=_replayed(response))

    def capture(self, transaction_id: str, amount: int, *, idempotency_key: str) -> Action:
        return self._act(transaction_id, "captures", {"amount": amount}, idempotency_key)

    def refund(
        self, transaction_id: str, amount: int, reason: str, *, idempotency_key: str
    ) -> Action:
        return self._act(
            transaction_id, "refunds", {"amount": amount, "reason": reason}, idempotency_key
        )

    def cancel(self, transaction_id: str, *, idempotency_key: str) -> Action:
        return self._act(transaction_id, "cancellations", {}, idempotency_key)

    def _invoice(
        self, transaction_id: str, operation: str, body: Mapping[str, Any], key: str
    ) -> InvoiceOperation:
        path = f"/v1/transactions/{_segment(transaction_id)}/{operation}"
        response = self._provider.request(
            self._credentials, "POST", path, body=body, idempotency_key=key
        )
        answer = self._provider._decode(response, InvoiceOperation)
        return msgspec.structs.replace(answer, replayed=_replayed(response))

    def extend_due_date(
        self, transaction_id: str, working_days: int, fee_amount: int, *, idempotency_key: str
    ) -> InvoiceOperation:
        """Move the due date by `working_days`, for the fee the user was shown and agreed to."""
        body = {"working_days": working_days, "fee_amount": fee_amount}
        return self._invoice(transaction_id, "due-date-extensions", body, idempotency_key)

    def pause_dunning(
        self, transaction_id: str, days: int, *, idempotency_key: str
    ) -> InvoiceOperation:
        """Send no dunning notice for `days` days from today."""
        return self._invoice(transaction_id, "dunning-pauses", {"days": days}, idempotency_key)

    def resend_invoice(self, transaction_id: str, *, idempotency_key: str) -> InvoiceOperation:
        """Have the provider send the invoice to the customer again."""
        return self._invoice(transaction_id, "invoice-resends", {}, idempotency_key)

    def report_direct_payment(
        self, transaction_id: str, amount: int, paid_on: date, *, idempotency_key: str
    ) -> InvoiceOperation:
        """The customer paid `amount` to the merchant directly on `paid_on`."""
        body = {"amount": amount, "paid_on": paid_on.isoformat()}
        return self._invoice(transaction_id, "direct-payments", body, idempotency_key)


def _replayed(response: httpx.Response) -> bool:
    return bool(response.headers.get("Idempotent-Replayed", "").lower() == "true")


def _query(params: Params | None) -> httpx.QueryParams:
    pairs: list[tuple[str, str | int | float | bool | None]] = [*_query_pairs(params)]
    return httpx.QueryParams(pairs)


def _query_pairs(params: Params | None) -> list[tuple[str, str]]:
    """The provider's query encoding, the one place values become text: lists repeat, booleans
    are true/false, times RFC 3339 in UTC, None is left out."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, bool):
                text = "true" if item else "false"
            elif isinstance(item, datetime):
                text = rfc3339(item)
            else:
                text = str(item)
            pairs.append((name, text))
    return pairs


def _segment(identifier: str) -> str:
    """An id as one path segment; ids with other characters cannot exist at the provider."""
    if not identifier or not all(c.isalnum() or c in "_-" for c in identifier):
        raise ProviderNotFound("No such record at the provider.", code="not_found", status=404)
    return identifier


def _path_shape(path: str) -> str:
    """The path with ids replaced, for logs."""
    return "/".join("{id}" if "_" in part else part for part in path.split("/"))
