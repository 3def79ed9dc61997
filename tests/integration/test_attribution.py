"""Which message an order is credited to, on the edges: per-campaign click windows, clicks and
deliveries at the same instant, the view window to the microsecond, a campaign that had stopped
sending, times stored in another spelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, text

from loa.services.tracking.attribution import attribute
from loa.store.db import Store
from loa.store.tables import (
    attributions,
    campaign_changes,
    campaigns,
    clicks,
    contacts,
    events,
    outbox,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Shop:
    """Campaigns, their messages, clicks and orders, written the way Loa writes them."""

    def __init__(self, conn: Connection, workspace_id: int) -> None:
        self.conn = conn
        self.ws = workspace_id
        self.made = 0

    def campaign(self, name: str, *, days: int = 7, made: datetime = NOW - 30 * DAY) -> int:
        return int(
            self.conn.execute(
                insert(campaigns)
                .values(
                    workspace_id=self.ws,
                    name=name,
                    **{"class": "qc"},
                    sender="SHOPABC",
                    audience={"include": ["all"]},
                    variants=[{"name": "A", "text": "a", "share_pct": 100}],
                    schedule={"mode": "now"},
                    attribution_days=days,
                    seed=1,
                    created_by="test",
                    state="completed",
                    created_at=made,
                )
                .returning(campaigns.c.id)
            ).scalar_one()
        )

    def buyer(self) -> int:
        self.made += 1
        return int(
            self.conn.execute(
                insert(contacts)
                .values(workspace_id=self.ws, phone=f"+84912{self.made:06d}")
                .returning(contacts.c.id)
            ).scalar_one()
        )

    def delivered(self, campaign: int, contact: int, at: datetime, variant: str = "A") -> int:
        return int(
            self.conn.execute(
                insert(outbox)
                .values(
                    workspace_id=self.ws,
                    idempotency_key=f"c{campaign}:{contact}",
                    campaign_id=campaign,
                    contact_id=contact,
                    phone="+84912000000",
                    **{"class": "qc"},
                    variant=variant,
                    decision="send",
                    status="delivered",
                    submitted_at=at - timedelta(seconds=5),
                    done_at=at,
                )
                .returning(outbox.c.id)
            ).scalar_one()
        )

    def click(self, campaign: int, contact: int, outbox_id: int, at: datetime) -> None:
        self.made += 1
        self.conn.execute(
            insert(clicks).values(
                workspace_id=self.ws,
                code=f"k{self.made}",
                campaign_id=campaign,
                contact_id=contact,
                outbox_id=outbox_id,
                variant="A",
                at=at,
                human=True,
            )
        )

    def order(self, contact: int, at: datetime, value_vnd: int) -> int:
        return int(
            self.conn.execute(
                insert(events)
                .values(
                    workspace_id=self.ws,
                    contact_id=contact,
                    type="purchase",
                    occurred_at=at,
                    value_vnd=value_vnd,
                    external_id=f"o{value_vnd}",
                )
                .returning(events.c.id)
            ).scalar_one()
        )


def credits(store: Store, **kwargs: Any) -> tuple[int, dict[int, tuple[Any, ...]]]:
    """Attribute, then every credit by order value: (model, campaign, outbox, touch_at)."""
    with store.engine.begin() as conn:
        count = attribute(conn, workspace_id=store.workspace_id, now=NOW, **kwargs)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                attributions.c.value_vnd,
                attributions.c.model,
                attributions.c.campaign_id,
                attributions.c.outbox_id,
                attributions.c.touch_at,
            )
        ).all()
    return count, {int(v): tuple(rest) for v, *rest in rows}


def test_a_click_counts_within_its_own_campaigns_window(store: Store) -> None:
    with store.engine.begin() as conn:
        shop = Shop(conn, store.workspace_id)
        short, long = shop.campaign("3 days", days=3), shop.campaign("7 days", days=7)
        buyer = shop.buyer()
        bought = NOW - 3 * DAY
        sms_short = shop.delivered(short, buyer, bought - 5 * DAY)
        sms_long = shop.delivered(long, buyer, bought - 6 * DAY)
        shop.click(short, buyer, sms_short, bought - 4 * DAY)  # the later click, out of its window
        shop.click(long, buyer, sms_long, bought - 5 * DAY)
        shop.order(buyer, bought, 100_000)
        other = shop.buyer()
        sms_other = shop.delivered(short, other, bought - 4 * DAY)
        shop.click(short, other, sms_other, bought - 3 * DAY)
        shop.order(other, bought, 200_000)  # clicked exactly 3 days before: still counts
    assert credits(store) == (
        2,
        {
            100_000: ("click", long, sms_long, bought - 5 * DAY),
            200_000: ("click", short, sms_other, bought - 3 * DAY),
        },
    )


def test_of_clicks_or_deliveries_at_the_same_instant_the_first_recorded_wins(
    store: Store,
) -> None:
    with store.engine.begin() as conn:
        shop = Shop(conn, store.workspace_id)
        first, second = shop.campaign("Tết"), shop.campaign("Hè")
        bought = NOW - 3 * DAY
        clicker = shop.buyer()
        a = shop.delivered(first, clicker, bought - 2 * DAY)
        b = shop.delivered(second, clicker, bought - 2 * DAY)
        shop.click(second, clicker, b, bought - DAY)  # recorded first
        shop.click(first, clicker, a, bought - DAY)
        shop.order(clicker, bought, 100_000)
        viewer = shop.buyer()
        c = shop.delivered(first, viewer, bought - timedelta(hours=2))
        shop.delivered(second, viewer, bought - timedelta(hours=2))
        shop.order(viewer, bought, 200_000)
    assert credits(store) == (
        2,
        {
            100_000: ("click", second, b, bought - DAY),
            200_000: ("view", first, c, bought - timedelta(hours=2)),
        },
    )


def test_the_view_window_holds_to_the_microsecond(store: Store) -> None:
    window = timedelta(hours=1, microseconds=200)
    bought = datetime(2026, 11, 20, 10, 0, 0, 100, tzinfo=UTC)  # .000100: the window borrows
    with store.engine.begin() as conn:
        shop = Shop(conn, store.workspace_id)
        cid = shop.campaign("Tết")
        inside, outside = shop.buyer(), shop.buyer()
        edge = shop.delivered(cid, inside, bought - window)
        shop.delivered(cid, outside, bought - window - timedelta(microseconds=1))
        shop.order(inside, bought, 100_000)
        shop.order(outside, bought, 200_000)
    assert credits(store, view_window=window) == (
        1,
        {
            100_000: ("view", cid, edge, datetime(2026, 11, 20, 8, 59, 59, 999900, tzinfo=UTC)),
            200_000: ("none", 0, 0, bought),  # settled with nothing within the window
        },
    )


def test_a_campaign_completed_a_view_window_before_the_order_is_not_credited(
    store: Store,
) -> None:
    """Deliveries are looked for among the campaigns sending around each order: not a campaign
    completed more than a view window before it (its receipt came in late), even when the
    buyer also ordered while it was sending."""
    with store.engine.begin() as conn:
        shop = Shop(conn, store.workspace_id)
        cid = shop.campaign("Tết")
        for state, at in (("running", NOW - 10 * DAY), ("completed", NOW - 8 * DAY)):
            conn.execute(
                insert(campaign_changes).values(campaign_id=cid, at=at, actor="t", to_state=state)
            )
        buyer = shop.buyer()
        receipt = NOW - 6 * DAY  # a receipt that came two days after the campaign completed
        shop.delivered(cid, buyer, receipt)
        shop.order(buyer, NOW - 8 * DAY + timedelta(hours=20), 100_000)  # within the span
        shop.order(buyer, receipt + timedelta(hours=1), 200_000)  # a day after it ended
    assert credits(store) == (
        0,
        {
            100_000: ("none", 0, 0, NOW - 8 * DAY + timedelta(hours=20)),  # before the receipt
            200_000: ("none", 0, 0, receipt + timedelta(hours=1)),
        },
    )


def test_times_stored_without_microseconds_are_the_same_instants(store: Store) -> None:
    """Rows written by other tools on SQLite may spell a time "2026-11-20 05:00:00": a click at
    the very instant of the order still counts, and the credit stores it as Loa writes it."""
    bought = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        shop = Shop(conn, store.workspace_id)
        cid = shop.campaign("Tết")
        buyer = shop.buyer()
        sms = shop.delivered(cid, buyer, bought - DAY)
        shop.click(cid, buyer, sms, bought)
        order = shop.order(buyer, bought, 100_000)
        if conn.dialect.name == "sqlite":
            conn.execute(
                text("UPDATE events SET occurred_at = '2026-11-20 05:00:00' WHERE id = :id"),
                {"id": order},
            )
    assert credits(store) == (1, {100_000: ("click", cid, sms, bought)})
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:
            stored = conn.execute(text("SELECT occurred_at, touch_at FROM attributions")).one()
        assert tuple(stored) == ("2026-11-20 05:00:00.000000", "2026-11-20 05:00:00.000000")
