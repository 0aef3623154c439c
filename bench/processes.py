"""Processes the benchmarks start on loopback, and what they cost."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import orjson

from sarportal.config import Settings

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError("VmHWM")


class Sandbox:
    """`sarportal sandbox` as its own process, with the time it took to start serving."""

    def __init__(self, state_dir: Path, transactions: int, **flags: object) -> None:
        self.state_dir = state_dir
        args = [
            sys.executable, "-m", "sarportal", "sandbox", "--port", "0",
            "--state-dir", str(state_dir), "--transactions", str(transactions),
        ]  # fmt: skip
        for name, value in flags.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        (state_dir / "sandbox.json").unlink(missing_ok=True)
        started = time.perf_counter()
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready = state_dir / "sandbox.json"
        deadline = started + 120
        while not (ready.exists() and ready.read_bytes().strip().endswith(b"}")):  # written whole
            if self.process.poll() is not None or time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.02)
        self.start_seconds = time.perf_counter() - started
        self.url = orjson.loads(ready.read_bytes())["url"]
        self.ca = state_dir / "ca.pem"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _logged(path: Path, text: bytes) -> bool:
    return text in path.read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(check: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not check():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within 60 s")
        time.sleep(0.05)


PASSWORD = "bench-Correct-Horse-42"  # noqa: S105 (loopback bench users)

# The portal's database: migrated, the demo users, and `viewers` + `operators` more users of the
# demo organisation (the same provider clients), each operator with a personal API token. Prints
# the logins and tokens as JSON.
_PREPARE = """
import json, sys
from sarportal.config import Settings
from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.auth.demo_users import DEFAULT_CLIENTS, ORGANISATION, ensure_demo_users
from sarportal.store.migrate import upgrade
password, viewers, operators = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = Store(Settings.from_env())
upgrade(store.engine)
ensure_demo_users(store, password=password)
people = {"viewer": [], "operator": []}
tokens = {}
with store.unit_of_work() as uow:
    organisation = uow.organisations.get_or_create(ORGANISATION)
    hashed = uow.users.by_email("viewer@demo.example").password_hash
    for role, count in ((Role.VIEWER, viewers), (Role.OPERATOR, operators)):
        for number in range(count):
            email = f"bench-{role.value}-{number:02d}@demo.example"
            user = uow.users.add(organisation_id=organisation.id, email=email,
                                 password_hash=hashed, role=role.value,
                                 display_name=f"Bench {role.value} {number}")
            uow.credentials.set(user.id, *DEFAULT_CLIENTS[role.value])
            people[role.value].append(email)
            if role is Role.OPERATOR:
                tokens[email] = uow.tokens.create(user.id, None)[0]
    uow.commit()
print(json.dumps({"people": people, "tokens": tokens}))
"""


@dataclass
class Accounts:
    """The portal's bench users: e-mail addresses by role, and the operators' API tokens."""

    people: dict[str, list[str]]
    tokens: dict[str, str]


class Portal:
    """`sarportal serve` under gunicorn (and `sarportal worker` processes when `redis_url` is
    given) in front of `sandbox`, with its instance folder in `root`. The folder, its database
    and its sessions outlive the processes, so a second Portal on the same `root` finds the users
    and the signed-in sessions of the first."""

    def __init__(
        self,
        root: Path,
        sandbox: Sandbox,
        *,
        workers: int = 1,
        redis_url: str | None = None,
        celery_workers: int = 0,
        viewers: int = 0,
        operators: int = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SARPORTAL_")},
            "SARPORTAL_INSTANCE_DIR": str(root / "instance"),
            "SARPORTAL_PROVIDER_URL": sandbox.url,
            "SARPORTAL_PROVIDER_CA_BUNDLE": str(sandbox.ca),
            "SARPORTAL_COOKIE_SECURE": "0",
            "SARPORTAL_LOG_DIR": str(root / "logs"),
            "TMPDIR": str(root / "tmp"),
            # The bench measures what the portal carries, not the per-user limits that protect
            # it: its few accounts stand for fifty users.
            "SARPORTAL_RATE_LIMIT_API": "1000000 per minute",
            "SARPORTAL_RATE_LIMIT_WRITES": "1000000 per minute",
            **({"SARPORTAL_REDIS_URL": redis_url} if redis_url else {}),
            **(env or {}),
        }
        Settings.from_env(self.env)  # the instance's keys, once, before two processes read them
        accounts = root / "accounts.json"
        prepare = None
        if not accounts.exists():  # runs while gunicorn starts
            prepare = subprocess.Popen(
                [sys.executable, "-c", _PREPARE, PASSWORD, str(viewers), str(operators)],
                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        self.processes: list[subprocess.Popen[bytes]] = []
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        try:
            with (root / f"portal-{port}.log").open("wb") as log:
                self.server = subprocess.Popen(
                    [sys.executable, "-m", "sarportal", "serve", "--host", "127.0.0.1",
                     "--port", str(port), "--workers", str(workers)],
                    env=self.env, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            self.processes.append(self.server)
            worker_logs = []
            for number in range(celery_workers):
                worker_log = root / f"worker-{port}-{number}.log"
                with worker_log.open("wb") as log:
                    worker = subprocess.Popen(
                        [sys.executable, "-m", "sarportal", "worker", "--concurrency", "1",
                         "--hostname", f"bench{number}-{port}@%h"],
                        env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    )  # fmt: skip
                self.processes.append(worker)
                worker_logs.append((worker_log, worker))
            if prepare is not None:
                output, _ = prepare.communicate(timeout=120)
                if prepare.returncode:
                    raise RuntimeError("preparing the portal's database failed")
                accounts.write_bytes(output.strip().splitlines()[-1])
            self.accounts = Accounts(**orjson.loads(accounts.read_bytes()))
            _wait_for(self._healthy, "the portal", self.server)
            for path, worker in worker_logs:
                _wait_for(partial(_logged, path, b" ready."), "a worker", worker)
        except BaseException:
            if prepare is not None and prepare.poll() is None:
                prepare.kill()
            self.stop()
            raise

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def pids(self) -> list[int]:
        """The gunicorn master and its workers, and the Celery workers and their children."""
        found = []
        for process in self.processes:
            found.append(process.pid)
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
            if children.exists():
                found += [int(pid) for pid in children.read_text().split()]
        return found

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def sign_in(client: httpx.Client, email: str) -> None:
    """Sign `client` in through the login form (its cookie jar keeps the session)."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    answer = client.post(
        "/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    )
    if answer.status_code not in (302, 303) or "/login" in answer.headers.get("location", ""):
        raise RuntimeError(f"signing in {email} failed with {answer.status_code}")


class RedisDatabase:
    """A Redis database claimed for the benchmarks (see `redis_database`)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._token = token

    def flush(self) -> None:
        """Empty it (every job, queue and cached result), keeping the claim."""
        import redis

        connection = redis.Redis.from_url(self.url)
        try:
            connection.flushdb()
            connection.set(CLAIM_KEY, self._token, ex=3600)
        finally:
            connection.close()


@contextmanager
def redis_database() -> Iterator[RedisDatabase]:
    """An empty Redis database among 1..7 on 127.0.0.1:6379, claimed, and flushed after."""
    import redis

    token = secrets.token_hex(8)
    for index in range(1, 8):
        url = f"redis://127.0.0.1:6379/{index}"
        connection = redis.Redis.from_url(url)
        try:
            claimed = connection.dbsize() == 0 and connection.set(
                CLAIM_KEY, token, nx=True, ex=3600
            )
        finally:
            connection.close()
        if claimed:
            database = RedisDatabase(url, token)
            try:
                yield database
            finally:
                database.flush()
                connection = redis.Redis.from_url(url)
                connection.delete(CLAIM_KEY)
                connection.close()
            return
    raise RuntimeError("no free Redis database among 1..7 on 127.0.0.1:6379")


CLAIM_KEY = "sarportal-bench:claimed"
