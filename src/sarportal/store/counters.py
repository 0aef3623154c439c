"""Expiring counters and flags in the portal's database, shared by every process that uses it.

Each operation is one statement in its own short transaction; an increment is an atomic upsert
(`INSERT … ON CONFLICT DO UPDATE … RETURNING`, on SQLite and PostgreSQL alike), so processes
racing on one key never lose a count. Expiry follows the store's clock; expired rows read as
absent and are deleted by `purge_expired`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from sarportal.config import Clock
from sarportal.store.models import Counter

_table: Table = Counter.__table__  # type: ignore[assignment]

_c = _table.c


class DatabaseCounters:
    """`Counters` (see `sarportal.auth.throttle`) in the `counters` table."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def incr(self, key: str, window: timedelta) -> int:
        """Add one to `key` (which expires `window` after its first hit); the new count."""
        now = self._clock()
        statement = self._insert(_table).values(key=key, count=1, expires_at=now + window)
        expired = _c.expires_at <= now
        upsert = statement.on_conflict_do_update(
            index_elements=[_c.key],
            set_={
                "count": case((expired, 1), else_=_c.count + 1),
                "expires_at": case((expired, statement.excluded.expires_at), else_=_c.expires_at),
            },
        ).returning(_c.count)
        with self._engine.begin() as connection:
            return int(connection.execute(upsert).scalar_one())

    def set_flag(self, key: str, ttl: timedelta) -> None:
        """Set `key` for `ttl` (from now, whatever it held)."""
        statement = self._insert(_table).values(key=key, count=1, expires_at=self._clock() + ttl)
        statement = statement.on_conflict_do_update(
            index_elements=[_c.key],
            set_={"count": 1, "expires_at": statement.excluded.expires_at},
        )
        with self._engine.begin() as connection:
            connection.execute(statement)

    def get(self, key: str) -> tuple[int, datetime] | None:
        """The count of `key` and when it expires, or None when it is not set."""
        now = self._clock()
        query = select(_c.count, _c.expires_at).where(_c.key == key, _c.expires_at > now)
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        count, expires_at = row
        return int(count), expires_at

    def flag_remaining(self, key: str) -> timedelta | None:
        """How long `key` stays set, or None when it is not set."""
        found = self.get(key)
        return None if found is None else found[1] - self._clock()

    def reset(self, key: str) -> None:
        """Forget `key`."""
        with self._engine.begin() as connection:
            connection.execute(delete(_table).where(_c.key == key))

    def purge_expired(self) -> int:
        """Delete every expired counter; how many."""
        with self._engine.begin() as connection:
            result = connection.execute(delete(_table).where(_c.expires_at <= self._clock()))
            return int(result.rowcount)
