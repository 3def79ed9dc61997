"""Moving a million rows into the store without a Python object per value.

PostgreSQL: COPY from CSV written by Polars. SQLite: ADBC writes the Arrow columns into a
scratch database file that the caller's connection attaches and reads with plain SQL (binding
rows through the sqlite3 module costs seconds of Python objects per million rows).
"""

from __future__ import annotations

import io
import logging
import sqlite3
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import polars as pl
from sqlalchemy import Connection, Select

BATCH_ROWS = 50_000
log = logging.getLogger("loa.store")


def copy_rows(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """COPY `frame` into an existing PostgreSQL table, a batch at a time (empty cell = NULL)."""
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    columns = ", ".join(frame.columns)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for offset in range(0, frame.height, BATCH_ROWS):
            buffer = io.BytesIO()
            frame.slice(offset, BATCH_ROWS).write_csv(buffer, include_header=False, null_value="")
            copy.write(buffer.getvalue())


class Scratch:
    """SQLite: a scratch database file that ADBC fills a frame at a time (no journal, no
    fsync), for a store connection to attach and read with plain SQL once it is complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._adbc: Any = None

    def append(self, name: str, frame: pl.DataFrame) -> None:
        """Add `frame`'s rows to table `name`, creating it from the first frame's columns."""
        if self._adbc is None:
            self._adbc = adbc_sqlite.connect(str(self.path), autocommit=True)
            with self._adbc.cursor() as cur:
                cur.execute("PRAGMA journal_mode=OFF")
                cur.execute("PRAGMA synchronous=OFF")
        with self._adbc.cursor() as cur:
            # String views: Polars hands its strings over without copying them.
            arrow = frame.to_arrow(compat_level=pl.CompatLevel.newest())
            cur.adbc_ingest(name, arrow, mode="create_append")

    def close(self) -> None:
        """Finish writing: ADBC lets go of the file before SQLite's other copy opens it."""
        if self._adbc is not None:
            self._adbc.close()
            self._adbc = None

    @contextmanager
    def attached(self, conn: Connection, alias: str) -> Iterator[None]:
        """The tables readable by `conn` as `alias.NAME` until the block ends.

        Must be entered before `conn` writes anything: sqlite3 opens its transaction lazily,
        and ATTACH cannot run inside one. The caller commits."""
        self.close()
        conn.exec_driver_sql(f"ATTACH DATABASE ? AS {alias}", (str(self.path),))
        try:
            yield
        finally:
            conn.rollback()  # a no-op after the caller's commit; DETACH needs no transaction
            conn.exec_driver_sql(f"DETACH DATABASE {alias}")


@contextmanager
def scratch() -> Iterator[Scratch]:
    """A `Scratch` in a temporary directory, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="loa-stage-") as directory:
        file = Scratch(Path(directory) / "stage.db")
        try:
            yield file
        finally:
            file.close()


@contextmanager
def attached_scratch(
    conn: Connection, alias: str, tables: Mapping[str, pl.DataFrame]
) -> Iterator[None]:
    """SQLite: `tables` readable by `conn` (as `alias.NAME`, or just NAME) until the block ends.

    Must be entered before `conn` writes anything: sqlite3 opens its transaction lazily, and
    ATTACH cannot run inside one. The caller commits; the scratch file is then removed."""
    with scratch() as file:
        for name, frame in tables.items():
            file.append(name, frame)
        with file.attached(conn, alias):
            yield


def write_frames(file: Scratch, tables: Mapping[str, pl.DataFrame]) -> None:
    """Fill new tables of `file` like `Scratch.append`, cheaper for wide frames with empty
    columns: each table is created from its frame's columns, then only the columns that hold a
    value are written, strings as Arrow string views (no copy); the others stay NULL."""
    for name, frame in tables.items():
        file.append(name, frame.clear())  # the table, with the column types `append` gives
        filled = [c for c in frame.columns if frame.get_column(c).null_count() < frame.height]
        if frame.height:
            filled = filled or frame.columns[:1]  # rows of nothing but NULLs are rows too
            arrow = frame.select(filled).to_arrow(compat_level=pl.CompatLevel.newest())
            with file._adbc.cursor() as cur:
                cur.adbc_ingest(name, arrow, mode="append")


@contextmanager
def attached_in_turn(
    conn: Connection, alias: str, parts: Sequence[Mapping[str, pl.DataFrame]]
) -> Iterator[list[Callable[[], str]]]:
    """SQLite: each part's tables in a scratch file of its own, written by `write_frames` in a
    background thread one part after another, so that `conn` can work on a part while the next
    is being written (ADBC and SQLite both release the GIL). Yields, per part, a function that
    waits for that part and returns the schema its tables are in (`alias` + its number).

    Must be entered before `conn` writes anything (every file is attached first); the caller
    commits. A file is read only once it is written and ADBC has closed it, so the two copies
    of SQLite never hold it at the same time."""
    with tempfile.TemporaryDirectory(prefix="loa-stage-") as directory:
        files = [Scratch(Path(directory) / f"stage{i}.db") for i in range(len(parts))]
        names = [f"{alias}{i}" for i in range(len(parts))]
        attached: list[str] = []
        try:
            for file, name in zip(files, names, strict=True):
                conn.exec_driver_sql(f"ATTACH DATABASE ? AS {name}", (str(file.path),))
                attached.append(name)
                # Thrown away afterwards: writes to it need neither a journal nor an fsync.
                conn.exec_driver_sql(f"PRAGMA {name}.journal_mode=OFF")
                conn.exec_driver_sql(f"PRAGMA {name}.synchronous=OFF")

            def write(i: int) -> None:
                try:
                    write_frames(files[i], parts[i])
                finally:
                    files[i].close()

            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="loa-stage") as pool:
                futures = [pool.submit(write, i) for i in range(len(parts))]

                def ready(i: int) -> str:
                    futures[i].result()
                    return names[i]

                try:
                    yield [partial(ready, i) for i in range(len(parts))]
                finally:
                    for future in futures:
                        future.cancel()  # the pool then waits only for a write under way
        finally:
            conn.rollback()  # a no-op after the caller's commit; DETACH needs no transaction
            for name in attached:
                conn.exec_driver_sql(f"DETACH DATABASE {name}")


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


def sqlite_batches(
    conn: Connection, sql: str, params: tuple[Any, ...] = (), *, size: int = 100_000
) -> Iterator[list[tuple[Any, ...]]]:
    """SQLite: the rows of `sql` as plain tuples, `size` at a time (bounded memory)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(size):
            yield list(batch)
    finally:
        cursor.close()


def literal_sql(conn: Connection, query: Select[Any]) -> str:
    """`query` as SQL text with its values inlined (SQLAlchemy quotes them)."""
    return str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def sqlite_frame(
    conn: Connection, sql: str, params: tuple[Any, ...] = (), *, columns: Sequence[str]
) -> pl.DataFrame:
    """SQLite: the rows of `sql` as a frame without a Python object per value.

    SQLite itself writes the answer into an attached scratch file (CREATE TABLE AS, no
    journal); ADBC then reads that file, never the store, as Arrow. About half the time of
    fetching tuples for a few hundred thousand rows. Must run outside a write transaction
    (ATTACH). The columns are named `columns`; their types are what ADBC infers from the
    values (a column of NULLs only: Int64, no rows at all: Null), for the caller to cast."""
    with tempfile.TemporaryDirectory(prefix="loa-read-") as directory:
        path = Path(directory) / "answer.db"
        conn.exec_driver_sql("ATTACH DATABASE ? AS loa_answer", (str(path),))
        try:
            conn.exec_driver_sql("PRAGMA loa_answer.journal_mode=OFF")
            conn.exec_driver_sql(f"CREATE TABLE loa_answer.rows AS {sql}", params)
            count = int(conn.exec_driver_sql("SELECT count(*) FROM loa_answer.rows").scalar_one())
        finally:
            conn.rollback()  # no transaction is open: DETACH needs none
            conn.exec_driver_sql("DETACH DATABASE loa_answer")
        if not count:
            return pl.DataFrame(schema=dict.fromkeys(columns, pl.Null))
        with adbc_sqlite.connect(str(path)) as reader, reader.cursor() as cur:
            # Types are inferred from the first batch: one batch sees every value.
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(count + 1)})
            cur.execute("SELECT * FROM rows")
            table = cur.fetch_arrow_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.rename(dict(zip(frame.columns, columns, strict=True)))


def _main_file(conn: Connection) -> str:
    """The file of `conn`'s main SQLite database; "" in memory."""
    for _n, name, file in conn.exec_driver_sql("PRAGMA database_list"):
        if name == "main":
            return str(file or "")
    return ""


@contextmanager
def checkpoint_after(conn: Connection) -> Iterator[None]:
    """SQLite: what `conn` commits inside the block is committed without the WAL checkpoint
    its commit would run (for a million rows, seconds spent copying every page into the
    database file and syncing it); once the block ends, the checkpoint runs on a thread and a
    connection of its own while the caller goes on. It is PASSIVE: it never waits for readers
    or writers, and what it cannot copy now, the next commit's automatic checkpoint does. A
    process that exits meanwhile waits for it (the thread is not a daemon)."""
    path = _main_file(conn)
    if not path:
        yield
        return
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    try:
        yield
    finally:
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")  # SQLite's default
    threading.Thread(target=_checkpoint, args=(path,), name="loa-checkpoint").start()


def _checkpoint(path: str) -> None:
    try:
        # mode=rw: a store removed meanwhile is not created again.
        db = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=rw", uri=True, timeout=30)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            db.close()
    except sqlite3.Error as failure:  # the next commit's automatic checkpoint copies it
        log.warning("background WAL checkpoint of %s failed: %s", path, failure)
