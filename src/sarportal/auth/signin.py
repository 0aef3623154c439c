"""The sign-in flow: password, then (when enrolled) the second factor, throttled and audited.

Every refusal for a wrong e-mail address, a wrong password or a disabled account is the same
`WRONG_CREDENTIALS`, so the answer never tells whether an account exists.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

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
            if user.totp_secret_encrypted is None:
                return self._succeed(uow, user, "password")
            method = self._use_second_factor(uow, user, code)
            if method is None:
                return self._fail(uow, user.email, ip, user, "wrong_second_factor")
            return self._succeed(uow, user, method)

    def step_up(self, user_id: int, secret: str, ip: str) -> SignInResult:
        """Confirm a signed-in user again before a sensitive action: with their second factor
        (a TOTP or recovery code) where one is enrolled, else with their password.

        Failures count towards the same lock as sign-in failures. Success says nothing about
        other sessions: the caller renews the freshness of the session that asked."""

        def check(uow: UnitOfWork, user: User) -> str | None:
            if user.totp_secret_encrypted is not None:
                return self._use_second_factor(uow, user, secret)
            return self._password(user, secret)

        return self._confirm(user_id, ip, "auth.step_up", check, audit_success=True)

    def confirm_password(self, user_id: int, password: str, ip: str) -> SignInResult:
        """Check a signed-in user's current password (before they change it): throttled and
        audited like a sign-in, so that the form is no oracle for guessing it."""
        return self._confirm(
            user_id,
            ip,
            "account.password_confirmed",
            lambda _uow, user: self._password(user, password),
            audit_success=False,  # the change that follows is audited
        )

    def _confirm(
        self,
        user_id: int,
        ip: str,
        action: str,
        check: Callable[[UnitOfWork, User], str | None],
        *,
        audit_success: bool,
    ) -> SignInResult:
        """Let `check` prove a signed-in user again (the method it names, or None), counting a
        failure towards the sign-in lock and auditing it as `action`."""
        with self._store.unit_of_work() as uow:
            user = uow.users.get(user_id)
            if user is None or user.disabled:
                return SignInResult(Outcome.WRONG_CREDENTIALS)
            refused = self._refused(user.email, ip)
            if refused is not None:
                return refused
            method = check(uow, user)
            if method is None or audit_success:
                uow.audit.record_own(
                    action,
                    user,
                    details={"method": method} if method else {"reason": "wrong_secret"},
                    outcome="success" if method else "failure",
                )
            if method is None:
                locked = self._throttle.record_failure(user.email, ip)
                return self._failed(uow, locked, user.organisation_id, user.id)
            self._throttle.record_success(user.email)
            uow.commit()
            return SignInResult(Outcome.SIGNED_IN, user.id)

    def _password(self, user: User, password: str) -> str | None:
        return "password" if self._passwords.verify(user.password_hash, password) else None

    def _use_second_factor(self, uow: UnitOfWork, user: User, code: str) -> str | None:
        """Use `code` as the user's second factor: "totp" or "recovery_code" when it was valid
        and this request is the one that used it (a compare-and-set in the store), else None."""
        secret = uow.users.totp_secret(user)
        if secret is None:
            return None
        check = totp.check_code(secret, code, self._store.clock(), user.totp_last_step)
        if check.accepted and check.step is not None:
            return self._claimed(uow, "totp", uow.users.claim_totp_step(user.id, check.step))
        for stored in uow.recovery_codes.unused(user.id):
            if totp.recovery_code_matches(stored.code_hash, code):
                return self._claimed(uow, "recovery_code", uow.recovery_codes.claim(stored.id))
        return None

    @staticmethod
    def _claimed(uow: UnitOfWork, method: str, won: bool) -> str | None:
        # The use is made final at once: racing requests wait only this long for the row, and
        # on SQLite the throttle's counters (written next, on a connection of their own) need
        # the write lock that the claim's UPDATE holds until its transaction ends.
        uow.commit()
        return method if won else None

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
        return self._failed(uow, locked, organisation_id, target_id)

    def _failed(
        self, uow: UnitOfWork, locked: bool, organisation_id: int | None, target_id: int | None
    ) -> SignInResult:
        """Commit a failure (audited by the caller); a failure that locked the account is
        audited as the lock too."""
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
        uow.audit.record_own("auth.sign_in", user, details={"method": method})
        uow.commit()
        return SignInResult(Outcome.SIGNED_IN, user.id)
