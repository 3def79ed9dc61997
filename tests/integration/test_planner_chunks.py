"""Planning in chunks: the planner streams the audience a chunk at a time (bounded memory for
national audiences); whatever the chunk size, the plan and its report are the same."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from loa.services.campaigns import planner
from loa.services.campaigns.planner import plan_campaign
from loa.services.campaigns.service import CampaignSpec, Schedule, Variant, create_campaign
from loa.services.compliance.brandnames import add_brandname
from loa.store.db import Store
from loa.store.tables import (
    campaigns,
    consents,
    contact_stats,
    contacts,
    dnc_imports,
    dnc_numbers,
    opt_outs,
    outbox,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 21, 59, 40, tzinfo=VN)  # Monday: 20 s of QC time left today
PREFIXES = ("91", "98", "90", "92")
GIVEN = ("An", "Bảo", "Chí", "Dũng", None)  # None: the template cannot render
CARRIERS = {"91": "VinaPhone", "98": "Viettel", "90": "MobiFone", "92": "Vietnamobile"}


def _book(store: Store, n: int) -> None:
    """`n` contacts: every 6th without consent, every 7th opted out, every 11th on the DNC
    list, every 5th without a given name, every 9th already sent 3 QC messages today; scores
    from 0 to 12 so the budget has an order to follow."""
    ws = store.workspace_id
    add_brandname(
        store,
        "SHOPABC",
        domains=["shop.vn"],
        registered_on=date(2025, 1, 1),
        optout_keyword="TC",
        optout_shortcode="6058",
        hotline="19001234",
    )
    with store.engine.begin() as conn:
        listed = conn.execute(
            insert(dnc_imports)
            .values(workspace_id=ws, source="dnc.txt", list_date=date(2026, 11, 20), numbers=0)
            .returning(dnc_imports.c.id)
        ).scalar_one()
        for i in range(1, n + 1):
            prefix = PREFIXES[i % 4]
            phone = f"+84{prefix}{i:07d}"
            cid = conn.execute(
                insert(contacts)
                .values(
                    workspace_id=ws,
                    phone=phone,
                    given_name=GIVEN[i % 5],
                    carrier=CARRIERS[prefix],
                )
                .returning(contacts.c.id)
            ).scalar_one()
            if i % 6:
                conn.execute(
                    insert(consents).values(
                        workspace_id=ws,
                        contact_id=cid,
                        channel="sms",
                        purpose="marketing",
                        method="web_form",
                        evidence="form #1",
                        given_at=NOW - timedelta(days=30),
                    )
                )
            if i % 7 == 0:
                conn.execute(
                    insert(opt_outs).values(
                        workspace_id=ws,
                        phone=phone,
                        scope="all",
                        received_at=NOW - timedelta(days=1),
                        effective_at=NOW - timedelta(days=1),
                        source="sms",
                        text="TC",
                    )
                )
            if i % 11 == 0:
                conn.execute(
                    insert(dnc_numbers).values(workspace_id=ws, phone=phone, import_id=listed)
                )
            if i % 9 == 0:
                for k in range(3):
                    conn.execute(
                        insert(outbox).values(
                            workspace_id=ws,
                            idempotency_key=f"earlier:{i}:{k}",
                            phone=phone,
                            channel="sms",
                            **{"class": "qc"},
                            decision="send",
                            status="delivered",
                            submitted_at=NOW - timedelta(hours=2 + k),
                        )
                    )
            score = i % 13
            if score:
                conn.execute(
                    insert(contact_stats).values(
                        contact_id=cid,
                        workspace_id=ws,
                        orders_count=1,
                        total_spend_vnd=100_000,
                        first_order_at=NOW - timedelta(days=300),
                        last_order_at=NOW - timedelta(days=10),
                        r_score=score // 3,
                        f_score=score // 3,
                        m_score=score - 2 * (score // 3),
                    )
                )


def _campaign(store: Store) -> int:
    with store.engine.begin() as conn:
        return create_campaign(
            conn,
            workspace_id=store.workspace_id,
            spec=CampaignSpec(
                name="Chunks",
                cls="qc",
                sender="SHOPABC",
                include=("all",),
                variants=(
                    Variant("A", "Chao {{ given_name }}, giam 20% tai shop.vn", 60),
                    Variant("B", "{{ given_name }} ơi, quà tặng đang chờ bạn tại shop.vn", 40),
                ),
                holdout_pct=10,
                # One message a second: 20 leave before 22:00, the rest wait for 07:00.
                schedule=Schedule(mode="at", at=NOW),
                max_tps=1,
                budget_vnd=40_000,
                seed=11,
            ),
            actor="t",
            now=NOW,
        )


def _plan(store: Store, cid: int, chunk_rows: int) -> tuple[dict[str, Any], list[tuple[Any]]]:
    report = plan_campaign(store, cid, actor="t", now=NOW, chunk_rows=chunk_rows)
    return report.to_json(), _rows(store, cid)


def _rows(store: Store, cid: int) -> list[tuple[Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.idempotency_key,
                outbox.c.contact_id,
                outbox.c.phone,
                outbox.c.variant,
                outbox.c.text,
                outbox.c.encoding,
                outbox.c.parts,
                outbox.c.carrier,
                outbox.c.price_vnd,
                outbox.c.decision,
                outbox.c.reasons,
                outbox.c.scheduled_at,
                outbox.c.status,
            )
            .where(outbox.c.campaign_id == cid)
            .order_by(outbox.c.id)  # the order the plan wrote them: priority order
        ).all()
    return [tuple(r) for r in rows]


def test_a_plan_in_chunks_of_seven_is_the_plan_in_one_chunk(store: Store) -> None:
    _book(store, 120)
    cid = _campaign(store)
    whole_report, whole_rows = _plan(store, cid, 1_000)
    chunked_report, chunked_rows = _plan(store, cid, 7)
    assert chunked_rows == whole_rows
    assert chunked_report == whole_report
    # The mix is what the book holds: every decision and reason has recipients.
    assert whole_report["audience"] == 120
    assert whole_report["by_variant"] == {"A": 72, "B": 40, "control": 8}
    assert whole_report["by_decision"] == {"defer": 23, "holdout": 8, "send": 7, "suppress": 82}
    assert whole_report["by_reason"] == {
        "budget": 13,
        "carrier_limit": 14,
        "dnc": 9,
        "frequency_cap": 5,
        "no_consent": 17,
        "opted_out": 13,
        "quiet_hours": 23,
        "render_failed": 11,
    }
    # The budget keeps 39,150 of 40,000 VND: the next message in priority would not fit.
    assert (whole_report["budget_cut"], whole_report["cost_vnd"]) == (13, 39_150)
    assert (whole_report["first_at"], whole_report["last_at"]) == (
        "2026-11-23T14:59:40+00:00",
        "2026-11-24T00:00:00+00:00",
    )
    assert len(whole_report["warnings"]) == 5
    # Rows are written best customers first: scores never rise down the plan.
    with store.engine.connect() as conn:
        scores = dict(
            conn.execute(
                select(
                    contact_stats.c.contact_id,
                    contact_stats.c.r_score + contact_stats.c.f_score + contact_stats.c.m_score,
                )
            ).all()
        )
    ranked = [scores.get(row[1], 0) for row in whole_rows]
    assert ranked == sorted(ranked, reverse=True)
    assert _plan(store, cid, 1) == (whole_report, whole_rows)


def test_the_outbox_written_while_planning_is_the_outbox_written_at_the_end(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the writer copies each chunk into the outbox while the next is planned; with
    more chunks than scratch files (120 of one row) the last file takes the rest."""
    _book(store, 120)
    cid = _campaign(store)
    monkeypatch.setattr(planner, "WRITE_WHILE_PLANNING", False)
    at_the_end = _plan(store, cid, 7)
    monkeypatch.setattr(planner, "WRITE_WHILE_PLANNING", True)
    assert _plan(store, cid, 7) == at_the_end
    assert _plan(store, cid, 1) == at_the_end


def test_a_plan_that_fails_half_way_leaves_the_earlier_plan_as_it_was(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _book(store, 120)
    cid = _campaign(store)
    report, rows = _plan(store, cid, 1_000)
    with store.engine.connect() as conn:
        before = conn.execute(select(campaigns.c.state, campaigns.c.planned_at)).one()
    # The failure comes once the writer has copied chunks into the outbox (SQLite), inside
    # the plan's open transaction.
    copied = threading.Event()
    copy = planner._SqliteStage._copy

    def copy_and_tell(self: Any, slot: int) -> None:
        copy(self, slot)
        copied.set()

    monkeypatch.setattr(planner._SqliteStage, "_copy", copy_and_tell)
    budget = planner._budget
    calls = 0

    def failing_budget(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 5:
            assert store.dialect != "sqlite" or copied.wait(10)
            raise RuntimeError("the disk is full")
        return budget(*args, **kwargs)

    monkeypatch.setattr(planner, "_budget", failing_budget)
    later = NOW + timedelta(hours=1)
    with pytest.raises(RuntimeError, match="the disk is full"):
        plan_campaign(store, cid, actor="t", now=later, chunk_rows=7)
    assert _rows(store, cid) == rows
    with store.engine.connect() as conn:
        assert conn.execute(select(campaigns.c.state, campaigns.c.planned_at)).one() == before
    # Nothing is left attached or locked: the next plan is written as before.
    monkeypatch.setattr(planner, "_budget", budget)
    assert _plan(store, cid, 7) == (report, rows)
