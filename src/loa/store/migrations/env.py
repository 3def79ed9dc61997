"""Alembic environment: runs against the engine Loa passes in (no alembic.ini needed)."""

from alembic import context
from sqlalchemy import Engine

from loa.store.tables import metadata

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # `alembic` command line: take the URL from loa's settings
    from loa.config import load_settings
    from loa.store.db import make_engine

    engine = make_engine(load_settings().database_url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite can only ALTER by copying the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
