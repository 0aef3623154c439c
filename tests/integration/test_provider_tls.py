"""Verified TLS: the provider client refuses every server it cannot trust, and says so clearly.

The sandbox always presents a good certificate, so these cases need servers of their own: a few
lines of `http.server` behind TLS contexts made with trustme, answering like the provider would
if the handshake ever succeeded (so a wrongly accepted connection shows up as data).
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

import pytest
import trustme

from sarportal.provider import Credentials, InsecureProviderURL, Provider, ProviderConfig
from sarportal.provider.errors import ProviderTLSError

SECRET = "tls-test-secret-value"
CREDENTIALS = Credentials("tls-client", SECRET)


class _ProviderLike(BaseHTTPRequestHandler):
    def _answer(self, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self) -> None:
        self._answer({"data": [], "has_more": False, "next_cursor": None})

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProviderLike)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
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


def _list(url: str, ca_file: Path, **config: object) -> None:
    provider = Provider(ProviderConfig(url, ca_bundle=ca_file, max_retries=0, **config))  # type: ignore[arg-type]
    try:
        provider.session(CREDENTIALS).list_transactions({"limit": 1})
    finally:
        provider.close()


def test_a_good_server_is_trusted(ca: trustme.CA, ca_file: Path) -> None:
    with tls_server(_server_context(ca.issue_cert("127.0.0.1"))) as url:
        _list(url, ca_file)


def test_unknown_ca_is_refused(ca_file: Path) -> None:
    context = _server_context(trustme.CA().issue_cert("127.0.0.1"))
    with tls_server(context) as url, pytest.raises(ProviderTLSError):
        _list(url, ca_file)


def test_wrong_host_name_is_refused(ca: trustme.CA, ca_file: Path) -> None:
    context = _server_context(ca.issue_cert("provider.example"))
    with tls_server(context) as url, pytest.raises(ProviderTLSError):
        _list(url, ca_file)


def test_expired_certificate_is_refused(ca: trustme.CA, ca_file: Path) -> None:
    now = datetime.now(UTC)
    expired = ca.issue_cert(
        "127.0.0.1", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    with tls_server(_server_context(expired)) as url, pytest.raises(ProviderTLSError):
        _list(url, ca_file)


def test_server_offering_only_tls_1_1_is_refused(ca: trustme.CA, ca_file: Path) -> None:
    context = _server_context(ca.issue_cert("127.0.0.1"))
    context.minimum_version = ssl.TLSVersion.TLSv1  # the point of the test
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with tls_server(context) as url, pytest.raises(ProviderTLSError):
        _list(url, ca_file)


def test_server_requiring_a_client_certificate(
    ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    context = _server_context(ca.issue_cert("127.0.0.1"))
    context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(context)
    with tls_server(context) as url:
        with pytest.raises(ProviderTLSError):
            _list(url, ca_file)
        client_pem = tmp_path / "client.pem"
        ca.issue_cert("sarportal-client@example").private_key_and_cert_chain_pem.write_to_path(
            str(client_pem)
        )
        _list(url, ca_file, client_cert=client_pem)


def test_plain_http_provider_url_is_refused_at_start() -> None:
    with pytest.raises(InsecureProviderURL, match="https://"):
        ProviderConfig("http://127.0.0.1:8443")
    with pytest.raises(InsecureProviderURL):
        ProviderConfig("ftp://127.0.0.1")


def test_tls_failure_is_logged_without_secrets(
    ca_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context = _server_context(trustme.CA().issue_cert("127.0.0.1"))
    logs = caplog.at_level(logging.DEBUG, logger="sarportal")
    with tls_server(context) as url, logs, pytest.raises(ProviderTLSError):
        _list(url, ca_file)
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
    with tls_server(context) as url, caplog.at_level(logging.WARNING):
        app = make_provider_app(url=url, ca=ca_file)
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
