"""Which message sold what: each order (a purchase event with a value) is credited to the last
message its buyer clicked within that campaign's attribution window (7 days unless the
campaign says otherwise), else to the last message delivered to them within a shorter view
window (1 day). Each order is credited once, and the credit is stored: reports read it, and
running attribution again changes nothing already credited. An order that found no message
is looked at again until it has settled (2 days: every click and receipt before it is in), then
recorded as credited to none (campaign 0), so a shop's other orders are not read again and again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from loa.services.stats import PURCHASE_TYPES
from loa.store.tables import attributions, campaign_changes, campaigns, clicks, events, outbox

VIEW_WINDOW: Final = timedelta(days=1)
LOOKBACK: Final = timedelta(days=60)  # orders older than this are never looked at again
# An order is decided once this old: the clicks and delivery receipts before it are all in.
SETTLE: Final = timedelta(days=2)
_CHUNK: Final = 500  # rows written at a time
_ORDERS: Final = 5_000  # orders looked at a time
_LOOKUPS: Final = 20_000  # messages looked up by key at a time


@dataclass(frozen=True, slots=True)
class _Touch:
    at: datetime
    campaign_id: int
    outbox_id: int
    variant: str | None


class _Order(NamedTuple):
    id: int
    contact_id: int
    occurred_at: datetime
    value_vnd: int


_SQLITE_DATETIME: Final = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DateTime on SQLite
_NOBODY: Final = _Touch(datetime.min.replace(tzinfo=UTC), 0, 0, None)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def attribute(
    conn: Connection,
    *,
    workspace_id: int,
    now: datetime,
    view_window: timedelta = VIEW_WINDOW,
    lookback: timedelta = LOOKBACK,
) -> int:
    """Credit the workspace's orders not yet credited; returns how many were credited now.
    Call it in a transaction that commits: the credits are the record."""
    windows: dict[int, timedelta] = {}
    created: dict[int, datetime] = {}
    for cid, days, at in conn.execute(
        select(campaigns.c.id, campaigns.c.attribution_days, campaigns.c.created_at).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.state != "draft"
        )
    ):
        windows[int(cid)] = timedelta(days=int(days))
        created[int(cid)] = at
    if not windows:
        return 0
    spans = _campaign_spans(conn, list(windows))
    for cid, at in created.items():  # a campaign with no recorded changes: since it was made
        spans.setdefault(cid, (at, None))
    first = min(start for start, _ in spans.values())
    credited = select(attributions.c.event_id).where(attributions.c.workspace_id == workspace_id)
    found = conn.execute(
        select(
            events.c.id,
            events.c.contact_id,
            type_coerce(events.c.occurred_at, String),
            events.c.value_vnd,
        )
        .where(
            events.c.workspace_id == workspace_id,
            events.c.type.in_(PURCHASE_TYPES),
            events.c.value_vnd.is_not(None),
            events.c.occurred_at >= max(first, now - lookback),
            events.c.occurred_at <= now,
            events.c.id.not_in(credited),
        )
        .order_by(events.c.occurred_at, events.c.id)
    )
    orders = [_Order(int(i), int(c), _utc(at), int(v)) for i, c, at, v in found]
    if not orders:
        return 0
    longest = max(windows.values())
    rows: list[dict[str, Any]] = []
    for part in _chunks(orders, _ORDERS):
        contacts = sorted({int(o.contact_id) for o in part})
        earliest = min(o.occurred_at for o in part)
        clicked = _clicks(conn, workspace_id, contacts, earliest - longest)
        unclaimed = []
        for order in part:
            best: _Touch | None = None
            for touch in clicked.get(int(order.contact_id), ()):
                window = windows.get(touch.campaign_id)
                if window is None or not (order.occurred_at - window <= touch.at):
                    continue
                if touch.at <= order.occurred_at and (best is None or touch.at > best.at):
                    best = touch
            if best is None:
                unclaimed.append(order)
            else:
                rows.append(_credit(order, best, "click", workspace_id, now))
        if unclaimed:
            views = _views(conn, workspace_id, unclaimed, spans, view_window)
            for order in unclaimed:
                seen: _Touch | None = None
                for touch in views.get(int(order.contact_id), ()):
                    if order.occurred_at - view_window <= touch.at <= order.occurred_at and (
                        seen is None or touch.at > seen.at
                    ):
                        seen = touch
                if seen is not None:
                    rows.append(_credit(order, seen, "view", workspace_id, now))
                elif order.occurred_at <= now - SETTLE:
                    # Settled without a message to credit: recorded as such (campaign 0), so
                    # it is never looked at again.
                    rows.append(_credit(order, _NOBODY, "none", workspace_id, now))
    if not rows:
        return 0
    # Another report may be crediting the same orders at this moment: the first one wins.
    if conn.dialect.name == "sqlite":
        # The values as SQLAlchemy stores them, bound by sqlite3 itself: no per-value
        # processing for thousands of rows.
        names = list(rows[0])
        insert = (
            f"INSERT INTO attributions ({', '.join(names)}) VALUES "
            f"({', '.join('?' for _ in names)}) ON CONFLICT (event_id) DO NOTHING"
        )
        for part in _chunks(rows):
            conn.exec_driver_sql(insert, [tuple(_stored(r[n]) for n in names) for r in part])
    else:
        stmt = pg_insert(attributions).on_conflict_do_nothing(index_elements=["event_id"])
        for part in _chunks(rows):
            conn.execute(stmt, list(part))
    return sum(1 for r in rows if r["campaign_id"])


def _utc(value: Any) -> datetime:
    """A stored datetime read as it is (text on SQLite, naive on PostgreSQL) as aware UTC, as
    UtcDateTime would give it, without SQLAlchemy's processing of every value."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(at, datetime)
    return at.replace(tzinfo=UTC)


def _stored(value: Any) -> Any:
    """A value bound for SQLite as SQLAlchemy would store it (datetimes: naive UTC text)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # as UtcDateTime refuses it
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        return value.astimezone(UTC).strftime(_SQLITE_DATETIME)
    return value


def _credit(
    order: Any, touch: _Touch, model: str, workspace_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "event_id": int(order.id),
        "workspace_id": workspace_id,
        "campaign_id": touch.campaign_id,
        "outbox_id": touch.outbox_id,
        "contact_id": int(order.contact_id),
        "variant": touch.variant,
        "model": model,
        "value_vnd": int(order.value_vnd),
        "occurred_at": order.occurred_at,
        "touch_at": touch.at if touch.campaign_id else order.occurred_at,
        "attributed_at": now,
    }


def _campaign_spans(
    conn: Connection, ids: list[int]
) -> dict[int, tuple[datetime, datetime | None]]:
    """When each campaign began sending and, once completed, when it ended: a campaign can
    only have delivered a message between the two."""
    spans: dict[int, tuple[datetime, datetime | None]] = {}
    for part in _chunks(ids):
        rows = conn.execute(
            select(
                campaign_changes.c.campaign_id, campaign_changes.c.to_state, campaign_changes.c.at
            )
            .where(campaign_changes.c.campaign_id.in_(part))
            .order_by(campaign_changes.c.at)
        ).all()
        for cid, state, at in rows:
            start, end = spans.get(int(cid), (at, None))
            if state == "completed":
                end = at
            elif state in ("scheduled", "running"):
                end = None
            spans[int(cid)] = (min(start, at), end)
    return spans


def _among(conn: Connection, column: Any, values: Sequence[Any]) -> tuple[Any, Any]:
    """`column IN values`, the values travelling as one parameter (a JSON array on SQLite, an
    array on PostgreSQL): no placeholder and no SQLAlchemy literal per value. Returns the
    condition and the parameter's value."""
    if conn.dialect.name == "sqlite":
        each: Any = select(literal_column("value")).select_from(func.json_each(bindparam("among")))
        return column.in_(each), json.dumps(list(values))
    kind = BigInteger() if isinstance(column.type, Integer) else String()
    return column == any_(bindparam("among", type_=ARRAY(kind))), list(values)


def _clicks(
    conn: Connection, workspace_id: int, contacts: Sequence[int], since: datetime
) -> dict[int, list[_Touch]]:
    found: dict[int, list[_Touch]] = {}
    among, listed = _among(conn, clicks.c.contact_id, contacts)
    rows = conn.execute(
        select(
            clicks.c.contact_id,
            type_coerce(clicks.c.at, String),
            clicks.c.campaign_id,
            clicks.c.outbox_id,
            clicks.c.variant,
        ).where(
            clicks.c.workspace_id == workspace_id,
            among,
            clicks.c.at >= since,
            clicks.c.human.is_(True),
            clicks.c.campaign_id.is_not(None),
            clicks.c.outbox_id.is_not(None),
        ),
        {"among": listed},
    ).all()
    for contact, at, cid, oid, variant in rows:
        found.setdefault(int(contact), []).append(_Touch(_utc(at), int(cid), int(oid), variant))
    return found


def _views(
    conn: Connection,
    workspace_id: int,
    orders: Sequence[Any],
    spans: dict[int, tuple[datetime, datetime | None]],
    view_window: timedelta,
) -> dict[int, list[_Touch]]:
    """Messages delivered to these orders' buyers by campaigns sending around then, found by
    their outbox keys ("c<campaign>:<contact>", a unique index) rather than a scan."""
    keys: set[str] = set()
    for order in orders:
        for cid, (start, end) in spans.items():
            if start <= order.occurred_at and (
                end is None or end >= order.occurred_at - view_window
            ):
                keys.add(f"c{cid}:{int(order.contact_id)}")
    found: dict[int, list[_Touch]] = {}
    for part in _chunks(sorted(keys), _LOOKUPS):
        among, listed = _among(conn, outbox.c.idempotency_key, part)
        rows = conn.execute(
            select(
                outbox.c.contact_id,
                type_coerce(outbox.c.done_at, String),
                outbox.c.campaign_id,
                outbox.c.id,
                outbox.c.variant,
            ).where(
                outbox.c.workspace_id == workspace_id,
                among,
                outbox.c.status == "delivered",
                outbox.c.done_at.is_not(None),
            ),
            {"among": listed},
        ).all()
        for contact, at, cid, oid, variant in rows:
            found.setdefault(int(contact), []).append(_Touch(_utc(at), int(cid), int(oid), variant))
    return found
