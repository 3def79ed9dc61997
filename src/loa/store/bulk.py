"""Moving a million rows into the store without a Python object per value.

PostgreSQL: COPY from CSV written by Polars. SQLite: ADBC writes the Arrow columns into a
scratch database file that the caller's connection attaches and reads with plain SQL (binding
rows through the sqlite3 module costs seconds of Python objects per million rows).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import polars as pl
from sqlalchemy import Connection, Select

BATCH_ROWS = 50_000


def copy_rows(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """COPY `frame` into an existing PostgreSQL table, a batch at a time (empty cell = NULL)."""
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    columns = ", ".join(frame.columns)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for offset in range(0, frame.height, BATCH_ROWS):
            buffer = io.BytesIO()
            frame.slice(offset, BATCH_ROWS).write_csv(buffer, include_header=False, null_value="")
            copy.write(buffer.getvalue())


@contextmanager
def attached_scratch(
    conn: Connection, alias: str, tables: Mapping[str, pl.DataFrame]
) -> Iterator[None]:
    """SQLite: `tables` readable by `conn` (as `alias.NAME`, or just NAME) until the block ends.

    Must be entered before `conn` writes anything: sqlite3 opens its transaction lazily, and
    ATTACH cannot run inside one. The caller commits; the scratch file is then removed."""
    with tempfile.TemporaryDirectory(prefix="loa-stage-") as scratch:
        stage = Path(scratch) / "stage.db"
        with adbc_sqlite.connect(str(stage), autocommit=True) as adbc:
            with adbc.cursor() as cur:  # scratch data: no journal, no fsync
                cur.execute("PRAGMA journal_mode=OFF")
                cur.execute("PRAGMA synchronous=OFF")
            for name, frame in tables.items():
                frame.write_database(name, connection=adbc, engine="adbc")
        conn.exec_driver_sql(f"ATTACH DATABASE ? AS {alias}", (str(stage),))
        try:
            yield
        finally:
            conn.rollback()  # a no-op after the caller's commit; DETACH needs no transaction
            conn.exec_driver_sql(f"DETACH DATABASE {alias}")


def sqlite_rows(conn: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """SQLite: every row of `query` as plain tuples from the sqlite3 cursor, without
    SQLAlchemy's per-row work. Values are rendered inline (SQLAlchemy quotes them), and the
    store is read through this connection only: never through ADBC, whose own copy of SQLite
    would break this one's file locks."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        rows: list[tuple[Any, ...]] = cursor.execute(sql).fetchall()
    finally:
        cursor.close()
    return rows
