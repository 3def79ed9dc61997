"""The outbox's way out, step by step, on a real store (SQLite and PostgreSQL): leasing,
the law's last gate, answers, receipts (early, late, for parts, for nobody), dead workers,
shared throughput, and when a campaign is done."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from loa.channels.base import Receipt, Submitted
from loa.services.dispatch import ledger
from loa.services.dispatch.worker import Worker
from loa.store.db import Store
from loa.store.tables import campaigns, contacts, delivery_receipts, opt_outs, outbox

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 14:00 in Vietnam
LEASE = timedelta(seconds=30)
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def campaign(conn: Connection, ws: int, state: str = "scheduled", name: str = "Sale") -> int:
    return int(
        conn.execute(
            insert(campaigns)
            .values(
                workspace_id=ws,
                name=name,
                **{"class": "qc"},
                sender="SHOPABC",
                audience={"include": ["all"]},
                variants=[{"name": "A", "text": "x", "share_pct": 100}],
                schedule={"mode": "now"},
                seed=1,
                created_by="test",
                state=state,
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(campaigns.c.id)
        ).scalar_one()
    )


def queue(conn: Connection, ws: int, n: int, *, start: int = 0, **values: Any) -> list[int]:
    klass = values.pop("klass", "qc")
    rows = [
        {
            "workspace_id": ws,
            "idempotency_key": f"{values.get('campaign_id', 't')}:{start + i}",
            "phone": f"+8491{start + i:07d}",
            "channel": "sms",
            "class": klass,
            "sender": "SHOPABC",
            "text": f"Tin {start + i}",
            "decision": "send",
            "reasons": [],
            "scheduled_at": NOW - timedelta(minutes=1),
            "status": "queued",
            "created_at": NOW,
            "updated_at": NOW,
            **values,
        }
        for i in range(n)
    ]
    return [
        int(i) for i in conn.execute(insert(outbox).returning(outbox.c.id), rows).scalars().all()
    ]


def statuses(conn: Connection, ids: list[int]) -> list[str]:
    query = select(outbox.c.id, outbox.c.status).where(outbox.c.id.in_(ids))
    found = {int(r.id): str(r.status) for r in conn.execute(query)}
    return [found[i] for i in ids]


def test_lease_takes_the_transactional_lane_first_and_leaves_paused_campaigns(
    store: Store,
) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        live = campaign(conn, ws)
        paused = campaign(conn, ws, "paused", name="Paused")
        marketing = queue(conn, ws, 3, campaign_id=live)
        held = queue(conn, ws, 2, start=10, campaign_id=paused)
        later = queue(
            conn, ws, 1, start=20, campaign_id=live, scheduled_at=NOW + timedelta(hours=1)
        )
        urgent = queue(conn, ws, 1, start=30, klass="confirmation", priority=10)
    with store.engine.begin() as conn:
        got = ledger.lease(conn, worker="w1", now=NOW, limit=3, lease_for=LEASE)
    assert [r.id for r in got] == [urgent[0], marketing[0], marketing[1]]
    with store.engine.begin() as conn:
        rest = ledger.lease(conn, worker="w1", now=NOW, limit=10, lease_for=LEASE)
    assert [r.id for r in rest] == [marketing[2]]
    with store.engine.connect() as conn:
        assert statuses(conn, held + later) == ["queued", "queued", "queued"]
        state = conn.execute(select(campaigns.c.state).where(campaigns.c.id == live)).scalar()
    assert state == "running"


def test_two_workers_never_lease_the_same_row(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        queue(conn, ws, 400)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def take(name: str) -> None:
        barrier.wait()
        for _ in range(20):
            with store.engine.begin() as conn:
                got = ledger.lease(conn, worker=name, now=NOW, limit=15, lease_for=LEASE)
            taken[name].extend(r.id for r in got)

    threads = [threading.Thread(target=take, args=(n,)) for n in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(taken["a"]) & set(taken["b"])
    assert len(taken["a"]) + len(taken["b"]) == 400


def test_answers_are_persisted_with_ids_retries_and_codes(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        ids = queue(conn, ws, 3)
        leased = ledger.lease(conn, worker="w", now=NOW, limit=3, lease_for=LEASE)
        ledger.mark_submitting(conn, ids, worker="w", route="r1", now=NOW, lease_for=LEASE)
        counts = ledger.record(
            conn,
            [
                Submitted(ids[0], "accepted", provider_id="m1", part_ids=("m1b",)),
                Submitted(
                    ids[1], "retry", code="0x00000058", error="ESME_RTHROTTLED", retry_after=1
                ),
                Submitted(ids[2], "failed", code="0x0000000B", error="ESME_RINVDSTADR"),
            ],
            route="r1",
            now=NOW,
            validity=timedelta(hours=24),
            attempts={r.id: r.attempts for r in leased},
            max_attempts=5,
        )
        rows = {
            r.id: r
            for r in conn.execute(
                select(
                    outbox.c.id,
                    outbox.c.status,
                    outbox.c.provider_id,
                    outbox.c.code,
                    outbox.c.scheduled_at,
                    outbox.c.attempts,
                ).where(outbox.c.id.in_(ids))
            )
        }
    assert counts == (1, 1, 1)
    assert (rows[ids[0]].status, rows[ids[0]].provider_id) == ("submitted", "m1")
    assert (rows[ids[1]].status, rows[ids[1]].code, rows[ids[1]].attempts) == (
        "queued",
        "0x00000058",
        1,
    )
    assert rows[ids[1]].scheduled_at == NOW + timedelta(seconds=1)
    assert (rows[ids[2]].status, rows[ids[2]].code) == ("failed", "0x0000000B")


def test_receipts_early_late_for_parts_and_for_nobody(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        ids = queue(conn, ws, 3)
        ledger.lease(conn, worker="w", now=NOW, limit=3, lease_for=LEASE)
        ledger.mark_submitting(conn, ids, worker="w", route="r1", now=NOW, lease_for=LEASE)
        # A receipt that comes before the answer that gives its id: kept, not dropped.
        assert ledger.apply_receipts(conn, [("r1", Receipt("m3", "delivered"))], now=NOW) == (0, 1)
        ledger.record(
            conn,
            [
                Submitted(ids[0], "accepted", provider_id="m1"),
                Submitted(ids[1], "accepted", provider_id="m2", part_ids=("m2b",)),
                Submitted(ids[2], "accepted", provider_id="m3"),
            ],
            route="r1",
            now=NOW,
            validity=timedelta(hours=24),
            attempts={},
            max_attempts=5,
        )
        matched, kept = ledger.apply_receipts(
            conn,
            [
                ("r1", Receipt("m1", "delivered")),
                ("r1", Receipt("m2", "delivered")),
                ("r1", Receipt("m2b", "undelivered", code="011")),
                ("r1", Receipt("zz9", "delivered", to="84999999999")),
            ],
            now=NOW,
        )
        assert (matched, kept) == (3, 1)
        assert ledger.match_kept_receipts(conn, now=NOW) == 1  # m3 found its message
        assert statuses(conn, ids) == ["delivered", "undelivered", "delivered"]
        code = conn.execute(select(outbox.c.code).where(outbox.c.id == ids[1])).scalar()
        assert code == "011"
        open_receipts = (
            conn.execute(
                select(delivery_receipts.c.provider_id).where(
                    delivery_receipts.c.outbox_id.is_(None)
                )
            )
            .scalars()
            .all()
        )
    assert open_receipts == ["zz9"]


def test_dead_workers_rows_come_back_or_become_uncertain(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        held = queue(conn, ws, 2)
        sending_qc = queue(conn, ws, 2, start=10)
        sending_otp = queue(conn, ws, 1, start=20, klass="cskh")
        ledger.lease(conn, worker="dead", now=NOW, limit=10, lease_for=LEASE)
        ledger.mark_submitting(
            conn, sending_qc + sending_otp, worker="dead", route="r1", now=NOW, lease_for=LEASE
        )
    later = NOW + timedelta(seconds=31)
    with store.engine.begin() as conn:
        counts = ledger.reap(
            conn, now=later, resend_uncertain=frozenset({"cskh"}), receipt_grace=timedelta(hours=1)
        )
        assert counts["released"] == 2 and counts["uncertain"] == 2 and counts["resent"] == 1
        assert statuses(conn, held + sending_qc + sending_otp) == [
            "queued",
            "queued",
            "uncertain",
            "uncertain",
            "queued",
        ]
        # A receipt for the recipient reconciles an uncertain message.
        ledger.apply_receipts(
            conn, [("r1", Receipt("x1", "delivered", to="84910000010"))], now=later
        )
        assert ledger.match_kept_receipts(conn, now=later) == 1
        assert statuses(conn, sending_qc) == ["delivered", "uncertain"]


def test_messages_without_receipts_expire_and_campaign_completes_only_then(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        cid = campaign(conn, ws)
        ids = queue(conn, ws, 2, campaign_id=cid)
        ledger.lease(conn, worker="w", now=NOW, limit=2, lease_for=LEASE)
        ledger.mark_submitting(conn, ids, worker="w", route="r1", now=NOW, lease_for=LEASE)
        ledger.record(
            conn,
            [Submitted(i, "accepted", provider_id=f"p{i}") for i in ids],
            route="r1",
            now=NOW,
            validity=timedelta(hours=1),
            attempts={},
            max_attempts=5,
        )
        ledger.apply_receipts(conn, [("r1", Receipt(f"p{ids[0]}", "delivered"))], now=NOW)
        assert ledger.finish_campaigns(conn, now=NOW) == []
        grace = timedelta(minutes=30)
        ledger.reap(
            conn,
            now=NOW + timedelta(hours=1, minutes=29),
            resend_uncertain=frozenset(),
            receipt_grace=grace,
        )
        assert ledger.finish_campaigns(conn, now=NOW) == []
        ledger.reap(
            conn,
            now=NOW + timedelta(hours=1, minutes=31),
            resend_uncertain=frozenset(),
            receipt_grace=grace,
        )
        assert statuses(conn, ids) == ["delivered", "expired"]
        assert ledger.finish_campaigns(conn, now=NOW) == [cid]
        report = ledger.report(conn, cid)
    assert report["by_status"] == {"delivered": 1, "expired": 1}
    assert report["codes"] == [{"status": "expired", "code": "no-receipt", "count": 1}]


def test_the_last_gate_judges_advertising_by_push_by_the_persons_number(store: Store) -> None:
    # A push row holds a device token; the refusal came from the person's phone after the
    # plan, so the gate must find it through the contact.
    ws = store.workspace_id
    with store.engine.begin() as conn:
        people = [
            int(
                conn.execute(
                    insert(contacts).values(workspace_id=ws, phone=phone).returning(contacts.c.id)
                ).scalar_one()
            )
            for phone in ("+84910000001", "+84910000002")
        ]
        ids = [
            queue(conn, ws, 1, start=i, channel="push", phone=f"token-{i}", contact_id=cid)[0]
            for i, cid in enumerate(people)
        ]
        conn.execute(
            insert(opt_outs).values(
                workspace_id=ws,
                phone="+84910000002",
                scope="all",
                received_at=NOW - timedelta(minutes=5),
                effective_at=NOW - timedelta(minutes=5),
                source="sms",
                text="TC",
            )
        )
        rows = ledger.lease(conn, worker="w", now=NOW, limit=10, lease_for=LEASE)
    kept = Worker(store.engine)._gate(rows, NOW)
    assert [r.id for r in kept] == [ids[0]]
    with store.engine.connect() as conn:
        row = conn.execute(
            select(outbox.c.status, outbox.c.reasons).where(outbox.c.id == ids[1])
        ).one()
    assert (row.status, row.reasons) == ("suppressed", ["opted_out"])


def test_a_routes_throughput_is_shared_by_every_worker(store: Store) -> None:
    with store.engine.begin() as conn:
        assert ledger.reserve(conn, 1, 10, 6, NOW) == 6
        assert ledger.reserve(conn, 1, 10, 6, NOW) == 4  # another worker, same second
        assert ledger.reserve(conn, 1, 10, 1, NOW) == 0
        assert ledger.reserve(conn, 1, 10, 6, NOW + timedelta(seconds=1)) == 6


def test_the_last_gate_stops_opt_outs_and_the_night(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        ids = queue(conn, ws, 3)
        care = queue(conn, ws, 1, start=10, klass="cskh")
        conn.execute(
            insert(opt_outs).values(
                workspace_id=ws,
                phone="+84910000001",
                scope="all",
                received_at=NOW - timedelta(minutes=5),
                effective_at=NOW - timedelta(minutes=5),
                source="sms",
                text="TC",
            )
        )
        rows = ledger.lease(conn, worker="w", now=NOW, limit=10, lease_for=LEASE)
    worker = Worker(store.engine)
    kept = worker._gate(rows, NOW)
    assert sorted(r.id for r in kept) == sorted([ids[0], ids[2], care[0]])
    with store.engine.connect() as conn:
        row = conn.execute(
            select(outbox.c.status, outbox.c.reasons).where(outbox.c.id == ids[1])
        ).one()
    assert (row.status, row.reasons) == ("suppressed", ["opted_out"])

    night = datetime(2026, 11, 23, 22, 30, tzinfo=VN).astimezone(UTC)
    kept = worker._gate(kept, night)
    assert [r.id for r in kept] == care  # customer care may go at night; advertising waits
    with store.engine.connect() as conn:
        times = conn.execute(
            select(outbox.c.status, outbox.c.scheduled_at).where(outbox.c.id == ids[0])
        ).one()
    assert times.status == "queued"
    assert times.scheduled_at.astimezone(VN) == datetime(2026, 11, 24, 7, 0, tzinfo=VN)
