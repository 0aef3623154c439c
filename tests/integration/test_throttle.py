"""Sign-in throttling on counters that every portal process shares: the database or Redis."""

from __future__ import annotations

import multiprocessing
import secrets
from datetime import timedelta
from pathlib import Path

import redis
from cryptography.fernet import Fernet

from sarportal.auth.throttle import RedisCounters, SignInThrottle
from sarportal.config import Settings
from sarportal.store.counters import DatabaseCounters
from sarportal.store.engine import make_engine
from tests.fixtures.portal import FakeClock


def _settings(db_url: str, tmp_path: Path, clock: FakeClock) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key="k",
        encryption_keys=(Fernet.generate_key().decode(),),
        instance_dir=tmp_path,
        clock=clock,
        ip_failure_limit=15,
    )


def _database_throttle(db_url: str, settings: Settings) -> SignInThrottle:
    return SignInThrottle(DatabaseCounters(make_engine(db_url), settings.clock), settings)


def test_account_locks_after_ten_failures_and_unlocks_after_thirty_minutes(
    db_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    throttle = _database_throttle(db_url, _settings(db_url, tmp_path, clock))
    assert [throttle.record_failure("A@x.de", "1.2.3.4") for _ in range(10)][-2:] == [False, True]
    assert throttle.account_lock_remaining("a@x.de") == timedelta(minutes=30)
    clock.advance(timedelta(minutes=30, seconds=1))
    assert throttle.account_lock_remaining("a@x.de") is None


def test_ip_budget_blocks_an_address_across_accounts(db_url: str, tmp_path: Path) -> None:
    throttle = _database_throttle(db_url, _settings(db_url, tmp_path, FakeClock()))
    for n in range(14):
        throttle.record_failure(f"user{n}@x.de", "10.0.0.1")
    assert not throttle.ip_blocked("10.0.0.1")
    throttle.record_failure("user14@x.de", "10.0.0.1")
    assert throttle.ip_blocked("10.0.0.1") and not throttle.ip_blocked("10.0.0.2")


def test_a_counter_restarts_from_one_once_its_window_has_passed(db_url: str) -> None:
    clock = FakeClock()
    counters = DatabaseCounters(make_engine(db_url), clock)
    assert [counters.incr("k", timedelta(minutes=1)) for _ in range(3)] == [1, 2, 3]
    clock.advance(timedelta(minutes=1))
    assert counters.get("k") is None
    assert counters.incr("k", timedelta(minutes=1)) == 1
    assert counters.get("k") == (1, clock.now + timedelta(minutes=1))
    clock.advance(timedelta(minutes=2))
    assert counters.purge_expired() == 1


def _hammer(db_url: str, key: str, times: int, results: multiprocessing.Queue[list[int]]) -> None:
    counters = DatabaseCounters(make_engine(db_url), FakeClock())
    results.put([counters.incr(key, timedelta(hours=1)) for _ in range(times)])


def test_processes_racing_on_one_counter_lose_no_count(db_url: str) -> None:
    key = "race:" + secrets.token_hex(4)
    spawn = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[list[int]] = spawn.Queue()
    workers = [spawn.Process(target=_hammer, args=(db_url, key, 25, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    counts = sorted(n for _ in workers for n in results.get(timeout=120))
    for worker in workers:
        worker.join(timeout=30)
    assert counts == list(range(1, 101))


def test_throttles_of_two_processes_share_a_lock_through_the_database(
    db_url: str, tmp_path: Path
) -> None:
    settings = _settings(db_url, tmp_path, FakeClock())
    first, second = _database_throttle(db_url, settings), _database_throttle(db_url, settings)
    for _ in range(5):
        first.record_failure("b@x.de", "1.2.3.4")
    assert [second.record_failure("b@x.de", "1.2.3.4") for _ in range(5)][-1] is True
    assert first.account_lock_remaining("b@x.de") == timedelta(minutes=30)


def test_redis_throttle_shares_counters_across_instances(tmp_path: Path, redis_url: str) -> None:
    settings = _settings("sqlite://", tmp_path, FakeClock())
    first = SignInThrottle(RedisCounters(redis.Redis.from_url(redis_url)), settings)
    second = SignInThrottle(RedisCounters(redis.Redis.from_url(redis_url)), settings)
    for _ in range(5):
        first.record_failure("b@x.de", "1.2.3.4")
    locked = [second.record_failure("b@x.de", "1.2.3.4") for _ in range(5)]
    assert locked[-1] is True
    remaining = first.account_lock_remaining("b@x.de")
    assert remaining is not None and timedelta(minutes=29) < remaining <= timedelta(minutes=30)
    first.record_success("c@x.de")
    assert second.account_lock_remaining("c@x.de") is None
