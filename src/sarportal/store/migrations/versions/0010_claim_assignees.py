"""Claim assignees: which of the organisation's users looks after a claim.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

A row keeps the provider's claim id (not personal data), the assignee's user id, who assigned
and when: one row per organisation and claim. Deleting a user sets their ids to NULL (the claim
becomes unassigned; the row, and assignments made by that user for others, stay).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "claim_assignees",
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), primary_key=True
        ),
        sa.Column("claim_id", sa.String(64), primary_key=True),
        sa.Column(
            "assignee_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "assigned_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("assigned_at", TIME, nullable=False),
    )
    op.create_index("ix_claim_assignees_assignee_user_id", "claim_assignees", ["assignee_user_id"])


def downgrade() -> None:
    op.drop_index("ix_claim_assignees_assignee_user_id", "claim_assignees")
    op.drop_table("claim_assignees")
