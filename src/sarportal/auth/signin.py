"""The sign-in flow: password, then (when enrolled) the second factor, throttled and audited.

Every refusal for a wrong e-mail address, a wrong password or a disabled account is the same
`WRONG_CREDENTIALS`, so the answer never tells whether an account exists.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sarportal.auth import totp
from sarportal.auth.passwords import Passwords
from sarportal.auth.throttle import SignInThrottle
from sarportal.store import Store
from sarportal.store.models import User
from sarportal.store.uow import UnitOfWork


class Outcome(enum.Enum):
    """What a sign-in step ended in."""

    SIGNED_IN = "signed_in"
    NEEDS_SECOND_FACTOR = "needs_second_factor"
    WRONG_CREDENTIALS = "wrong_credentials"
    LOCKED = "locked"
    IP_BLOCKED = "ip_blocked"


@dataclass(frozen=True)
class SignInResult:
    """The outcome of a step, the user it concerns (when known and allowed), and any lock."""

    outcome: Outcome
    user_id: int | None = None
    retry_after: timedelta | None = None


class Authenticator:
    """Checks passwords and second factors against the store, with throttling and audit."""

    def __init__(self, store: Store, passwords: Passwords, throttle: SignInThrottle) -> None:
        self._store = store
        self._passwords = passwords
        self._throttle = throttle

    def check_password(self, email: str, password: str, ip: str) -> SignInResult:
        """The first step: e-mail and password."""
        refused = self._refused(email, ip)
        if refused is not None:
            return refused
        with self._store.unit_of_work() as uow:
            user = uow.users.by_email(email)
            if user is None:
                self._passwords.verify_nobody(password)
                return self._fail(uow, email, ip, None, "unknown_account")
            if not self._passwords.verify(user.password_hash, password):
                return self._fail(uow, email, ip, user, "wrong_password")
            if user.disabled:
                return self._fail(uow, email, ip, user, "disabled")
            if self._passwords.needs_rehash(user.password_hash):
                user.password_hash = self._passwords.hash(password)
            if user.totp_secret_encrypted is not None:
                uow.commit()
                return SignInResult(Outcome.NEEDS_SECOND_FACTOR, user.id)
            return self._succeed(uow, user, "password")

    def check_second_factor(self, user_id: int, code: str, ip: str) -> SignInResult:
        """The second step: a TOTP code or a recovery code of the user who passed step one."""
        with self._store.unit_of_work() as uow:
            user = uow.users.get(user_id)
            if user is None or user.disabled:
                return SignInResult(Outcome.WRONG_CREDENTIALS)
            refused = self._refused(user.email, ip)
            if refused is not None:
                return refused
            secret = uow.users.totp_secret(user)
            if secret is None:
                return self._succeed(uow, user, "password")
            check = totp.check_code(secret, code, self._store.clock(), user.totp_last_step)
            if check.accepted:
                user.totp_last_step = check.step
                return self._succeed(uow, user, "totp")
            remaining = totp.use_recovery_code(list(user.recovery_code_hashes), code)
            if remaining is not None:
                user.recovery_code_hashes = remaining
                return self._succeed(uow, user, "recovery_code")
            return self._fail(uow, user.email, ip, user, "wrong_second_factor")

    def step_up(self, user_id: int, secret: str, ip: str) -> SignInResult:
        """Confirm a signed-in user again (before a sensitive action): password or TOTP code.

        Failures count towards the same lock as sign-in failures; success renews `last_auth_at`.
        """
        with self._store.unit_of_work() as uow:
            user = uow.users.get(user_id)
            if user is None or user.disabled:
                return SignInResult(Outcome.WRONG_CREDENTIALS)
            refused = self._refused(user.email, ip)
            if refused is not None:
                return refused
            method = None
            totp_secret = uow.users.totp_secret(user)
            if totp_secret is not None:
                check = totp.check_code(
                    totp_secret, secret, self._store.clock(), user.totp_last_step
                )
                if check.accepted:
                    user.totp_last_step = check.step
                    method = "totp"
            if method is None and self._passwords.verify(user.password_hash, secret):
                method = "password"
            details = {"method": method} if method else {"reason": "wrong_secret"}
            uow.audit.record(
                "auth.step_up",
                outcome="success" if method else "failure",
                actor_user_id=user.id,
                organisation_id=user.organisation_id,
                target_type="user",
                target_id=user.id,
                details=details,
            )
            if method is None:
                locked = self._throttle.record_failure(user.email, ip)
                uow.commit()
                if locked:
                    return SignInResult(
                        Outcome.LOCKED, retry_after=self._store.settings.lockout_duration
                    )
                return SignInResult(Outcome.WRONG_CREDENTIALS)
            self._throttle.record_success(user.email)
            user.last_auth_at = self._store.clock()
            uow.commit()
            return SignInResult(Outcome.SIGNED_IN, user.id)

    def last_authenticated(self, user_id: int) -> datetime | None:
        """When the user last proved who they are (sign-in or step-up)."""
        with self._store.unit_of_work() as uow:
            user = uow.users.get(user_id)
            return None if user is None else user.last_auth_at

    def _refused(self, email: str, ip: str) -> SignInResult | None:
        if self._throttle.ip_blocked(ip):
            return SignInResult(Outcome.IP_BLOCKED)
        remaining = self._throttle.account_lock_remaining(email)
        if remaining is not None:
            return SignInResult(Outcome.LOCKED, retry_after=remaining)
        return None

    def _fail(
        self, uow: UnitOfWork, email: str, ip: str, user: User | None, reason: str
    ) -> SignInResult:
        locked = self._throttle.record_failure(email, ip)
        organisation_id = None if user is None else user.organisation_id
        target_id = None if user is None else user.id
        uow.audit.record(
            "auth.sign_in",
            outcome="failure",
            organisation_id=organisation_id,
            target_type="user",
            target_id=target_id,
            details={"reason": reason},
        )
        if locked:
            uow.audit.record(
                "auth.locked",
                outcome="success",
                organisation_id=organisation_id,
                target_type="user",
                target_id=target_id,
                details={
                    "minutes": int(self._store.settings.lockout_duration.total_seconds() // 60)
                },
            )
        uow.commit()
        if locked:
            return SignInResult(Outcome.LOCKED, retry_after=self._store.settings.lockout_duration)
        return SignInResult(Outcome.WRONG_CREDENTIALS)

    def _succeed(self, uow: UnitOfWork, user: User, method: str) -> SignInResult:
        self._throttle.record_success(user.email)
        user.last_auth_at = self._store.clock()
        uow.audit.record(
            "auth.sign_in",
            actor_user_id=user.id,
            organisation_id=user.organisation_id,
            target_type="user",
            target_id=user.id,
            details={"method": method},
        )
        uow.commit()
        return SignInResult(Outcome.SIGNED_IN, user.id)
