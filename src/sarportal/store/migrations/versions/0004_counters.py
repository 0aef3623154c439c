"""Counters: expiring counters and flags in the database, shared by every portal process.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Sign-in lockouts and per-address budgets lived in each process's memory without Redis, so two
gunicorn workers (or a restart) split or forgot them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
    )
    op.create_index("ix_counters_expires_at", "counters", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_counters_expires_at", table_name="counters")
    op.drop_table("counters")
