"""Benchmark: compliance decisions for a national QC campaign, Loa's engine against a peer.

The data are synthetic and deterministic: `--n` recipients planned from 21:00 Vietnam time
over two hours (so the campaign straddles 22:00 and a share defers to 07:00), a year of QC
send history (`--history-per-number` sends a number on average, and a tenth of the numbers
already got 2–3 in the last 20 hours, so they sit at or near the cap of 3), and mixed facts:
invalid numbers, DNC, opt-outs (some effective after the campaign starts), missing consent,
refused or unanswered DKQC, and agreements that lift the cap to 5.

The peer is the straightforward implementation of the same rules: a Python loop over the
recipients, `zoneinfo` for the hours, and `bisect` on each number's sorted history. Its
per-number history index is built outside its timing (favouring it). It runs on a sample of
`--peer-n` recipients spread over the whole audience and its rate is extrapolated; both must
give the same decision, instant and reasons for every sampled recipient.

Separately, at `--store-n` recipients (writing a million rows into a store takes minutes),
it times the whole service on a fresh SQLite store: reading every fact and the send history
set-based, in chunks, and deciding (`decide_batch`).

    .venv/bin/python bench/decide.py --n 1000000
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import insert

from loa.domain.compliance import windows
from loa.domain.compliance.decide import UTC_DT, Rules, decide, rules_for
from loa.domain.compliance.packs import load_pack
from loa.services.compliance.decisions import decide_batch
from loa.store.db import open_store
from loa.store.tables import brandnames, consents, contacts, opt_outs, outbox

TARGET_RATE = 500_000
START = datetime(2025, 6, 15, 14, 0, tzinfo=UTC)  # 21:00 in Vietnam
SPREAD = timedelta(hours=2)
YEAR_US = 365 * 86_400 * 1_000_000
HOUR_US = 3_600 * 1_000_000


def _u(index: pl.Expr, seed: int, modulo: int) -> pl.Expr:
    """A deterministic pseudo-random integer in [0, modulo) per row."""
    return (index.hash(seed) % modulo).cast(pl.Int64)


def audience(n: int, seed: int) -> pl.DataFrame:
    """`n` recipients with their facts, as the service hands them to the engine."""
    i = pl.int_range(n, dtype=pl.Int64)
    start_us = int(START.timestamp() * 1_000_000)
    spread_us = int(SPREAD.total_seconds() * 1_000_000)
    return pl.select(
        pl.concat_str(pl.lit("+849"), i.cast(pl.String).str.zfill(8)).alias("phone"),
        (pl.lit(start_us) + i * spread_us // n).cast(UTC_DT).alias("at"),
        pl.when(_u(i, seed + 1, 1000) < 5).then(pl.lit("too_short")).alias("invalid_reason"),
        (_u(i, seed + 2, 100) < 3).alias("dnc"),
        pl.when(_u(i, seed + 3, 100) < 2)
        .then((pl.lit(start_us) + (_u(i, seed + 4, 100) - 90) * HOUR_US).cast(UTC_DT))
        .alias("opted_out_at"),
        (_u(i, seed + 5, 100) < 90).alias("consent"),
        pl.when(_u(i, seed + 6, 100) == 0)
        .then(pl.lit("refuse"))
        .when(_u(i, seed + 6, 100) == 1)
        .then(pl.lit("pending"))
        .when(_u(i, seed + 6, 100) < 10)
        .then(pl.lit("accept"))
        .alias("registration"),
        pl.when(_u(i, seed + 7, 200) == 0).then(pl.lit(5, pl.Int32)).alias("max_qc_per_24h"),
    )


def history(n: int, per_number: int, seed: int) -> pl.DataFrame:
    """A year of QC sends to the audience, plus recent ones that put a tenth near the cap."""
    rows = n * per_number
    j = pl.int_range(rows, dtype=pl.Int64)
    start_us = int(START.timestamp() * 1_000_000)
    year = pl.select(
        pl.concat_str(pl.lit("+849"), _u(j, seed + 10, n).cast(pl.String).str.zfill(8)).alias(
            "phone"
        ),
        (pl.lit(start_us) - _u(j, seed + 11, YEAR_US)).cast(UTC_DT).alias("at"),
    )
    hot = n // 10
    k = pl.int_range(hot * 3, dtype=pl.Int64)
    recent = pl.select(
        pl.concat_str(pl.lit("+849"), (k // 3 * 10).cast(pl.String).str.zfill(8)).alias("phone"),
        (pl.lit(start_us) - _u(k, seed + 12, 20 * HOUR_US)).cast(UTC_DT).alias("at"),
        k.alias("_k"),
    )
    # A third of the hot numbers got only two recent sends: right at the edge of the cap.
    recent = recent.filter(~((pl.col("_k") % 3 == 2) & (pl.col("_k") // 3 % 3 == 0))).drop("_k")
    return pl.concat([year, recent])


def peer(
    recipients: list[dict[str, Any]], index: dict[str, list[datetime]], rules: Rules
) -> list[tuple[str, datetime | None, tuple[str, ...]]]:
    """The peer: one recipient at a time, zoneinfo hours, bisect on the number's history."""
    pack = rules.pack
    hours = windows.hours_of(pack.qc_hours)
    zones = (pack.timezone,)
    out: list[tuple[str, datetime | None, tuple[str, ...]]] = []
    for r in recipients:
        at: datetime = r["at"]
        reasons: list[str] = []
        if r["invalid_reason"] is not None:
            reasons.append("invalid_number")
        legal = windows.is_legal(at, zones, hours)
        judged = at if legal else windows.next_legal(at, zones, hours)
        assert judged is not None
        if r["opted_out_at"] is not None and r["opted_out_at"] <= judged:
            reasons.append("opted_out")
        if r["dnc"]:
            reasons.append("dnc")
        if r["registration"] in ("refuse", "pending"):
            reasons.append("registration_refused")
        if not r["consent"]:
            reasons.append("no_consent")
        limit = r["max_qc_per_24h"] if r["max_qc_per_24h"] is not None else pack.max_qc_per_24h
        sent = index.get(r["phone"], [])
        if limit and windows.count_in_24h(sent, judged) >= limit:
            reasons.append("frequency_cap")
        if reasons:
            out.append(("suppress", None, tuple(reasons)))
        elif not legal:
            out.append(("defer", judged, ("quiet_hours",)))
        else:
            out.append(("send", at, ()))
    return out


def _history_index(frame: pl.DataFrame, phones: set[str]) -> dict[str, list[datetime]]:
    index: dict[str, list[datetime]] = defaultdict(list)
    for phone, at in frame.filter(pl.col("phone").is_in(list(phones))).iter_rows():
        index[phone].append(at)
    for sent in index.values():
        sent.sort()
    return index


def store_rate(n: int, per_number: int, seed: int, folder: str) -> tuple[float, int]:
    """Decisions per second of the whole service (facts + history + engine) on SQLite."""
    store = open_store(f"sqlite:///{folder}/bench.db")
    ws = store.workspace_id
    people = audience(n, seed)
    sent = history(n, per_number, seed)
    with store.engine.begin() as conn:
        conn.execute(
            insert(brandnames),
            [{"workspace_id": ws, "name": "PHUCLONG", "domains": ["phuclong.vn"]}],
        )
        conn.execute(
            insert(contacts),
            [
                {"workspace_id": ws, "phone": r["phone"], "dnc": r["dnc"],
                 "invalid_reason": r["invalid_reason"]}
                for r in people.iter_rows(named=True)
            ],
        )  # fmt: skip
        ids = dict(
            conn.execute(contacts.select().with_only_columns(contacts.c.phone, contacts.c.id)).all()
        )
        conn.execute(
            insert(consents),
            [
                {"workspace_id": ws, "contact_id": ids[r["phone"]], "channel": "sms",
                 "purpose": "marketing", "method": "web_form", "evidence": "form",
                 "given_at": START - timedelta(days=90)}
                for r in people.filter(pl.col("consent")).iter_rows(named=True)
            ],
        )  # fmt: skip
        conn.execute(
            insert(opt_outs),
            [
                {"workspace_id": ws, "phone": r["phone"], "scope": "all",
                 "received_at": r["opted_out_at"], "effective_at": r["opted_out_at"],
                 "source": "sms"}
                for r in people.filter(pl.col("opted_out_at").is_not_null()).iter_rows(named=True)
            ],
        )  # fmt: skip
        conn.execute(
            insert(outbox),
            [
                {"workspace_id": ws, "idempotency_key": f"h{i}", "phone": p, "class": "qc",
                 "decision": "send", "status": "delivered", "submitted_at": at}
                for i, (p, at) in enumerate(sent.iter_rows())
            ],
        )  # fmt: skip
    recipients = people.select("phone", "at")
    gc.collect()
    began = time.perf_counter()
    decide_batch(store, recipients, cls="qc", sender="PHUCLONG", now=START)
    elapsed = time.perf_counter() - began
    store.engine.dispose()
    return n / elapsed, sent.height


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="recipients")
    parser.add_argument("--history-per-number", type=int, default=5, help="QC sends in the year")
    parser.add_argument("--peer-n", type=int, default=20_000, help="recipients the peer decides")
    parser.add_argument("--runs", type=int, default=3, help="engine runs; the best is reported")
    parser.add_argument("--store-n", type=int, default=50_000, help="recipients in the store run")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)

    rules = rules_for(load_pack("vn"), "qc")
    recipients = audience(args.n, args.seed)
    sent = history(args.n, args.history_per_number, args.seed)
    decide(recipients.head(1000), sent.head(1000), rules)  # warm up

    best_s = float("inf")
    result = pl.DataFrame()
    for _ in range(args.runs):
        gc.collect()
        began = time.perf_counter()
        result = decide(recipients, sent, rules)
        best_s = min(best_s, time.perf_counter() - began)
    rate = args.n / best_s

    step = max(1, args.n // args.peer_n)
    sample = recipients.gather_every(step)
    index = _history_index(sent, set(sample["phone"].to_list()))
    rows = sample.to_dicts()
    gc.collect()
    began = time.perf_counter()
    theirs = peer(rows, index, rules)
    peer_s = time.perf_counter() - began
    peer_rate = len(rows) / peer_s

    ours = result.gather_every(step)
    agree = 0
    different: list[str] = []
    for row, mine, other in zip(rows, ours.iter_rows(named=True), theirs, strict=True):
        got = (mine["decision"], mine["scheduled_at"], tuple(mine["reasons"]))
        if got == other:
            agree += 1
        elif len(different) < 3:
            different.append(f"{row['phone']}: Loa {got}, peer {other}")

    totals = result["decision"].value_counts().sort("decision")
    codes = result["reasons"].explode().drop_nulls().value_counts().sort("count", descending=True)
    print(
        f"Compliance decisions (pack vn, class qc) for {args.n:,} recipients against "
        f"{sent.height:,} QC sends in a year (seed {args.seed})"
    )
    print("  decisions: " + ", ".join(f"{d} {c:,}" for d, c in totals.iter_rows()))
    print("  reasons:   " + ", ".join(f"{r} {c:,}" for r, c in codes.iter_rows()))
    print(
        f"  Loa engine (Polars, columnar):       {rate:>12,.0f} decisions/s (best of {args.runs})"
    )
    print(
        f"  peer (Python loop, bisect, zoneinfo): {peer_rate:>11,.0f} decisions/s "
        f"(on {len(rows):,} recipients spread over the audience)"
    )
    verdict = "met" if rate >= TARGET_RATE else "NOT met"
    print(f"  ratio: {rate / peer_rate:.1f}x the peer; target >= {TARGET_RATE:,}/s: {verdict}")
    print(f"  answers: the same decision, instant and reasons for {agree:,} of {len(rows):,}")
    for line in different:
        print(f"    differs: {line}")
    if args.store_n:
        with tempfile.TemporaryDirectory(prefix="loa-bench-") as folder:
            store_per_s, outbox_rows = store_rate(
                args.store_n, args.history_per_number, args.seed, folder
            )
        print(
            f"  whole service on SQLite ({args.store_n:,} recipients, "
            f"{outbox_rows:,} outbox rows): "
            f"{store_per_s:,.0f} decisions/s (numbers staged, one query per fact, then decided)"
        )
    return 0 if rate >= TARGET_RATE and agree == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
