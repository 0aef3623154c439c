"""The portal's CLI commands through click's CliRunner, on a fresh SQLite instance folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from sarportal.cli import main
from sarportal.config import Settings
from sarportal.store import Store

PASSWORD = "Kerzen-Leuchter-7-Ampel"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        "SARPORTAL_INSTANCE_DIR": str(tmp_path),
        "SARPORTAL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SARPORTAL_SECRET_KEY": "test-secret-key-of-enough-length",
    }
    result = CliRunner().invoke(main, ["db", "upgrade"], env=values)
    assert result.exit_code == 0, result.output
    return values


def _store(env: dict[str, str]) -> Store:
    return Store(Settings.from_env(env))


def test_users_create_reads_password_and_secret_from_stdin(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main,
        [
            "users",
            "create",
            "--email",
            "op@example.com",
            "--role",
            "operator",
            "--organisation",
            "Musterhaus GmbH",
            "--provider-client-id",
            "demo-operator",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\ndemo-operator-secret\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    store = _store(env)
    with store.unit_of_work() as uow:
        user = uow.users.by_email("OP@example.com")
        assert user is not None and user.role == "operator"
        user_id = user.id
    assert store.provider_credentials_for(user_id) == ("demo-operator", "demo-operator-secret")


def test_users_create_refuses_weak_password_and_bad_role(env: dict[str, str]) -> None:
    runner = CliRunner()
    weak = runner.invoke(
        main,
        ["users", "create", "--email", "a@example.com", "--role", "viewer", "--password-stdin"],
        input="password1234\n",
        env=env,
    )
    assert weak.exit_code == 1 and "too common" in weak.output
    bad = runner.invoke(
        main, ["users", "create", "--email", "a@example.com", "--role", "root"], env=env
    )
    assert bad.exit_code == 2


def test_users_create_prompts_interactively(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main,
        ["users", "create", "--email", "v@example.com", "--role", "viewer"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=env,
    )
    assert result.exit_code == 0, result.output


def test_tokens_create_list_revoke(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(
        main,
        ["users", "create", "--email", "t@example.com", "--role", "viewer", "--password-stdin"],
        input=f"{PASSWORD}\n",
        env=env,
    )
    created = runner.invoke(
        main, ["tokens", "create", "--email", "t@example.com", "--expires-days", "30"], env=env
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("sarp_") and len(token) > 40
    listed = runner.invoke(main, ["tokens", "list", "--email", "t@example.com"], env=env)
    assert "active" in listed.output and token not in listed.output
    token_id = listed.output.split("\t")[0]
    store = _store(env)
    with store.unit_of_work() as uow:
        assert uow.tokens.authenticate(token) is not None
    revoked = runner.invoke(
        main, ["tokens", "revoke", "--email", "t@example.com", token_id], env=env
    )
    assert revoked.exit_code == 0, revoked.output
    with store.unit_of_work() as uow:
        assert uow.tokens.authenticate(token) is None
    again = runner.invoke(main, ["tokens", "revoke", "--email", "t@example.com", token_id], env=env)
    assert again.exit_code == 1
    unknown = runner.invoke(main, ["tokens", "create", "--email", "nobody@example.com"], env=env)
    assert unknown.exit_code == 1 and "no user" in unknown.output


def test_keys_rotate_then_old_key_can_go(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(
        main,
        [
            "users",
            "create",
            "--email",
            "k@example.com",
            "--role",
            "viewer",
            "--provider-client-id",
            "c1",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\nsecret-1\n",
        env=env,
    )
    new_key = Fernet.generate_key().decode()
    rotated_env = {
        **env,
        "SARPORTAL_ENCRYPTION_KEYS": f"{new_key},{env['SARPORTAL_ENCRYPTION_KEYS']}",
    }
    result = runner.invoke(main, ["keys", "rotate"], env=rotated_env)
    assert result.exit_code == 0 and "re-encrypted 1 secrets" in result.output
    store = _store({**env, "SARPORTAL_ENCRYPTION_KEYS": new_key})
    assert store.provider_credentials_for(1) == ("c1", "secret-1")


def test_serve_is_registered() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0 and "--workers" in result.output
