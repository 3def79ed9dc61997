"""A big SQLite write committed without holding the caller back for the WAL checkpoint: the
copy into the database file is done afterwards by a thread of its own."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import create_engine

from loa.store.bulk import checkpoint_after
from loa.store.db import make_engine


def _join_checkpoints() -> None:
    for thread in threading.enumerate():
        if thread.name == "loa-checkpoint":
            thread.join(30)


def test_the_commit_leaves_the_checkpoint_to_a_thread_that_copies_every_page(
    tmp_path: Path,
) -> None:
    path = tmp_path / "loa.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (v TEXT)")
        conn.commit()
        watcher = sqlite3.connect(path)  # a reader: the thread's checkpoint must not wait for it
        with checkpoint_after(conn):
            conn.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                "WHERE i < 40000) INSERT INTO t SELECT printf('%0500d', i) FROM n"
            )
            conn.commit()
            # Committed, and still all in the WAL: 20 MB, far past the 1,000 pages at which
            # the commit would have copied it.
            assert watcher.execute("SELECT count(*) FROM t").fetchone() == (40_000,)
            assert (path.parent / "loa.db-wal").stat().st_size > 15_000_000
            assert path.stat().st_size < 1_000_000  # the database file: not copied yet
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        # The pooled connection gets SQLite's default back.
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        watcher.close()
    _join_checkpoints()
    # The thread copied the pages into the database file (the engine's connection is still
    # open: its closing would have checkpointed too).
    assert path.stat().st_size > 15_000_000
    engine.dispose()


def test_a_database_in_memory_has_no_checkpoint_to_wait_for() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn, checkpoint_after(conn):
        conn.exec_driver_sql("CREATE TABLE t (v TEXT)")
        conn.commit()
    assert not [t for t in threading.enumerate() if t.name == "loa-checkpoint"]
