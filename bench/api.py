"""REST API overhead: events ingested over real HTTP (`loa serve`, one uvicorn process,
an API key, keep-alive) against the same events recorded by calling `record_event` directly
(the peer: what the database alone allows), plus the latency of a contacts page.

    python bench/api.py                 # ~30 s on SQLite
    python bench/api.py --events 5000 --db postgresql+psycopg://postgres@127.0.0.1/loa_bench
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert

from loa.services.accounts import PERMISSIONS, create_key
from loa.services.events import record_event
from loa.store.db import open_store
from loa.store.tables import contacts

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per way of sending")
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--db", default=None, help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="loa-bench-api-")
    url = args.db or f"sqlite:///{folder}/loa.db"
    store = open_store(url)
    phones = [f"+849{i:08d}" for i in range(args.contacts)]
    with store.engine.begin() as conn:
        conn.execute(
            insert(contacts), [{"workspace_id": store.workspace_id, "phone": p} for p in phones]
        )
        key = create_key(
            conn, workspace_id=store.workspace_id, name="bench", scopes=PERMISSIONS, actor="bench"
        )[1]
    now = datetime.now(UTC)

    # The peer: record_event called directly, one transaction per event (as the API does).
    started = time.perf_counter()
    for i in range(args.events):
        with store.engine.begin() as conn:
            record_event(
                conn,
                workspace_id=store.workspace_id,
                phone=phones[i % len(phones)],
                type="order",
                occurred_at=now,
                value_vnd=100_000,
                external_id=f"direct-{i}",
            )
    direct_s = time.perf_counter() - started

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from loa.cli import main; main()",
            "--db",
            url,
            "serve",
            "--port",
            str(port),
            "--no-worker",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LOA_LANG": "en"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as web:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if web.get("/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
                if time.monotonic() > deadline:
                    raise SystemExit("loa serve did not start")
            started = time.perf_counter()
            for i in range(args.events):
                answer = web.post(
                    "/api/v1/events",
                    json={
                        "phone": phones[i % len(phones)],
                        "type": "order",
                        "value_vnd": 100_000,
                        "external_id": f"api-{i}",
                    },
                )
                assert answer.status_code == 201, answer.text
            single_s = time.perf_counter() - started

            started = time.perf_counter()
            batch = 500
            for first in range(0, args.events, batch):
                answer = web.post(
                    "/api/v1/events/batch",
                    json={
                        "events": [
                            {
                                "phone": phones[i % len(phones)],
                                "type": "order",
                                "value_vnd": 100_000,
                                "external_id": f"batch-{i}",
                            }
                            for i in range(first, min(first + batch, args.events))
                        ]
                    },
                    timeout=120,
                )
                assert answer.json()["failed"] == 0
            batch_s = time.perf_counter() - started

            pages = []
            for _ in range(200):
                t = time.perf_counter()
                assert web.get("/api/v1/contacts", params={"limit": 50}).status_code == 200
                pages.append(time.perf_counter() - t)
    finally:
        server.terminate()
        server.wait(timeout=30)

    n = args.events
    print(f"database: {store.dialect}, {n} events each way, {args.contacts} contacts")
    print(f"direct record_event (peer): {n / direct_s:8.0f} events/s")
    print(
        f"POST /api/v1/events       : {n / single_s:8.0f} events/s"
        f"  ratio to peer {direct_s / single_s:.2f}"
    )
    print(
        f"POST /api/v1/events/batch : {n / batch_s:8.0f} events/s"
        f"  ratio to peer {direct_s / batch_s:.2f}"
    )
    print(
        f"GET /api/v1/contacts (50) : p50 {statistics.median(pages) * 1000:.1f} ms, "
        f"p95 {statistics.quantiles(pages, n=20)[18] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
