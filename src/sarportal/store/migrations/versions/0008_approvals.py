"""Four-eyes approval: each organisation's thresholds per currency, and the requests.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

A request keeps ids, amounts, codes and the provider idempotency key made when it was asked
for (unique: a double submit makes one request); a refund's text for the provider only while
it is pending.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_policies",
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), primary_key=True
        ),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("captures", sa.Boolean(), nullable=False),
        sa.Column("cancellations", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(24), nullable=False, unique=True),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("transaction_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("baseline", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("requested_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("outcome_code", sa.String(64), nullable=True),
    )
    op.create_index("ix_approval_requests_open", "approval_requests", ["organisation_id", "state"])
    op.create_index("ix_approval_requests_transaction_id", "approval_requests", ["transaction_id"])


def downgrade() -> None:
    op.drop_index("ix_approval_requests_transaction_id", "approval_requests")
    op.drop_index("ix_approval_requests_open", "approval_requests")
    op.drop_table("approval_requests")
    op.drop_table("approval_policies")
