"""Alembic environment: runs on the connection `reachguard.store.postgres.upgrade` passes in
(config.attributes["connection"]), or on `sqlalchemy.url` for the plain `alembic` command.

The schema is whatever `search_path` the connection has: PostgresStore sets it from the
URL's `schema` parameter, so tests (and several ReachGuard installations) can share one
database, each in its own schema, `alembic_version` included.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
