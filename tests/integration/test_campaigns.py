"""Campaigns on a real store: creation checks, the state machine and its history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from loa.i18n import LoaError
from loa.services.campaigns.service import (
    CampaignSpec,
    Schedule,
    Variant,
    change_state,
    create_campaign,
    equal_variants,
    get_campaign,
    history,
    list_campaigns,
)
from loa.services.segments import create_segment
from loa.store.db import Store
from loa.store.tables import outbox

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def spec(**overrides: object) -> CampaignSpec:
    values: dict[str, object] = {
        "name": "Sale 12.12",
        "cls": "qc",
        "sender": "SHOPABC",
        "include": ("all",),
        "variants": equal_variants(["[QC] Giam 50% hom nay"]),
    }
    values.update(overrides)
    return CampaignSpec(**values)  # type: ignore[arg-type]


def error_of(store: Store, **overrides: object) -> str:
    with pytest.raises(LoaError) as err, store.engine.begin() as conn:
        create_campaign(conn, workspace_id=store.workspace_id, spec=spec(**overrides), actor="t")
    return err.value.render("en")


def test_a_new_campaign_is_a_draft_with_its_fields(store: Store) -> None:
    with store.engine.begin() as conn:
        create_segment(
            conn,
            workspace_id=store.workspace_id,
            name="hanoi",
            rule={"attr": "province", "op": "eq", "value": "Hà Nội"},
        )
        cid = create_campaign(
            conn,
            workspace_id=store.workspace_id,
            spec=spec(
                include=("hanoi",),
                exclude=("inactive",),
                variants=(Variant("A", "[QC] A", 70), Variant("B", "[QC] B", 30)),
                holdout_pct=10,
                schedule=Schedule(mode="golden", preset="retail", holidays="avoid"),
                budget_vnd=5_000_000,
                seed=42,
            ),
            actor="cli:lan",
            now=NOW,
        )
        c = get_campaign(conn, workspace_id=store.workspace_id, campaign_id=cid)
    assert (c.state, c.include, c.exclude, c.holdout_pct, c.budget_vnd, c.seed) == (
        "draft",
        ("hanoi",),
        ("inactive",),
        10,
        5_000_000,
        42,
    )
    assert [(v.name, v.share_pct) for v in c.variants] == [("A", 70), ("B", 30)]
    assert c.schedule == Schedule(mode="golden", preset="retail", holidays="avoid")
    assert c.created_by == "cli:lan"


def test_equal_variants_give_the_remainder_to_the_first() -> None:
    assert [v.share_pct for v in equal_variants(["a", "b", "c"])] == [34, 33, 33]
    assert [v.name for v in equal_variants(["a", "b", "c"])] == ["A", "B", "C"]


def test_bad_fields_get_clear_errors(store: Store) -> None:
    assert error_of(store, cls="promo") == (
        "Message class 'promo' is not valid: use qc (advertising), cskh (customer care) or "
        "public (public service)."
    )
    assert error_of(store, include=("nobody",)).startswith("There is no segment 'nobody'.")
    assert error_of(store, variants=(Variant("A", "x", 60), Variant("B", "y", 30))) == (
        "The variants' shares must add up to 100% (they add up to 90%)."
    )
    assert error_of(store, holdout_pct=60) == "The holdout group must be 0 to 50% (it is 60%)."
    assert error_of(store, budget_vnd=0) == (
        "The budget must be a positive number of đồng (it is 0)."
    )
    assert error_of(store, include=()) == (
        "A campaign needs at least one audience segment (--segment)."
    )
    assert error_of(store, schedule=Schedule(mode="golden", preset="bakery")).startswith(
        "There is no golden-hour preset 'bakery'."
    )
    with store.engine.connect() as conn:
        assert list_campaigns(conn, workspace_id=store.workspace_id) == []


def test_names_are_unique_per_workspace(store: Store) -> None:
    with store.engine.begin() as conn:
        create_campaign(conn, workspace_id=store.workspace_id, spec=spec(), actor="t")
    assert error_of(store) == "A campaign named 'Sale 12.12' already exists; choose another name."


def test_the_state_machine_refuses_skips_and_records_every_change(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        cid = create_campaign(conn, workspace_id=ws, spec=spec(), actor="lan", now=NOW)
    with pytest.raises(LoaError) as err, store.engine.begin() as conn:
        change_state(conn, workspace_id=ws, campaign_id=cid, to="running", actor="lan")
    assert err.value.render("en") == (
        f"Campaign #{cid} is 'draft' and cannot become 'running'. Allowed: cancelled, planned."
    )
    with store.engine.begin() as conn:
        for to in ("planned", "scheduled", "paused", "scheduled", "cancelled"):
            change_state(conn, workspace_id=ws, campaign_id=cid, to=to, actor="minh", now=NOW)
        steps = [
            (h["from_state"], h["to_state"], h["actor"])
            for h in history(conn, workspace_id=ws, campaign_id=cid)
        ]
    assert steps == [
        (None, "draft", "lan"),
        ("draft", "planned", "minh"),
        ("planned", "scheduled", "minh"),
        ("scheduled", "paused", "minh"),
        ("paused", "scheduled", "minh"),
        ("scheduled", "cancelled", "minh"),
    ]


def test_cancel_stops_every_message_not_yet_handed_to_a_carrier(store: Store) -> None:
    ws = store.workspace_id
    with store.engine.begin() as conn:
        cid = create_campaign(conn, workspace_id=ws, spec=spec(), actor="t")
        for n, status in enumerate(("queued", "submitted", "delivered", "planned")):
            conn.execute(
                insert(outbox).values(
                    workspace_id=ws,
                    idempotency_key=f"c{cid}:{n}",
                    campaign_id=cid,
                    phone=f"+8490000000{n}",
                    **{"class": "qc"},
                    decision="send",
                    status=status,
                )
            )
        change_state(conn, workspace_id=ws, campaign_id=cid, to="cancelled", actor="t")
        left = conn.execute(select(outbox.c.status).order_by(outbox.c.id)).scalars().all()
    assert left == ["cancelled", "submitted", "delivered", "cancelled"]


def test_another_workspace_cannot_see_the_campaign(store: Store) -> None:
    with store.engine.begin() as conn:
        cid = create_campaign(conn, workspace_id=store.workspace_id, spec=spec(), actor="t")
    with pytest.raises(LoaError) as err, store.engine.connect() as conn:
        get_campaign(conn, workspace_id=store.workspace_id + 1, campaign_id=cid)
    assert err.value.render("en") == (
        f"There is no campaign #{cid} in this workspace (see: loa campaigns list)."
    )
