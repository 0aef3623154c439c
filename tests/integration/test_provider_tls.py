"""Verified TLS: the provider client refuses every server it cannot trust, and says so clearly.

The sandbox always presents a good certificate, so these cases need servers of their own: a few
lines of `http.server` behind TLS contexts made with trustme, answering like the provider would
if the handshake ever succeeded (so a wrongly accepted connection shows up as data), and noting
each request that got through.

Each promise holds for both of the provider's clients: the interactive one (`list_transactions`,
`offers_export`, which reads the provider's contract, and `payout_export`, which streams) and
the bulk one (`list_page_raw` and
`export_page_raw`). For the bulk reads the token comes from a fake interactive client, so that the
bulk client's connection is the first and only contact with the server.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from sarportal.provider import Credentials, InsecureProviderURL, Provider, ProviderConfig
from sarportal.provider.errors import ProviderTLSError

SECRET = "tls-test-secret-value"
CREDENTIALS = Credentials("tls-client", SECRET)
TOKEN = {"access_token": "t", "token_type": "Bearer", "expires_in": 3600}
PAGE: dict[str, object] = {"data": [], "has_more": False, "next_cursor": None}
EXPORT_CSV = b"id,created_at\n"
CONTRACT = {"openapi": "3.1.0", "paths": {"/v1/exports/transactions": {"get": {}}}}
PAYOUT_CSV = b"payout_id,type,amount\n"
READS = ("list_transactions", "list_page_raw", "export_page_raw", "offers_export", "payout_export")
BULK_READS = ("list_page_raw", "export_page_raw")


class _ProviderLike(BaseHTTPRequestHandler):
    def _answer(
        self, body: dict[str, object] | bytes, media_type: str = "application/json", **headers: str
    ) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(TOKEN)

    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/v1/payouts/"):
            self._answer(PAYOUT_CSV, "text/csv", X_Line_Count="0")
        elif self.path.startswith("/v1/exports/"):
            self._answer(EXPORT_CSV, "text/csv", X_Has_More="false", X_Row_Count="0")
        elif self.path == "/openapi.json":
            self._answer(CONTRACT)
        else:
            self._answer(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        return


class Served:
    """A running server: its URL and the paths of the requests that reached it."""

    def __init__(self, url: str, paths: list[str]) -> None:
        self.url = url
        self.paths = paths


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[Served]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProviderLike)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    paths: list[str] = []
    server.paths = paths  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"https://127.0.0.1:{server.server_address[1]}", paths)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@pytest.fixture(params=READS)
def read(request: pytest.FixtureRequest) -> str:
    """The read to try: over the interactive client, or over the bulk one."""
    return str(request.param)


def _token_only(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/oauth/token", "a bulk read went through the interactive client"
    return httpx.Response(200, json=TOKEN)


def _read(url: str, ca_file: Path, read: str, **config: Any) -> Any:
    """One page from the server at `url` with `read`; what it returned."""
    interactive = None
    if read in BULK_READS:
        interactive = httpx.Client(base_url=url, transport=httpx.MockTransport(_token_only))
    provider = Provider(
        ProviderConfig(url, ca_bundle=ca_file, max_retries=0, **config), http=interactive
    )
    try:
        session = provider.session(CREDENTIALS)
        if read == "offers_export":
            return session.offers_export()
        if read == "payout_export":
            with session.payout_export("po_1", "csv") as file:
                return b"".join(file.chunks())
        return getattr(session, read)({"limit": 1})
    finally:
        provider.close()


def _refused(served: Served, ca_file: Path, read: str, **config: Any) -> None:
    """The read fails as untrusted, returns nothing, and no request reached the server."""
    returned: list[Any] = []
    with pytest.raises(ProviderTLSError, match="identity could not be verified"):
        returned.append(_read(served.url, ca_file, read, **config))
    assert returned == []
    assert served.paths == [], "a request was sent to a server that is not trusted"


def _accepted(served: Served, ca_file: Path, read: str, **config: Any) -> None:
    """The read returns the server's (empty) page, asked for over the client under test."""
    returned = _read(served.url, ca_file, read, **config)
    if read == "list_page_raw":
        assert json.loads(returned) == PAGE
        assert served.paths == ["/v1/transactions?limit=1"]
    elif read == "export_page_raw":
        assert returned.body == EXPORT_CSV and returned.row_count == 0
        assert served.paths == ["/v1/exports/transactions?limit=1"]
    elif read == "payout_export":
        assert returned == PAYOUT_CSV
        assert served.paths == ["/oauth/token", "/v1/payouts/po_1/export?format=csv"]
    elif read == "offers_export":
        assert returned is True
        assert served.paths == ["/openapi.json"]
    else:
        assert returned.data == [] and returned.has_more is False
        assert served.paths == ["/oauth/token", "/v1/transactions?limit=1"]


def test_a_good_server_is_trusted(ca: trustme.CA, ca_file: Path, read: str) -> None:
    with tls_server(_server_context(ca.issue_cert("127.0.0.1"))) as served:
        _accepted(served, ca_file, read)


def test_unknown_ca_is_refused(ca_file: Path, read: str) -> None:
    context = _server_context(trustme.CA().issue_cert("127.0.0.1"))
    with tls_server(context) as served:
        _refused(served, ca_file, read)


def test_wrong_host_name_is_refused(ca: trustme.CA, ca_file: Path, read: str) -> None:
    context = _server_context(ca.issue_cert("provider.example"))
    with tls_server(context) as served:
        _refused(served, ca_file, read)


def test_expired_certificate_is_refused(ca: trustme.CA, ca_file: Path, read: str) -> None:
    now = datetime.now(UTC)
    expired = ca.issue_cert(
        "127.0.0.1", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    with tls_server(_server_context(expired)) as served:
        _refused(served, ca_file, read)


def test_server_offering_only_tls_1_1_is_refused(ca: trustme.CA, ca_file: Path, read: str) -> None:
    context = _server_context(ca.issue_cert("127.0.0.1"))
    context.minimum_version = ssl.TLSVersion.TLSv1  # the point of the test
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with tls_server(context) as served:
        _refused(served, ca_file, read)


def test_server_requiring_a_client_certificate(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, read: str
) -> None:
    context = _server_context(ca.issue_cert("127.0.0.1"))
    context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(context)
    with tls_server(context) as served:
        _refused(served, ca_file, read)
        client_pem = tmp_path / "client.pem"
        ca.issue_cert("sarportal-client@example").private_key_and_cert_chain_pem.write_to_path(
            str(client_pem)
        )
        _accepted(served, ca_file, read, client_cert=client_pem)


def test_plain_http_provider_url_is_refused_at_start() -> None:
    with pytest.raises(InsecureProviderURL, match="https://"):
        ProviderConfig("http://127.0.0.1:8443")
    with pytest.raises(InsecureProviderURL):
        ProviderConfig("ftp://127.0.0.1")


def test_tls_failure_is_logged_without_secrets(
    ca_file: Path, caplog: pytest.LogCaptureFixture, read: str
) -> None:
    context = _server_context(trustme.CA().issue_cert("127.0.0.1"))
    logs = caplog.at_level(logging.DEBUG, logger="sarportal")
    with tls_server(context) as served, logs:
        _refused(served, ca_file, read)
    assert "TLS verification failed" in caplog.text
    assert SECRET not in caplog.text and "tls-client" not in caplog.text


def test_the_portal_shows_a_clear_message_and_no_data_when_tls_fails(
    make_provider_app: Any, ca_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the portal: a provider with a certificate nobody vouches for is refused, the user
    reads what happened, nothing is shown, and the log holds no secret."""
    from sarportal.domain.roles import Role
    from tests.fixtures.portal import new_client, sign_in
    from tests.fixtures.portal_provider import make_provider_user

    context = _server_context(trustme.CA().issue_cert("127.0.0.1"))
    with tls_server(context) as served, caplog.at_level(logging.WARNING):
        app = make_provider_app(url=served.url, ca=ca_file)
        user = make_provider_user(app, Role.OPERATOR)
        client = new_client(app)
        assert sign_in(client, user.email) == 303
        for path in ("/transactions", "/transactions/tx_0123456789abcdef"):
            page = client.get(path)
            assert page.status_code == 502, (path, page.status_code)
            assert "identity could not be verified" in page.text
            assert "<tbody" not in page.text  # no table of data, not even an empty one
        answer = client.get("/api/v1/transactions", headers={"Accept": "application/json"})
        assert answer.status_code == 502
        assert answer.json is not None and answer.json["code"] == "provider_untrusted"
    assert "demo-operator-secret" not in caplog.text
