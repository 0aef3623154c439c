"""Database engine set-up and the `Store`, which hands out units of work."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sarportal.config import Clock, Settings
from sarportal.store.accounts import Account
from sarportal.store.crypto import SecretBox
from sarportal.store.uow import UnitOfWork

# Driver errors that mean "the database cannot be reached", not a fault of the code.
DATABASE_DOWN = (OperationalError, InterfaceError)


def normalise_url(url: str) -> str:
    """The SQLAlchemy URL for `url`, choosing psycopg 3 for plain PostgreSQL URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys enforced, a busy timeout, and a database
    file that only its owner can read (as SQLite gives its journal files the file's mode)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _create_private(make_url(url).database)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _create_private(database: str | None) -> None:
    """Create the SQLite file `database` with mode 0600 unless it exists (or is in memory)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # a folder that is missing or closed: SQLite says so when it connects


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class Store:
    """The portal's database with its encryption keys and clock."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.box = SecretBox(settings.encryption_keys)
        self.clock: Clock = settings.clock
        self._sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work; use it as a context manager and call `commit()` to keep changes."""
        return UnitOfWork(self._sessions, self.box, self.clock)

    def provider_credentials_for(self, user_id: int) -> tuple[str, str] | None:
        """The provider (client id, client secret) the user acts as, or None when unset."""
        with self.unit_of_work() as uow:
            return uow.credentials.get_for(user_id)

    def provider_credentials_of(self, account: Account) -> tuple[str, str] | None:
        """The provider (client id, client secret) of an account already read, or None."""
        if account.provider_client_id is None or account.provider_secret_encrypted is None:
            return None
        return account.provider_client_id, self.box.decrypt(account.provider_secret_encrypted)

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
