"""Dispatch speed: Loa's worker against a bare smpplib loop, to the same sandbox SMSC (its own
process) in the same run.

- bare smpplib: bind, send submit_sm in windows, read the answers; persists nothing.
- Loa, one worker on SQLite: every state persisted (leased, submitting, submitted with the
  provider's id, delivered from the receipt).
- Loa on PostgreSQL: one worker, then two workers on the same number of messages.

Rates for Loa come from the store's own timestamps (first submit to last submit, and to the
last receipt), so process start-up is not counted. Target (issue 7): >= 3,000 messages/s per
worker, receipts at the same rate, and >= 50 % of the bare loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import smpplib.client
import smpplib.consts
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from loa.services.dispatch.routes import add_route, list_routes
from loa.store.db import open_store
from loa.store.tables import campaigns, outbox

ROOT = Path(__file__).resolve().parents[1]
N = int(os.environ.get("LOA_BENCH_DISPATCH_N", "20000"))
WINDOW = 100
PG_URL = os.environ.get(
    "LOA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def start_smsc(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tmp / "smsc.port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loa.channels.smsc_sim",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--quiet",
            "--receipt-delay",
            "0.01",
            "0.05",
        ],
        cwd=ROOT,
    )
    while not port_file.exists() or not port_file.read_text().strip():
        time.sleep(0.05)
    return process, int(port_file.read_text())


def bare_smpplib(port: int, n: int) -> float:
    """Messages per second of a bare smpplib loop: windows of submit_sm, then their answers."""
    client = smpplib.client.Client("127.0.0.1", port, allow_unknown_opt_params=True)
    answered = 0

    def _sent(pdu: object) -> None:
        nonlocal answered
        answered += 1

    client.set_message_sent_handler(_sent)
    client.set_message_received_handler(lambda pdu: None)
    client.connect()
    client.bind_transceiver(system_id="bench", password="bench")
    started = time.perf_counter()
    sent = 0
    while sent < n:
        batch = min(WINDOW, n - sent)
        for i in range(batch):
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="SHOPABC",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=f"8491{sent + i:07d}",
                short_message=f"Ma don {sent + i} da giao".encode(),
                registered_delivery=True,
            )
        sent += batch
        while answered < sent:
            client.read_once()
    took = time.perf_counter() - started
    client.unbind()
    client.disconnect()
    return n / took


def fill(url: str, port: int, n: int) -> int:
    store = open_store(url)
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        cid = int(
            conn.execute(
                insert(campaigns)
                .values(
                    workspace_id=store.workspace_id,
                    name=f"bench {uuid.uuid4().hex[:6]}",
                    **{"class": "cskh"},
                    sender="SHOPABC",
                    audience={"include": ["all"]},
                    variants=[{"name": "A", "text": "x", "share_pct": 100}],
                    schedule={"mode": "now"},
                    seed=1,
                    created_by="bench",
                    state="scheduled",
                )
                .returning(campaigns.c.id)
            ).scalar_one()
        )
        rows = [
            {
                "workspace_id": store.workspace_id,
                "idempotency_key": f"c{cid}:{i}",
                "campaign_id": cid,
                "phone": f"+8491{i:07d}",
                "channel": "sms",
                "class": "cskh",
                "sender": "SHOPABC",
                "text": f"Ma don {i} da giao",
                "encoding": "gsm7",
                "parts": 1,
                "carrier": "Viettel",
                "decision": "send",
                "reasons": [],
                "scheduled_at": now - timedelta(seconds=1),
                "status": "queued",
            }
            for i in range(n)
        ]
        for start in range(0, n, 10000):
            conn.execute(insert(outbox), rows[start : start + 10000])
        if not list_routes(conn, workspace_id=store.workspace_id):
            add_route(
                conn,
                workspace_id=store.workspace_id,
                name="sandbox",
                kind="smpp",
                settings={"host": "127.0.0.1", "port": port, "system_id": "loa", "password": "loa"},
                window=WINDOW,
            )
    store.engine.dispose()
    return cid


def run_workers(url: str, count: int) -> None:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from loa.cli import main; main()",
                "--db",
                url,
                "worker",
                "--until-idle",
                "--quiet",
                "--batch",
                "1000",
            ],
            cwd=ROOT,
        )
        for _ in range(count)
    ]
    for p in procs:
        p.wait()


def rates(url: str, cid: int) -> tuple[float, float, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        first, last, done, delivered = conn.execute(
            select(
                func.min(outbox.c.submitted_at),
                func.max(outbox.c.submitted_at),
                func.max(outbox.c.updated_at),
                func.count().filter(outbox.c.status == "delivered"),
            ).where(outbox.c.campaign_id == cid)
        ).one()
    engine.dispose()
    send = N / max((last - first).total_seconds(), 1e-6)
    receipts = delivered / max((done - first).total_seconds(), 1e-6)
    return send, receipts, int(delivered)


def pg_database() -> tuple[str, str] | None:
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        name = f"loa_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # no PostgreSQL here: the SQLite figures still stand
        print(f"PostgreSQL not reachable ({type(exc).__name__}); skipping the PG rows")
        return None
    return name, make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop(name: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        smsc, port = start_smsc(tmp)
        try:
            bare = bare_smpplib(port, N)
            url = f"sqlite:///{tmp / 'bench.db'}"
            cid = fill(url, port, N)
            run_workers(url, 1)
            send, receipts, delivered = rates(url, cid)
            print(f"dispatch of {N:,} messages to the sandbox SMSC (window {WINDOW})")
            print(f"  bare smpplib loop, nothing persisted:  {bare:10,.0f} msg/s")
            print(
                f"  Loa, 1 worker, SQLite, all persisted:  {send:10,.0f} msg/s  "
                f"({send / bare:.2f}x bare; receipts {receipts:,.0f}/s, {delivered:,} delivered)"
            )
            made = pg_database()
            if made is not None:
                name, pg = made
                try:
                    cid = fill(pg, port, N)
                    run_workers(pg, 1)
                    one, _, _ = rates(pg, cid)
                    cid = fill(pg, port, N)
                    run_workers(pg, 2)
                    two, _, _ = rates(pg, cid)
                    print(f"  Loa, 1 worker, PostgreSQL:             {one:10,.0f} msg/s")
                    print(
                        f"  Loa, 2 workers, PostgreSQL:            {two:10,.0f} msg/s  "
                        f"({two / one:.2f}x one worker)"
                    )
                finally:
                    drop(name)
        finally:
            smsc.terminate()
            smsc.wait(10)


if __name__ == "__main__":
    main()
