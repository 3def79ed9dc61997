"""Campaigns over the API: create, plan, start, pause, report; four-eyes approval of risky
campaigns, which no path (API or service call) can get around."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from tests.integration import test_api_support
from tests.integration.test_api_support import Api

from loa.i18n import LoaError
from loa.services.campaigns.service import change_state
from loa.services.compliance.brandnames import add_brandname
from loa.store.tables import audit_log, campaigns, consents, contacts

api = test_api_support.api

TEXT = "Giam 20% don hang hom nay tai https://shop.vn/sale"


@pytest.fixture
def book(api: Api) -> Api:
    store = api.store
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
        for i in range(3):
            cid = conn.execute(
                insert(contacts)
                .values(workspace_id=store.workspace_id, phone=f"+8491234567{i}", carrier="Viettel")
                .returning(contacts.c.id)
            ).scalar_one()
            conn.execute(
                insert(consents).values(
                    workspace_id=store.workspace_id,
                    contact_id=cid,
                    channel="sms",
                    purpose="marketing",
                    method="web_form",
                    evidence="form #1",
                    given_at=datetime.now(UTC) - timedelta(days=3),
                )
            )
    return api


def create(api: Api, name: str = "Sale 12") -> int:
    made = api.post(
        "/api/v1/campaigns",
        json={
            "name": name,
            "class": "qc",
            "sender": "SHOPABC",
            "include": ["all"],
            "texts": [TEXT],
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["state"] == "draft"
    return int(made.json()["id"])


def test_a_campaign_is_created_planned_started_paused_and_reported(book: Api) -> None:
    cid = create(book)
    plan = book.post(f"/api/v1/campaigns/{cid}/plan")
    assert plan.status_code == 200, plan.text
    assert plan.json()["audience"] == 3
    assert sum(plan.json()["by_decision"].values()) == 3
    started = book.post(f"/api/v1/campaigns/{cid}/start")
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "scheduled"
    paused = book.post(f"/api/v1/campaigns/{cid}/pause")
    assert paused.json()["state"] == "paused"
    again = book.post(f"/api/v1/campaigns/{cid}/pause")
    assert again.status_code == 409
    assert again.json()["code"] == "campaigns.bad_transition"
    report = book.get(f"/api/v1/campaigns/{cid}/report")
    assert report.status_code == 200, report.text
    shown = book.get(f"/api/v1/campaigns/{cid}").json()
    assert [h["to_state"] for h in shown["history"]] == ["draft", "planned", "scheduled", "paused"]
    with book.store.engine.connect() as conn:
        sent = (
            conn.execute(
                select(audit_log.c.actor).where(audit_log.c.action == "campaign.scheduled")
            )
            .scalars()
            .all()
        )
    assert sent == ["key:all"]


def test_a_start_retried_with_its_idempotency_key_sends_once(book: Api) -> None:
    cid = create(book)
    book.post(f"/api/v1/campaigns/{cid}/plan")
    headers = {"Idempotency-Key": f"start-{cid}"}
    first = book.post(f"/api/v1/campaigns/{cid}/start", headers=headers)
    second = book.post(f"/api/v1/campaigns/{cid}/start", headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    with book.store.engine.connect() as conn:
        starts = conn.execute(
            select(audit_log.c.id).where(audit_log.c.action == "campaign.scheduled")
        ).all()
    assert len(starts) == 1


def enable_approvals(api: Api, **extra: object) -> None:
    answer = api.client.patch(
        "/api/v1/workspace/settings",
        json={
            "approvals": True,
            "approval_min_recipients": 2,
            "usual_hours_start": 0,
            "usual_hours_end": 24,
            **extra,
        },
        headers=api.auth(),
    )
    assert answer.status_code == 200, answer.text


def test_a_risky_campaign_waits_for_a_second_persons_approval(book: Api) -> None:
    enable_approvals(book)
    cid = create(book)
    book.post(f"/api/v1/campaigns/{cid}/plan")
    csrf = book.sign_in("minh@shop.vn")  # a marketer
    asked = book.client.post(f"/api/v1/campaigns/{cid}/start", headers={"X-CSRF-Token": csrf})
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["state"] == "planned"
    assert body["approval"]["status"] == "pending"
    assert body["approval"]["requested_by"] == "minh@shop.vn"
    assert [r["code"] for r in body["approval"]["reasons"]] == ["recipients", "new_domain"]
    assert body["message"] == (
        f"Chiến dịch #{cid} cần người thứ hai duyệt trước khi gửi (3 người nhận, trên ngưỡng 2; "
        f"đường dẫn tới tên miền mới: shop.vn); nhờ chủ sở hữu hoặc quản trị viên duyệt trong "
        f"bảng điều khiển hoặc qua POST /api/v1/campaigns/{cid}/approve."
    )
    # The marketer cannot approve; no path starts it meanwhile, not even a direct service call.
    self_ok = book.client.post(
        f"/api/v1/campaigns/{cid}/approve", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert self_ok.status_code == 403
    with book.store.engine.begin() as conn, pytest.raises(LoaError) as blocked:
        change_state(
            conn, workspace_id=book.store.workspace_id, campaign_id=cid, to="scheduled", actor="cli"
        )
    assert blocked.value.code == "approvals.needed"

    owner_csrf = book.sign_in("lan@shop.vn")
    approved = book.client.post(
        f"/api/v1/campaigns/{cid}/approve",
        json={"note": "ok, đã xem"},
        headers={"X-CSRF-Token": owner_csrf},
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "lan@shop.vn")
    started = book.client.post(
        f"/api/v1/campaigns/{cid}/start", headers={"X-CSRF-Token": owner_csrf}
    )
    assert started.status_code == 200
    assert started.json()["state"] == "scheduled"
    with book.store.engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.actor, audit_log.c.action)).all()
    assert ("minh@shop.vn", "approval.request") in actions
    assert ("lan@shop.vn", "approval.approved") in actions


def test_the_person_who_asked_cannot_approve_their_own_campaign(book: Api) -> None:
    enable_approvals(book)
    cid = create(book)
    book.post(f"/api/v1/campaigns/{cid}/plan")
    assert book.post(f"/api/v1/campaigns/{cid}/start").status_code == 202
    own = book.post(f"/api/v1/campaigns/{cid}/approve", json={})
    assert own.status_code == 403
    assert own.json()["code"] == "approvals.self"


def test_a_replanned_campaign_needs_approving_again(book: Api) -> None:
    enable_approvals(book)
    cid = create(book)
    book.post(f"/api/v1/campaigns/{cid}/plan")
    book.post(f"/api/v1/campaigns/{cid}/start")
    csrf = book.sign_in("tu@shop.vn")  # an admin
    ok = book.client.post(
        f"/api/v1/campaigns/{cid}/approve", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status_code == 200
    book.post(f"/api/v1/campaigns/{cid}/plan")
    again = book.post(f"/api/v1/campaigns/{cid}/start")
    assert again.status_code == 202
    with book.store.engine.connect() as conn:
        state = conn.execute(select(campaigns.c.state).where(campaigns.c.id == cid)).scalar()
    assert state == "planned"


def test_small_campaigns_to_known_domains_in_usual_hours_start_at_once(book: Api) -> None:
    enable_approvals(book, approval_min_recipients=100)
    first = create(book, "Sale 1")
    book.post(f"/api/v1/campaigns/{first}/plan")
    assert book.post(f"/api/v1/campaigns/{first}/start").status_code == 202  # shop.vn is new
    csrf = book.sign_in("tu@shop.vn")
    book.client.post(f"/api/v1/campaigns/{first}/approve", json={}, headers={"X-CSRF-Token": csrf})
    assert book.post(f"/api/v1/campaigns/{first}/start").json()["state"] == "scheduled"
    second = create(book, "Sale 2")
    book.post(f"/api/v1/campaigns/{second}/plan")
    assert book.post(f"/api/v1/campaigns/{second}/start").json()["state"] == "scheduled"
