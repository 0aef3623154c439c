"""Uploaded files stay in memory: an upload may be a bank statement, which names people, and
Werkzeug would write any file over 500 KB to a temporary file on disk. The app's request size
limit (`MAX_CONTENT_LENGTH`) bounds the memory; a view that takes larger files says so with
`allow_larger_uploads` (the limit must hold before the view runs: the CSRF check reads the
form first)."""

from __future__ import annotations

import io
from typing import IO

from flask import Request

LARGER_UPLOADS: dict[str, int] = {}


def allow_larger_uploads(endpoint: str, max_bytes: int) -> None:
    """Let requests to `endpoint` carry up to `max_bytes` (the whole request)."""
    LARGER_UPLOADS[endpoint] = max_bytes


class InMemoryUploads(Request):
    """The portal's request class: every uploaded file is buffered in memory, never on disk."""

    @property
    def max_content_length(self) -> int | None:
        larger = LARGER_UPLOADS.get(self.endpoint or "")
        if larger is not None and self._max_content_length is None:
            return larger
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()
