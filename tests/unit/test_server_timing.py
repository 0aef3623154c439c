"""The `Server-Timing` header: provider time summed per request, the rest is the portal's."""

from __future__ import annotations

import time
from typing import Any

from sarportal.provider.timing import ProviderTimer, provider_call, timing
from sarportal.web.core.timing import ServerTiming, server_timing


def test_provider_calls_count_only_inside_a_timing_block() -> None:
    with provider_call():  # outside: nothing to add to, nothing fails
        pass
    with timing() as timer:
        with provider_call():
            time.sleep(0.01)
        with provider_call():
            pass
    assert timer.calls == 2
    assert timer.seconds >= 0.01


def test_the_header_splits_the_total_into_provider_and_app() -> None:
    value = server_timing(0.050, ProviderTimer(seconds=0.030, calls=2))
    assert value == 'provider;dur=30.00;desc="2 calls", app;dur=20.00'


def test_the_middleware_adds_the_header_with_the_provider_time() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with provider_call():
            time.sleep(0.005)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> None:
        seen.update(headers)

    assert ServerTiming(app)({}, start_response) == [b"ok"]  # type: ignore[arg-type]
    provider = float(seen["Server-Timing"].split("dur=")[1].split(";")[0])
    assert provider >= 5.0
    assert 'desc="1 calls"' in seen["Server-Timing"]
