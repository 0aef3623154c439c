"""Alembic migrations of the portal's store."""
