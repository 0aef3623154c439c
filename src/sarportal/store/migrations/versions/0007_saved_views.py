"""Saved views and the organisation's default view per page and role.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

A view keeps a page's canonical query string (filter values only) and a name; it is its
owner's or shared with the organisation. Deleting a view (or its owner) deletes the defaults
that point at it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(24), nullable=False, unique=True),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column(
            "owner_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("page", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_key", sa.String(80), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.UniqueConstraint("owner_id", "page", "name_key", name="uq_saved_views_name"),
    )
    op.create_index("ix_saved_views_organisation_id", "saved_views", ["organisation_id"])
    op.create_index("ix_saved_views_owner_id", "saved_views", ["owner_id"])
    op.create_table(
        "default_views",
        sa.Column(
            "organisation_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id"),
            primary_key=True,
        ),
        sa.Column("page", sa.String(16), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column(
            "view_id",
            sa.Integer(),
            sa.ForeignKey("saved_views.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_default_views_view_id", "default_views", ["view_id"])


def downgrade() -> None:
    op.drop_index("ix_default_views_view_id", "default_views")
    op.drop_table("default_views")
    op.drop_index("ix_saved_views_owner_id", "saved_views")
    op.drop_index("ix_saved_views_organisation_id", "saved_views")
    op.drop_table("saved_views")
