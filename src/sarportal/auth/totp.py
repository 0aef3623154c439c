"""TOTP second factor: enrolment, code checks, recovery codes.

The checks here are pure; that a code (or a time step) is used only once, even by requests
racing each other, is the store's compare-and-set (`Users.claim_totp_step`,
`RecoveryCodes.claim`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno

from sarportal.store.digest import token_digest

ISSUER = "sarportal"
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: 5 bits a symbol
RECOVERY_CODE_LENGTH = 16  # 80 bits
SALTED = "s1"
LEGACY = "sha256"  # codes made before migration 0005: unsalted digests, still usable once
_LOOKALIKES = str.maketrans({"o": "0", "i": "1", "l": "1"})


@dataclass(frozen=True)
class TotpCheck:
    """The outcome of a code check: accepted, and the time step to remember when it was."""

    accepted: bool
    step: int | None = None


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """An SVG QR code of `uri` as a data: URI, for an <img> (allowed by the CSP's img-src)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def check_code(secret: str, code: str, now: datetime, last_step: int | None) -> TotpCheck:
    """Accept a 6-digit code of the current step (±1 for clock drift) not used before."""
    digits = "".join(code.split())
    if len(digits) != 6 or not digits.isdigit():
        return TotpCheck(accepted=False)
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return TotpCheck(accepted=True, step=step)
    return TotpCheck(accepted=False)


def new_recovery_codes() -> list[str]:
    """Ten one-time recovery codes of 80 random bits each, shown to the user once.

    16 symbols of Crockford's base32 (no i, l, o or u), in groups of four."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)))
    return codes


def _normalised(code: str) -> str:
    """A code as typed, reduced to its symbols: case, spaces and dashes ignored, and the
    letters people mistake for digits read as those digits (Crockford's rule)."""
    symbols = "".join(ch for ch in code.lower() if ch.isalnum())
    return symbols.translate(_LOOKALIKES)


def recovery_code_hash(code: str) -> str:
    """The stored form of a recovery code: `s1$<salt>$<HMAC-SHA256 of the code by the salt>`."""
    salt = secrets.token_hex(16)
    return f"{SALTED}${salt}${_salted_digest(salt, _normalised(code))}"


def recovery_code_matches(stored: str, code: str) -> bool:
    """Whether `code` is the one stored as `stored` (salted, or a digest of an older code)."""
    scheme, _, rest = stored.partition("$")
    if scheme == SALTED:
        salt, _, digest = rest.partition("$")
        return hmac.compare_digest(_salted_digest(salt, _normalised(code)), digest)
    if scheme == LEGACY:
        legacy = token_digest("".join(ch for ch in code.lower() if ch.isalnum()))
        return hmac.compare_digest(legacy, rest)
    return False


def _salted_digest(salt: str, normalised: str) -> str:
    return hmac.new(salt.encode("ascii"), normalised.encode("utf-8"), hashlib.sha256).hexdigest()
