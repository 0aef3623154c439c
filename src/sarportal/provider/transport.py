"""The connection to the provider: verified TLS, pooled HTTP/1.1 or HTTP/2, timeouts.

Two httpx clients share one configuration: `make_client` (httpx's own transport, HTTP/2 where
offered) for everything interactive, and `make_bulk_client` for the large list pages a statistics
job downloads, over `BulkTransport` (urllib3 on the standard library's http.client, which reads a
body in one buffered call where httpcore and h11 go through Python for every 16 KB TLS record:
with `client._unbound`, 1.2 instead of 2.1 ms CPU per 630 KB page, measured on the sandbox).
This is the one place where httpx's and urllib3's exceptions become the portal's (see `errors.py`).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import urllib3

from sarportal.provider.errors import (
    ProviderError,
    ProviderTimeout,
    ProviderTLSError,
    ProviderUnavailable,
)

log = logging.getLogger("sarportal.provider")

TLS_MESSAGE = "The provider's identity could not be verified."


class InsecureProviderURL(ValueError):
    """The provider URL is not https://; the portal refuses to start with it."""


@dataclass(frozen=True)
class ProviderConfig:
    """Where the provider is and how to reach it safely."""

    base_url: str
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 15.0
    max_retries: int = 3
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_connections: int = 32
    http2: bool = True

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise InsecureProviderURL(
                "the provider URL must start with https:// (plain HTTP is refused): "
                f"{parts.scheme or '?'}://{parts.hostname or '?'}"
            )

    def ssl_context(self) -> ssl.SSLContext:
        """Certificate and host name checked against the CA bundle; TLS 1.2 or newer."""
        if self.ca_bundle is not None:
            context = ssl.create_default_context(cafile=str(self.ca_bundle))
        else:
            context = ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        if self.client_cert is not None:
            context.load_cert_chain(str(self.client_cert))
        return context


def make_client(config: ProviderConfig) -> httpx.Client:
    """A pooled, thread-safe client bound to the provider's base URL."""
    return _client(
        config,
        verify=config.ssl_context(),
        http2=config.http2,
        limits=httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=config.max_connections,
        ),
    )


def make_bulk_client(config: ProviderConfig) -> httpx.Client:
    """Like `make_client`, over HTTP/1.1 with urllib3: for large bodies, which it reads in C."""
    return _client(config, transport=BulkTransport(config))


def _client(config: ProviderConfig, **transport: Any) -> httpx.Client:
    return httpx.Client(
        base_url=config.base_url,
        timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
        follow_redirects=False,
        headers={"User-Agent": "sarportal", "Accept": "application/json"},
        **transport,
    )


class BulkTransport(httpx.BaseTransport):
    """An httpx transport over a bounded urllib3 pool to the provider's origin, with the same TLS.

    urllib3 neither retries nor follows redirects here (the provider client's loop decides), and
    hands over the body undecoded: httpx decodes it, as with its own transport. A kept-alive
    connection the server has closed is noticed before reuse and replaced.
    """

    def __init__(self, config: ProviderConfig) -> None:
        origin = httpx.URL(config.base_url)
        self._pool = urllib3.HTTPSConnectionPool(
            origin.host,
            origin.port or 443,
            # A context of its own: urllib3 sets ALPN to HTTP/1.1 on the context it is given.
            ssl_context=config.ssl_context(),
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
            maxsize=config.max_connections,
            block=True,
            retries=False,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeout, pool_timeout = self._pool.timeout, None
        timeouts = request.extensions.get("timeout")  # set by httpx.Client for each request
        if timeouts is not None:
            timeout = urllib3.Timeout(connect=timeouts["connect"], read=timeouts["read"])
            pool_timeout = timeouts["pool"]
        with _as_httpx_errors(request, tls=httpx.ConnectError):
            response = self._pool.urlopen(
                request.method,
                request.url.raw_path.decode("ascii"),
                body=request.read() or None,
                headers=urllib3.HTTPHeaderDict(request.headers.multi_items()),
                retries=False,
                redirect=False,
                timeout=timeout,
                pool_timeout=pool_timeout,
                preload_content=False,
                decode_content=False,
            )
        try:
            with _as_httpx_errors(request, tls=httpx.ReadError):
                body = response.read(decode_content=False)
        finally:
            response.release_conn()
        return httpx.Response(
            response.status,
            headers=list(response.headers.iteritems()),
            stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def close(self) -> None:
        self._pool.close()


@contextmanager
def _as_httpx_errors(request: httpx.Request, *, tls: type[httpx.TransportError]) -> Iterator[None]:
    """urllib3's exceptions as the httpx ones its own transport raises, the cause chain kept
    (`translated` finds an ssl.SSLError in it); `tls` is the class for a TLS failure."""
    try:
        yield
    except urllib3.exceptions.NewConnectionError as exc:  # a subclass of ConnectTimeoutError
        raise httpx.ConnectError(str(exc), request=request) from exc
    except urllib3.exceptions.ConnectTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc), request=request) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc), request=request) from exc
    except urllib3.exceptions.EmptyPoolError as exc:
        raise httpx.PoolTimeout(str(exc), request=request) from exc
    except urllib3.exceptions.SSLError as exc:
        raise tls(str(exc), request=request) from exc
    except urllib3.exceptions.ProtocolError as exc:  # disconnected, reset, a body cut short
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise httpx.TransportError(str(exc), request=request) from exc


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def translated(method: str, path: str) -> Iterator[None]:
    """Turn httpx's exceptions into the portal's, logging without secrets or data."""
    try:
        yield
    except ProviderError:
        raise
    except httpx.TimeoutException as exc:
        raise ProviderTimeout("The provider did not answer in time.") from exc
    except httpx.ConnectError as exc:
        if _is_tls_failure(exc):
            log.error(
                "provider TLS verification failed for %s %s: %s", method, path, type(exc).__name__
            )
            raise ProviderTLSError(TLS_MESSAGE) from exc
        raise ProviderUnavailable("The provider could not be reached.") from exc
    except httpx.HTTPError as exc:
        if _is_tls_failure(exc):
            log.error("provider TLS failure for %s %s: %s", method, path, type(exc).__name__)
            raise ProviderTLSError(TLS_MESSAGE) from exc
        raise ProviderUnavailable("The connection to the provider failed.") from exc
