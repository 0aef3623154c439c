"""Audit outcomes: an outcome row points at the pending row it completes; lookup by target.

Revision ID: 0002
Revises: 0001
Create Date: 2025-03-01

Plain ADD COLUMN (no table rebuild), so the append-only triggers of 0001 stay in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("completes_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_log_completes_id", "audit_log", ["completes_id"])
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_completes_id", table_name="audit_log")
    op.drop_column("audit_log", "completes_id")
