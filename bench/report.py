"""Reporting a 1M-message campaign on SQLite: `campaign_report` (every figure: counts by
variant, segment, carrier and failure reason, latency percentiles, clicks, credited orders, the
holdout effect, the A/B test, day and week series) against two peers over the same rows in the
same run:

- bare SQLite: `SELECT status, count(*) ... GROUP BY status` for the campaign (the least any
  report reads);
- DuckDB: the same main aggregation and latency histogram over the same outbox rows loaded into
  its own table (loading not timed).

Setup (not timed) writes, by raw bulk SQL, 1,000,000 sent messages plus a 5% holdout (in three
segments or none, two variants, five carriers), 40,000 human clicks and 6,000 bot opens, and
25,000 orders. The first report also credits the orders (attribution); the next three read the
stored credits, each reading the rows again (the best and the slowest are printed), three with
the outbox read by the report's connection alone (READERS = 1: the gain of reading it on
several connections at once, in the same run), and two more with nothing committed since,
which reuse the outbox groups. Target (issue 8): <= 2 s.

    .venv/bin/python bench/report.py [--messages 1000000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from loa.services.tracking import report as report_module
from loa.services.tracking.report import campaign_report
from loa.store.db import open_store

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
T0 = NOW - timedelta(days=3)
TARGET_S = 2.0
AGAIN = 3  # reports after the first
CARRIERS = ("viettel", "viettel", "viettel", "mobifone", "vinaphone", "vietnamobile", "gmobile")
# The included segment that brought each recipient in; None: sent before segments were recorded.
SEGMENTS = ("Khách VIP", "Khách quen", "Khách quen", "Mua 1 lần", None)
FAILS = (("undelivered", "027"), ("undelivered", "001"), ("expired", "no-receipt"),
         ("failed", "0x0000000B"), ("rejected", "013"))  # fmt: skip


def stamp(at: datetime) -> str:
    """A datetime the way SQLAlchemy stores it on SQLite (naive UTC text)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def setup(url: str, messages: int) -> tuple[int, int]:
    store = open_store(url)
    ws = store.workspace_id
    rnd = random.Random(7)
    raw: Any = store.engine.raw_connection()
    cur = raw.cursor()
    cur.execute(
        "INSERT INTO campaigns (workspace_id, name, class, channel, sender, audience, variants, "
        "holdout_pct, schedule, budget_vnd, attribution_days, allow_defer, seed, state, "
        "created_by, created_at, updated_at, planned_at) VALUES (?, 'Bench', 'qc', 'sms', "
        "'SHOPABC', '{}', '[]', 5, '{}', 900000000, 7, 1, 1, 'completed', 'bench', ?, ?, ?)",
        (ws, stamp(T0), stamp(T0), stamp(T0)),
    )
    cid = int(cur.lastrowid)
    holdout = messages // 20
    rows = []
    for i in range(1, messages + holdout + 1):
        if i > messages:
            rows.append((ws, f"c{cid}:{i}", cid, i, f"+84{i:09d}", "qc", "control", "viettel",
                         SEGMENTS[i % 5], 750, "holdout", "holdout", None, None, None))  # fmt: skip
            continue
        sub = T0 + timedelta(seconds=i * 0.15)
        r = rnd.random()
        status, code = ("delivered", None) if r < 0.93 else FAILS[int((r - 0.93) / 0.014)]
        done = None if status == "failed" else sub + timedelta(seconds=rnd.expovariate(1 / 8))
        rows.append((ws, f"c{cid}:{i}", cid, i, f"+84{i:09d}", "qc", "AB"[i % 2],
                     CARRIERS[i % len(CARRIERS)], SEGMENTS[i % 5], 750, "send", status, code,
                     None if status == "failed" else stamp(sub),
                     None if done is None else stamp(done)))  # fmt: skip
    cur.executemany(
        "INSERT INTO outbox (workspace_id, idempotency_key, campaign_id, contact_id, phone, "
        "class, variant, carrier, segment, price_vnd, decision, status, code, submitted_at, "
        "done_at, channel, attempts, priority, created_at, updated_at) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sms', 0, 0, '2026-11-20', '2026-11-20')",
        rows,
    )
    clicked = rnd.sample(range(1, messages + 1), 40_000)
    agents = ("Mozilla/5.0 (iPhone) Safari/604.1", "facebookexternalhit/1.1")
    cur.executemany(
        "INSERT INTO clicks (workspace_id, code, campaign_id, contact_id, outbox_id, variant, at, "
        "human, bot, method, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'GET', ?)",
        [
            (
                ws,
                f"k{i}",
                cid,
                i,
                i,
                "AB"[i % 2],
                stamp(T0 + timedelta(hours=2, seconds=i % 9000)),
                1 if n % 7 else 0,
                None if n % 7 else "facebook",
                agents[0 if n % 7 else 1],
            )
            for n, i in enumerate(clicked)
        ],
    )
    buyers = rnd.sample(range(1, messages + holdout + 1), 25_000)
    cur.executemany(
        "INSERT INTO contacts (id, workspace_id, phone, legacy_converted, dnc, created_at, "
        "updated_at) VALUES (?, ?, ?, 0, 0, '2026-11-01', '2026-11-01')",
        [(b, ws, f"+84{b:09d}") for b in buyers],
    )
    cur.executemany(
        "INSERT INTO events (workspace_id, contact_id, type, occurred_at, value_vnd, external_id, "
        "created_at) VALUES (?, ?, 'purchase', ?, ?, ?, '2026-11-22')",
        [
            (ws, b, stamp(T0 + timedelta(hours=3 + n % 48)), 100_000 + 1_000 * (n % 400), f"o{n}")
            for n, b in enumerate(buyers)
        ],
    )
    raw.commit()
    cur.execute("ANALYZE")
    raw.close()
    store.engine.dispose()
    return cid, ws


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="loa-bench-"))
    try:
        _main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the store of a million rows is big


def _main(tmp: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    url = f"sqlite:///{tmp / 'loa.db'}"
    started = time.perf_counter()
    cid, ws = setup(url, args.messages)
    print(f"setup: {args.messages:,} messages + holdout, clicks, orders in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip

    store = open_store(url)
    with store.engine.begin() as conn:
        started, cpu = time.perf_counter(), time.process_time()
        first = campaign_report(conn, workspace_id=ws, campaign_id=cid, now=NOW)
        first_s, first_cpu = time.perf_counter() - started, time.process_time() - cpu
    # Three more reading every row again (as a new process would), the credits stored: a
    # shared machine's other work shows as the spread. Then two with nothing committed since,
    # which reuse the outbox groups read last.
    again: list[tuple[float, float]] = []
    for _ in range(AGAIN):
        report_module._REMEMBERED.clear()
        with store.engine.begin() as conn:
            started, cpu = time.perf_counter(), time.process_time()
            report = campaign_report(conn, workspace_id=ws, campaign_id=cid, now=NOW)
            again.append((time.perf_counter() - started, time.process_time() - cpu))
    (again_s, again_cpu), (slowest_s, _cpu) = min(again), max(again)
    # The same with the outbox read by the report's connection alone (as inside a transaction
    # that already wrote), for the gain of reading it on several connections at once.
    readers = report_module.READERS
    alone: list[tuple[float, float]] = []
    try:
        report_module.READERS = 1  # type: ignore[misc]
        for _ in range(AGAIN):
            report_module._REMEMBERED.clear()
            with store.engine.begin() as conn:
                started, cpu = time.perf_counter(), time.process_time()
                one = campaign_report(conn, workspace_id=ws, campaign_id=cid, now=NOW)
                alone.append((time.perf_counter() - started, time.process_time() - cpu))
    finally:
        report_module.READERS = readers  # type: ignore[misc]
    assert one == report
    (alone_s, alone_cpu), (alone_slowest_s, _cpu) = min(alone), max(alone)
    remembered: list[float] = []
    for _ in range(2):
        with store.engine.begin() as conn:
            started = time.perf_counter()
            same = campaign_report(conn, workspace_id=ws, campaign_id=cid, now=NOW)
            remembered.append(time.perf_counter() - started)
    assert same == report
    raw: Any = store.engine.raw_connection()
    cur = raw.cursor()
    started = time.perf_counter()
    cur.execute("SELECT status, count(*) FROM outbox WHERE campaign_id = ? GROUP BY status", (cid,))
    cur.fetchall()
    bare_s = time.perf_counter() - started
    cur.execute(
        "SELECT variant, carrier, segment, status, code, submitted_at, done_at, price_vnd "
        "FROM outbox WHERE campaign_id = ?",
        (cid,),
    )
    rows = cur.fetchall()
    raw.close()
    duck = duckdb.connect()
    duck.execute(
        "CREATE TABLE outbox (variant TEXT, carrier TEXT, segment TEXT, status TEXT, code TEXT, "
        "submitted_at TIMESTAMP, done_at TIMESTAMP, price_vnd INTEGER)"
    )
    import polars as pl

    frame = pl.DataFrame(
        rows,
        schema=["variant", "carrier", "segment", "status", "code", "s", "d", "price_vnd"],
        orient="row",
    ).with_columns(
        pl.col("s").str.to_datetime(strict=False).alias("submitted_at"),
        pl.col("d").str.to_datetime(strict=False).alias("done_at"),
    )
    duck.register("frame", frame.select(
        "variant", "carrier", "segment", "status", "code", "submitted_at", "done_at", "price_vnd"
    ).to_arrow())  # fmt: skip
    duck.execute("INSERT INTO outbox SELECT * FROM frame")
    started = time.perf_counter()
    duck.execute(
        "SELECT variant, carrier, segment, status, code, date_trunc('hour', submitted_at), "
        "count(*), sum(price_vnd), min(submitted_at) FROM outbox GROUP BY ALL"
    ).fetchall()
    duck.execute(
        "SELECT carrier, round(epoch(done_at - submitted_at)) AS s, count(*) FROM outbox "
        "WHERE status = 'delivered' GROUP BY ALL"
    ).fetchall()
    duck_s = time.perf_counter() - started

    print(f"campaign report, {report['sent']:,} sent / {report['recipients']:,} recipients "
          f"/ {report['holdout']:,} holdout:")  # fmt: skip
    print(f"  first report (credits {first['orders']:,} orders)  {first_s:6.2f} s "
          f"(CPU {first_cpu:.2f} s)")  # fmt: skip
    print(f"  report again (credits stored)       {again_s:6.2f} s (CPU {again_cpu:.2f} s), "
          f"slowest of {AGAIN} {slowest_s:.2f} s")  # fmt: skip
    print(f"  again, outbox read by 1 connection  {alone_s:6.2f} s (CPU {alone_cpu:.2f} s), "
          f"slowest {alone_slowest_s:.2f} s; by {readers} at once: {alone_s / again_s:.2f}x "
          "faster")  # fmt: skip
    print(f"  again, nothing committed since      {min(remembered):6.2f} s (the outbox groups "
          "read last, checked by PRAGMA data_version)")  # fmt: skip
    print(f"  so crediting the orders took about  {first_s - again_s:6.2f} s (the second report "
          "looks again only at orders not settled yet)")  # fmt: skip
    print(f"  peer: bare SQLite COUNT GROUP BY    {bare_s:6.2f} s   ratio {again_s / bare_s:5.1f}x")
    print(f"  peer: DuckDB same aggregation       {duck_s:6.2f} s   ratio {again_s / duck_s:5.1f}x")
    print(f"  figures: delivered {report['delivered']:,}, unique clicks "
          f"{report['unique_clicks']:,}, bot opens {report['bot_clicks']:,}, orders "
          f"{report['orders']:,}, revenue {report['revenue_vnd']:,} đ, cost "
          f"{report['cost_vnd']:,} đ, ROI {report['roi']}, latency p50/p99 "
          f"{report['latency_s']['p50']}/{report['latency_s']['p99']} s, holdout verdict "
          f"{report['incremental']['verdict']}")  # fmt: skip
    print("  by segment: " + "; ".join(
        f"{s['label_en']} {s['recipients']:,} recipients, {s['delivered']:,} delivered, "
        f"{s['orders']:,} orders" for s in report["by_segment"]))  # fmt: skip
    worst = max(first_s, slowest_s)
    print(f"  target <= {TARGET_S:g} s: {'met' if worst <= TARGET_S else 'NOT met'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip
    store.engine.dispose()


if __name__ == "__main__":
    main()
