"""Read-only figures the dashboard shows: today's activity, a person's timeline, a campaign's
progress and its comparison with earlier campaigns. Each is a handful of indexed queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select

from loa.store.tables import (
    attributions,
    audit_log,
    campaigns,
    channel_states,
    clicks,
    consents,
    contacts,
    events,
    inbound_messages,
    opt_outs,
    outbox,
)
from loa.web.core import VN

# Where a message stands, grouped the way a marketer reads it.
SENT_STATES = (
    "submitted",
    "delivered",
    "undelivered",
    "expired",
    "rejected",
    "failed",
    "uncertain",
)
WAITING_STATES = ("planned", "queued", "leased", "submitting")
FAILED_STATES = ("undelivered", "expired", "rejected", "failed")


def day_start(today: date | None = None) -> datetime:
    """Midnight in Vietnam, as a UTC moment."""
    local_day = today or datetime.now(VN).date()
    return datetime.combine(local_day, time(0), tzinfo=VN).astimezone(UTC)


def today_figures(
    conn: Connection,
    *,
    workspace_id: int,
    days: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Today's sends, deliveries, clicks, orders and spend (Vietnam day); `days` (from
    `last_days`) saves reading today's messages twice."""
    start = day_start((now or datetime.now(UTC)).astimezone(VN).date())
    today = (days or last_days(conn, workspace_id=workspace_id, days=1, now=now))[-1]
    clicked = conn.execute(
        select(func.count()).where(
            clicks.c.workspace_id == workspace_id, clicks.c.at >= start, clicks.c.human.is_(True)
        )
    ).scalar_one()
    orders, revenue = conn.execute(
        select(func.count(), func.coalesce(func.sum(attributions.c.value_vnd), 0)).where(
            attributions.c.workspace_id == workspace_id, attributions.c.occurred_at >= start
        )
    ).one()
    return {
        "sent": today["sent"],
        "delivered": today["delivered"],
        "failed": today["failed"],
        "spend_vnd": today["spend_vnd"],
        "parts": today["parts"],
        "clicks": int(clicked),
        "orders": int(orders),
        "revenue_vnd": int(revenue or 0),
    }


def waiting_now(conn: Connection, *, workspace_id: int) -> int:
    """Messages queued to leave."""
    return int(
        conn.execute(
            select(func.count()).where(
                outbox.c.workspace_id == workspace_id, outbox.c.status.in_(("queued", "leased"))
            )
        ).scalar_one()
    )


def progress(conn: Connection, *, workspace_id: int, campaign_id: int) -> dict[str, Any]:
    """A campaign's messages by state, and the share that has left."""
    state = conn.execute(
        select(campaigns.c.state).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id
        )
    ).scalar_one_or_none()
    rows = (
        conn.execute(
            # The campaign is the workspace's (checked above): count from the index alone.
            select(outbox.c.status, func.count())
            .where(outbox.c.campaign_id == campaign_id)
            .group_by(outbox.c.status)
        ).all()
        if state is not None
        else []
    )
    by_status = {str(s): int(n) for s, n in rows}
    to_send = sum(n for s, n in by_status.items() if s in SENT_STATES or s in WAITING_STATES)
    left = sum(n for s, n in by_status.items() if s in SENT_STATES)
    return {
        "campaign_id": campaign_id,
        "state": state,
        "by_status": by_status,
        "to_send": to_send,
        "left": left,
        "delivered": by_status.get("delivered", 0),
        "failed": sum(by_status.get(s, 0) for s in FAILED_STATES),
        "waiting": sum(by_status.get(s, 0) for s in WAITING_STATES),
        "suppressed": by_status.get("suppressed", 0),
        "done_pct": round(100 * left / to_send, 1) if to_send else 100.0,
    }


_SETTLED: dict[tuple[str, int, int, Any], list[dict[str, Any]]] = {}


def sends_by_carrier(
    conn: Connection, *, workspace_id: int, campaign_id: int
) -> list[dict[str, Any]]:
    """Per carrier: messages sent, delivered and their cost. A completed campaign's figures no
    longer change, so they are read once per process."""
    row = conn.execute(
        select(campaigns.c.state, campaigns.c.created_at).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id
        )
    ).first()
    state, created = (row.state, row.created_at) if row is not None else (None, None)
    # With the creation time: a store that was emptied and refilled reuses campaign ids.
    key = (str(conn.engine.url), workspace_id, campaign_id, created)
    if key in _SETTLED:
        return _SETTLED[key]
    o = outbox.c
    rows = conn.execute(
        select(
            o.carrier,
            func.sum(case((o.status.in_(SENT_STATES), 1), else_=0)),
            func.sum(case((o.status == "delivered", 1), else_=0)),
            func.coalesce(func.sum(case((o.status.in_(SENT_STATES), o.price_vnd), else_=0)), 0),
        )
        .where(o.workspace_id == workspace_id, o.campaign_id == campaign_id)
        .group_by(o.carrier)
        .order_by(o.carrier)
    ).all()
    found = [
        {
            "carrier": c or "—",
            "sent": int(s or 0),
            "delivered": int(d or 0),
            "cost_vnd": int(v or 0),
        }
        for c, s, d, v in rows
    ]
    if state == "completed":
        _SETTLED[key] = found
    return found


def by_variant(conn: Connection, *, workspace_id: int, campaign_id: int) -> list[dict[str, Any]]:
    """Per variant (A/B test): sent, delivered, people who clicked, orders and revenue."""
    o = outbox.c
    rows: dict[str, dict[str, Any]] = {}
    for variant, sent, delivered in conn.execute(
        select(
            o.variant,
            func.sum(case((o.status.in_(SENT_STATES), 1), else_=0)),
            func.sum(case((o.status == "delivered", 1), else_=0)),
        )
        .where(o.workspace_id == workspace_id, o.campaign_id == campaign_id)
        .group_by(o.variant)
    ):
        if variant is None:
            continue  # holdout and suppressed rows carry no variant
        rows[str(variant)] = {
            "variant": str(variant),
            "sent": int(sent or 0),
            "delivered": int(delivered or 0),
            "clickers": 0,
            "orders": 0,
            "revenue_vnd": 0,
        }
    for variant, people in conn.execute(
        select(clicks.c.variant, func.count(func.distinct(clicks.c.outbox_id)))
        .where(
            clicks.c.workspace_id == workspace_id,
            clicks.c.campaign_id == campaign_id,
            clicks.c.human.is_(True),
        )
        .group_by(clicks.c.variant)
    ):
        if str(variant) in rows:
            rows[str(variant)]["clickers"] = int(people)
    a = attributions.c
    for variant, n, value in conn.execute(
        select(a.variant, func.count(), func.coalesce(func.sum(a.value_vnd), 0))
        .where(a.workspace_id == workspace_id, a.campaign_id == campaign_id)
        .group_by(a.variant)
    ):
        if str(variant) in rows:
            rows[str(variant)].update(orders=int(n), revenue_vnd=int(value or 0))
    return sorted(rows.values(), key=lambda r: r["variant"])


def campaign_figures(
    conn: Connection, *, workspace_id: int, campaign_ids: list[int]
) -> dict[int, dict[str, Any]]:
    """Sent, delivered, cost, clicks, orders, revenue and ROI for each campaign."""
    out: dict[int, dict[str, Any]] = {}
    for cid in campaign_ids:
        lines = sends_by_carrier(conn, workspace_id=workspace_id, campaign_id=cid)
        out[cid] = {
            "sent": sum(r["sent"] for r in lines),
            "delivered": sum(r["delivered"] for r in lines),
            "cost_vnd": sum(r["cost_vnd"] for r in lines),
            "clicks": 0,
            "clickers": 0,
            "orders": 0,
            "revenue_vnd": 0,
        }
    if not campaign_ids:
        return out
    for cid, n, people in conn.execute(
        select(clicks.c.campaign_id, func.count(), func.count(func.distinct(clicks.c.outbox_id)))
        .where(
            clicks.c.workspace_id == workspace_id,
            clicks.c.campaign_id.in_(campaign_ids),
            clicks.c.human.is_(True),
        )
        .group_by(clicks.c.campaign_id)
    ):
        out[int(cid)].update(clicks=int(n), clickers=int(people))
    a = attributions.c
    for cid, n, value in conn.execute(
        select(a.campaign_id, func.count(), func.coalesce(func.sum(a.value_vnd), 0))
        .where(a.workspace_id == workspace_id, a.campaign_id.in_(campaign_ids))
        .group_by(a.campaign_id)
    ):
        out[int(cid)].update(orders=int(n), revenue_vnd=int(value or 0))
    for figures in out.values():
        cost = figures["cost_vnd"]
        figures["roi"] = (figures["revenue_vnd"] - cost) / cost if cost else None
    return out


def timeline(
    conn: Connection, *, workspace_id: int, contact: Any, limit: int = 100
) -> list[dict[str, Any]]:
    """One person's messages, clicks, orders and consent changes, newest first."""
    items: list[dict[str, Any]] = []
    row: Any
    o = outbox.c
    for row in conn.execute(
        select(
            o.id,
            o.text,
            o.sender,
            o.status,
            o.campaign_id,
            o.submitted_at,
            o.created_at,
            o.decision,
            o.reasons,
        )
        .where(o.workspace_id == workspace_id, o.phone == contact.phone)
        .order_by(o.id.desc())
        .limit(limit)
    ):
        items.append(
            {
                "kind": "message",
                "at": row.submitted_at or row.created_at,
                "text": row.text,
                "sender": row.sender,
                "status": row.status,
                "campaign_id": row.campaign_id,
                "reasons": row.reasons or [],
            }
        )
    for row in conn.execute(
        select(clicks.c.at, clicks.c.campaign_id, clicks.c.code)
        .where(
            clicks.c.workspace_id == workspace_id,
            clicks.c.contact_id == contact.id,
            clicks.c.human.is_(True),
        )
        .order_by(clicks.c.at.desc())
        .limit(limit)
    ):
        items.append(
            {"kind": "click", "at": row.at, "campaign_id": row.campaign_id, "code": row.code}
        )
    for row in conn.execute(
        select(events.c.type, events.c.occurred_at, events.c.value_vnd, events.c.category)
        .where(events.c.workspace_id == workspace_id, events.c.contact_id == contact.id)
        .order_by(events.c.occurred_at.desc())
        .limit(limit)
    ):
        items.append(
            {
                "kind": "order" if row.value_vnd is not None else "event",
                "at": row.occurred_at,
                "type": row.type,
                "value_vnd": row.value_vnd,
                "category": row.category,
            }
        )
    c = consents.c
    for row in conn.execute(
        select(c.channel, c.purpose, c.method, c.evidence, c.given_at, c.withdrawn_at).where(
            c.workspace_id == workspace_id, c.contact_id == contact.id
        )
    ):
        items.append(
            {
                "kind": "consent",
                "at": row.given_at,
                "channel": row.channel,
                "purpose": row.purpose,
                "method": row.method,
                "evidence": row.evidence,
            }
        )
        if row.withdrawn_at is not None:
            items.append(
                {
                    "kind": "withdrawn",
                    "at": row.withdrawn_at,
                    "channel": row.channel,
                    "purpose": row.purpose,
                }
            )
    s = channel_states.c
    for row in conn.execute(
        select(s.channel, s.status, s.changed_at, s.method).where(
            s.workspace_id == workspace_id, s.contact_id == contact.id, s.status == "opted_out"
        )
    ):
        items.append(
            {"kind": "opt_out", "at": row.changed_at, "channel": row.channel, "method": row.method}
        )
    for row in conn.execute(
        select(opt_outs.c.received_at, opt_outs.c.channel, opt_outs.c.source, opt_outs.c.text)
        .where(opt_outs.c.workspace_id == workspace_id, opt_outs.c.phone == contact.phone)
        .limit(limit)
    ):
        items.append(
            {"kind": "opt_out", "at": row.received_at, "channel": row.channel, "method": row.source}
        )
    for row in conn.execute(
        select(inbound_messages.c.received_at, inbound_messages.c.text, inbound_messages.c.to)
        .where(
            inbound_messages.c.workspace_id == workspace_id,
            inbound_messages.c.phone == contact.phone,
        )
        .order_by(inbound_messages.c.id.desc())
        .limit(limit)
    ):
        items.append({"kind": "reply", "at": row.received_at, "text": row.text, "to": row.to})
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    items.sort(key=lambda item: item["at"] or epoch, reverse=True)
    return items[:limit]


def search_contacts(
    conn: Connection,
    *,
    workspace_id: int,
    query: str,
    phone: str | None,
    before: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Contacts whose number is `phone`, or whose name or email contains `query`."""
    c = contacts.c
    cols = (c.id, c.phone, c.name, c.province, c.carrier, c.email, c.birthday, c.created_at)
    base = select(*cols).where(c.workspace_id == workspace_id)
    if before is not None:
        base = base.where(c.id < before)  # a cursor: the next page starts below the last id
    if phone:
        found = base.where(c.phone == phone)
    elif query:
        # No index serves a search inside names (a scan of the workspace); looking in one column
        # halves it: email when the query looks like one, else the name.
        column = c.email if "@" in query else c.name
        found = base.where(column.like(f"%{query}%")).order_by(c.id.desc())
    else:
        found = base.order_by(c.id.desc())
    return [dict(row._mapping) for row in conn.execute(found.limit(limit))]


def recent_audit(conn: Connection, *, workspace_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The newest audit entries of the workspace."""
    a = audit_log.c
    rows = conn.execute(
        select(a.at, a.actor, a.action, a.target, a.details)
        .where(a.workspace_id == workspace_id)
        .order_by(a.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def last_days(
    conn: Connection, *, workspace_id: int, days: int = 14, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Messages sent and delivered per day over the last `days` days (Vietnam days), in one
    grouped query."""
    today = (now or datetime.now(UTC)).astimezone(VN).date()
    first = today - timedelta(days=days - 1)
    o = outbox.c
    if conn.dialect.name == "sqlite":
        # Stored as naive UTC text; Vietnam has no daylight saving, so +7 hours is exact.
        local_day = func.strftime("%Y-%m-%d", o.submitted_at, "+7 hours")
    else:
        local_day = func.to_char(func.timezone("Asia/Ho_Chi_Minh", o.submitted_at), "YYYY-MM-DD")
    rows = conn.execute(
        select(
            local_day,
            func.count(),
            func.coalesce(func.sum(case((o.status == "delivered", 1), else_=0)), 0),
            func.coalesce(func.sum(case((o.status.in_(FAILED_STATES), 1), else_=0)), 0),
            func.coalesce(func.sum(o.price_vnd), 0),
            func.coalesce(func.sum(o.parts), 0),
        )
        .where(o.workspace_id == workspace_id, o.submitted_at >= day_start(first))
        .group_by(local_day)
    ).all()
    found = {str(row[0]): [int(v or 0) for v in row[1:]] for row in rows}
    out = []
    for i in range(days):
        d = first + timedelta(days=i)
        sent, delivered, failed, spend, parts = found.get(d.isoformat(), [0, 0, 0, 0, 0])
        out.append(
            {
                "day": d,
                "sent": sent,
                "delivered": delivered,
                "failed": failed,
                "spend_vnd": spend,
                "parts": parts,
            }
        )
    return out
