"""Alembic environment: always driven programmatically by pocketping.store.migrate."""

from alembic import context

from pocketping.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
