"""`sarportal serve` as an operator starts it: what it refuses before binding its port, how many
workers it runs, what its logs hold.

Each test starts the real command in a process of its own and talks to it over loopback.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sarportal.config import ConfigurationError, Settings
from sarportal.web.core.serve import worker_count
from tests.fixtures.served import _free_port, running_portal

pytestmark = pytest.mark.slow

VIEWER = "viewer@demo.example"


def _clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SARPORTAL_")}
    env.update(
        {
            "SARPORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
            "SARPORTAL_PROVIDER_URL": "https://provider.example",
            "SARPORTAL_COOKIE_SECURE": "0",
        }
    )
    env.update(values)
    return env


def _migrated(env: dict[str, str]) -> dict[str, str]:
    command = [sys.executable, "-m", "sarportal", "db", "upgrade"]
    subprocess.run(command, env=env, check=True, capture_output=True)
    return env


def _serve_and_watch_the_port(env: dict[str, str], *flags: str) -> tuple[int, str, bool]:
    """Run `sarportal serve` until it exits (at most 30 s), trying its port all the while:
    the exit status, standard error, and whether the port ever accepted a connection."""
    port = _free_port()
    command = [sys.executable, "-m", "sarportal", "serve", "--port", str(port), *flags]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    bound = False
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                bound = True
        except OSError:
            pass
        time.sleep(0.02)
    if process.poll() is None:
        process.kill()
    _out, err = process.communicate(timeout=15)
    return process.returncode, err.decode(), bound


@pytest.mark.parametrize(
    ("case", "says"),
    [
        (
            "plain HTTP provider",
            "SARPORTAL_PROVIDER_URL: the provider URL must start with https://",
        ),
        ("missing CA bundle", "SARPORTAL_PROVIDER_CA_BUNDLE names"),
        ("more workers than one process without Redis", "--workers 3 needs SARPORTAL_REDIS_URL"),
        (
            "unreachable Redis",
            "SARPORTAL_REDIS_URL: the Redis server of the statistics jobs does not",
        ),
        ("database not migrated", "run `sarportal db upgrade`"),
        ("production without Redis", "SARPORTAL_REDIS_URL is unset"),
    ],
)
def test_a_configuration_that_cannot_serve_exits_with_one_line_before_binding(
    tmp_path: Path, case: str, says: str
) -> None:
    env, flags = _clean_env(tmp_path), ()
    if case == "plain HTTP provider":
        env = _migrated(_clean_env(tmp_path, SARPORTAL_PROVIDER_URL="http://provider.example"))
    elif case == "missing CA bundle":
        env = _migrated(_clean_env(tmp_path, SARPORTAL_PROVIDER_CA_BUNDLE=str(tmp_path / "no.pem")))
    elif case == "more workers than one process without Redis":
        env, flags = _migrated(env), ("--workers", "3")
    elif case == "unreachable Redis":
        env = _migrated(
            _clean_env(tmp_path, SARPORTAL_REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
        )
    elif case == "production without Redis":
        env["SARPORTAL_ENV"] = "production"
    status, err, bound = _serve_and_watch_the_port(env, *flags)
    assert status != 0 and not bound, (status, bound, err[-2000:])
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: refusing to serve: ") and says in lines[-1], err[-2000:]
    assert [line for line in lines if line.startswith(("Error", "Traceback"))] == lines[-1:], err


def test_the_worker_count_follows_where_the_jobs_live() -> None:
    settings = Settings.from_env({"SARPORTAL_INSTANCE_DIR": "/nonexistent", **_keys()})
    with_redis = Settings.from_env(
        {"SARPORTAL_INSTANCE_DIR": "/nonexistent", "SARPORTAL_REDIS_URL": "redis://r/0", **_keys()}
    )
    assert worker_count(settings, None) == 1 and worker_count(settings, 1) == 1
    assert worker_count(with_redis, None) == 2 and worker_count(with_redis, 6) == 6
    with pytest.raises(ConfigurationError, match="--workers 2 needs SARPORTAL_REDIS_URL"):
        worker_count(settings, 2)


def _keys() -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "SARPORTAL_SECRET_KEY": "k" * 40,
        "SARPORTAL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SARPORTAL_DATABASE_URL": "sqlite://",
    }


def test_the_default_serve_runs_one_worker_and_every_job_poll_finds_its_job(
    tmp_path: Path,
) -> None:
    with running_portal(tmp_path, workers=None) as portal:
        command = [sys.executable, "-m", "sarportal", "tokens", "create", "--email", VIEWER]
        created = subprocess.run(
            command, env=portal.env, check=True, capture_output=True, text=True
        )
        bearer = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
        submitted = httpx.post(
            f"{portal.url}/api/v1/stats/jobs", json={"filters": {}}, headers=bearer, timeout=30
        )
        assert submitted.status_code == 202, submitted.text
        job = f"{portal.url}/api/v1/stats/jobs/{submitted.json()['id']}"
        polls = [httpx.get(job, headers=bearer, timeout=30).status_code for _ in range(24)]
        booted = re.findall(
            r"Booting worker with pid", (tmp_path / "logs" / "portal.log").read_text()
        )
    assert polls == [200] * 24, polls
    assert len(booted) == 1, booted


def test_the_sqlite_database_and_the_log_files_are_private(tmp_path: Path) -> None:
    with running_portal(tmp_path) as portal:
        assert httpx.get(f"{portal.url}/login", timeout=30).status_code == 200
        assert httpx.get(f"{portal.url}/readyz", timeout=30).status_code == 200  # opens the db
        files = [
            *portal.instance_dir.glob("sarportal.sqlite3*"),
            *(tmp_path / "logs").iterdir(),
        ]
        modes = {path.name: oct(path.stat().st_mode & 0o777) for path in files}
    names = set(modes)
    assert {"sarportal.sqlite3", "access.log", "portal.log"} <= names, modes
    assert "sarportal.sqlite3-wal" in names, modes  # WAL mode: its journal must be private too
    assert set(modes.values()) == {"0o600"}, modes
    access = (tmp_path / "logs" / "access.log").read_text()
    assert '"GET /login" 200' in access, access


def test_the_demo_on_a_busy_port_says_so_at_once_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "sarportal", "demo", "--port", str(port),
                   "--transactions", "100", "--state-dir", str(tmp_path / "demo")]  # fmt: skip
        done = subprocess.run(
            command, env=_clean_env(tmp_path), capture_output=True, text=True, timeout=60
        )
    assert done.returncode != 0
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr, done.stderr
    assert f"--port {port + 1}" in done.stderr and "is ready" not in done.stdout
    assert not (tmp_path / "demo" / "sandbox").exists()  # the sandbox was never started
