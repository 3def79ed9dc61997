"""Purchase figures per contact and their RFM scores, rebuilt from the events in one statement.

Scores are the quintiles of NTILE(5) over the buyers of the workspace, 5 = most recent / most
orders / most spend, with one change: NTILE splits equal values across buckets arbitrarily,
so when most customers bought once, some one-time buyers would get f_score 4 and be called
"loyal". Here every customer with the same value gets the lowest bucket that value reaches.

That score depends on the value alone: it is 1 + the number of NTILE buckets 1..4 whose
largest value is below it. So the statement sorts each measure once to find those four
bounds (the values at the bucket ends) instead of running NTILE and a per-tie MINIMUM over
every buyer, which on SQLite costs twice the sorts over much wider rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

from loa.store.tables import contact_stats, events

# Event types that are purchases: they feed contact_stats and the "purchase" segment rules.
PURCHASE_TYPES: Final = ("purchase", "order_completed")
BUCKETS: Final = 5


def _bucket_ends(per_contact: CTE) -> CTE:
    """One row, e1..e4: the 1-based positions of the last row of NTILE buckets 1..4 among the
    sorted buyers (NTILE gives the first count % 5 buckets one row more than the others)."""
    total = func.count()
    size = total // BUCKETS
    extra = total % BUCKETS
    return (
        select(
            *[
                (size * k + case((extra < k, extra), else_=k)).label(f"e{k}")
                for k in range(1, BUCKETS)
            ]
        )
        .select_from(per_contact)
        .cte("bucket_ends")
        .prefix_with("MATERIALIZED")
    )


def _bounds(per_contact: CTE, measure: str, ends: CTE) -> CTE:
    """One row, b1..b4: the value at each bucket end when buyers are sorted by `measure`.

    Materialised, so that it is computed once even when the planner, blind to how many
    buyers there are (PostgreSQL has no statistics on rows inserted in this transaction),
    would re-run the sort for every buyer inside a nested loop."""
    value = per_contact.c[measure]
    ranked = select(value.label("v"), func.row_number().over(order_by=value).label("pos")).subquery(
        f"{measure}_ranked"
    )
    return (
        select(
            *[
                func.max(case((ranked.c.pos == ends.c[f"e{k}"], ranked.c.v))).label(f"b{k}")
                for k in range(1, BUCKETS)
            ]
        )
        .select_from(ranked.join(ends, true()))
        .cte(f"{measure}_bounds")
        .prefix_with("MATERIALIZED")
    )


def _score(value: ColumnElement[object], bounds: CTE) -> ColumnElement[int]:
    one: ColumnElement[int] = literal_column("1", Integer())
    zero: ColumnElement[int] = literal_column("0", Integer())
    above = [case((value > bounds.c[f"b{k}"], one), else_=zero) for k in range(1, BUCKETS)]
    return one + above[0] + above[1] + above[2] + above[3]


def refresh_stats(conn: Connection, *, workspace_id: int, now: datetime) -> int:
    """Rebuild contact_stats for the workspace from purchases up to `now`; returns the buyers."""
    conn.execute(delete(contact_stats).where(contact_stats.c.workspace_id == workspace_id))
    e = events.c
    # Materialised: the bounds and the final rows all read it, and it is the costly part.
    per_contact = (
        select(
            e.contact_id,
            func.count().label("orders_count"),
            func.coalesce(func.sum(e.value_vnd), 0).label("total_spend_vnd"),
            func.min(e.occurred_at).label("first_order_at"),
            func.max(e.occurred_at).label("last_order_at"),
        )
        .where(
            e.workspace_id == workspace_id,
            e.type.in_(PURCHASE_TYPES),
            e.occurred_at <= now,
        )
        .group_by(e.contact_id)
        .cte("per_contact")
        .prefix_with("MATERIALIZED")
    )
    p = per_contact.c
    ends = _bucket_ends(per_contact)
    r = _bounds(per_contact, "last_order_at", ends)
    f = _bounds(per_contact, "orders_count", ends)
    m = _bounds(per_contact, "total_spend_vnd", ends)
    rows = select(
        p.contact_id,
        literal(workspace_id, BigInteger()),
        p.orders_count,
        p.total_spend_vnd,
        p.first_order_at,
        p.last_order_at,
        _score(p.last_order_at, r),
        _score(p.orders_count, f),
        _score(p.total_spend_vnd, m),
    ).select_from(per_contact.join(r, true()).join(f, true()).join(m, true()))
    conn.execute(
        insert(contact_stats).from_select(
            [
                "contact_id",
                "workspace_id",
                "orders_count",
                "total_spend_vnd",
                "first_order_at",
                "last_order_at",
                "r_score",
                "f_score",
                "m_score",
            ],
            rows,
        )
    )
    # rowcount of INSERT ... SELECT is not reported by every driver (psycopg gives -1).
    buyers = select(func.count()).where(contact_stats.c.workspace_id == workspace_id)
    return int(conn.execute(buyers).scalar_one())
