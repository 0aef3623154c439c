"""The connection to the provider: verified TLS, pooled HTTP/1.1 or HTTP/2, timeouts.

This is the one place where httpx's exceptions become the portal's (see `errors.py`).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

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
    return httpx.Client(
        base_url=config.base_url,
        verify=config.ssl_context(),
        http2=config.http2,
        timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
        limits=httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=config.max_connections,
        ),
        follow_redirects=False,
        headers={"User-Agent": "sarportal", "Accept": "application/json"},
    )


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
