"""Short codes to destinations, and clicks kept in memory and written in batches.

The redirect must answer in a millisecond while the store may be busy (a campaign being
planned, a worker writing receipts): codes are cached, and clicks wait in a buffer that is
written every quarter second. A failed write keeps them for the next try; closing writes them all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine

CACHE_SIZE: Final = 200_000
USER_AGENT_MAX: Final = 512


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a short code resolves to."""

    code: str
    workspace_id: int
    destination: str
    campaign_id: int | None
    contact_id: int | None
    outbox_id: int | None
    variant: str | None
    expires_at: datetime | None


class LinkCache:
    """An LRU of codes; unknown codes are remembered too, so a scanner trying codes costs one
    query per code."""

    def __init__(self, engine: Engine, size: int = CACHE_SIZE) -> None:
        self.engine = engine
        self.size = size
        self._items: OrderedDict[str, LinkTarget | None] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._opened: list[Any] = []

    def cached(self, code: str) -> tuple[bool, LinkTarget | None]:
        """(found in the cache, the target); a cache hit costs no I/O."""
        with self._lock:
            if code in self._items:
                self._items.move_to_end(code)
                return True, self._items[code]
        return False, None

    def load(self, code: str) -> LinkTarget | None:
        """The target of `code` from the store (blocking), remembered for next time."""
        row = self._fetch(code)
        target = None
        if row is not None:
            ws, destination, campaign, contact, outbox_id, variant, expires = row
            if isinstance(expires, str):  # SQLite hands back the stored text
                expires = datetime.fromisoformat(expires)
            if expires is not None and expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            target = LinkTarget(
                code, int(ws), destination, campaign, contact, outbox_id, variant, expires
            )
        with self._lock:
            self._items[code] = target
            self._items.move_to_end(code)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return target

    def _fetch(self, code: str) -> tuple[Any, ...] | None:
        # A raw DB-API connection per thread and one fixed statement: a look-up costs tens of
        # microseconds instead of a pooled checkout and a compiled select.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.engine.raw_connection()
            with self._lock:
                self._opened.append(conn)
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        try:
            cur = conn.cursor()
            try:
                cur.execute(_LOOKUP.format(mark=mark), (code,))
                row = cur.fetchone()
            finally:
                cur.close()
            conn.commit()  # end the read transaction: later plans must be seen
        except Exception:
            self._local.conn = None
            conn.invalidate()
            raise
        return None if row is None else tuple(row)

    def close(self) -> None:
        """Give back the connections opened for look-ups."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


_INSERT: Final = (
    "INSERT INTO clicks (workspace_id, code, campaign_id, contact_id, outbox_id, variant, at, "
    "human, bot, method, user_agent, ip) VALUES ({marks})"
)
_LOOKUP: Final = (
    "SELECT workspace_id, destination, campaign_id, contact_id, outbox_id, variant, expires_at "
    "FROM short_links WHERE code = {mark}"
)


class ClickBuffer:
    """Clicks waiting to be written; `flush` writes what is there in one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._rows: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.written = 0
        self.failures = 0

    def add(
        self,
        target: LinkTarget,
        *,
        at: datetime,
        bot: str | None,
        method: str,
        user_agent: str | None,
        ip: str | None,
    ) -> None:
        """Keep one click for the next flush (no I/O)."""
        # A plain tuple in the order of _INSERT; naive UTC, as the store keeps datetimes.
        row = (
            target.workspace_id,
            target.code,
            target.campaign_id,
            target.contact_id,
            target.outbox_id,
            target.variant,
            at.astimezone(UTC).replace(tzinfo=None),
            bot is None,
            bot,
            method[:8],
            user_agent[:USER_AGENT_MAX] if user_agent else None,
            ip[:64] if ip else None,
        )
        with self._lock:
            self._rows.append(row)

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Write every waiting click (blocking); on failure they stay for the next flush.
        Returns how many were written."""
        with self._write_lock:  # one writer at a time keeps the order of clicks
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                self._write(rows)
            except Exception:
                # The store is busy or away: put the clicks back in front, try again later.
                with self._lock:
                    self._rows[:0] = rows
                self.failures += 1
                raise
            self.written += len(rows)
            return len(rows)

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        # Straight through the DB-API: the event loop shares the GIL with this thread, and
        # SQLAlchemy's per-row work would hold it long enough to show in redirect latency.
        sqlite = self.engine.dialect.name == "sqlite"
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        sql = _INSERT.format(marks=", ".join([mark] * 12))
        if sqlite:  # sqlite3 has no adapter for datetimes any more: the text SQLAlchemy writes
            rows = [(*r[:6], r[6].strftime("%Y-%m-%d %H:%M:%S.%f"), *r[7:]) for r in rows]
        conn = self.engine.raw_connection()
        try:
            cur = conn.cursor()
            for start in range(0, len(rows), 5000):
                cur.executemany(sql, rows[start : start + 5000])
            cur.close()
            conn.commit()
        except Exception:
            conn.rollback()
            raise
        finally:
            conn.close()
