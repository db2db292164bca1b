"""Alembic migrations of the closing database (`closing db upgrade`)."""
