"""The store: migrations on both databases, the default workspace, the CLI's init."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from loa.cli import app
from loa.store.db import Store, is_current, make_engine, upgrade
from loa.store.tables import workspaces


def test_a_fresh_store_has_every_table_and_the_default_workspace(store: Store) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert {"contacts", "consents", "events", "segments", "audit_log", "workspaces"} <= names
    with store.engine.connect() as conn:
        slugs = conn.execute(select(workspaces.c.slug)).scalars().all()
    assert slugs == ["default"]
    assert is_current(store.engine)


def test_upgrading_twice_changes_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(select(workspaces.c.slug)).scalars().all() == ["default"]
    engine.dispose()


def test_loa_init_creates_the_store_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "sub" / "loa.db"
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{db}", "init"])
    assert result.exit_code == 0, result.output
    assert "Cơ sở dữ liệu sẵn sàng" in result.output
    assert db.exists()


def test_the_migrations_build_exactly_the_tables_the_code_declares(store: Store) -> None:
    from alembic.autogenerate import compare_metadata

    from loa.store.tables import metadata

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
