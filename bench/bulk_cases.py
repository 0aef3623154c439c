"""A bulk capture against the provider's rate limit: how close a job of N rows comes to its
floor, N requests ÷ R (one request a row; the provider allows R requests a second).

The job runs as the portal runs it (`sarportal.bulk.run_job`: a batch of rows marked and
committed, each action through `TransactionActions` with its pending and outcome audit lines,
the batch's outcomes committed) on SQLite, against a sandbox process limited to R requests a
second, paced by the same token bucket the runner uses. The rows are full captures of the
authorized transactions of a sandbox with a backlog (`--backlog-days`: its last weeks' orders
are not shipped yet), the everyday "ship the orders" case; each run gets a fresh sandbox, so
each captures the same orders. The plan is made directly here (10,000 rows are more than a
job's limit of 1,000 taken from the pages).
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet

from bench.harness import QUICK, Report, measure
from bench.processes import Sandbox
from sarportal.actions import Actor, amounts_of
from sarportal.auth.passwords import Passwords
from sarportal.auth.users import create_user
from sarportal.bulk import BulkDesk, run_job
from sarportal.config import Argon2Parameters, Settings
from sarportal.domain.actions import ActionKind
from sarportal.domain.bulk import RowState, plan_rows
from sarportal.domain.roles import Role
from sarportal.provider import Credentials, Provider, ProviderConfig
from sarportal.stats.limiter import TokenBucket
from sarportal.store import Store
from sarportal.store.migrate import upgrade

RATE = 200.0  # requests a second the sandbox allows the client
BACKLOG = 29  # days of orders not shipped yet: all the sandbox's authorizations still live
CREDENTIALS = Credentials("demo-operator", "demo-operator-secret")


def run(report: Report) -> None:
    rows = 2_000 if QUICK else 10_000
    size = 60_000 if QUICK else 200_000  # about 6.5 % are authorized in the backlog
    walls = []
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as folder:
        root = Path(folder)
        for n in range(3):
            sandbox = Sandbox(root / f"sandbox-{n}", size, rate_limit=RATE, backlog_days=BACKLOG)
            try:
                walls.append(_job(root / f"run-{n}", sandbox, rows))
            finally:
                sandbox.stop()
    floor = rows / RATE
    report.add(
        measure(
            walls,
            case=f"bulk capture of {rows:,} rows at {RATE:g} requests/s",
            unit="s",
            reference=1.05 * floor,
            reference_label=f"1.05 × rows / R = {1.05 * floor:.1f} s",
            higher_is_better=False,
            notes=f"{statistics.median(walls) / floor:.2f}× the floor rows / R = {floor:g} s",
        )
    )


def _job(folder: Path, sandbox: Sandbox, rows: int) -> float:
    """Plan `rows` full captures of authorized transactions, run the job, check every row is
    done; the job's wall time."""
    folder.mkdir()
    settings = Settings(
        database_url=f"sqlite:///{folder / 'portal.sqlite3'}",
        secret_key=secrets.token_urlsafe(32),
        encryption_keys=(Fernet.generate_key().decode(),),
        instance_dir=folder,
        argon2=Argon2Parameters(time_cost=1, memory_cost_kib=64, parallelism=1),
    )
    store = Store(settings)
    upgrade(store.engine)
    user_id = create_user(
        store,
        Passwords(settings.argon2),
        email="bench@example.com",
        password=secrets.token_urlsafe(16),
        role=Role.OPERATOR,
        organisation="Bench GmbH",
        provider_credentials=(CREDENTIALS.client_id, CREDENTIALS.secret),
    )
    with store.unit_of_work() as uow:
        user = uow.users.get(user_id)
        assert user is not None
    provider = Provider(ProviderConfig(sandbox.url, ca_bundle=sandbox.ca, read_timeout=30))
    try:
        session = provider.session(CREDENTIALS)
        chosen = []
        cursor = None
        while len(chosen) < rows:
            query = {
                "status": "authorized",
                "limit": 1000,
                **({"cursor": cursor} if cursor else {}),
            }
            page = session.list_transactions(query)
            chosen += [(row.id, amounts_of(row), None) for row in page.data]
            if not page.has_more:
                break
            cursor = page.next_cursor
        assert len(chosen) >= rows, f"the sandbox has {len(chosen)} authorized rows"
        planned, _ = plan_rows(ActionKind.CAPTURE, chosen[:rows], datetime.now(UTC))
        assert len(planned) == rows, f"only {len(planned)} capturable rows"
        actor = Actor(user_id, user.organisation_id)
        desk = BulkDesk(store)
        key = desk.create(actor, ActionKind.CAPTURE, planned)
        desk.start(actor, key)
        bucket = TokenBucket(RATE)

        def pace() -> None:
            bucket.acquire()

        time.sleep(1.5)  # the sandbox's bucket refills after the planning's requests
        started = time.perf_counter()
        assert run_job(store, key, lambda _user: session, owner="bench", pace=pace)
        wall = time.perf_counter() - started
        job = desk.get(actor, key)
        assert job.counts.get(RowState.DONE, 0) == len(planned), job.counts
        return wall
    finally:
        provider.close()
        store.dispose()
