"""Settings from the environment (design §8) and the instance folder, in one typed object.

`Settings.from_env()` is what the CLI and the app factory use; tests build `Settings` directly
and hand in their own collaborators (the clock, weaker password-hash parameters).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class ConfigurationError(RuntimeError):
    """The environment does not describe a portal that may start."""


@dataclass(frozen=True)
class Argon2Parameters:
    """Cost of the argon2id password hash; tests lower it, production keeps the defaults."""

    time_cost: int = 3
    memory_cost_kib: int = 65536
    parallelism: int = 4


@dataclass(frozen=True)
class Settings:
    """Everything the portal needs to know about its surroundings."""

    database_url: str
    secret_key: str
    encryption_keys: tuple[str, ...]
    instance_dir: Path
    log_dir: Path | None = None
    redis_url: str | None = None
    public_url: str | None = None
    provider_url: str | None = None
    provider_ca_bundle: Path | None = None
    provider_client_cert: Path | None = None
    provider_connect_timeout: float = 3.0
    provider_read_timeout: float = 15.0
    env: str = "development"
    cookie_secure: bool = True
    argon2: Argon2Parameters = field(default_factory=Argon2Parameters)
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    lockout_failures: int = 10
    lockout_duration: timedelta = timedelta(minutes=30)
    ip_failure_limit: int = 50
    ip_failure_window: timedelta = timedelta(minutes=15)
    invitation_lifetime: timedelta = timedelta(hours=72)
    step_up_after: timedelta = timedelta(minutes=15)
    housekeeping_every: timedelta = timedelta(minutes=10)  # deletes of expired sessions, counters
    api_rate_limit: str = "300 per minute"  # per user over all of /api/
    write_rate_limit: str = "30 per minute"  # per user and endpoint: money actions, new jobs
    approval_lifetime: timedelta = timedelta(days=7)  # an undecided four-eyes request expires
    clock: Clock = field(default=utc_now, compare=False, repr=False)

    @property
    def is_production(self) -> bool:
        """Whether the strict production rules apply."""
        return self.env == "production"

    @property
    def session_cookie_name(self) -> str:
        """`__Host-` prefixed (Secure, no Domain, path /) unless running as the loopback demo."""
        return "__Host-sarportal" if self.cookie_secure else "sarportal_session"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the SARPORTAL_* variables; make missing keys once in the instance folder."""
        env = dict(os.environ if environ is None else environ)
        mode = env.get("SARPORTAL_ENV", "development").strip().lower() or "development"
        instance_dir = Path(env.get("SARPORTAL_INSTANCE_DIR") or Path.cwd() / "instance").resolve()
        production = mode == "production"
        database_url = env.get("SARPORTAL_DATABASE_URL", "").strip()
        cookie_secure = _flag(env.get("SARPORTAL_COOKIE_SECURE"), default=True)
        secret_key = env.get("SARPORTAL_SECRET_KEY", "").strip()
        keys = tuple(
            k.strip() for k in env.get("SARPORTAL_ENCRYPTION_KEYS", "").split(",") if k.strip()
        )
        redis_url = env.get("SARPORTAL_REDIS_URL", "").strip() or None
        public_url = _public_url(env.get("SARPORTAL_PUBLIC_URL", ""))
        if production:
            _refuse_weak_production(
                database_url, secret_key, keys, cookie_secure, redis_url, public_url
            )
        if not database_url or not secret_key or not keys:
            instance_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not database_url:
            database_url = f"sqlite:///{instance_dir / 'sarportal.sqlite3'}"
        if not secret_key:
            secret_key = _instance_secret(instance_dir / "secret_key", secrets.token_urlsafe(48))
        if not keys:
            keys = (
                _instance_secret(instance_dir / "encryption_key", Fernet.generate_key().decode()),
            )
        _check_keys(keys)
        return cls(
            database_url=database_url,
            secret_key=secret_key,
            encryption_keys=keys,
            instance_dir=instance_dir,
            log_dir=_path(env.get("SARPORTAL_LOG_DIR")),
            redis_url=redis_url,
            public_url=public_url,
            provider_url=env.get("SARPORTAL_PROVIDER_URL") or None,
            provider_ca_bundle=_path(env.get("SARPORTAL_PROVIDER_CA_BUNDLE")),
            provider_client_cert=_path(env.get("SARPORTAL_PROVIDER_CLIENT_CERT")),
            env=mode,
            cookie_secure=cookie_secure,
            api_rate_limit=_rate(env, "SARPORTAL_RATE_LIMIT_API", "300 per minute"),
            write_rate_limit=_rate(env, "SARPORTAL_RATE_LIMIT_WRITES", "30 per minute"),
            approval_lifetime=timedelta(days=_days(env, "SARPORTAL_APPROVAL_DAYS", 7)),
        )


def _refuse_weak_production(
    database_url: str,
    secret_key: str,
    keys: tuple[str, ...],
    cookie_secure: bool,
    redis_url: str | None,
    public_url: str | None,
) -> None:
    problems = []
    if not secret_key:
        problems.append("SARPORTAL_SECRET_KEY is unset")
    if not keys:
        problems.append("SARPORTAL_ENCRYPTION_KEYS is unset")
    if not database_url.startswith(("postgresql", "postgres")):
        problems.append("SARPORTAL_DATABASE_URL must name a PostgreSQL database")
    if not cookie_secure:
        problems.append("SARPORTAL_COOKIE_SECURE must not be disabled")
    if not redis_url:
        problems.append(
            "SARPORTAL_REDIS_URL is unset (statistics jobs would live in one web process)"
        )
    if not public_url or not public_url.startswith("https://"):
        problems.append("SARPORTAL_PUBLIC_URL must be the portal's https:// address")
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))


def _check_keys(keys: tuple[str, ...]) -> None:
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ConfigurationError(
                f"SARPORTAL_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None


def _instance_secret(path: Path, fresh: str) -> str:
    """The secret kept in `path`, written once (mode 0600) when it does not exist yet."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(fresh + "\n")
    log.warning("generated %s (mode 0600); set it in the environment for production", path)
    return fresh


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    """A rate limit such as `300 per minute` (the notation of the `limits` library)."""
    from limits import parse

    value = env.get(name, "").strip() or default
    try:
        parse(value)
    except ValueError:
        raise ConfigurationError(
            f"{name} must be a rate such as '300 per minute', not {value!r}"
        ) from None
    return value


def _public_url(value: str) -> str | None:
    """The portal's address as users reach it (for links sent to them), without a trailing
    slash; None when unset."""
    value = value.strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            "SARPORTAL_PUBLIC_URL must be an absolute address such as https://portal.example.com"
        )
    return value


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of days from 1 to 90."""
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 90:
        raise ConfigurationError(f"{name} must be a whole number of days from 1 to 90")
    return int(value)


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() not in {"0", "false", "no", "off"}


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
