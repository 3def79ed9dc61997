"""Automation latency: from an event received (just before `record_event`) to its message's
submit_sm at the sandbox SMSC (the SMSC journal's timestamp), at a steady event rate, while a
big campaign is sending, and side by side the same with no campaign running.

Each phase: a fresh store, the sandbox SMSC and one `loa worker` process (its own processes),
an order-confirmation rule (customer care, the transactional lane), then events posted at
`--rate` per second for `--seconds`. Target (issue 10): p95 <= 1 s at 100 events/s while a
100,000-recipient campaign is sending.

    python bench/automations.py                      # ~60 s: SQLite, 100 events/s, 6 s each
    python bench/automations.py --seconds 30 --db postgresql+psycopg://postgres@127.0.0.1/x
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from loa.services.automations.rules import create_automation
from loa.services.compliance.brandnames import add_brandname
from loa.services.compliance.templates import add_template
from loa.services.dispatch.routes import add_route
from loa.services.events import record_event
from loa.store.db import Store, open_store
from loa.store.tables import campaigns, contacts, outbox

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = 2000
TEXT = "Don hang {{ event.order_id }} da duoc xac nhan. Cam on quy khach!"


def start_smsc(tmp: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port_file, journal = tmp / "smsc.port", tmp / "smsc.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "loa.channels.smsc_sim", "--port", "0", "--port-file",
         str(port_file), "--journal", str(journal), "--quiet", "--receipt-delay", "0.01", "0.05"],
        cwd=ROOT,
    )  # fmt: skip
    while not port_file.exists() or not port_file.read_text().strip():
        time.sleep(0.02)
    return process, int(port_file.read_text()), journal


def fresh_url(base: str | None, tmp: Path, label: str) -> str:
    if base is None:
        return f"sqlite:///{tmp / f'{label}.db'}"
    name = f"loa_bench_aut_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def drop(base: str | None, url: str) -> None:
    if base is None:
        return
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def prepare(store: Store, port: int, campaign_size: int) -> list[str]:
    """Brand, approved template, rule, route, customers, and the campaign's outbox rows."""
    ws = store.workspace_id
    add_brandname(store, "SHOPABC", domains=["shop.vn"], registered_on=date(2025, 1, 1),
                  optout_keyword="TC", optout_shortcode="6058", hotline="19001234")  # fmt: skip
    add_template(store, "order_confirmation", cls="cskh", text=TEXT, approved=True)
    phones = [f"+8498{i:07d}" for i in range(CUSTOMERS)]
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        create_automation(conn, workspace_id=ws, event="order_completed",
                          template="order_confirmation", sender="SHOPABC")  # fmt: skip
        add_route(conn, workspace_id=ws, name="sandbox", kind="smpp",
                  settings={"host": "127.0.0.1", "port": port, "system_id": "loa",
                            "password": "loa"})  # fmt: skip
        conn.execute(insert(contacts), [{"workspace_id": ws, "phone": p} for p in phones])
        if campaign_size:
            cid = conn.execute(
                insert(campaigns)
                .values(
                    workspace_id=ws,
                    name="Big sale",
                    **{"class": "cskh"},
                    sender="SHOPABC",
                    audience={"include": ["all"]},
                    variants=[],
                    schedule={"mode": "now"},
                    seed=1,
                    created_by="bench",
                    state="running",
                )
                .returning(campaigns.c.id)
            ).scalar_one()
            rows = [
                {"workspace_id": ws, "idempotency_key": f"c{cid}:{i}", "campaign_id": cid,
                 "phone": f"+8491{i:07d}", "channel": "sms", "class": "cskh",
                 "sender": "SHOPABC", "text": f"Khuyen mai cuoi tuan, ma {i}", "decision": "send",
                 "reasons": [], "scheduled_at": now - timedelta(seconds=1), "status": "queued"}
                for i in range(campaign_size)
            ]  # fmt: skip
            for start in range(0, campaign_size, 10_000):
                conn.execute(insert(outbox), rows[start : start + 10_000])
    return phones


def post_events(
    store: Store, phones: list[str], rate: float, seconds: float, posters: int
) -> dict[str, float]:
    """Post `rate` events a second for `seconds` from `posters` threads (one falls behind
    whenever a commit waits); the receive instant of each order id."""
    received: dict[str, float] = {}
    total = int(rate * seconds)
    lock = threading.Lock()
    start = time.time() + 0.2

    def poster(offset: int) -> None:
        for i in range(offset, total, posters):
            pause = start + i / rate - time.time()
            if pause > 0:
                time.sleep(pause)
            order = f"DH{i:06d}"
            at = time.time()
            with store.engine.begin() as conn:
                record_event(conn, workspace_id=store.workspace_id, phone=phones[i % len(phones)],
                             type="order_completed", occurred_at=datetime.now(UTC),
                             properties={"order_id": order}, external_id=order)  # fmt: skip
            with lock:
                received[order] = at

    threads = [threading.Thread(target=poster, args=(k,)) for k in range(posters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return received


def latencies(journal: Path, received: dict[str, float], wait_s: float) -> list[float]:
    deadline = time.time() + wait_s
    seen: dict[str, float] = {}
    while time.time() < deadline:
        if journal.exists():
            for line in journal.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                words = entry["text"].split()
                if len(words) > 2 and words[0] == "Don" and words[2] in received:
                    seen[words[2]] = datetime.fromisoformat(entry["at"]).timestamp()
        if len(seen) == len(received):
            break
        time.sleep(0.5)
    return [seen[k] - received[k] for k in received if k in seen]


def phase(
    label: str, base: str | None, campaign_size: int, args: argparse.Namespace
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        smsc, port, journal = start_smsc(tmp)
        url = fresh_url(base, tmp, label)
        store = open_store(url)
        worker = None
        try:
            phones = prepare(store, port, campaign_size)
            worker = subprocess.Popen(
                [sys.executable, "-c", "from loa.cli import main; main()", "--db", url, "worker",
                 "--quiet", "--batch", str(args.batch)],
                cwd=ROOT, env={**os.environ, "LOA_LANG": "en"},
            )  # fmt: skip
            if campaign_size:  # wait until the campaign is really sending
                while not journal.exists() or journal.stat().st_size < 100_000:
                    time.sleep(0.1)
            else:
                # The worker is up once a first confirmation has left (not measured).
                with store.engine.begin() as conn:
                    record_event(
                        conn,
                        workspace_id=store.workspace_id,
                        phone=phones[0],
                        type="order_completed",
                        occurred_at=datetime.now(UTC),
                        properties={"order_id": "WARMUP"},
                        external_id="WARMUP",
                    )
                while not journal.exists() or journal.stat().st_size == 0:
                    time.sleep(0.1)
            received = post_events(store, phones, args.rate, args.seconds, args.posters)
            found = latencies(journal, received, wait_s=30)
            with store.engine.connect() as conn:
                left = conn.execute(
                    select(func.count()).where(
                        outbox.c.campaign_id.is_not(None), outbox.c.status == "queued"
                    )
                ).scalar_one()
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(30)
            smsc.terminate()
            smsc.wait(10)
            store.engine.dispose()
            drop(base, url)
    found.sort()
    return {
        "label": label,
        "events": len(received),
        "rate": len(received) / max(max(received.values()) - min(received.values()), 1e-9),
        "sent": len(found),
        "p50_s": statistics.median(found) if found else float("nan"),
        "p95_s": found[int(0.95 * (len(found) - 1))] if found else float("nan"),
        "max_s": found[-1] if found else float("nan"),
        "campaign_left": left,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long events come")
    parser.add_argument("--campaign", type=int, default=100_000, help="campaign recipients")
    parser.add_argument("--posters", type=int, default=4, help="threads posting events")
    parser.add_argument("--batch", type=int, default=2000, help="rows a worker leases at once")
    parser.add_argument("--db", default=None, help="a PostgreSQL admin URL (default SQLite)")
    args = parser.parse_args()
    quiet = phase("no campaign", args.db, 0, args)
    busy = phase(f"{args.campaign:,}-recipient campaign", args.db, args.campaign, args)
    print(f"event -> submit_sm, {args.rate:.0f} events/s for {args.seconds:.0f} s, "
          f"{'PostgreSQL' if args.db else 'SQLite'}")  # fmt: skip
    for r in (quiet, busy):
        left = f", campaign rows still queued: {r['campaign_left']:,}" if r is busy else ""
        print(f"  {r['label']:>28}: {r['sent']}/{r['events']} sent ({r['rate']:.0f} events/s "
              f"posted), p50 {r['p50_s']:.3f} s, "
              f"p95 {r['p95_s']:.3f} s, max {r['max_s']:.3f} s{left}")  # fmt: skip
    ratio = busy["p95_s"] / quiet["p95_s"] if quiet["p95_s"] else float("nan")
    verdict = "meets" if busy["p95_s"] <= 1.0 else "misses"
    print(f"  p95 ratio campaign/no campaign: {ratio:.2f}x; target p95 <= 1 s: {verdict}")


if __name__ == "__main__":
    main()
