"""The `Server-Timing` header: how long the portal took, and how much of it was the provider.

Every response carries ``Server-Timing: provider;dur=12.41;desc="2 calls", app;dur=3.07``:
`provider` is the time spent in HTTP exchanges with the payment provider while answering
(`provider.timing`), `app` the rest, the portal's own time (routing, sign-in check, database,
rendering, the session). Both are milliseconds. Browsers show them in their developer tools, and
`make bench` reads them to measure the portal's own latency. It wraps the WSGI app, so the header
is set when the response starts, after everything Flask does for the request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sarportal.provider.timing import ProviderTimer, timing

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

HEADER = "Server-Timing"


def server_timing(total: float, timer: ProviderTimer) -> str:
    """The header's value for `total` seconds of which `timer` was the provider's."""
    provider = min(timer.seconds, total)
    return (
        f'provider;dur={provider * 1000:.2f};desc="{timer.calls} calls", '
        f"app;dur={(total - provider) * 1000:.2f}"
    )


class ServerTiming:
    """WSGI middleware that times each request and adds the `Server-Timing` header."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        with timing() as timer:

            def timed(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
                value = server_timing(time.perf_counter() - started, timer)
                return start_response(status, [*headers, (HEADER, value)], *args)

            return self.app(environ, timed)
