"""Counting segments on SQLite: Loa's compiled rules against DuckDB running the same questions
by hand-written SQL over the same rows (loaded into DuckDB's own columnar tables).

    .venv/bin/python bench/segments.py [--contacts 1000000] [--orders 2000000] [--seed 7]
                                       [--import-orders] [--db PATH]

Setup writes the contacts and orders with bulk SQL (deterministic for a seed) and rebuilds the
purchase stats; `--import-orders` instead writes the orders as the sample generator's CSV and
times `import_events` on it (target: 2M rows in 30 s). Each count runs three times; the best
time is shown against the target of 2 s, with DuckDB's best time and the ratio Loa / DuckDB,
first on the current schema, then with the two events indexes widened as proposed to the lead.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from sqlalchemy import text

from loa.services.events import import_events
from loa.services.segments import BUILTINS, birthday_mmdd, count_segment
from loa.services.segments.rules import VN
from loa.services.stats import refresh_stats
from loa.store.db import Store, open_store

NOW = datetime(2025, 6, 15, 3, 0, tzinfo=UTC)
TARGET_S = 2.0
# Proposed to the lead: widen the two existing events indexes (no new index) so that counts,
# sums and the stats rebuild read only index pages, never the table rows.
PROPOSED_INDEXES = (
    "DROP INDEX ix_events_workspace_type_time",
    "CREATE INDEX ix_events_workspace_type_time ON events "
    "(workspace_id, type, occurred_at, contact_id, value_vnd)",
    "DROP INDEX ix_events_contact_type_time",
    "CREATE INDEX ix_events_contact_type_time ON events "
    "(contact_id, type, occurred_at, value_vnd, workspace_id)",
)
IMPORT_TARGET_S = 30.0
PROVINCES = [
    ("TP Hồ Chí Minh", 25),
    ("Hà Nội", 20),
    ("Đà Nẵng", 6),
    ("Hải Phòng", 6),
    ("Cần Thơ", 5),
    ("Bình Dương", 5),
    ("Đồng Nai", 5),
    ("Khánh Hòa", 4),
    ("Nghệ An", 4),
    ("Thừa Thiên Huế", 4),
]
CATEGORIES = ["Mỹ phẩm", "Thời trang", "Sữa", "Điện tử", "Gia dụng", "Thực phẩm"]
PRICES = [49_000, 99_000, 150_000, 250_000, 490_000, 990_000, 1_500_000, 3_900_000]


def _fmt_dt(value: datetime) -> str:
    """How SQLAlchemy stores a naive-UTC datetime on SQLite."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def make_contacts(n: int, rng: random.Random) -> pl.DataFrame:
    """`n` contacts: phones +849xxxxxxxx, provinces by weight, birthdays, a customer type."""
    names = [p for p, _ in PROVINCES]
    weights = [w for _, w in PROVINCES]
    born_from = date(1960, 1, 1).toordinal()
    birthdays = [
        None if rng.random() < 0.05 else date.fromordinal(born_from + rng.randrange(16_800))
        for _ in range(n)
    ]
    created = [NOW - timedelta(seconds=rng.randrange(3 * 365 * 86_400)) for _ in range(n)]
    return pl.DataFrame(
        {
            "id": range(1, n + 1),
            "phone": [f"+849{i:08d}" for i in range(1, n + 1)],
            "province": rng.choices(names, weights=weights, k=n),
            "birthday": birthdays,
            "birth_mmdd": [b.month * 100 + b.day if b else None for b in birthdays],
            "customer_type": rng.choices(["wholesale", "retail"], weights=[1, 9], k=n),
            "created_at": created,
        },
        schema_overrides={"id": pl.Int64, "birth_mmdd": pl.Int64},
    )


def make_orders(m: int, n: int, rng: random.Random) -> pl.DataFrame:
    """`m` purchases: 70% by a repeat-buying 40% of the contacts, the rest by anyone."""
    repeaters = max(1, int(n * 0.4))
    contact = [
        1 + (rng.randrange(repeaters) if rng.random() < 0.7 else rng.randrange(n)) for _ in range(m)
    ]
    when = [NOW - timedelta(seconds=rng.randrange(2 * 365 * 86_400)) for _ in range(m)]
    frame = pl.DataFrame(
        {
            "contact_id": contact,
            "type": rng.choices(["purchase", "order_completed"], weights=[19, 1], k=m),
            "occurred_at": when,
            "value_vnd": [rng.choice(PRICES) * rng.choice([1, 1, 1, 2, 3]) for _ in range(m)],
            "category": rng.choices(CATEGORIES, k=m),
        },
        schema_overrides={"contact_id": pl.Int64},
    ).sort("occurred_at")
    # A shop numbers its orders as they come.
    return frame.with_columns(
        pl.format("DH{}", pl.int_range(1, m + 1).cast(pl.String).str.zfill(8)).alias("external_id")
    )


def insert_contacts(store: Store, people: pl.DataFrame) -> None:
    rows = people.select(
        "id",
        pl.lit(store.workspace_id).alias("workspace_id"),
        "phone",
        "province",
        pl.col("birthday").cast(pl.String),
        "birth_mmdd",
        pl.format('{{"customer_type": "{}"}}', "customer_type").alias("attrs"),
        pl.col("created_at").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f"),
    ).rows()
    sql = (
        "INSERT INTO contacts (id, workspace_id, phone, province, birthday, birth_mmdd, attrs, "
        "created_at, updated_at, legacy_converted, dnc) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?8, 0, 0)"
    )
    _executemany(store, sql, rows)


def insert_orders(store: Store, orders: pl.DataFrame) -> None:
    now = _fmt_dt(datetime.now(UTC))
    rows = (
        orders.select(
            pl.lit(store.workspace_id).alias("workspace_id"),
            "contact_id",
            "type",
            pl.col("occurred_at").dt.strftime("%Y-%m-%d %H:%M:%S%.6f"),
            "value_vnd",
            "category",
            "external_id",
        )
        .with_columns(pl.lit(now).alias("created_at"))
        .rows()
    )
    sql = (
        "INSERT INTO events (workspace_id, contact_id, type, occurred_at, value_vnd, category, "
        "external_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    _executemany(store, sql, rows)


def _executemany(store: Store, sql: str, rows: list[tuple[Any, ...]]) -> None:
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for start in range(0, len(rows), 50_000):
            cur.executemany(sql, rows[start : start + 50_000])
        raw.commit()
    finally:
        raw.close()


def write_orders_csv(orders: pl.DataFrame, people: pl.DataFrame, path: Path) -> None:
    """The sample generator's format: local numbers, ISO times with +07:00."""
    phones = people.select(
        pl.col("id").alias("contact_id"), ("0" + pl.col("phone").str.slice(3)).alias("phone")
    )
    orders.join(phones, on="contact_id").select(
        pl.col("external_id").alias("order_id"),
        "phone",
        "type",
        pl.col("occurred_at")
        .dt.convert_time_zone("Asia/Ho_Chi_Minh")
        .dt.strftime("%Y-%m-%dT%H:%M:%S+07:00")
        .alias("occurred_at"),
        pl.col("value_vnd").alias("amount_vnd"),
        "category",
    ).sort("order_id").write_csv(path)


def duckdb_peer(store: Store, people: pl.DataFrame, orders: pl.DataFrame, work: Path) -> Any:
    """DuckDB with the same contacts, events and stats in its own tables."""
    con = duckdb.connect()
    people.drop("customer_type").write_parquet(work / "contacts.parquet")
    orders.with_columns(pl.col("occurred_at").dt.replace_time_zone(None)).write_parquet(
        work / "events.parquet"
    )
    with store.engine.connect() as conn:
        stats = conn.execute(text("SELECT contact_id, m_score FROM contact_stats")).all()
    pl.DataFrame(stats, schema={"contact_id": pl.Int64, "m_score": pl.Int64}, orient="row")\
        .write_parquet(work / "stats.parquet")  # fmt: skip
    for name in ("contacts", "events", "stats"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{work / name}.parquet')")
    return con


Question = tuple[str, Any, str, dict[str, Any]]


def questions() -> list[Question]:
    """(label, Loa's rule or segment name, the same question in DuckDB SQL, its parameters)."""
    now_naive = NOW.replace(tzinfo=None)
    purchase = "type IN ('purchase', 'order_completed') AND occurred_at <= $now"
    week = ", ".join(map(str, birthday_mmdd(NOW.astimezone(VN).date(), 7)))
    assert "vip" in BUILTINS
    return [
        ("all", "all", "SELECT count(*) FROM contacts", {}),
        (
            ">= 2 purchases in 90 days",
            {"event": "purchase", "count": {"gte": 2}, "within_days": 90},
            "SELECT count(*) FROM (SELECT contact_id FROM events WHERE "
            f"{purchase} AND occurred_at >= $since GROUP BY contact_id HAVING count(*) >= 2)",
            {"now": now_naive, "since": now_naive - timedelta(days=90)},
        ),
        (
            "no purchase in 180 days",
            {"event": "purchase", "count": {"eq": 0}, "within_days": 180},
            "SELECT count(*) FROM contacts WHERE id NOT IN (SELECT contact_id FROM events WHERE "
            f"{purchase} AND occurred_at >= $since)",
            {"now": now_naive, "since": now_naive - timedelta(days=180)},
        ),
        (
            "spend >= 5M",
            {"event": "purchase", "sum": {"gte": 5_000_000}},
            "SELECT count(*) FROM (SELECT contact_id FROM events WHERE "
            f"{purchase} GROUP BY contact_id HAVING sum(value_vnd) >= 5000000)",
            {"now": now_naive},
        ),
        (
            "birthday in the next 7 days",
            {"birthday_within_days": 7},
            f"SELECT count(*) FROM contacts WHERE birth_mmdd IN ({week})",
            {},
        ),
        (
            "province = Hà Nội",
            {"attr": "province", "op": "eq", "value": "Hà Nội"},
            "SELECT count(*) FROM contacts WHERE province = 'Hà Nội'",
            {},
        ),
        ("vip", "vip", "SELECT count(*) FROM stats WHERE m_score = 5", {}),
    ]


def best_of_3(run: Callable[[], int]) -> tuple[int, float]:
    times, result = [], 0
    for _ in range(3):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    return result, min(times)


def time_peer(peer: Any) -> dict[str, tuple[int, float]]:
    def count(sql: str, params: dict[str, Any]) -> int:
        return int(peer.execute(sql, params).fetchone()[0])

    return {label: best_of_3(partial(count, sql, params)) for label, _, sql, params in questions()}


def time_loa(store: Store, title: str, peer: dict[str, tuple[int, float]]) -> None:
    print(f"\n{title}")
    print(f"{'segment':<30} {'members':>9} {'loa':>8}  {'target':<10} {'duckdb':>8} {'ratio':>7}")
    with store.engine.connect() as conn:
        for label, rule, _, _ in questions():
            members, loa_s = best_of_3(
                partial(count_segment, conn, workspace_id=store.workspace_id, segment=rule, now=NOW)
            )
            expected, peer_s = peer[label]
            verdict = "ok" if loa_s < TARGET_S else "OVER"
            same = "" if members == expected else f"  MISMATCH: duckdb says {expected:,}"
            print(f"{label:<30} {members:>9,} {loa_s:>7.3f}s  < 2 s {verdict:<4} "
                  f"{peer_s:>7.3f}s {loa_s / peer_s:>6.1f}x{same}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--import-orders", action="store_true")
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="loa-bench-"))
    db = args.db or work / "loa.db"
    store = open_store(f"sqlite:///{db}")
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    people = make_contacts(args.contacts, rng)
    orders = make_orders(args.orders, args.contacts, rng)
    print(f"generated {args.contacts:,} contacts, {args.orders:,} orders: "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    t0 = time.perf_counter()
    insert_contacts(store, people)
    print(f"inserted contacts (bulk SQL): {time.perf_counter() - t0:.1f} s")
    if args.import_orders:
        csv_path = work / "orders.csv"
        write_orders_csv(orders, people, csv_path)
        t0 = time.perf_counter()
        report = import_events(store, csv_path, now=NOW)
        took = time.perf_counter() - t0
        verdict = "ok" if took < IMPORT_TARGET_S else "OVER"
        print(f"import_events {report.rows:,} rows ({report.imported:,} new, "
              f"{report.invalid:,} refused), stats and ANALYZE included: {took:.1f} s "
              f"(target < {IMPORT_TARGET_S:.0f} s: {verdict})")  # fmt: skip
    else:
        t0 = time.perf_counter()
        insert_orders(store, orders)
        print(f"inserted orders (bulk SQL): {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        with store.engine.begin() as conn:
            buyers = refresh_stats(conn, workspace_id=store.workspace_id, now=NOW)
        print(f"refresh_stats ({buyers:,} buyers): {time.perf_counter() - t0:.1f} s")
        # import_events does this after a bulk import; the bulk SQL above bypassed it.
        t0 = time.perf_counter()
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"ANALYZE: {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    peer = time_peer(duckdb_peer(store, people, orders, work))
    print(f"DuckDB {duckdb.__version__}: loaded the same rows and timed them: "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip

    time_loa(store, "Current schema", peer)
    t0 = time.perf_counter()
    with store.engine.begin() as conn:
        refresh_stats(conn, workspace_id=store.workspace_id, now=NOW)
    print(f"\nrefresh_stats, current schema: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with store.engine.begin() as conn:
        for ddl in PROPOSED_INDEXES:
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql("ANALYZE")
    print(f"(proposed indexes rebuilt + ANALYZE: {time.perf_counter() - t0:.1f} s)")
    time_loa(store, "With the two events indexes widened (proposed)", peer)
    t0 = time.perf_counter()
    with store.engine.begin() as conn:
        refresh_stats(conn, workspace_id=store.workspace_id, now=NOW)
    print(f"\nrefresh_stats, indexes widened: {time.perf_counter() - t0:.1f} s")
    store.engine.dispose()


if __name__ == "__main__":
    main()
