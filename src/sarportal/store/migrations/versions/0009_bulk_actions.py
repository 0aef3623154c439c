"""Bulk actions: the jobs and their rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

A row keeps a transaction id, an amount, its own idempotency key (unique: made once, with the
job) and its outcome; the job who asked, which action and which worker holds it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(24), nullable=False, unique=True),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", TIME, nullable=True),
    )
    op.create_index("ix_bulk_jobs_organisation_id", "bulk_jobs", ["organisation_id"])
    op.create_index("ix_bulk_jobs_user_id", "bulk_jobs", ["user_id"])
    op.create_table(
        "bulk_rows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("bulk_jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("baseline", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("reconciled", sa.Boolean(), nullable=False),
        sa.Column("approval_key", sa.String(24), nullable=True),
        sa.UniqueConstraint("job_id", "position", name="uq_bulk_rows_position"),
    )
    op.create_index("ix_bulk_rows_job_state", "bulk_rows", ["job_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_bulk_rows_job_state", "bulk_rows")
    op.drop_table("bulk_rows")
    op.drop_index("ix_bulk_jobs_user_id", "bulk_jobs")
    op.drop_index("ix_bulk_jobs_organisation_id", "bulk_jobs")
    op.drop_table("bulk_jobs")
