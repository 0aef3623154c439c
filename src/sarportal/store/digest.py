"""One-way digests for high-entropy tokens (session ids, API tokens, invitation links)."""

from __future__ import annotations

import hashlib


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a random token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
