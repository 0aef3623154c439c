"""Pure pieces of sign-in: roles, password policy and hashing, TOTP, throttle counters, config."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from cryptography.fernet import Fernet

from sarportal.auth import totp
from sarportal.auth.passwords import PasswordPolicyError, Passwords, check_policy, common_passwords
from sarportal.config import Argon2Parameters, ConfigurationError, Settings
from sarportal.domain.roles import Role
from sarportal.web.core.sessions import ip_prefix, summarise_user_agent


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR) and not Role.OPERATOR.allows(Role.ADMIN)
    assert Role.parse(" Admin ") is Role.ADMIN
    with pytest.raises(ValueError, match="unknown role"):
        Role.parse("root")


def test_common_password_list_is_shipped() -> None:
    assert len(common_passwords()) > 3000
    for weak in ("password1234", "Qwertyuiopas", "111111111111"):
        with pytest.raises(PasswordPolicyError):
            check_policy(weak)
    with pytest.raises(PasswordPolicyError, match="e-mail"):
        check_policy("xx-anna@example.com-yy", "anna@example.com")
    check_policy("Kerzen-Leuchter-7-Ampel")


def test_password_rehash_when_parameters_change() -> None:
    weak = Passwords(Argon2Parameters(time_cost=1, memory_cost_kib=64, parallelism=1))
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_cost_kib=128, parallelism=1))
    stored = weak.hash("Kerzen-Leuchter-7-Ampel")
    assert stored.startswith("$argon2id$")
    assert stronger.verify(stored, "Kerzen-Leuchter-7-Ampel")
    assert stronger.needs_rehash(stored) and not weak.needs_rehash(stored)
    assert not weak.verify(stored, "wrong") and not weak.verify("garbage", "x")


def test_totp_code_is_accepted_once_and_within_one_step_of_drift() -> None:
    secret = totp.new_secret()
    now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    code = pyotp.TOTP(secret).at(now)
    first = totp.check_code(secret, code, now, None)
    assert first.accepted
    assert not totp.check_code(secret, code, now, first.step).accepted
    later = now + timedelta(seconds=30)
    assert totp.check_code(secret, code, later, None).accepted
    assert not totp.check_code(secret, code, now + timedelta(seconds=90), None).accepted
    assert not totp.check_code(secret, "12345a", now, None).accepted


def test_recovery_codes_carry_eighty_bits_and_are_stored_salted() -> None:
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == 10
    for code in codes:
        symbols = code.replace("-", "")
        assert len(symbols) == 16 and set(symbols) <= set(totp.RECOVERY_ALPHABET)
    assert len(totp.RECOVERY_ALPHABET) ** 16 >= 2**80
    first, second = totp.recovery_code_hash(codes[0]), totp.recovery_code_hash(codes[0])
    assert first != second and first.startswith("s1$")  # a salt of its own each time
    assert codes[0].replace("-", "") not in first


def test_a_recovery_code_matches_as_typed_and_only_itself() -> None:
    code = "0123-4567-89ab-cdef"
    stored = totp.recovery_code_hash(code)
    assert totp.recovery_code_matches(stored, " o123 4567 89AB CDEF ")  # o read as zero
    assert not totp.recovery_code_matches(stored, "0123-4567-89ab-cdeg")
    assert not totp.recovery_code_matches("md5$abc", code)


def test_recovery_codes_made_before_salting_still_match() -> None:
    legacy = "sha256$" + hashlib.sha256(b"abcde23456").hexdigest()
    assert totp.recovery_code_matches(legacy, "ABCDE-23456")
    assert not totp.recovery_code_matches(legacy, "abcde-23457")


def test_qr_code_is_an_svg_data_uri() -> None:
    uri = totp.qr_data_uri(totp.provisioning_uri(totp.new_secret(), "a@example.com"))
    assert uri.startswith("data:image/svg+xml;base64,")


def test_settings_generate_keys_once_with_mode_0600(tmp_path: Path) -> None:
    env = {"SARPORTAL_INSTANCE_DIR": str(tmp_path)}
    first = Settings.from_env(env)
    second = Settings.from_env(env)
    assert first.secret_key == second.secret_key and first.encryption_keys == second.encryption_keys
    for name in ("secret_key", "encryption_key"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    assert first.database_url == f"sqlite:///{tmp_path / 'sarportal.sqlite3'}"
    assert first.session_cookie_name == "__Host-sarportal"
    demo = Settings.from_env({**env, "SARPORTAL_COOKIE_SECURE": "0"})
    assert demo.session_cookie_name == "sarportal_session" and not demo.cookie_secure


@pytest.mark.parametrize("days", ["0", "91", "7.5", "sieben", "-1"])
def test_an_approval_lifetime_is_whole_days_from_1_to_90(tmp_path: Path, days: str) -> None:
    env = {"SARPORTAL_INSTANCE_DIR": str(tmp_path)}
    assert Settings.from_env(env).approval_lifetime == timedelta(days=7)
    assert Settings.from_env({**env, "SARPORTAL_APPROVAL_DAYS": "30"}).approval_lifetime == (
        timedelta(days=30)
    )
    with pytest.raises(ConfigurationError, match="SARPORTAL_APPROVAL_DAYS must be"):
        Settings.from_env({**env, "SARPORTAL_APPROVAL_DAYS": days})


def test_production_refuses_missing_keys_sqlite_insecure_cookies_jobs_per_process_and_links(
    tmp_path: Path,
) -> None:
    env = {"SARPORTAL_INSTANCE_DIR": str(tmp_path), "SARPORTAL_ENV": "production"}
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({**env, "SARPORTAL_COOKIE_SECURE": "false"})
    message = str(refused.value)
    for part in ("SECRET_KEY", "ENCRYPTION_KEYS", "PostgreSQL", "COOKIE_SECURE", "REDIS_URL"):
        assert part in message
    assert "SARPORTAL_PUBLIC_URL" in message
    complete = {
        **env,
        "SARPORTAL_SECRET_KEY": "s" * 40,
        "SARPORTAL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SARPORTAL_DATABASE_URL": "postgresql://db/sarportal",
        "SARPORTAL_REDIS_URL": "redis://cache:6379/0",
        "SARPORTAL_PUBLIC_URL": "https://portal.example.com/",
    }
    good = Settings.from_env(complete)
    assert good.is_production and not (tmp_path / "secret_key").exists()
    assert good.public_url == "https://portal.example.com"
    with pytest.raises(ConfigurationError, match="SARPORTAL_PUBLIC_URL must be the portal's"):
        Settings.from_env({**complete, "SARPORTAL_PUBLIC_URL": "http://portal.example.com"})
    with pytest.raises(ConfigurationError, match="SARPORTAL_REDIS_URL is unset"):
        Settings.from_env({**complete, "SARPORTAL_REDIS_URL": ""})
    with pytest.raises(ConfigurationError, match="absolute address"):
        Settings.from_env({**env, "SARPORTAL_ENV": "", "SARPORTAL_PUBLIC_URL": "portal.example"})
    with pytest.raises(ConfigurationError, match="not a Fernet key"):
        Settings.from_env(
            {**env, "SARPORTAL_ENV": "development", "SARPORTAL_ENCRYPTION_KEYS": "nope"}
        )
    assert dataclasses.replace(good, env="development").is_production is False


def test_session_metadata_is_coarse() -> None:
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
    assert summarise_user_agent(ua) == "Chrome on Windows"
    assert ip_prefix("192.168.17.42") == "192.168.17.0/24"
    assert ip_prefix("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert ip_prefix(None) == ""
