"""Alembic migrations of the PostgreSQL schema (run by `reachguard db upgrade`)."""
