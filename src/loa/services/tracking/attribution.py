"""Which message sold what: each order (a purchase event with a value) is credited to the last
message its buyer clicked within that campaign's attribution window (7 days unless the
campaign says otherwise), else to the last message delivered to them within a shorter view
window (1 day). Each order is credited once, and the credit is stored: reports read it, and
running attribution again changes nothing already credited. An order that found no message
is looked at again until it has settled (2 days: every click and receipt before it is in), then
recorded as credited to none (campaign 0), so a shop's other orders are not read again and again.

Of two clicks, or two deliveries, at the same instant the first recorded (the lower id) wins.
A delivery is looked for only among the campaigns sending around the order (their spans), by
its outbox key ("c<campaign>:<contact>", a unique index) rather than a scan.

The matching is one statement, `_CREDIT`: the store finds each order's touch and writes its
credit, and no order travels to Python and back. SQLite holds datetimes as text; they are
compared as SQLAlchemy writes them ("2026-11-20 05:00:00.000000"), any other spelling of a time
being rewritten so first (`_SQLITE_TIME`), so "2026-11-20 05:00:00" is the same instant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, TextClause, bindparam, select, text

from loa.services.stats import PURCHASE_TYPES
from loa.store.tables import UtcDateTime, campaign_changes, campaigns

VIEW_WINDOW: Final = timedelta(days=1)
LOOKBACK: Final = timedelta(days=60)  # orders older than this are never looked at again
# An order is decided once this old: the clicks and delivery receipts before it are all in.
SETTLE: Final = timedelta(days=2)
_CHUNK: Final = 500  # campaigns read at a time

# Each order not yet credited (`o`, in buyer order: the outbox look-ups then go through the
# index and the table in step) with its best click (`_CLICK`), else its best delivery
# (`_VIEW`), credited to it, or to none (campaign 0) once settled. The campaigns travel as one
# parameter: id, window in days, and since and until when a delivery of theirs can be seen
# (span start; span end plus the view window). `{time_..}` is a stored time as it is compared,
# `{.._since}` the start of a window; `{clicked}`, `{orders}`, `{click}` and `{view}` join the
# best rows (`_SQLITE_PICK`, `_PG_PICK`). It begins with INSERT so that Python's sqlite3 opens
# the caller's transaction for it.
_CREDIT: Final = """
INSERT INTO attributions (event_id, workspace_id, campaign_id, outbox_id, contact_id, variant,
  model, value_vnd, occurred_at, touch_at, attributed_at)
WITH camp (id, window_days, start_at, seen_until) AS ({campaigns}),
o AS MATERIALIZED (
  SELECT e.id, e.contact_id, e.value_vnd, {time_e} AS at
  FROM events e
  WHERE e.workspace_id = :ws AND e.type IN :types AND e.value_vnd IS NOT NULL
    AND e.occurred_at >= :since AND e.occurred_at <= :now
    AND e.id NOT IN (SELECT a.event_id FROM attributions a WHERE a.workspace_id = :ws)
  ORDER BY e.contact_id
){clicked}
SELECT s.id, :ws, coalesce(c.campaign_id, m.campaign_id, 0), coalesce(c.outbox_id, m.id, 0),
  s.contact_id, CASE WHEN c.id IS NULL THEN m.variant ELSE c.variant END,
  CASE WHEN c.id IS NOT NULL THEN 'click' WHEN m.id IS NOT NULL THEN 'view' ELSE 'none' END,
  s.value_vnd, s.at, coalesce({time_touch}, s.at), :now
FROM {orders} s
LEFT JOIN {click}
LEFT JOIN {view}
WHERE c.id IS NOT NULL OR m.id IS NOT NULL OR s.at <= :settled
ON CONFLICT (event_id) DO NOTHING
RETURNING campaign_id
"""
_CLICK: Final = """FROM clicks x JOIN camp ON camp.id = x.campaign_id
    WHERE x.workspace_id = :ws AND x.contact_id = s.contact_id AND x.human
      AND x.outbox_id IS NOT NULL AND {time_x} <= s.at AND {time_x} >= {click_since}
    ORDER BY {time_x} DESC, x.id LIMIT 1"""
_VIEW: Final = """FROM camp JOIN outbox v
      ON v.workspace_id = :ws AND v.idempotency_key = 'c' || camp.id || ':' || s.contact_id
    WHERE c.id IS NULL AND camp.start_at <= s.at
      AND (camp.seen_until IS NULL OR camp.seen_until >= s.at) AND v.contact_id = s.contact_id
      AND v.status = 'delivered' AND v.done_at IS NOT NULL
      AND {time_v} <= s.at AND {time_v} >= {view_since}
    ORDER BY {time_v} DESC, v.id LIMIT 1"""
# How the best row joins. SQLite picks its id, then reads it by primary key (the clicks
# picked first, for every order: a third faster than in the join). PostgreSQL takes the row
# whole (LATERAL), which keeps its planner from hashing the whole table instead.
_SQLITE_CLICKED: Final = (
    ",\nclicked AS MATERIALIZED (SELECT s.*, (SELECT x.id {body}) AS click_id FROM o s)"
)
_SQLITE_PICK: Final = "{table} {alias} ON {alias}.id = (SELECT {row}.id {body})"
_PG_PICK: Final = "LATERAL (SELECT {columns} {body}) {alias} ON true"
_SQLITE_FORMAT: Final = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DateTime on SQLite
# SQLite: a stored time as SQLAlchemy writes it (naive UTC, "2026-11-20 05:00:00.000000"),
# rewritten when spelled otherwise ("2026-11-20 05:00:00", "2026-11-20T05:00:00.5").
_SQLITE_TIME: Final = (
    "(CASE WHEN {x} LIKE '____-__-__ __:__:__.______' THEN {x} ELSE"
    " strftime('%Y-%m-%d %H:%M:%S', substr({x}, 1, 19)) || '.'"
    " || substr(substr({x}, 21) || '000000', 1, 6) END)"
)
# SQLite: `_SQLITE_TIME` {t} less {s} seconds and {us} microseconds (0 <= us < 1,000,000),
# exactly: strftime alone keeps milliseconds.
_SQLITE_MINUS: Final = (
    "(strftime('%Y-%m-%d %H:%M:%S', substr({t}, 1, 19), '-' || ({s} + (CAST(substr({t}, 21) AS"
    " INTEGER) < {us})) || ' seconds') || printf('.%06d', (CAST(substr({t}, 21) AS INTEGER)"
    " - {us} + 1000000) % 1000000))"
)
_SQLITE_CAMPAIGNS: Final = (
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(:campaigns)"
)
_PG_CAMPAIGNS: Final = (
    "SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:days AS integer[]), "
    "CAST(:starts AS timestamp[]), CAST(:untils AS timestamp[]))"
)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _statement(sqlite: bool) -> TextClause:
    if sqlite:
        at = _SQLITE_TIME.format
        minus = _SQLITE_MINUS.format
        click = _CLICK.format(
            time_x=at(x="x.at"),
            click_since=minus(t="s.at", s="camp.window_days * 86400", us="0"),
        )
        view = _VIEW.format(
            time_v=at(x="v.done_at"), view_since=minus(t="s.at", s=":view_s", us=":view_us")
        )
        sql = _CREDIT.format(
            campaigns=_SQLITE_CAMPAIGNS,
            time_e=at(x="e.occurred_at"),
            time_touch=at(x="coalesce(c.at, m.done_at)"),
            clicked=_SQLITE_CLICKED.format(body=click),
            orders="clicked",
            click="clicks c ON c.id = s.click_id",
            view=_SQLITE_PICK.format(table="outbox", alias="m", row="v", body=view),
        )
    else:
        click = _CLICK.format(
            time_x="x.at", click_since="s.at - make_interval(days => camp.window_days)"
        )
        view = _VIEW.format(time_v="v.done_at", view_since="s.at - CAST(:view AS interval)")
        sql = _CREDIT.format(
            campaigns=_PG_CAMPAIGNS,
            time_e="e.occurred_at",
            time_touch="coalesce(c.at, m.done_at)",
            clicked="",
            orders="o",
            click=_PG_PICK.format(
                columns="x.id, x.campaign_id, x.outbox_id, x.variant, x.at", body=click, alias="c"
            ),
            view=_PG_PICK.format(
                columns="v.id, v.campaign_id, v.variant, v.done_at", body=view, alias="m"
            ),
        )
    return text(sql).bindparams(
        bindparam("types", expanding=True),
        bindparam("since", type_=UtcDateTime),
        bindparam("now", type_=UtcDateTime),
        bindparam("settled", type_=UtcDateTime),
    )


_STATEMENTS: Final = {True: _statement(True), False: _statement(False)}


def attribute(
    conn: Connection,
    *,
    workspace_id: int,
    now: datetime,
    view_window: timedelta = VIEW_WINDOW,
    lookback: timedelta = LOOKBACK,
) -> int:
    """Credit the workspace's orders not yet credited; returns how many this call credited to a
    campaign (not those another report credited first). Call it in a transaction that commits:
    the credits are the record."""
    windows: dict[int, int] = {}
    created: dict[int, datetime] = {}
    for cid, days, at in conn.execute(
        select(campaigns.c.id, campaigns.c.attribution_days, campaigns.c.created_at).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.state != "draft"
        )
    ):
        windows[int(cid)] = int(days)
        created[int(cid)] = at
    if not windows:
        return 0
    spans = _campaign_spans(conn, list(windows))
    for cid, at in created.items():  # a campaign with no recorded changes: since it was made
        spans.setdefault(cid, (at, None))
    first = min(start for start, _ in spans.values())
    sqlite = conn.dialect.name == "sqlite"
    ids = sorted(windows)
    days = [windows[cid] for cid in ids]
    starts = [_stored(spans[cid][0], sqlite) for cid in ids]
    untils = [_stored(_plus(spans[cid][1], view_window), sqlite) for cid in ids]
    params: dict[str, Any] = {
        "ws": workspace_id,
        "types": list(PURCHASE_TYPES),
        "since": max(first, now - lookback),
        "now": now,
        "settled": now - SETTLE,
    }
    if sqlite:
        params["campaigns"] = json.dumps(
            [list(c) for c in zip(ids, days, starts, untils, strict=True)]
        )
        seconds, micros = divmod(view_window // timedelta(microseconds=1), 1_000_000)
        params.update(view_s=seconds, view_us=micros)
    else:
        params.update(ids=ids, days=days, starts=starts, untils=untils, view=view_window)
    # Another report may be crediting the same orders at this moment: the first one wins.
    credited = conn.execute(_STATEMENTS[sqlite], params).scalars().all()
    return sum(1 for cid in credited if cid)


def _plus(at: datetime | None, span: timedelta) -> datetime | None:
    return None if at is None else at + span


def _stored(at: datetime | None, sqlite: bool) -> Any:
    """A time as `_CREDIT` compares it: SQLAlchemy's text on SQLite, naive UTC on PostgreSQL."""
    if at is None:
        return None
    naive = at.astimezone(UTC).replace(tzinfo=None)
    return naive.strftime(_SQLITE_FORMAT) if sqlite else naive


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
