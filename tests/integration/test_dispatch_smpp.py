"""Whole campaigns sent over real SMPP to the sandbox SMSC, run as its own process: every
recipient gets their message once, every fate comes back, replies reach the compliance engine,
and a killed worker or a dropped connection changes nothing a customer can notice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from tests.integration.smpp_peers import Peer, sandbox

from loa.services.dispatch.routes import add_route
from loa.store.db import Store
from loa.store.tables import campaigns, opt_outs, outbox

ROOT = Path(__file__).resolve().parents[2]


def journal_counts(smsc: Peer) -> Counter[str]:
    """Messages the SMSC accepted, per recipient (a long message counts once)."""
    keys = {(line["dest"], line["msg_key"]) for line in smsc.journal_lines()}
    return Counter(dest for dest, _ in keys)


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Peer]:
    with sandbox(tmp_path, "--receipt-delay", "0.01", "0.1") as server:
        yield server


def worker(url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from loa.cli import main; main()",
            "--db",
            url,
            "worker",
            "--quiet",
            "--receipt-wait",
            "20",
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "LOA_LANG": "en"},
    )


def campaign(store: Store, n: int, *, klass: str = "cskh", text: str = "Ma don {i} da giao") -> int:
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        cid = int(
            conn.execute(
                insert(campaigns)
                .values(
                    workspace_id=store.workspace_id,
                    name=f"Run {time.monotonic_ns()}",
                    **{"class": klass},
                    sender="SHOPABC",
                    audience={"include": ["all"]},
                    variants=[{"name": "A", "text": text, "share_pct": 100}],
                    schedule={"mode": "now"},
                    seed=1,
                    created_by="test",
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
                "class": klass,
                "sender": "SHOPABC",
                "text": text.format(i=i),
                "decision": "send",
                "reasons": [],
                "scheduled_at": now - timedelta(seconds=1),
                "status": "queued",
            }
            for i in range(n)
        ]
        for start in range(0, n, 5000):
            conn.execute(insert(outbox), rows[start : start + 5000])
    return cid


def route_to(store: Store, smsc: Peer, *, window: int = 50, tps: int | None = None) -> None:
    with store.engine.begin() as conn:
        add_route(
            conn,
            workspace_id=store.workspace_id,
            name="sandbox",
            kind="smpp",
            settings={
                "host": "127.0.0.1",
                "port": smsc.port,
                "system_id": "loa",
                "password": "loa",
            },
            window=window,
            tps=tps,
        )


def by_status(store: Store, cid: int) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            str(s): int(n)
            for s, n in conn.execute(
                select(outbox.c.status, func.count())
                .where(outbox.c.campaign_id == cid)
                .group_by(outbox.c.status)
            )
        }


def state_of(store: Store, cid: int) -> str:
    with store.engine.connect() as conn:
        return str(conn.execute(select(campaigns.c.state).where(campaigns.c.id == cid)).scalar())


def wait_until(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_campaign_goes_out_once_and_every_fate_comes_back(
    store: Store, db_url: str, smsc: Peer
) -> None:
    long_text = "Cảm ơn quý khách đã mua hàng tại cửa hàng của chúng tôi; đơn {i} " * 3
    cid = campaign(store, 300, text=long_text)
    route_to(store, smsc)
    done = worker(db_url, "--until-idle")
    assert done.wait(120) == 0
    assert by_status(store, cid) == {"delivered": 300}
    assert state_of(store, cid) == "completed"
    received = journal_counts(smsc)
    assert len(received) == 300 and set(received.values()) == {1}
    with store.engine.connect() as conn:
        parts = conn.execute(
            select(outbox.c.parts, outbox.c.encoding).where(outbox.c.campaign_id == cid).limit(1)
        ).one()
    assert tuple(parts) == (3, "UCS-2")  # 189 UCS-2 characters: 67 + 67 + 55


def test_a_killed_worker_sends_nobody_anything_twice(store: Store, db_url: str, smsc: Peer) -> None:
    """SQLite runs one worker; PostgreSQL runs two, and one of them is killed."""
    workers = 2 if db_url.startswith("postgresql") else 1
    window = 50
    cid = campaign(store, 10_000)
    route_to(store, smsc, window=window)
    first = [worker(db_url, "--lease-seconds", "3", "--batch", "500") for _ in range(workers)]
    wait_until(
        lambda: (
            by_status(store, cid).get("submitted", 0) + by_status(store, cid).get("delivered", 0)
            >= 3000
        ),
        120,
    )
    first[0].send_signal(signal.SIGKILL)
    first[0].wait(10)
    rest = [worker(db_url, "--until-idle", "--lease-seconds", "3", "--batch", "500")]
    for p in [*first[1:], *rest]:
        if p in rest:
            assert p.wait(180) == 0
    for p in first[1:]:
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0
    counts = by_status(store, cid)
    uncertain = counts.get("uncertain", 0)
    assert uncertain <= window
    assert counts.get("delivered", 0) + uncertain == 10_000
    received = journal_counts(smsc)
    assert max(received.values()) == 1  # nobody twice
    assert 10_000 - uncertain <= len(received) <= 10_000  # nobody lost but the uncertain
    assert state_of(store, cid) == "completed"


def test_a_dropped_connection_resumes_without_duplicates(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    with sandbox(
        tmp_path, "--receipt-delay", "0.01", "0.05", "--disconnect-after", "700"
    ) as server:
        cid = campaign(store, 2000)
        route_to(store, server, window=50)
        done = worker(db_url, "--until-idle")
        assert done.wait(120) == 0
        counts = by_status(store, cid)
        received = journal_counts(server)
    uncertain = counts.get("uncertain", 0)
    assert max(received.values()) == 1
    assert counts.get("delivered", 0) + uncertain == 2000
    assert uncertain <= 50
    assert state_of(store, cid) == "completed"


def test_a_reply_tc_reaches_the_compliance_engine_and_is_confirmed_once(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    with sandbox(
        tmp_path, "--receipt-delay", "0.01", "0.05", "--reply", "+84910000000=TC"
    ) as server:
        route_to(store, server)
        cid = campaign(store, 1, text="Don hang {i} da giao. Cam on quy khach")
        done = worker(db_url, "--until-idle")
        assert done.wait(60) == 0
        with store.engine.connect() as conn:
            refused = (
                conn.execute(select(opt_outs.c.phone).where(opt_outs.c.revoked_at.is_(None)))
                .scalars()
                .all()
            )
            confirmations = (
                conn.execute(select(outbox.c.status).where(outbox.c["class"] == "confirmation"))
                .scalars()
                .all()
            )
        received = journal_counts(server)
    assert by_status(store, cid) == {"delivered": 1}
    assert refused == ["+84910000000"]
    assert confirmations == ["delivered"]
    assert received == {"84910000000": 2}  # the message, then the one confirmation
