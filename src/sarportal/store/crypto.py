"""Encryption at rest of the secrets the portal must read back (provider secrets, TOTP seeds).

MultiFernet over `SARPORTAL_ENCRYPTION_KEYS`, newest key first: new values are encrypted with the
newest key, any listed key decrypts, and `rotate` re-encrypts a value under the newest key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted with any configured key."""


class SecretBox:
    """Encrypts and decrypts short secrets with the configured Fernet keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        """A Fernet token for `plaintext`, under the newest key."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext behind `token`; SecretDecryptionError when no key fits."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretDecryptionError(
                "no configured encryption key decrypts this secret"
            ) from exc

    def rotate(self, token: str) -> str:
        """`token` re-encrypted under the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise SecretDecryptionError(
                "no configured encryption key decrypts this secret"
            ) from exc
