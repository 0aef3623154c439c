"""A contestation as the provider's contract accepts it (design §4, `/v1/claims/{id}/contestation`).

The portal checks the statement and the files before sending, so that a refusal names the
field and keeps what was typed: 1 to 5,000 characters of text (not only blanks), at most 5 files
of PDF, PNG or JPEG, each at most 5 MB, together at most 10 MB (1 MB = 2^20 bytes). A file's
type is what its first bytes say, not what the browser declared (many send PDF as
`application/octet-stream`); its name is reduced to the last path segment without control
characters. Nothing here keeps a byte: the files travel on to the provider in memory.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

MB: Final = 1024 * 1024
MAX_TEXT: Final = 5000
MAX_FILES: Final = 5
MAX_FILE: Final = 5 * MB
MAX_FILES_TOTAL: Final = 10 * MB
MAX_FILENAME: Final = 255
SIGNATURES: Final = {
    "application/pdf": (b"%PDF", "pdf"),
    "image/png": (b"\x89PNG\r\n\x1a\n", "png"),
    "image/jpeg": (b"\xff\xd8\xff", "jpg"),
}


@dataclass(frozen=True)
class Upload:
    """A file to pass through to the provider: its name, its type and its bytes."""

    filename: str
    content_type: str
    data: bytes


class ContestationError(ValueError):
    """Why a contestation cannot be sent: the `field` (`text` or `evidence`), a `reason` code
    (`text_missing`, `text_too_long`, `too_many_files`, `file_type`, `file_too_large`,
    `files_too_large`) and, for one file's problem, its `filename`."""

    def __init__(self, field: str, reason: str, filename: str = "") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.filename = filename


@dataclass(frozen=True)
class Contestation:
    """A checked statement and its evidence, ready to pass through."""

    text: str
    evidence: tuple[Upload, ...]


def sniffed_type(data: bytes) -> str | None:
    """PDF, PNG or JPEG by the file's first bytes; None for anything else."""
    for content_type, (signature, _suffix) in SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    return None


def safe_filename(raw: str, content_type: str, number: int) -> str:
    """The last path segment without control characters; a made-up name when nothing is left."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if not name:
        name = f"evidence-{number}.{SIGNATURES[content_type][1]}"
    if len(name) > MAX_FILENAME:
        stem, dot, suffix = name.rpartition(".")
        keep = MAX_FILENAME - len(dot + suffix) if dot and len(suffix) <= 8 else MAX_FILENAME
        name = (stem[:keep] + dot + suffix) if dot and len(suffix) <= 8 else name[:keep]
    return name


def check_contestation(text: str, files: Sequence[tuple[str, bytes]]) -> Contestation:
    """The contestation of `text` and `files` (name, bytes), or the first `ContestationError`
    (the text is checked before the files)."""
    statement = text.strip()
    if not statement:
        raise ContestationError("text", "text_missing")
    if len(statement) > MAX_TEXT:
        raise ContestationError("text", "text_too_long")
    if len(files) > MAX_FILES:
        raise ContestationError("evidence", "too_many_files")
    uploads = []
    for number, (raw_name, data) in enumerate(files, start=1):
        content_type = sniffed_type(data)
        shown = raw_name.replace("\\", "/").rsplit("/", 1)[-1][:80]
        if content_type is None:
            raise ContestationError("evidence", "file_type", shown)
        if len(data) > MAX_FILE:
            raise ContestationError("evidence", "file_too_large", shown)
        uploads.append(Upload(safe_filename(raw_name, content_type, number), content_type, data))
    if sum(len(u.data) for u in uploads) > MAX_FILES_TOTAL:
        raise ContestationError("evidence", "files_too_large")
    return Contestation(statement, tuple(uploads))
