"""On SQLite a campaign's outbox groups, read once, are used again while nothing was committed
to the store since (PRAGMA data_version): the same figures without reading a million rows
again, and never a stale one, whoever committed (another connection, another process) and
whatever the report's own transaction holds."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update
from tests.integration.test_tracking import seeded_report

from loa.services.tracking import report as tracking_report
from loa.store.db import Store
from loa.store.tables import outbox


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The campaigns whose outbox rows were read, one entry per read."""
    reads: list[int] = []
    read = tracking_report._read_outbox

    def counted(conn: Any, campaign_id: int) -> Any:
        reads.append(campaign_id)
        return read(conn, campaign_id)

    monkeypatch.setattr(tracking_report, "_read_outbox", counted)
    return reads


def report(store: Store, campaign_id: int, now: datetime) -> dict[str, Any]:
    with store.engine.begin() as conn:
        return tracking_report.campaign_report(
            conn, workspace_id=store.workspace_id, campaign_id=campaign_id, now=now
        )


def test_a_report_asked_again_with_nothing_committed_reads_no_row_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, ids, now = seeded_report(store)  # crediting the orders committed since it read
    reads = counting_reads(monkeypatch)
    again = report(store, ids["campaign"], now)
    once_more = report(store, ids["campaign"], now)
    assert again == once_more == first
    # PostgreSQL groups the rows itself each time.
    assert reads == [ids["campaign"]] * (1 if store.dialect == "sqlite" else 2)


def test_a_change_committed_elsewhere_shows_in_the_next_report(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, ids, now = seeded_report(store)
    report(store, ids["campaign"], now)  # remembered
    # A late receipt: b3 did arrive after all (another connection of the same store).
    with store.engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == ids["b3"]["outbox"])
            .values(status="delivered", code=None, done_at=datetime.now(UTC))
        )
    seen = report(store, ids["campaign"], now)
    assert (first["delivered"], first["expired"]) == (6, 1)
    assert (seen["delivered"], seen["expired"]) == (7, 0)
    if store.dialect != "sqlite":
        return
    # Another process: the dispatcher marks a5 delivered too.
    path = store.engine.url.database
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
            "db.execute(\"UPDATE outbox SET status = 'delivered', code = NULL WHERE id = ?\", "
            "(int(sys.argv[2]),)); db.commit()",
            str(path),
            str(ids["a5"]["outbox"]),
        ],
        check=True,
    )
    reads = counting_reads(monkeypatch)
    later = report(store, ids["campaign"], now)
    assert (later["delivered"], later["undelivered"], reads) == (8, 0, [ids["campaign"]])


def test_the_reports_own_transaction_sees_its_own_changes_and_forgets_them(
    store: Store,
) -> None:
    first, ids, now = seeded_report(store)
    report(store, ids["campaign"], now)  # remembered
    with store.engine.connect() as conn:
        conn.execute(
            update(outbox).where(outbox.c.id == ids["b3"]["outbox"]).values(status="delivered")
        )
        inside = tracking_report.campaign_report(
            conn, workspace_id=store.workspace_id, campaign_id=ids["campaign"], now=now
        )
        conn.rollback()
    assert (inside["delivered"], inside["expired"]) == (7, 0)
    after = report(store, ids["campaign"], now)
    assert (after["delivered"], after["expired"]) == (6, 1)
    assert after == first
