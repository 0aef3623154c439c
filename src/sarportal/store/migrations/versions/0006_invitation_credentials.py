"""Invitations may carry the invitee's provider credentials (the secret encrypted).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

An invited user had no provider access until an admin set it after the acceptance; now the admin
can give it with the invitation. The secret is encrypted like every stored provider secret, moved
to the new user on acceptance and cleared from the invitation then (and when it expires).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invitations") as table:
        table.add_column(sa.Column("provider_client_id", sa.String(200), nullable=True))
        table.add_column(sa.Column("provider_secret_encrypted", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitations") as table:
        table.drop_column("provider_secret_encrypted")
        table.drop_column("provider_client_id")
