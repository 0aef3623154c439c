"""Recovery codes: one row each, used at most once by an atomic compare-and-set.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

The codes were a JSON list of unsalted SHA-256 digests on the user, rewritten as a whole when
one was used, so two requests at once could both use one code, or bring a used one back. Each
code is now a row whose `used_at` is set by `UPDATE … WHERE used_at IS NULL`. Codes made before
keep working once (their digests move over as `sha256$…`); new ones are salted (`s1$…`).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    codes = op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("used_at", TIME, nullable=True),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])
    connection = op.get_bind()
    users = connection.execute(
        sa.text(
            "SELECT id, recovery_code_hashes FROM users WHERE totp_secret_encrypted IS NOT NULL"
        )
    )
    rows: list[dict[str, object]] = []
    for user_id, stored in users:
        digests = json.loads(stored) if isinstance(stored, str) else (stored or [])
        rows.extend({"user_id": user_id, "code_hash": f"sha256${digest}"} for digest in digests)
    if rows:
        op.bulk_insert(codes, rows)
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): no table rebuild, which on SQLite
    # would delete the rows that reference users (sessions, tokens) through their cascades.
    op.execute("ALTER TABLE users DROP COLUMN recovery_code_hashes")


def downgrade() -> None:
    op.add_column(
        "users",
        sa.Column("recovery_code_hashes", sa.JSON(), nullable=False, server_default="[]"),
    )
    op.drop_index("ix_recovery_codes_user_id", table_name="recovery_codes")
    op.drop_table("recovery_codes")
