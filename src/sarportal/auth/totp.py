"""TOTP second factor: enrolment, verification that accepts each code once, recovery codes."""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno

from sarportal.store.digest import token_digest

ISSUER = "sarportal"
RECOVERY_CODE_COUNT = 10


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
    """Ten one-time recovery codes, shown to the user once."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_code_hash(code: str) -> str:
    """The stored form of a recovery code (case and separators ignored)."""
    return token_digest("".join(ch for ch in code.lower() if ch.isalnum()))


def use_recovery_code(stored: list[str], code: str) -> list[str] | None:
    """The remaining hashes when `code` is one of `stored`, else None."""
    wanted = recovery_code_hash(code)
    for candidate in stored:
        if hmac.compare_digest(candidate, wanted):
            return [h for h in stored if h != candidate]
    return None
