"""A campaign's report: what was sent and delivered (by variant, segment, carrier and failure
reason), how fast, who clicked (people, not link previews), which orders it brought and at what
cost, what it changed against its holdout group, and which variant won — with plain verdicts
when the sample is too small to say.

Every figure comes from a few GROUP BY queries over the campaign's outbox rows, clicks and
credited orders. On SQLite, whose GROUP BY sorts every row, the outbox rows are instead read
once as text columns, by several read-only connections at once while the orders are credited,
and grouped by Polars (see `_sqlite_read_outbox`); those groups are used again while nothing
was committed to the store since (see `_Remembered`). bench/report.py times both against bare
SQLite and DuckDB.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import urllib.parse
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from loa.i18n import LoaError, Msg
from loa.services.stats import PURCHASE_TYPES
from loa.services.tracking.attribution import VIEW_WINDOW, attribute
from loa.services.tracking.reasons import reason_words
from loa.services.tracking.stats import (
    MIN_EVENTS,
    MIN_GROUP,
    difference_of_means,
    difference_of_proportions,
    verdict,
)
from loa.store.tables import attributions, campaigns, clicks, events, outbox

TIMEZONE: Final = "Asia/Ho_Chi_Minh"
FAILED_STATES: Final = ("undelivered", "expired", "rejected", "failed", "uncertain")
PENDING_STATES: Final = ("planned", "queued", "leased", "submitting", "submitted")
NOT_RECIPIENTS: Final = ("holdout",)
PERCENTILES: Final = (50, 90, 95, 99)
LATENCY_SAMPLE: Final = 50_000

UNKNOWN_CAMPAIGN = Msg(
    "tracking.unknown_campaign",
    "Không có chiến dịch #{id} trong workspace này. Xem danh sách: loa campaigns list",
    "There is no campaign #{id} in this workspace. See the list: loa campaigns list",
)
VERDICTS: Final[dict[str, Msg]] = {
    "too_small": Msg(
        "tracking.verdict.too_small",
        "Mẫu quá nhỏ để kết luận (cần ít nhất {min_group} người mỗi nhóm và {min_events} "
        "lượt chuyển đổi).",
        "The sample is too small to conclude (at least {min_group} people per group and "
        "{min_events} conversions are needed).",
    ),
    "better": Msg(
        "tracking.verdict.better",
        "Có tác dụng: cao hơn rõ rệt (khoảng tin cậy 95% không chứa 0).",
        "It worked: clearly higher (the 95% interval excludes zero).",
    ),
    "worse": Msg(
        "tracking.verdict.worse",
        "Thấp hơn rõ rệt (khoảng tin cậy 95% không chứa 0).",
        "Clearly lower (the 95% interval excludes zero).",
    ),
    "no_difference": Msg(
        "tracking.verdict.no_difference",
        "Chưa thấy khác biệt rõ rệt (khoảng tin cậy 95% chứa 0).",
        "No clear difference (the 95% interval includes zero).",
    ),
}


OUTSIDE_SEGMENTS = Msg(
    "tracking.segment.outside",
    "ngoài phân khúc",
    "outside any segment",
)


def _segment_label(name: str | None) -> dict[str, str]:
    """A segment's name in both languages: its own name, or words for messages that no
    included segment brought in (sent before segments were recorded, or to a list)."""
    if name is not None:
        return {"label_vi": name, "label_en": name}
    return {"label_vi": OUTSIDE_SEGMENTS.render("vi"), "label_en": OUTSIDE_SEGMENTS.render("en")}


def _words(code: str) -> dict[str, str]:
    msg = VERDICTS[code]
    params = {"min_group": MIN_GROUP, "min_events": MIN_EVENTS}
    return {"vi": msg.render("vi", **params), "en": msg.render("en", **params)}


def _ratio(num: float, den: float, digits: int = 4) -> float | None:
    return round(num / den, digits) if den else None


def _per(cost: int, count: int) -> int | None:
    """Cost per thing, in whole đồng (None when there is none)."""
    return round(cost / count) if count else None


def _offset_minutes(tz: str, now: datetime) -> int:
    offset = ZoneInfo(tz).utcoffset(now.replace(tzinfo=None))
    return int(offset.total_seconds() // 60) if offset else 0


def local_day(conn: Connection, column: Any, minutes: int) -> ColumnElement[Any]:
    """The local calendar day of a stored (naive UTC) datetime, in SQL."""
    if conn.dialect.name == "sqlite":
        return func.date(column, literal_column(f"'{minutes:+d} minutes'"))
    return cast(column + literal_column(f"interval '{minutes} minutes'"), Date)


def utc_hour(conn: Connection, column: Any) -> ColumnElement[Any]:
    """'YYYY-MM-DD HH' of a stored (naive UTC) datetime: a cheap text key, no date parsing."""
    if conn.dialect.name == "sqlite":
        return func.substr(column, 1, 13)
    return func.to_char(column, literal_column("'YYYY-MM-DD HH24'"))


def _local_date(hour: str, minutes: int) -> str:
    """The local day of a UTC hour key."""
    at = datetime.strptime(hour, "%Y-%m-%d %H") + timedelta(minutes=minutes)
    return at.date().isoformat()


def _seconds_between(conn: Connection, start: Any, end: Any) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":
        seconds = (func.julianday(end) - func.julianday(start)) * literal_column("86400.0")
        return cast(func.round(seconds), Integer)
    return cast(func.round(func.extract("epoch", end - start)), Integer)


def _day(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def delivery_counts(conn: Connection, campaign_id: int) -> dict[str, Any]:
    """Counts by state and the carriers' error codes, for one campaign."""
    by_status = conn.execute(
        select(outbox.c.status, func.count())
        .where(outbox.c.campaign_id == campaign_id)
        .group_by(outbox.c.status)
    ).all()
    codes = conn.execute(
        select(outbox.c.status, outbox.c.code, func.count())
        .where(outbox.c.campaign_id == campaign_id, outbox.c.code.is_not(None))
        .group_by(outbox.c.status, outbox.c.code)
        .order_by(func.count().desc())
    ).all()
    return {
        "campaign_id": campaign_id,
        "by_status": {str(k): int(v) for k, v in by_status},
        "codes": [{"status": s, "code": c, "count": int(n)} for s, c, n in codes],
    }


def _percentiles(histogram: dict[int, int]) -> dict[str, int | None]:
    total = sum(histogram.values())
    out: dict[str, int | None] = {f"p{q}": None for q in PERCENTILES}
    out["max"] = max(histogram) if histogram else None
    if not total:
        return out
    running = 0
    marks = iter(PERCENTILES)
    mark = next(marks, None)
    for seconds in sorted(histogram):
        running += histogram[seconds]
        while mark is not None and running >= mark / 100 * total:
            out[f"p{mark}"] = seconds
            mark = next(marks, None)
    return out


def _blank() -> dict[str, Any]:
    return {
        "recipients": 0,
        "suppressed": 0,
        "sent": 0,
        "delivered": 0,
        "undelivered": 0,
        "expired": 0,
        "rejected": 0,
        "failed": 0,
        "uncertain": 0,
        "pending": 0,
        "cost_vnd": 0,
        "planned_vnd": 0,
        "unique_clicks": 0,
        "orders": 0,
        "buyers": 0,
        "revenue_vnd": 0,
    }


def _finish(group: dict[str, Any]) -> dict[str, Any]:
    """Rates and costs per thing from a group's counts."""
    cost = int(group["cost_vnd"])
    group["delivery_rate"] = _ratio(group["delivered"], group["sent"])
    group["ctr"] = _ratio(group["unique_clicks"], group["delivered"])
    group["conversion_rate"] = _ratio(group["buyers"], group["recipients"], 6)
    group["roi"] = _ratio(group["revenue_vnd"] - cost, cost)
    group["cost_per_delivered_vnd"] = _per(cost, group["delivered"])
    group["cost_per_click_vnd"] = _per(cost, group["unique_clicks"])
    group["cost_per_order_vnd"] = _per(cost, group["orders"])
    return group


# SQLite has no hash aggregation: its GROUP BY sorts every row (seconds for a million). There a
# campaign's outbox columns are read as one text per column (group_concat: no Python object per
# value), values apart by _SEP, NULL written _NULL, and grouped by Polars. Separator and
# sentinel are literals in the SQL: as char(30) they would be computed again for every row
# (twice the time). A value holding _SEP shows in the counts, and the rows are then grouped
# in SQL.
_SEP: Final = "\x1e"
_PAIR: Final = "\x1f"
_NULL: Final = "\x01"
_KEYS: Final = ("variant", "carrier", "segment", "status", "code", "hour")
_COLUMNS: Final = ("variant", "carrier", "segment", "code", "submitted_at", "price_vnd")
_READ: Final = {"price_vnd": "ifnull(price_vnd, 0)"}
READ_ROWS: Final = 200_000  # rows read at a time (about 10 MB of text)
READERS: Final = max(1, min(4, os.cpu_count() or 1))  # SQLite connections reading at once
_IDS: Final = (-(2**63), 2**63 - 1)  # every possible id, first and last
# A part's last id, from the index alone; then the part's rows, read by id range.
_EDGE: Final = (
    "SELECT id FROM outbox WHERE campaign_id = ? AND status = ? AND id > ? ORDER BY id "
    "LIMIT 1 OFFSET ?"
)
_PART: Final = (
    "SELECT count(*), "
    + ", ".join(f"group_concat(ifnull({_READ.get(c, c)}, '{_NULL}'), '{_SEP}')" for c in _COLUMNS)
    + ", %s FROM outbox WHERE campaign_id = ? AND status = ? AND id > ? AND id <= ?"
)
_TOOK: Final = "CAST(round((julianday(done_at) - julianday(submitted_at)) * 86400.0) AS INTEGER)"
# Every k-th delivered message's carrier and seconds to deliver, "carrier<_PAIR>seconds".
_SAMPLE: Final = (
    "group_concat(CASE WHEN id %% %d = 0 AND done_at IS NOT NULL AND submitted_at IS NOT NULL "
    f"THEN ifnull(carrier, '{_NULL}') || '{_PAIR}' || ifnull({_TOOK}, '') END, '{_SEP}')"
)


@dataclass(frozen=True, slots=True)
class _OutboxRead:
    """The campaign's outbox rows grouped by _KEYS (NULL first, then by text), each with its
    count, price and first submission; and the sampled delivery times when read with them
    (SQLite), for `every` k-th delivered message."""

    groups: list[tuple[Any, ...]]
    every: int = 0
    latency: list[tuple[str | None, int | None, int]] | None = None


def _sample_every(delivered: int) -> int:
    """Delivery times come from every k-th delivered message when there are more than
    LATENCY_SAMPLE (percentiles hardly move, the sort shrinks)."""
    return max(1, -(-delivered // LATENCY_SAMPLE))


def _null_first(group: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
    """The order of SQLite's GROUP BY on the keys: NULL first, then by the text's bytes."""
    return tuple((k is not None, k or "") for k in group[: len(_KEYS)])


def _read_outbox(conn: Connection, campaign_id: int) -> Callable[[], _OutboxRead]:
    """The campaign's outbox rows grouped by _KEYS, with their count, price and first
    submission: by Polars on SQLite (see above), by the database's GROUP BY elsewhere. Call
    the answer for the read: on SQLite other connections may still be reading meanwhile,
    while `conn` does other work (call it in any case: it lets them go)."""
    if conn.dialect.name == "sqlite":
        reading = _sqlite_read_outbox(conn, campaign_id)
        if reading is not None:

            def wait() -> _OutboxRead:
                read = reading()
                return read if read is not None else _grouped_in_sql(conn, campaign_id)

            return wait
    read = _grouped_in_sql(conn, campaign_id)
    return lambda: read


def _grouped_in_sql(conn: Connection, campaign_id: int) -> _OutboxRead:
    """`_read_outbox` by the database's GROUP BY."""
    o = outbox.c
    rows = conn.execute(
        select(
            o.variant,
            o.carrier,
            o.segment,
            o.status,
            o.code,
            utc_hour(conn, o.submitted_at),
            func.count(),
            func.coalesce(func.sum(o.price_vnd), 0),
            func.min(o.submitted_at),
        )
        .where(o.campaign_id == campaign_id)
        # By position: the same expressions, computed once per row.
        .group_by(text("1, 2, 3, 4, 5, 6"))
    )
    return _OutboxRead(sorted((tuple(row) for row in rows), key=_null_first))


def _column(name: str, joined: str, rows: int) -> pl.Series | None:
    """One column of a part from its joined text; None when a value held the separator.
    A column of one value throughout (a campaign's price, or no codes at all) is not split."""
    first = joined.split(_SEP, 1)[0]
    if len(joined) == rows * (len(first) + 1) - 1 and joined == _SEP.join([first] * rows):
        return pl.Series(name, [first], dtype=pl.String).extend_constant(first, rows - 1)
    column = pl.Series(name, [joined], dtype=pl.String).str.split(_SEP).explode()
    return column if column.len() == rows else None


class _Separator(Exception):
    """A value held the separator: the part's columns do not line up."""


def _read_part(
    fetch: Callable[[str, tuple[Any, ...]], tuple[Any, ...]],
    campaign_id: int,
    every: int,
    part: tuple[str, int, int],
) -> tuple[pl.DataFrame | None, list[str]]:
    """One part's rows (a state, an id range) grouped by _KEYS, and its delivery-time sample;
    `fetch` runs the query on whichever SQLite connection reads this part."""
    status, after, last = part
    read_rows, *texts, sampled = fetch(
        _PART % (_SAMPLE % every if status == "delivered" else "NULL"),
        (campaign_id, status, after, last),
    )
    if not read_rows:
        return None, []
    columns = [_column(c, t, read_rows) for c, t in zip(_COLUMNS, texts, strict=True)]
    if any(column is None for column in columns):
        raise _Separator
    # The hour sent: the stored text's first 13 characters, "YYYY-MM-DD HH".
    hour = pl.col("submitted_at").str.slice(0, 13).alias("hour")
    grouped = (
        pl.DataFrame(columns)
        .lazy()
        .with_columns(hour, pl.lit(status).alias("status"))
        .group_by(_KEYS)
        .agg(pl.len(), pl.col("price_vnd").cast(pl.Int64).sum(), pl.col("submitted_at").min())
        .collect()
    )
    return grouped, sampled.split(_SEP) if sampled else []


def _sqlite_read_outbox(
    conn: Connection, campaign_id: int
) -> Callable[[], _OutboxRead | None] | None:
    """SQLite: `_read_outbox` from the columns read as text a state and READ_ROWS rows at a
    time (the index gives each state's rows in id order, bounded memory), the delivery-time
    sample read in the same pass. Call the answer for the read; it is None when a value held
    a separator (the counts then disagree), for the caller to group in SQL instead.

    SQLite spends the time decoding rows, one core per connection, and lets go of the GIL
    meanwhile: when `conn` holds no writes of its own, READERS read-only connections of the
    same file read the parts side by side, in the background until the answer is called.
    Each part is its own statement either way (as the report's other queries are), so a
    campaign still sending shows each part as it was when read."""
    states = conn.execute(
        select(outbox.c.status, func.count())
        .where(outbox.c.campaign_id == campaign_id)
        .group_by(outbox.c.status)
    ).all()
    every = _sample_every(sum(int(n) for status, n in states if status == "delivered"))
    parts: list[tuple[str, int, int]] = []
    for status, _ in states:
        after: int | None = _IDS[0]
        while after is not None:
            last = conn.exec_driver_sql(_EDGE, (campaign_id, status, after, READ_ROWS - 1)).scalar()
            parts.append((str(status), after, _IDS[1] if last is None else int(last)))
            after = None if last is None else int(last)
    memo = _remembered(conn)
    if memo is None or len(parts) < 2 or READERS < 2:

        def fetch(sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(conn.exec_driver_sql(sql, params).one())

        try:
            read = [_read_part(fetch, campaign_id, every, part) for part in parts]
        except _Separator:
            return lambda: None
        done = _gathered(read, every)
        return lambda: done
    waits = _read_parts_side_by_side(memo.uri, campaign_id, every, parts)

    def wait() -> _OutboxRead | None:
        try:
            return _gathered(waits(), every)
        except _Separator:
            return None

    return wait


def _gathered(read: list[tuple[pl.DataFrame | None, list[str]]], every: int) -> _OutboxRead:
    """The parts' groups and delivery-time samples put together."""
    latency: Counter[str] = Counter()
    for _grouped, sampled in read:
        latency.update(sampled)
    sampled_times: list[tuple[str | None, int | None, int]] = []
    for pair, n in latency.items():
        carrier, seconds = pair.rsplit(_PAIR, 1)  # the seconds are digits
        sampled_times.append(
            (None if carrier == _NULL else carrier, int(seconds) if seconds else None, n)
        )
    frames = [grouped for grouped, _sampled in read if grouped is not None]
    if not frames:
        return _OutboxRead([], every, sampled_times)
    nulled = [
        pl.when(pl.col(c) == _NULL).then(None).otherwise(pl.col(c)).alias(c)
        for c in (*_KEYS, "submitted_at")
        if c != "status"
    ]
    grouped = (
        pl.concat(frames)
        .lazy()
        .group_by(_KEYS)
        .agg(pl.col("len").sum(), pl.col("price_vnd").sum(), pl.col("submitted_at").min())
        .with_columns(*nulled)
        # As `_null_first`: NULL first, then by the text (code points, as Python compares).
        .sort(_KEYS, nulls_last=False)
        .collect()
    )
    return _OutboxRead(list(grouped.iter_rows()), every, sampled_times)


def _read_parts_side_by_side(
    uri: str, campaign_id: int, every: int, parts: list[tuple[str, int, int]]
) -> Callable[[], list[tuple[pl.DataFrame | None, list[str]]]]:
    """`_read_part` for every part, by READERS read-only connections of the store at once,
    started now; call the answer to wait for every part (it lets the connections go)."""
    idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
    opened: list[sqlite3.Connection] = []

    def read(part: tuple[str, int, int]) -> tuple[pl.DataFrame | None, list[str]]:
        try:
            db = idle.get_nowait()
        except queue.Empty:
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            opened.append(db)
        try:
            return _read_part(
                lambda sql, params: tuple(db.execute(sql, params).fetchone()),
                campaign_id,
                every,
                part,
            )
        finally:
            idle.put(db)

    pool = ThreadPoolExecutor(min(READERS, len(parts)), thread_name_prefix="loa-report")
    futures = [pool.submit(read, part) for part in parts]

    def wait() -> list[tuple[pl.DataFrame | None, list[str]]]:
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()  # after a failed part: the others not begun are not read
            pool.shutdown(wait=True)
            for db in opened:
                db.close()

    return wait


@dataclass(slots=True)
class _Remembered:
    """The outbox groups last read for each campaign of one SQLite file, each with the file's
    `PRAGMA data_version` taken before the read. The version comes from a read-only connection
    of its own, so it changes with every commit by any other connection or process: a read is
    reused only while nothing at all was committed to the file since."""

    uri: str
    watch: sqlite3.Connection
    lock: threading.Lock = field(default_factory=threading.Lock)
    reads: dict[int, tuple[int, _OutboxRead]] = field(default_factory=dict)

    def version(self) -> int:
        with self.lock:
            return int(self.watch.execute("PRAGMA data_version").fetchone()[0])

    def get(self, campaign_id: int, version: int) -> _OutboxRead | None:
        with self.lock:
            found = self.reads.get(campaign_id)
        return found[1] if found is not None and found[0] == version else None

    def put(self, campaign_id: int, version: int, read: _OutboxRead) -> None:
        with self.lock:
            self.reads.pop(campaign_id, None)
            self.reads[campaign_id] = (version, read)
            while len(self.reads) > REMEMBERED_CAMPAIGNS:  # the oldest first
                self.reads.pop(next(iter(self.reads)))


REMEMBERED_CAMPAIGNS: Final = 32
_REMEMBERED: weakref.WeakKeyDictionary[Engine, _Remembered] = weakref.WeakKeyDictionary()
_REMEMBERING = threading.Lock()


def _remembered(conn: Connection) -> _Remembered | None:
    """The remembered reads of `conn`'s SQLite file; none for another database, a database in
    memory, or while `conn` holds writes of its own (the file does not show them yet)."""
    if conn.dialect.name != "sqlite":
        return None
    dbapi: Any = conn.connection.dbapi_connection
    if getattr(dbapi, "in_transaction", True):
        return None
    with _REMEMBERING:
        memo = _REMEMBERED.get(conn.engine)
        if memo is None:
            path = next(
                (str(file) for _n, name, file in conn.exec_driver_sql("PRAGMA database_list")
                 if name == "main"),
                "",
            )  # fmt: skip
            if not path:
                return None
            uri = f"file:{urllib.parse.quote(path)}?mode=ro"
            memo = _Remembered(uri, sqlite3.connect(uri, uri=True, check_same_thread=False))
            _REMEMBERED[conn.engine] = memo
    return memo


def _by_day(groups: list[tuple[Any, ...]], minutes: int) -> dict[tuple[Any, ...], list[Any]]:
    """The groups by local day sent instead of UTC hour (a day's hours summed, the first
    submission kept), in the order they come: a few dozen times fewer to go through."""
    local: dict[str, str] = {}
    out: dict[tuple[Any, ...], list[Any]] = {}
    for variant, carrier, segment, status, code, hour, count, price, sent in groups:
        day = None
        if hour is not None:
            day = local.get(hour) or local.setdefault(hour, _local_date(hour, minutes))
        key = (variant, carrier, segment, status, code, day)
        found = out.get(key)
        if found is None:
            out[key] = [int(count), int(price), sent]
            continue
        found[0] += int(count)
        found[1] += int(price)
        if sent is not None and (found[2] is None or sent < found[2]):
            found[2] = sent
    return out


def campaign_report(
    conn: Connection,
    *,
    workspace_id: int,
    campaign_id: int,
    now: datetime | None = None,
    view_window: timedelta = VIEW_WINDOW,
    tz: str = TIMEZONE,
    attribute_first: bool = True,
) -> dict[str, Any]:
    """Everything about one campaign, JSON-able. With `attribute_first` new orders are credited
    first (call it in a transaction that commits to keep the credits)."""
    now = now or datetime.now(UTC)
    camp = conn.execute(
        select(
            campaigns.c.name,
            campaigns.c.state,
            campaigns.c["class"],
            campaigns.c.budget_vnd,
            campaigns.c.attribution_days,
            campaigns.c.holdout_pct,
        ).where(campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id)
    ).first()
    if camp is None:
        raise LoaError(UNKNOWN_CAMPAIGN, id=campaign_id)
    # On SQLite the outbox groups read last are reused while nothing was committed since (a
    # completed campaign looked at again); the version is taken before anything is read.
    memo = _remembered(conn)
    version = None if memo is None else memo.version()
    # One pass over the campaign's rows: counts and cost by variant, carrier, segment, state,
    # code and hour sent (delivery times are read apart, from a sample). Begun before orders
    # are credited: until `conn` writes, SQLite reads the rows on other connections, and the
    # crediting (mostly Python) runs meanwhile.
    read = None if memo is None or version is None else memo.get(campaign_id, version)
    reading = None if read is not None else _read_outbox(conn, campaign_id)
    try:
        if attribute_first:
            attribute(conn, workspace_id=workspace_id, now=now, view_window=view_window)
    finally:
        if reading is not None:
            read = reading()
            if memo is not None and version is not None:
                memo.put(campaign_id, version, read)
    assert read is not None
    minutes = _offset_minutes(tz, now)
    o = outbox.c

    total = _blank()
    by_variant: dict[str, dict[str, Any]] = defaultdict(_blank)
    by_carrier: dict[str, dict[str, Any]] = defaultdict(_blank)
    by_segment: dict[str | None, dict[str, Any]] = defaultdict(_blank)
    failures: dict[tuple[str, str | None], int] = defaultdict(int)
    daily: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_status: dict[str, int] = defaultdict(int)
    codes: dict[tuple[str, str], int] = defaultdict(int)
    holdout = 0
    first: Any = None
    for (variant, carrier, segment, status, code, day), (count, price, sent) in _by_day(
        read.groups, minutes
    ).items():
        by_status[status] += count
        if code is not None:
            codes[(status, code)] += count
        if status in NOT_RECIPIENTS:
            holdout += count
            continue
        if sent is not None and (first is None or sent < first):
            first = sent  # all datetimes, or all stored text (SQLite) that sorts as they do
        groups = (
            total,
            by_variant[variant or "-"],
            by_carrier[carrier or "-"],
            by_segment[segment],
        )
        for g in groups:
            g["recipients"] += count
            if status == "suppressed":
                g["suppressed"] += count
            else:
                g["planned_vnd"] += price
            if day is not None:
                g["sent"] += count
                g["cost_vnd"] += price
            if status in FAILED_STATES or status == "delivered":
                g[status] += count
            elif status in PENDING_STATES:
                g["pending"] += count
        if status in FAILED_STATES:
            failures[(status, code)] += count
        if day is not None:
            d = daily[day]
            d["sent"] += count
            d["cost_vnd"] += price
            if status == "delivered":
                d["delivered"] += count

    first_sent: datetime | None = first
    if first is not None and not isinstance(first, datetime):
        first_sent = datetime.fromisoformat(str(first)).replace(tzinfo=UTC)

    # How long delivery took, per carrier, in whole seconds, from a sample.
    every = _sample_every(total["delivered"])
    latency: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sample: list[Any] = [] if read.latency is None else read.latency
    if read.latency is None or read.every != every:
        took = _seconds_between(conn, o.submitted_at, o.done_at)
        sampled = [o.campaign_id == campaign_id, o.status == "delivered", o.done_at.is_not(None)]
        if every > 1:
            sampled.append(o.id % every == 0)
        sample = list(
            conn.execute(
                select(o.carrier, took, func.count())
                .where(*sampled, o.submitted_at.is_not(None))
                .group_by(text("1, 2"))
            )
        )
    for carrier, seconds, count in sample:
        # Receipts stamp minutes, so a fast delivery can seem to end before it began.
        latency[carrier or "-"][max(0, int(seconds or 0))] += int(count)
    overall: dict[int, int] = defaultdict(int)
    for per in latency.values():
        for seconds, count in per.items():
            overall[seconds] += count

    # Clicks: people (unique per message) apart from previews, scanners and scripts.
    bots: dict[str, int] = defaultdict(int)
    human_clicks = 0
    for variant, human, bot, count, unique in conn.execute(
        select(
            clicks.c.variant,
            clicks.c.human,
            clicks.c.bot,
            func.count(),
            func.count(distinct(clicks.c.outbox_id)),
        )
        .where(clicks.c.campaign_id == campaign_id)
        .group_by(clicks.c.variant, clicks.c.human, clicks.c.bot)
    ):
        if human:
            human_clicks += int(count)
            total["unique_clicks"] += int(unique)
            by_variant[variant or "-"]["unique_clicks"] += int(unique)
        else:
            bots[bot or "bot"] += int(count)
    # A message has one carrier and one segment: people per (carrier, segment) add up.
    for carrier, segment, unique in conn.execute(
        select(o.carrier, o.segment, func.count(distinct(clicks.c.outbox_id)))
        .select_from(clicks.join(outbox, o.id == clicks.c.outbox_id))
        .where(clicks.c.campaign_id == campaign_id, clicks.c.human.is_(True))
        .group_by(o.carrier, o.segment)
    ):
        by_carrier[carrier or "-"]["unique_clicks"] += int(unique)
        by_segment[segment]["unique_clicks"] += int(unique)
    click_day = local_day(conn, clicks.c.at, minutes)
    for day, unique in conn.execute(
        select(click_day, func.count(distinct(clicks.c.outbox_id)))
        .where(clicks.c.campaign_id == campaign_id, clicks.c.human.is_(True))
        .group_by(click_day)
    ):
        daily[str(_day(day))]["clicks"] += int(unique)

    # Orders credited to this campaign.
    a = attributions.c
    models: dict[str, dict[str, int]] = {
        "click": {"orders": 0, "revenue_vnd": 0},
        "view": {"orders": 0, "revenue_vnd": 0},
    }
    for variant, model, count, value, buyers in conn.execute(
        select(
            a.variant,
            a.model,
            func.count(),
            func.coalesce(func.sum(a.value_vnd), 0),
            func.count(distinct(a.contact_id)),
        )
        .where(a.campaign_id == campaign_id)
        .group_by(a.variant, a.model)
    ):
        models.setdefault(model, {"orders": 0, "revenue_vnd": 0})
        models[model]["orders"] += int(count)
        models[model]["revenue_vnd"] += int(value)
        g = by_variant[variant or "-"]
        g["orders"] += int(count)
        g["revenue_vnd"] += int(value)
        g["buyers"] += int(buyers)
        total["orders"] += int(count)
        total["revenue_vnd"] += int(value)
    total["buyers"] = int(
        conn.execute(
            select(func.count(distinct(a.contact_id))).where(a.campaign_id == campaign_id)
        ).scalar_one()
    )
    # A buyer got one message of the campaign (one carrier, one segment): buyers add up too.
    for carrier, segment, count, value, buyers in conn.execute(
        select(
            o.carrier,
            o.segment,
            func.count(),
            func.coalesce(func.sum(a.value_vnd), 0),
            func.count(distinct(a.contact_id)),
        )
        .select_from(attributions.join(outbox, o.id == a.outbox_id))
        .where(a.campaign_id == campaign_id)
        .group_by(o.carrier, o.segment)
    ):
        for g in (by_carrier[carrier or "-"], by_segment[segment]):
            g["orders"] += int(count)
            g["revenue_vnd"] += int(value)
            g["buyers"] += int(buyers)
    order_day = local_day(conn, a.occurred_at, minutes)
    for day, count, value in conn.execute(
        select(order_day, func.count(), func.coalesce(func.sum(a.value_vnd), 0))
        .where(a.campaign_id == campaign_id)
        .group_by(order_day)
    ):
        daily[str(_day(day))]["orders"] += int(count)
        daily[str(_day(day))]["revenue_vnd"] += int(value)

    _finish(total)
    window = timedelta(days=int(camp.attribution_days))
    report: dict[str, Any] = {
        "campaign_id": campaign_id,
        "name": camp.name,
        "state": camp.state,
        "class": camp[2],
        "generated_at": now.isoformat(),
        **{k: total[k] for k in ("recipients", "suppressed", "sent", "delivered")},
        **{k: total[k] for k in ("undelivered", "expired", "rejected", "failed", "uncertain")},
        "pending": total["pending"],
        "holdout": holdout,
        "unique_clicks": total["unique_clicks"],
        "clicks": human_clicks,
        "bot_clicks": sum(bots.values()),
        "orders": total["orders"],
        "buyers": total["buyers"],
        "revenue_vnd": total["revenue_vnd"],
        "cost_vnd": total["cost_vnd"],
        "roi": total["roi"],
        "delivery_rate": total["delivery_rate"],
        "ctr": total["ctr"],
        "conversion_rate": total["conversion_rate"],
        "cost_per_delivered_vnd": total["cost_per_delivered_vnd"],
        "cost_per_click_vnd": total["cost_per_click_vnd"],
        "cost_per_order_vnd": total["cost_per_order_vnd"],
        "budget": {
            "budget_vnd": camp.budget_vnd,
            "planned_vnd": total["planned_vnd"],
            "spent_vnd": total["cost_vnd"],
            "left_vnd": None
            if camp.budget_vnd is None
            else int(camp.budget_vnd) - total["cost_vnd"],
            "spent_pct": _ratio(100 * total["cost_vnd"], camp.budget_vnd or 0, 2),
        },
        "attribution": {
            "window_days": int(camp.attribution_days),
            "view_window_days": view_window.total_seconds() / 86400,
            "by_click": models["click"],
            "by_view": models["view"],
        },
        "bots": dict(sorted(bots.items())),
        "latency_s": {
            **_percentiles(overall),
            "count": sum(overall.values()),
            "sample_every": every,
        },
        "by_variant": [{"variant": name, **_finish(g)} for name, g in sorted(by_variant.items())],
        "by_segment": [
            {"segment": name, **_segment_label(name), **_finish(g)}
            for name, g in sorted(
                by_segment.items(),
                key=lambda kv: (kv[0] is None, -kv[1]["recipients"], kv[0] or ""),
            )
        ],
        "by_carrier": [
            {
                "carrier": name,
                **_finish(g),
                "latency_s": _percentiles(latency.get(name, {})),
            }
            for name, g in sorted(by_carrier.items(), key=lambda kv: -kv[1]["recipients"])
        ],
        "failures": [
            {
                "status": status,
                "code": code,
                "count": count,
                "reason_vi": reason_words(status, code).render("vi"),
                "reason_en": reason_words(status, code).render("en"),
            }
            for (status, code), count in sorted(
                failures.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or "")
            )
        ],
        "incremental": _incremental(
            conn, workspace_id, campaign_id, total, holdout, first_sent, window, now
        ),
        "ab_test": _ab_test(by_variant),
        "series": _series(daily),
        "by_status": dict(sorted(by_status.items())),
        "codes": [
            {"status": s, "code": c, "count": n}
            for (s, c), n in sorted(codes.items(), key=lambda kv: -kv[1])
        ],
    }
    return report


def _incremental(
    conn: Connection,
    workspace_id: int,
    campaign_id: int,
    total: dict[str, Any],
    holdout: int,
    first_sent: datetime | None,
    window: timedelta,
    now: datetime,
) -> dict[str, Any]:
    """Buyers and revenue per person among everyone assigned the message (sent or not:
    intention to treat) against the holdout, over the attribution window from the first send."""
    treated = int(total["recipients"])
    out: dict[str, Any] = {"treated": treated, "holdout": holdout}
    if not holdout or first_sent is None:
        out["verdict"] = "too_small"
        out["words"] = _words("too_small")
        out["note"] = "no holdout group" if not holdout else "nothing sent yet"
        return out
    end = min(first_sent + window, now)
    e = events.c
    per_contact = (
        select(e.contact_id.label("contact_id"), func.sum(e.value_vnd).label("value"))
        .where(
            e.workspace_id == workspace_id,
            e.type.in_(PURCHASE_TYPES),
            e.value_vnd.is_not(None),
            e.occurred_at >= first_sent,
            e.occurred_at <= end,
        )
        .group_by(e.contact_id)
        .subquery()
    )
    is_holdout = case((outbox.c.status == "holdout", 1), else_=0)
    value = cast(per_contact.c.value, Float)
    groups = {0: (0, 0.0, 0.0), 1: (0, 0.0, 0.0)}
    for flag, buyers, revenue, squares in conn.execute(
        select(
            is_holdout,
            func.count(),
            func.coalesce(func.sum(value), 0.0),
            func.coalesce(func.sum(value * value), 0.0),
        )
        # From the buyers to their message by its key "c<campaign>:<contact>" (a unique
        # index): a look-up per buyer instead of a pass over every recipient.
        .select_from(
            per_contact.join(
                outbox,
                and_(
                    outbox.c.workspace_id == workspace_id,
                    outbox.c.idempotency_key
                    == literal(f"c{campaign_id}:") + cast(per_contact.c.contact_id, String),
                ),
            )
        )
        .where(outbox.c.campaign_id == campaign_id)
        .group_by(is_holdout)
    ):
        groups[int(flag)] = (int(buyers), float(revenue), float(squares))
    (tb, tr, ts), (hb, hr, hs) = groups[0], groups[1]
    conversion = difference_of_proportions(tb, treated, hb, holdout)
    revenue = difference_of_means(treated, tr, ts, holdout, hr, hs)
    decided = verdict(treated, holdout, tb + hb, conversion["ci95"])
    cost = int(total["cost_vnd"])
    extra_revenue = revenue["difference"] * treated
    out.update(
        {
            "from": first_sent.isoformat(),
            "to": end.isoformat(),
            "treated_buyers": tb,
            "holdout_buyers": hb,
            "treated_revenue_vnd": round(tr),
            "holdout_revenue_vnd": round(hr),
            "conversion": _rounded(conversion),
            "revenue_per_recipient_vnd": _rounded(revenue, 2),
            "lift": _ratio(conversion["difference"], conversion["b"]),
            "incremental_buyers": round(conversion["difference"] * treated, 2),
            "incremental_revenue_vnd": round(extra_revenue),
            "incremental_roi": _ratio(extra_revenue - cost, cost),
            "verdict": decided,
            "words": _words(decided),
        }
    )
    return out


def _rounded(result: dict[str, Any], digits: int = 6) -> dict[str, Any]:
    return {
        k: ([round(x, digits) for x in v] if isinstance(v, list) else round(v, digits))
        for k, v in result.items()
    }


def _ab_test(by_variant: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each variant against the first: click-through (unique clicks per delivered) and
    conversion (buyers per recipient), with two-proportion tests."""
    names = sorted(n for n in by_variant if n != "-")
    if len(names) < 2:
        return {"baseline": names[0] if names else None, "comparisons": []}
    base = by_variant[names[0]]
    comparisons = []
    for name in names[1:]:
        g = by_variant[name]
        ctr = difference_of_proportions(
            g["unique_clicks"], g["delivered"], base["unique_clicks"], base["delivered"]
        )
        conv = difference_of_proportions(
            g["buyers"], g["recipients"], base["buyers"], base["recipients"]
        )
        ctr_verdict = verdict(
            g["delivered"],
            base["delivered"],
            g["unique_clicks"] + base["unique_clicks"],
            ctr["ci95"],
        )
        conv_verdict = verdict(
            g["recipients"], base["recipients"], g["buyers"] + base["buyers"], conv["ci95"]
        )
        comparisons.append(
            {
                "variant": name,
                "ctr": {**_rounded(ctr), "verdict": ctr_verdict, "words": _words(ctr_verdict)},
                "conversion": {
                    **_rounded(conv),
                    "verdict": conv_verdict,
                    "words": _words(conv_verdict),
                },
            }
        )
    return {"baseline": names[0], "comparisons": comparisons}


def _series(daily: dict[str, dict[str, int]]) -> dict[str, list[dict[str, Any]]]:
    keys = ("sent", "delivered", "clicks", "orders", "revenue_vnd", "cost_vnd")
    days: list[dict[str, Any]] = []
    weeks: dict[str, dict[str, int]] = {}
    for d in sorted(daily):
        figures = {k: int(daily[d].get(k, 0)) for k in keys}
        days.append({"day": d, **figures})
        day = date.fromisoformat(d)
        monday = (day - timedelta(days=day.weekday())).isoformat()
        week = weeks.setdefault(monday, dict.fromkeys(keys, 0))
        for k in keys:
            week[k] += figures[k]
    return {"daily": days, "weekly": [{"week": w, **v} for w, v in sorted(weeks.items())]}


def compare_campaigns(
    conn: Connection,
    *,
    workspace_id: int,
    campaign_ids: Iterable[int],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The key figures of several campaigns, side by side (in the order given)."""
    now = now or datetime.now(UTC)
    out = []
    for i, cid in enumerate(campaign_ids):
        r = campaign_report(
            conn, workspace_id=workspace_id, campaign_id=cid, now=now, attribute_first=i == 0
        )
        out.append({k: r[k] for k in COMPARED})
    return out


COMPARED: Final = (
    "campaign_id",
    "name",
    "state",
    "recipients",
    "sent",
    "delivered",
    "delivery_rate",
    "unique_clicks",
    "ctr",
    "orders",
    "revenue_vnd",
    "cost_vnd",
    "roi",
    "cost_per_click_vnd",
    "cost_per_order_vnd",
)
