"""A contestation's `multipart/form-data` body: parsed, checked against the contract, and kept as
metadata only.

The standard library's email parser reads the parts (`policy=HTTP`), which for the largest body
the contract allows, 10 MB of evidence, takes a fifth of a second. A file counts as PDF, PNG or
JPEG only when its declared type and its first bytes agree. Of each file the sandbox keeps the
name, the type, the size and the SHA-256, never the bytes.
"""

from __future__ import annotations

import email.policy
import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from sarportal.sandbox.errors import Problem

MB = 1024 * 1024
MAX_TEXT = 5000
MAX_FILES = 5
MAX_FILE = 5 * MB
MAX_FILES_TOTAL = 10 * MB
MAX_FILENAME = 255
# The whole body: the files, the text, and room for the parts' headers.
MAX_BODY = MAX_FILES_TOTAL + 64 * 1024
SIGNATURES = {
    "application/pdf": b"%PDF",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}


@dataclass(frozen=True)
class Evidence:
    """What the sandbox keeps of an evidence file."""

    filename: str
    content_type: str
    size: int
    sha256: str

    def json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Contestation:
    """The merchant's statement and its evidence, as checked."""

    text: str
    evidence: tuple[Evidence, ...]

    def fingerprint(self) -> bytes:
        """What makes two contestations the same request: the text and the files' SHA-256s, in
        order (not their names)."""
        return "\0".join((self.text, *(e.sha256 for e in self.evidence))).encode()


def _parts(content_type: str | None, body: bytes) -> list[EmailMessage]:
    if len(body) > MAX_BODY:
        raise Problem.invalid(
            "evidence", f"The evidence files together exceed {MAX_FILES_TOTAL // MB} MB."
        )
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise Problem.invalid("body", "The body must be multipart/form-data.")
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert isinstance(message, EmailMessage)  # noqa: S101 - what policy=HTTP makes
    parts = list(message.iter_parts())
    if not message.is_multipart() or message.defects or not parts:
        raise Problem.invalid("body", "The multipart/form-data body is malformed.")
    return [part for part in parts if isinstance(part, EmailMessage)]


def _evidence(part: EmailMessage, payload: bytes) -> Evidence:
    raw_name = part.get_filename()
    filename = (raw_name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not 1 <= len(filename) <= MAX_FILENAME:
        raise Problem.invalid("evidence", "Each evidence file needs a file name.")
    content_type = part.get_content_type()
    signature = SIGNATURES.get(content_type)
    if signature is None or not payload.startswith(signature):
        raise Problem.invalid(
            "evidence", f"'{filename}' is not a PDF, PNG or JPEG file (by its type and content)."
        )
    if len(payload) > MAX_FILE:
        raise Problem.invalid("evidence", f"'{filename}' is larger than {MAX_FILE // MB} MB.")
    return Evidence(filename, content_type, len(payload), hashlib.sha256(payload).hexdigest())


def parse_contestation(content_type: str | None, body: bytes) -> Contestation:
    """The contestation in the body, or a refusal naming `text`, `evidence` or the body."""
    texts: list[str] = []
    evidence: list[Evidence] = []
    for part in _parts(content_type, body):
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise Problem.invalid("body", "Each part needs a name in its Content-Disposition.")
        if name == "text":
            try:
                texts.append(payload.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise Problem.invalid("text", "'text' must be UTF-8.") from exc
        elif name == "evidence":
            evidence.append(_evidence(part, payload))
        else:
            raise Problem.invalid(name, f"Unknown field '{name}'.")
    if len(texts) != 1 or not 1 <= len(texts[0].strip()) <= MAX_TEXT:
        raise Problem.invalid("text", f"'text' is required, once: 1 to {MAX_TEXT} characters.")
    if len(evidence) > MAX_FILES:
        raise Problem.invalid("evidence", f"At most {MAX_FILES} evidence files.")
    if sum(e.size for e in evidence) > MAX_FILES_TOTAL:
        raise Problem.invalid(
            "evidence", f"The evidence files together exceed {MAX_FILES_TOTAL // MB} MB."
        )
    return Contestation(texts[0].strip(), tuple(evidence))
