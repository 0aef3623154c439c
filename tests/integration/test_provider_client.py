"""The provider client against the real sandbox over TLS: paging, tokens, retries, errors.

The bulk client (`list_page_raw`) gets the same checks where the sandbox can make the case, and
a small server of its own (`page_server`) where it cannot: a body cut short in transit, a kept-alive
connection the server closes, counting connections.
"""

from __future__ import annotations

import gc
import json
import logging
import ssl
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import trustme

from sarportal.provider import Credentials, InsecureProviderURL, Provider, ProviderConfig
from sarportal.provider.client import ProviderSession
from sarportal.provider.errors import (
    AmountExceedsAvailable,
    IdempotencyConflict,
    InvalidState,
    ProviderForbidden,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderTLSError,
    ProviderUnavailable,
)
from sarportal.provider.models import TransactionPage
from tests.fixtures.polling import poll
from tests.fixtures.sandbox import SECRETS, SandboxHandle

OPERATOR = Credentials("demo-operator", SECRETS["demo-operator"])
VIEWER = Credentials("demo-viewer", SECRETS["demo-viewer"])
OTHER = Credentials("other-operator", SECRETS["other-operator"])


def _provider(
    handle: SandboxHandle, *, sleep: Callable[[float], None] = time.sleep, **settings: Any
) -> Provider:
    settings.setdefault("backoff_base", 0.01)
    return Provider(ProviderConfig(handle.url, ca_bundle=handle.ca, **settings), sleep=sleep)


@pytest.fixture
def provider(sandbox: SandboxHandle) -> Any:
    client = _provider(sandbox)
    yield client
    client.close()


def test_pages_are_typed_and_auto_paging_walks_all(provider: Provider) -> None:
    session = provider.session(VIEWER)
    page = session.list_transactions({"status": ["captured"], "include_total": True})
    assert page.total_count is not None and page.total_count > 0
    assert all(t.status == "captured" for t in page.data)
    everything = list(session.iter_transactions({"status": "captured"}, page_size=500))
    assert len(everything) == page.total_count
    assert len({t.id for t in everything}) == len(everything)


def test_detail_carries_customer_items_and_events(provider: Provider) -> None:
    session = provider.session(VIEWER)
    summary = session.list_transactions({"limit": 1, "status": "refunded"}).data[0]
    detail = session.transaction(summary.id)
    assert detail.id == summary.id and detail.customer.id == summary.customer_id
    assert sum(line.total_amount for line in detail.items) == detail.amount
    assert detail.events[0].type == "authorization"
    others = session.customer_transactions(summary.customer_id)
    assert summary.id in {t.id for t in others.data}


def test_another_merchants_transaction_is_not_found(provider: Provider) -> None:
    theirs = provider.session(OTHER).list_transactions({"limit": 1}).data[0]
    with pytest.raises(ProviderNotFound):
        provider.session(OPERATOR).transaction(theirs.id)
    with pytest.raises(ProviderNotFound):
        provider.session(OPERATOR).transaction("../oauth/token")


def test_viewer_credentials_cannot_write(provider: Provider, fresh_rows: Any) -> None:
    row = fresh_rows.take("authorized")
    with pytest.raises(ProviderForbidden):
        provider.session(VIEWER).capture(row["id"], 1, idempotency_key=str(uuid.uuid4()))


def test_refusals_map_to_the_error_tree(provider: Provider, fresh_rows: Any) -> None:
    session = provider.session(OPERATOR)
    row = fresh_rows.take("authorized")
    with pytest.raises(AmountExceedsAvailable) as too_much:
        session.capture(row["id"], row["amount"] + 1, idempotency_key=str(uuid.uuid4()))
    assert too_much.value.param == "amount" and too_much.value.request_id
    declined = fresh_rows.take("declined")
    with pytest.raises(InvalidState):
        session.cancel(declined["id"], idempotency_key=str(uuid.uuid4()))
    key = str(uuid.uuid4())
    session.capture(row["id"], 1, idempotency_key=key)
    with pytest.raises(IdempotencyConflict):
        session.capture(row["id"], 2, idempotency_key=key)


def test_same_key_twice_applies_once(provider: Provider, fresh_rows: Any) -> None:
    session = provider.session(OPERATOR)
    row = fresh_rows.take("captured")
    key = str(uuid.uuid4())
    first = session.refund(row["id"], 100, "damaged", idempotency_key=key)
    second = session.refund(row["id"], 100, "damaged", idempotency_key=key)
    assert first.id == second.id
    assert session.transaction(row["id"]).refunded_amount == row["refunded_amount"] + 100


def test_token_is_cached_and_refreshed_once_after_401(make_sandbox: Any) -> None:
    handle = make_sandbox()
    provider = _provider(handle)
    session = provider.session(VIEWER)
    session.list_transactions({"limit": 1})
    session.list_transactions({"limit": 1})
    assert len(handle.running.app.tokens._grants) == 1
    handle.running.app.tokens.expire_all()
    assert session.list_transactions({"limit": 1}).data
    assert len(handle.running.app.tokens._grants) == 1
    provider.close()


@pytest.mark.parametrize("kind", ["error_500", "error_503", "truncated", "malformed"])
def test_reads_survive_a_passing_fault(make_sandbox: Any, kind: str) -> None:
    handle = make_sandbox()
    provider = _provider(handle)
    handle.running.app.faults.schedule(kind, "/v1/transactions", "GET", 2)
    page = provider.session(VIEWER).list_transactions({"limit": 3})
    assert len(page.data) == 3
    provider.close()


def test_reads_fail_clearly_when_the_fault_persists(make_sandbox: Any) -> None:
    handle = make_sandbox()
    provider = _provider(handle, max_retries=2)
    handle.running.app.faults.schedule("error_500", "/v1/transactions", "GET", 10)
    with pytest.raises(ProviderUnavailable):
        provider.session(VIEWER).list_transactions({"limit": 3})
    provider.close()


def test_write_timeout_after_it_applied_is_retried_and_replayed(make_sandbox: Any) -> None:
    handle = make_sandbox(hang_seconds=1.5)
    provider = _provider(handle, read_timeout=0.5)
    session = provider.session(OPERATOR)
    row = session.list_transactions({"limit": 1, "status": "captured"}).data[0]
    handle.running.app.faults.schedule("hang", "/v1/transactions/", "POST", 1)
    action = session.refund(row.id, 50, "test", idempotency_key=str(uuid.uuid4()))
    assert action.transaction.refunded_amount == row.refunded_amount + 50
    assert session.transaction(row.id).refunded_amount == row.refunded_amount + 50
    provider.close()


def test_write_timeout_without_retries_reports_unknown_outcome(make_sandbox: Any) -> None:
    handle = make_sandbox(hang_seconds=1.0)
    provider = _provider(handle, read_timeout=0.3, max_retries=0)
    session = provider.session(OPERATOR)
    row = session.list_transactions({"limit": 1, "status": "captured"}).data[0]
    handle.running.app.faults.schedule("hang", "/v1/transactions/", "POST", 1)
    with pytest.raises(ProviderTimeout):
        session.refund(row.id, 50, "test", idempotency_key=str(uuid.uuid4()))
    provider.close()


def test_rate_limit_is_waited_out(make_sandbox: Any) -> None:
    handle = make_sandbox(rate_limit=2)
    provider = _provider(handle)
    session = provider.session(VIEWER)
    for _ in range(5):
        assert session.list_transactions({"limit": 1}).data
    provider.close()
    _assert_refused_without_retries(handle, lambda session: session.list_transactions({"limit": 1}))


def _assert_refused_without_retries(handle: Any, read: Callable[[ProviderSession], object]) -> None:
    """Without retries, a rate-limited read fails with the provider's Retry-After."""
    impatient = _provider(handle, max_retries=0)
    with pytest.raises(ProviderRateLimited) as limited:
        for _ in range(5):
            read(impatient.session(VIEWER))
    assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    impatient.close()


def test_plain_http_url_is_refused() -> None:
    with pytest.raises(InsecureProviderURL):
        ProviderConfig("http://127.0.0.1:8443")


def test_unknown_ca_is_a_tls_error_logged_without_secrets(
    sandbox: SandboxHandle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    provider = Provider(ProviderConfig(sandbox.url, ca_bundle=other_ca))
    with caplog.at_level(logging.WARNING), pytest.raises(ProviderTLSError) as failed:
        provider.session(OPERATOR).list_transactions({"limit": 1})
    assert "could not be verified" in str(failed.value)
    assert caplog.records and SECRETS["demo-operator"] not in caplog.text
    provider.close()


def test_system_store_does_not_trust_the_sandbox(sandbox: SandboxHandle) -> None:
    provider = Provider(ProviderConfig(sandbox.url))
    with pytest.raises(ProviderTLSError):
        provider.ping()
    provider.close()


def test_ping_answers_over_verified_tls(provider: Provider) -> None:
    provider.ping()
    assert isinstance(provider._http, httpx.Client)


# -- the bulk client: list_page_raw ------------------------------------------------------------


def _ids(raw: bytes) -> list[str]:
    return [row.id for row in msgspec.json.decode(raw, type=TransactionPage).data]


def test_a_raw_page_is_the_typed_page(provider: Provider) -> None:
    session = provider.session(VIEWER)
    params: dict[str, Any] = {"status": ["captured", "refunded"], "limit": 250}
    for _ in range(2):  # the first page, and the one after it by its cursor
        typed = session.list_transactions(params)
        raw = session.list_page_raw(params)
        assert msgspec.json.decode(raw, type=TransactionPage) == typed
        assert len(typed.data) == 250 and typed.next_cursor is not None
        params["cursor"] = typed.next_cursor


def test_threads_reading_pages_at_once_each_get_their_own(sandbox: SandboxHandle) -> None:
    provider = _provider(sandbox, max_connections=4)
    session = provider.session(VIEWER)
    asks = [
        {"status": status, "order": order, "limit": 400}
        for status in ("captured", "refunded", "authorized", "declined")
        for order in ("created_desc", "created_asc")
    ]
    expected = [[row.id for row in session.list_transactions(ask).data] for ask in asks]
    with ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(session.list_page_raw, asks * 4))
    provider.close()
    assert [_ids(page) for page in pages] == expected * 4
    assert len({tuple(ids) for ids in expected if ids}) == len(asks)  # eight different pages


def test_bulk_reads_honour_retry_after_on_503(make_sandbox: Any) -> None:
    handle = make_sandbox()
    waits: list[float] = []
    provider = _provider(handle, max_retries=2, sleep=waits.append)
    session = provider.session(VIEWER)
    expected = _ids(session.list_page_raw({"limit": 50}))
    handle.running.app.faults.schedule("error_503", "/v1/transactions", "GET", 2)
    assert _ids(session.list_page_raw({"limit": 50})) == expected
    assert waits == [1.0, 1.0]  # the sandbox's Retry-After
    handle.running.app.faults.schedule("error_503", "/v1/transactions", "GET", 3)
    with pytest.raises(ProviderUnavailable) as failed:
        session.list_page_raw({"limit": 50})
    assert failed.value.status == 503 and failed.value.code == "unavailable"
    provider.close()


def test_bulk_reads_wait_out_the_rate_limit(make_sandbox: Any) -> None:
    handle = make_sandbox(rate_limit=2)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    provider = _provider(handle, sleep=sleep)
    session = provider.session(VIEWER)
    pages = [_ids(session.list_page_raw({"limit": 20})) for _ in range(5)]
    assert pages == [pages[0]] * 5 and len(pages[0]) == 20
    assert waits and all(wait >= 1 for wait in waits)  # Retry-After, not the short backoff
    provider.close()
    _assert_refused_without_retries(handle, lambda session: session.list_page_raw({"limit": 1}))


def test_a_bulk_read_that_hangs_times_out_and_the_next_one_is_not_confused(
    make_sandbox: Any,
) -> None:
    handle = make_sandbox(hang_seconds=1.0)
    provider = _provider(handle, read_timeout=0.3, max_retries=0)
    session = provider.session(VIEWER)
    handle.running.app.faults.schedule("hang", "/v1/transactions", "GET", 1)
    with pytest.raises(ProviderTimeout):
        session.list_page_raw({"limit": 3})
    assert len(_ids(session.list_page_raw({"limit": 2}))) == 2  # not the late answer to limit=3
    provider.close()


class PageServer(ThreadingHTTPServer):
    """A provider-like HTTP/1.1 server with kept-alive connections, doing on purpose what the
    sandbox never does: cutting a body short in transit, closing connections after an answer
    without saying so, holding answers; it counts connections and answers in progress."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, ca: Path) -> None:
        super().__init__(("127.0.0.1", 0), _PageHandler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server_address[1]}"
        self.ca = ca
        rows = [{"id": f"tx_{n:016x}", "amount": n, "note": "x" * 200} for n in range(1500)]
        self.body = json.dumps({"data": rows, "has_more": False, "next_cursor": None}).encode()
        self.chunked = False
        self.cut = 0  # how many answers stop halfway, the connection closed
        self.close_after_answer = False
        self.hold = 0.0
        self.lock = threading.Lock()
        self.connections = self.closed = self.answers = self.in_flight = self.peak = 0

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self.lock:
            self.closed += 1


class _PageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: PageServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.peak = max(server.peak, server.in_flight)
            cut = server.cut > 0
            server.cut -= cut
        time.sleep(server.hold)  # an answer that takes a while, so that requests overlap
        with server.lock:
            server.in_flight -= 1
            server.answers += 1
        body = server.body
        sent = body[: len(body) // 2] if cut else body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if server.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n" % len(body) + sent + (b"" if cut else b"\r\n0\r\n\r\n"))
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(sent)
        self.close_connection = cut or server.close_after_answer

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def local_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def page_server(local_ca: trustme.CA, tmp_path: Path) -> Iterator[PageServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    local_ca.issue_cert("127.0.0.1").configure_cert(context)
    local_ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server = PageServer(context, tmp_path / "ca.pem")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _bulk_provider(server: PageServer, **settings: Any) -> Provider:
    """A provider whose interactive client only hands out tokens: the server sees bulk reads."""

    def token(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/oauth/token"
        return httpx.Response(
            200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600}
        )

    interactive = httpx.Client(base_url=server.url, transport=httpx.MockTransport(token))
    config = ProviderConfig(server.url, ca_bundle=server.ca, backoff_base=0.001, **settings)
    return Provider(config, http=interactive)


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    poll(condition, timeout=seconds, every=0.005, what="the server's state")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_cut_short_in_transit_is_retried_and_never_returned(
    page_server: PageServer, chunked: bool
) -> None:
    page_server.chunked = chunked
    page_server.cut = 1
    provider = _bulk_provider(page_server, max_retries=1)
    session = provider.session(VIEWER)
    assert session.list_page_raw({"limit": 1000}) == page_server.body
    assert page_server.answers == 2
    page_server.cut = 2
    returned: list[bytes] = []
    with pytest.raises(ProviderUnavailable, match="connection to the provider failed"):
        returned.append(session.list_page_raw({"limit": 1000}))
    assert returned == [] and page_server.answers == 4
    assert session.list_page_raw({"limit": 1000}) == page_server.body  # and the pool recovered
    provider.close()


def test_a_kept_alive_connection_the_server_closed_is_replaced_not_an_error(
    page_server: PageServer,
) -> None:
    page_server.close_after_answer = True
    provider = _bulk_provider(page_server, max_retries=0)
    session = provider.session(VIEWER)
    assert session.list_page_raw({"limit": 1000}) == page_server.body
    _wait_for(lambda: page_server.closed == 1)  # the pooled connection is now dead
    assert session.list_page_raw({"limit": 1000}) == page_server.body
    assert page_server.connections == 2
    provider.close()


def test_many_threads_share_a_bounded_pool_of_kept_alive_connections(
    page_server: PageServer,
) -> None:
    page_server.hold = 0.02
    provider = _bulk_provider(page_server, max_connections=3)
    session = provider.session(VIEWER)
    with ThreadPoolExecutor(12) as pool:
        pages = list(pool.map(lambda _: session.list_page_raw({"limit": 1000}), range(36)))
    provider.close()
    assert pages == [page_server.body] * 36
    assert page_server.peak == 3  # reached, never more
    assert page_server.connections == 3  # and kept alive: 36 answers over 3 connections
    _wait_for(lambda: page_server.closed == 3)  # closing the provider closed them


def test_a_bulk_page_is_freed_when_dropped_not_left_to_the_cyclic_collector(
    page_server: PageServer,
) -> None:
    provider = _bulk_provider(page_server)
    session = provider.session(VIEWER)
    session.list_page_raw({"limit": 1000})  # the token, fetched once
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            assert session.list_page_raw({"limit": 1000}) == page_server.body
        left = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        gc.enable()
    provider.close()
    # Five dropped pages of 390 KB each: none may still be held (a cycle would hold them all).
    assert left < len(page_server.body) // 2


# -- the CSV export: export_page_raw, and finding out whether the provider offers it -----------


def test_an_export_page_carries_the_page_state_of_its_headers(provider: Provider) -> None:
    session = provider.session(VIEWER)
    first = session.export_page_raw({"limit": 300, "include_total": "true", "status": "captured"})
    listed = session.list_transactions(
        {"limit": 300, "include_total": "true", "status": "captured"}
    )
    assert first.row_count == 300 == first.body.count(b"\n") - 1
    assert first.has_more is True and first.next_cursor is not None
    assert first.total_count == listed.total_count
    ids = [line.split(b",", 1)[0].decode() for line in first.body.splitlines()[1:]]
    assert ids == [row.id for row in listed.data]
    assert "tx_" not in repr(first)  # the rows stay out of reprs and logs


def test_an_answer_that_is_not_an_export_page_is_asked_for_again_then_refused(
    make_sandbox: Any,
) -> None:
    handle = make_sandbox()
    provider = _provider(handle, max_retries=2)
    session = provider.session(VIEWER)
    handle.running.app.faults.schedule("malformed", "/v1/exports/", "GET", 2)
    assert session.export_page_raw({"limit": 5}).row_count == 5
    handle.running.app.faults.schedule("malformed", "/v1/exports/", "GET", 3)
    with pytest.raises(ProviderUnavailable):
        session.export_page_raw({"limit": 5})
    provider.close()


def test_the_export_is_used_where_the_contract_offers_it_and_asked_once(
    make_sandbox: Any,
) -> None:
    offering, plain = make_sandbox(), make_sandbox(export=False)
    with_export, without = _provider(offering), _provider(plain)
    before = offering.running.app.requests_served
    assert [with_export.session(VIEWER).offers_export() for _ in range(3)] == [True] * 3
    assert offering.running.app.requests_served == before + 1  # the contract, read once
    assert without.session(VIEWER).offers_export() is False
    with_export.close()
    without.close()
