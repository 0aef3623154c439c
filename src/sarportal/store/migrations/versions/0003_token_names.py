"""Token names: a label the owner gives each personal API token (older tokens have none).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("name", sa.String(100), nullable=True))


def downgrade() -> None:
    op.drop_column("api_tokens", "name")
