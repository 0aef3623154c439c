"""Helpers for the sandbox's claim tests: a sandbox with enough open claims, a picker that hands
each claim to one test only, small evidence files, and a contestation request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from sarportal.sandbox.config import SandboxConfig
from sarportal.sandbox.server import sandbox_in_thread
from tests.fixtures.sandbox import SandboxHandle

# Claims stay open for their last 10 days only, about one in 60 of them: at this size the
# merchant has ~2,300 claims and ~40 open ones, starting in well under a second.
CLAIMS_TRANSACTIONS = 160_000
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
MB = 1024 * 1024
Files = Sequence[tuple[str, tuple[str | None, bytes, str | None]]]


@contextmanager
def claims_sandbox(state_dir: Path, **settings: Any) -> Iterator[SandboxHandle]:
    """A sandbox of one's own, big enough for the claims the tests answer."""
    settings.setdefault("transactions", CLAIMS_TRANSACTIONS)
    config = SandboxConfig(state_dir=state_dir, port=0, seed=11, **settings)
    with sandbox_in_thread(config) as running:
        yield SandboxHandle(running, state_dir)


class ClaimPicker:
    """Hands out claims in a wanted status that no other test has taken."""

    def __init__(self, handle: SandboxHandle) -> None:
        self._handle = handle
        self._taken: set[str] = set()

    def take(self, status: str, **filters: Any) -> dict[str, Any]:
        with self._handle.client("demo-viewer") as client:
            page = client.get("/v1/claims", params={"status": status, "limit": 1000, **filters})
        for claim in page.json()["data"]:
            if claim["id"] not in self._taken:
                self._taken.add(claim["id"])
                return dict(claim)
        raise LookupError(f"no untouched claim with status {status}")


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def evidence(*files: tuple[str, bytes, str]) -> Files:
    return [("evidence", file) for file in files]


def contest(
    client: httpx.Client,
    claim_id: str,
    text: str | None = "Delivered on time; the carrier's proof is attached.",
    files: Files = (),
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a contestation as multipart/form-data; the text goes as a plain part (no file
    name), so that a text-only contestation is multipart too."""
    parts: Files = [] if text is None else [("text", (None, text.encode(), None))]
    return client.post(
        f"/v1/claims/{claim_id}/contestation",
        files=[*parts, *files],
        headers=key() if headers is None else headers,
    )
