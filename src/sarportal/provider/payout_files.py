"""A payout's accounting file (CSV, DATEV, camt.053) on its way from the provider to the user.

The file is passed on chunk by chunk, never held whole; its lines are counted as they pass, so a
file that arrives with fewer lines than the provider announced ends in an error instead of
reaching the user as if complete.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx

from sarportal.domain.vocabulary import PayoutFormat
from sarportal.provider.errors import ProviderUnavailable
from sarportal.provider.transport import translated

log = logging.getLogger("sarportal.provider")
CHUNK_BYTES = 256 * 1024
"""How much of the file is passed on at a time: large enough that the copy per chunk vanishes,
small enough that memory stays flat."""

PAYOUT_FILES: dict[PayoutFormat, tuple[str, str]] = {
    "csv": ("text/csv", "csv"),
    "datev": ("text/csv", "csv"),
    "camt053": ("application/xml", "xml"),
}
"""Per export format: the media type the provider must answer with, and the file extension."""
HEADER_LINES: dict[PayoutFormat, int] = {"csv": 1, "datev": 2}
FILENAME = re.compile(r'filename="([A-Za-z0-9._-]{1,100})"')


class PayoutFile:
    """A payout export on its way from the provider: media type, file name, and the body in
    chunks. The chunks end with an error when the file arrives with fewer lines than the
    provider announced (`X-Line-Count`), so a cut-off file is never passed on as complete."""

    def __init__(self, response: httpx.Response, payout_id: str, fmt: PayoutFormat) -> None:
        media_type, extension = PAYOUT_FILES[fmt]
        answered = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
        count = response.headers.get("x-line-count") or ""
        if answered != media_type or not count.isdigit():
            raise ProviderUnavailable(
                "The provider's answer could not be read.", status=response.status_code
            )
        named = FILENAME.search(response.headers.get("content-disposition") or "")
        self.filename = named.group(1) if named else f"payout-{payout_id}.{extension}"
        self.content_type = response.headers["content-type"]
        self.line_count = int(count)
        self._response = response
        self._format = fmt

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives, checked for completeness at its end."""
        counter = _LineCounter(self._format)
        with translated("GET", "/v1/payouts/{id}/export"):
            for chunk in self._response.iter_bytes(CHUNK_BYTES):
                counter.feed(chunk)
                yield chunk
        if counter.lines != self.line_count:
            log.warning(
                "provider payout export cut short: %d of %d lines", counter.lines, self.line_count
            )
            raise ProviderUnavailable("The provider's file arrived incomplete.")


class _LineCounter:
    """Counts the payout lines in an export while it streams: text lines after the header for
    the CSV formats, `<Ntry>` elements for camt.053 (split across chunks or not)."""

    ENTRY = b"<Ntry>"

    def __init__(self, fmt: PayoutFormat) -> None:
        self._header = HEADER_LINES.get(fmt)
        self._seen = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if self._header is not None:
            self._seen += chunk.count(b"\n")
            return
        text = self._tail + chunk
        self._seen += text.count(self.ENTRY)
        self._tail = text[-(len(self.ENTRY) - 1) :]

    @property
    def lines(self) -> int:
        return self._seen - self._header if self._header is not None else self._seen
