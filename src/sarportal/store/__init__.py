"""The portal's own store: SQLAlchemy tables, repositories, a unit of work, Alembic migrations.

`Store(settings)` is the entry point; `store.unit_of_work()` opens a transaction that rolls back
unless committed. Nothing here ever holds customer data.
"""

from sarportal.store.engine import Store
from sarportal.store.uow import UnitOfWork

__all__ = ["Store", "UnitOfWork"]
