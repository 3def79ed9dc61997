"""Per-contact best hour: when each person has clicked and bought before, so a campaign can
reach them at their own hour instead of the preset's (falling back to the preset for people
with no history, or whose hour the schedule never opens)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import polars as pl
from sqlalchemy import Connection, select, union_all

from loa.store.bulk import literal_sql, sqlite_frame
from loa.store.tables import clicks, events

# How far back a person's clicks and orders count.
LOOKBACK: Final = timedelta(days=365)


def learned_hours(
    conn: Connection, workspace_id: int, ids: np.ndarray[Any, Any], *, zone: str, now: datetime
) -> np.ndarray[Any, Any]:
    """For each contact in `ids`, the local hour (in `zone`) of most of their human clicks and
    orders (events with a value) over the last year; ties go to the hour of the latest one.
    -1 for someone with neither."""
    since = now - LOOKBACK
    both = union_all(
        select(clicks.c.contact_id, clicks.c.at).where(
            clicks.c.workspace_id == workspace_id,
            clicks.c.human.is_(True),
            clicks.c.contact_id.is_not(None),
            clicks.c.at > since,
            clicks.c.at <= now,
        ),
        select(events.c.contact_id, events.c.occurred_at).where(
            events.c.workspace_id == workspace_id,
            events.c.value_vnd.is_not(None),
            events.c.occurred_at > since,
            events.c.occurred_at <= now,
        ),
    ).subquery()
    query = select(both.c.contact_id, both.c.at)
    if conn.dialect.name == "sqlite":
        seen = sqlite_frame(conn, literal_sql(conn, query), columns=("contact_id", "at"))
        at = pl.col("at").cast(pl.String).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us")
    else:
        seen = pl.DataFrame(
            conn.execute(query).all(),
            schema={"contact_id": pl.Int64, "at": pl.Datetime("us")},
            orient="row",
        )
        at = pl.col("at")
    out = np.full(ids.shape[0], -1, dtype=np.int64)
    if not seen.height:
        return out
    best = (
        seen.select(
            pl.col("contact_id").cast(pl.Int64),
            at.dt.replace_time_zone("UTC").alias("at"),
        )
        .with_columns(pl.col("at").dt.convert_time_zone(zone).dt.hour().alias("hour"))
        .group_by("contact_id", "hour")
        .agg(pl.len().alias("n"), pl.col("at").max().alias("last"))
        .sort(["n", "last"], descending=True)
        .unique("contact_id", keep="first")
    )
    wanted = pl.DataFrame({"contact_id": ids}, schema={"contact_id": pl.Int64})
    hours = wanted.join(best, on="contact_id", how="left", maintain_order="left")["hour"]
    return hours.fill_null(-1).cast(pl.Int64).to_numpy()
