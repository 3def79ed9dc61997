"""The dispatch worker: lease due outbox rows, pass the law's last gate, route, throttle,
submit, persist every answer and receipt, hand replies to the compliance engine.

One asyncio loop per worker. The store is written between network calls, never during one:
a chunk of at most one window is marked `submitting`, written to the provider, and its answers
persisted, before the next chunk goes. So a worker killed at any instant leaves at most one
window of messages whose fate nobody knows, and those become `uncertain`, never resent for
advertising.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from loa.channels.base import Channel, ChannelDown, Inbound, Outgoing, Receipt, Submitted
from loa.domain.compliance.packs import Pack, load_pack
from loa.domain.compliance.windows import hours_of, is_legal, next_legal, zones_for_number
from loa.domain.phones import parse_phone
from loa.domain.text import count_segments
from loa.i18n import LoaError, Msg
from loa.services.dispatch import ledger
from loa.services.dispatch.routes import Route, build_channel, choose, list_routes, mark_down
from loa.store.db import Store
from loa.store.tables import outbox, workspaces

log = logging.getLogger("loa.worker")

ANOTHER_WORKER = Msg(
    "worker.another",
    "Đã có một worker khác chạy trên kho SQLite này ({path}); SQLite chỉ cho một worker. "
    "Dùng PostgreSQL để chạy nhiều worker.",
    "Another worker is already running on this SQLite store ({path}); SQLite allows one "
    "worker. Use PostgreSQL to run several.",
)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    worker_id: str = ""
    batch: int = 2000  # rows leased at once
    lease_for: timedelta = timedelta(seconds=30)
    validity: timedelta = timedelta(hours=24)  # how long a carrier keeps trying
    receipt_grace: timedelta = timedelta(hours=1)
    resend_uncertain: frozenset[str] = frozenset()  # e.g. {"cskh"}: resend after a crash
    max_attempts: int = 8
    until_idle: bool = False
    idle_exit: float = 1.0  # --until-idle: quiet this long with nothing due
    receipt_wait: float = 15.0  # --until-idle: wait this long for missing receipts
    idle_sleep: float = 0.2
    housekeeping_every: float = 1.0
    reconnect_after: float = 2.0


@dataclass(slots=True)
class WorkerStats:
    leased: int = 0
    submitted: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    suppressed: int = 0
    deferred: int = 0
    expired: int = 0
    receipts: int = 0
    receipts_kept: int = 0
    inbound: int = 0
    completed: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def single_sqlite_worker(engine: Engine) -> Iterator[None]:
    """SQLite has room for one worker: hold a lock file beside the database while working.
    The lock dies with the process, so a killed worker never blocks its successor."""
    url = make_url(str(engine.url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    path = Path(url.database).expanduser().resolve().with_suffix(".worker.lock")
    handle: IO[str] = path.open("w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LoaError(ANOTHER_WORKER, path=str(url.database)) from None
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


class Worker:
    def __init__(
        self,
        engine: Engine,
        options: WorkerOptions | None = None,
        *,
        on_tick: Callable[[WorkerStats], None] | None = None,
    ) -> None:
        self.engine = engine
        self.options = options or WorkerOptions()
        self.id = self.options.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stats = WorkerStats()
        self._on_tick = on_tick
        self._routes: list[Route] = []
        self._channels: dict[int, Channel] = {}
        self._down: dict[int, datetime] = {}
        self._receipts: list[tuple[str, Receipt]] = []
        self._inbound: list[tuple[int, str, Inbound]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._packs: dict[int, Pack] = {}
        self._stop = asyncio.Event()
        self._last_activity = _now()
        self._automations_day: date | None = None
        self._lane_checked = _now()

    def stop(self) -> None:
        self._stop.set()

    # --- the loop -------------------------------------------------------------------------

    async def run(self) -> WorkerStats:
        with single_sqlite_worker(self.engine):
            try:
                await self._loop()
            finally:
                await self._flush()
                await self._close_channels()
        return self.stats

    async def _loop(self) -> None:
        opts = self.options
        self._load_routes()
        next_house = _now()
        while not self._stop.is_set():
            now = _now()
            if now >= next_house:
                self._housekeeping(now)
                next_house = now + timedelta(seconds=opts.housekeeping_every)
                if self._on_tick is not None:
                    self._on_tick(self.stats)
            with self.engine.begin() as conn:
                rows = ledger.lease(
                    conn, worker=self.id, now=now, limit=opts.batch, lease_for=opts.lease_for
                )
            if rows:
                self.stats.leased += len(rows)
                self._last_activity = _now()
                await self._dispatch(rows)
                await self._flush()
                continue
            await self._flush()
            if opts.until_idle and self._idle_done():
                self._housekeeping(_now())
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=opts.idle_sleep)

    def _idle_done(self) -> bool:
        """--until-idle: nothing due soon, and every receipt in (or waited for long enough)."""
        opts = self.options
        now = _now()
        quiet = (now - self._last_activity).total_seconds()
        if quiet < opts.idle_exit:
            return False
        horizon = timedelta(seconds=opts.idle_exit + opts.reconnect_after)
        with self.engine.connect() as conn:
            if ledger.pending(conn, now=now, horizon=horizon):
                # Work is there but nothing has moved for long (every route down?): stop and
                # let the caller see it, rather than wait for ever.
                if quiet >= 2 * opts.receipt_wait:
                    log.warning("nothing moved for %.0f s; stopping with work left", quiet)
                    return True
                return False
            awaiting = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.status == "submitted")
            ).scalar_one()
        if awaiting == 0:
            return True
        return (now - self._last_activity).total_seconds() >= opts.receipt_wait

    def _housekeeping(self, now: datetime) -> None:
        opts = self.options
        with self.engine.begin() as conn:
            counts = ledger.reap(
                conn,
                now=now,
                resend_uncertain=opts.resend_uncertain,
                receipt_grace=opts.receipt_grace,
            )
            self.stats.uncertain += counts.get("uncertain", 0)
            self.stats.expired += counts.get("expired", 0) + counts.get("no_receipt", 0)
            matched = ledger.match_kept_receipts(conn, now=now)
            if matched:
                self._last_activity = now
            self.stats.completed += ledger.finish_campaigns(conn, now=now)
            ledger.prune_usage(conn, now)
        # Automations: channel fallbacks, and the date rules once a day (issue 10).
        from loa.services.automations.engine import tick

        self._automations_day = tick(self.engine, now=now, last_day=self._automations_day)
        self._load_routes()

    def _load_routes(self) -> None:
        with self.engine.connect() as conn:
            self._routes = list_routes(conn)

    # --- the law's last gate ----------------------------------------------------------------

    def _pack(self, workspace_id: int) -> Pack:
        if workspace_id not in self._packs:
            with self.engine.connect() as conn:
                code = conn.execute(
                    select(workspaces.c.policy_pack).where(workspaces.c.id == workspace_id)
                ).scalar_one()
            self._packs[workspace_id] = load_pack(str(code))
        return self._packs[workspace_id]

    def _gate(self, rows: list[ledger.Leased], now: datetime) -> list[ledger.Leased]:
        """What changed since the plan: expiry, the clock (quiet hours), a reply TC or a DNC
        entry. Advertising that may no longer go is suppressed or deferred here, so no path
        to a carrier skips the compliance engine."""
        expired = [r.id for r in rows if r.expires_at is not None and r.expires_at < now]
        keep = [r for r in rows if r.id not in set(expired)]
        deferred: dict[datetime, list[int]] = {}
        suppressed: dict[str, list[int]] = {}
        for workspace_id in {r.workspace_id for r in keep}:
            pack = self._pack(workspace_id)
            mine = [r for r in keep if r.workspace_id == workspace_id]
            for klass, hours_value in (("qc", pack.qc_hours), ("public", pack.public_hours)):
                hours = hours_of(hours_value)
                if hours.any_hour:
                    continue
                for row in (r for r in mine if r.klass == klass):
                    zones = zones_for_number(row.phone, pack)
                    if not is_legal(now, zones, hours):
                        until = next_legal(now, zones, hours) or now + timedelta(hours=1)
                        deferred.setdefault(until, []).append(row.id)
            advertising = [r for r in mine if r.klass == "qc"]
            if advertising:
                with self.engine.connect() as conn:
                    # Push and email rows carry an address, not a number: refusals and DNC
                    # are kept per number, so those rows are judged by their contact's number.
                    numbers = {r.id: r.phone for r in advertising if r.channel == "sms"}
                    numbers.update(
                        ledger.contact_numbers(
                            conn, [r.id for r in advertising if r.channel != "sms"]
                        )
                    )
                    blocked = ledger.blocked_numbers(
                        conn, workspace_id, list(numbers.values()), now
                    )
                for row in advertising:
                    hit = blocked.get(numbers.get(row.id, ""))
                    if hit is None:
                        continue
                    reason, brands = hit
                    if None in brands or row.sender in brands:
                        suppressed.setdefault("dnc" if reason == "dnc" else "opted_out", []).append(
                            row.id
                        )
        stopped = set(expired)
        with self.engine.begin() as conn:
            if expired:
                ledger.settle(conn, expired, status="expired", now=now, code="not-sent")
                self.stats.expired += len(expired)
            for until, ids in deferred.items():
                ledger.settle(conn, ids, status="queued", now=now, scheduled_at=until)
                self.stats.deferred += len(ids)
                stopped.update(ids)
            for reason, ids in suppressed.items():
                fresh = [i for i in ids if i not in stopped]
                ledger.settle(
                    conn, fresh, status="suppressed", now=now, reasons=[reason], code=reason
                )
                self.stats.suppressed += len(fresh)
                stopped.update(fresh)
        return [r for r in rows if r.id not in stopped]

    # --- sending -----------------------------------------------------------------------------

    async def _dispatch(self, rows: list[ledger.Leased]) -> None:
        now = _now()
        rows = self._gate(rows, now)
        groups: dict[int, list[ledger.Leased]] = {}
        routeless: list[int] = []
        by_id = {r.id: r for r in self._routes}
        for index, row in enumerate(rows):
            carrier = row.carrier
            if carrier is None and row.channel == "sms":
                carrier = parse_phone(row.phone).carrier
                if carrier is not None:
                    row = rows[index] = replace(row, carrier=carrier)
            candidates = [r for r in self._routes if r.workspace_id == row.workspace_id]
            down_aware = [_with_down(r, self._down.get(r.id)) for r in candidates]
            route = choose(down_aware, row.channel, carrier, now)
            if route is None:
                routeless.append(row.id)
            else:
                groups.setdefault(route.id, []).append(row)
        if routeless:
            with self.engine.begin() as conn:
                ledger.release(conn, routeless, now=now, after=self.options.reconnect_after)
            log.warning("%d message(s) have no route up; retrying later", len(routeless))
        for route_id, group in groups.items():
            await self._send_route(by_id[route_id], group)

    async def _channel(self, route: Route) -> Channel:
        channel = self._channels.get(route.id)
        if channel is None:
            channel = build_channel(
                route.kind, dict(route.settings), window=route.window, tps=route.tps
            )
            name = route.name
            workspace_id = route.workspace_id

            # Each handler answers with a future that resolves once what came is persisted:
            # the channel acknowledges it to the provider only then, so a worker killed in
            # between leaves it with the provider, who sends it again.
            def _receipt(receipt: Receipt) -> asyncio.Future[None]:
                self._receipts.append((name, receipt))
                return self._waiter()

            def _inbound(message: Inbound) -> asyncio.Future[None]:
                self._inbound.append((workspace_id, name, message))
                return self._waiter()

            channel.on_receipt(_receipt)
            channel.on_inbound(_inbound)
            await channel.open()
            self._channels[route.id] = channel
        return channel

    async def _send_route(self, route: Route, rows: list[ledger.Leased]) -> None:
        opts = self.options
        try:
            channel = await self._channel(route)
        except Exception as exc:  # connection refused, bad credentials …
            await self._route_failed(route, rows, f"{type(exc).__name__}: {exc}")
            return
        pending = list(rows)
        while pending:
            chunk = pending[: route.window]
            outgoing = [self._outgoing(r) for r in chunk]
            if route.tps:
                chunk, outgoing = await self._throttle(route, chunk, outgoing)
            pending = pending[len(chunk) :]
            fills = [
                {"ref": r.id, "encoding": o.encoding, "parts": o.parts, "carrier": r.carrier}
                for r, o in zip(chunk, outgoing, strict=True)
                if r.encoding is None or r.parts is None
            ]
            now = _now()
            with self.engine.begin() as conn:
                ledger.mark_submitting(
                    conn,
                    [r.id for r in chunk],
                    worker=self.id,
                    route=route.name,
                    now=now,
                    lease_for=opts.lease_for,
                    fills=fills,
                )
            down: ChannelDown | None = None
            try:
                answers = await channel.submit(outgoing)
            except ChannelDown as exc:
                down = exc
                answers = exc.answered
            self._persist(route, chunk, answers, down)
            await self._flush()
            if down is not None:
                await self._route_failed(route, pending, down.reason, reconnect=True)
                return
            if pending:
                await self._overtake(pending)

    async def _overtake(self, pending: list[ledger.Leased]) -> None:
        """Send transactional messages that fell due while this batch still holds marketing
        ones, before the rest of it: an order confirmation must not wait behind a whole
        leased batch of a campaign (issue 10)."""
        if any(r.campaign_id is None for r in pending):
            return  # this batch is the lane itself
        now = _now()
        if (now - self._lane_checked).total_seconds() < 0.05:
            return
        self._lane_checked = now
        with self.engine.begin() as conn:
            due = conn.execute(
                select(func.count()).select_from(
                    select(outbox.c.id)
                    .where(
                        outbox.c.status == "queued",
                        outbox.c.priority > 0,
                        outbox.c.scheduled_at <= now,
                    )
                    .limit(self.options.batch)
                    .subquery()
                )
            ).scalar_one()
            # The lease takes the lane first, so `due` rows are the lane's.
            rows = (
                ledger.lease(
                    conn, worker=self.id, now=now, limit=due, lease_for=self.options.lease_for
                )
                if due
                else []
            )
        if rows:
            self.stats.leased += len(rows)
            await self._dispatch(rows)

    def _persist(
        self,
        route: Route,
        chunk: list[ledger.Leased],
        answers: list[Submitted],
        down: ChannelDown | None,
    ) -> None:
        opts = self.options
        now = _now()
        with self.engine.begin() as conn:
            accepted, retried, failed = ledger.record(
                conn,
                answers,
                route=route.name,
                now=now,
                validity=opts.validity,
                attempts={r.id: r.attempts for r in chunk},
                max_attempts=opts.max_attempts,
            )
            if down is not None:
                answered = {a.ref for a in answers}
                unsent = set(down.unsent)
                unknown = [r for r in chunk if r.id not in answered and r.id not in unsent]
                resend = [r.id for r in unknown if r.klass in opts.resend_uncertain]
                ledger.release(conn, [*unsent, *resend], now=now, after=opts.reconnect_after)
                lost = [r.id for r in unknown if r.klass not in opts.resend_uncertain]
                ledger.settle(
                    conn,
                    lost,
                    status="uncertain",
                    now=now,
                    error=f"connection lost before the answer: {down.reason}",
                )
                self.stats.uncertain += len(lost)
            # Receipts that came meanwhile (some for this very chunk) go in the same
            # transaction: one commit per window. They are acknowledged after it (_flush).
            if self._receipts:
                receipts, self._receipts = self._receipts, []
                matched, kept = ledger.apply_receipts(conn, receipts, now=now)
                self.stats.receipts += matched
                self.stats.receipts_kept += kept
        self.stats.submitted += accepted
        self.stats.retried += retried
        self.stats.failed += failed

    async def _route_failed(
        self, route: Route, rows: list[ledger.Leased], reason: str, *, reconnect: bool = False
    ) -> None:
        now = _now()
        until = now + timedelta(seconds=self.options.reconnect_after)
        self._down[route.id] = until
        log.warning("route %s is down (%s); retrying after %s", route.name, reason, until)
        channel = self._channels.pop(route.id, None)
        if channel is not None and not reconnect:
            with contextlib.suppress(Exception):
                await channel.close()
        elif channel is not None:
            self._channels[route.id] = channel  # the channel reconnects by itself
        with self.engine.begin() as conn:
            mark_down(conn, route.id, until)
            ledger.release(conn, [r.id for r in rows], now=now)

    async def _throttle(
        self, route: Route, chunk: list[ledger.Leased], outgoing: list[Outgoing]
    ) -> tuple[list[ledger.Leased], list[Outgoing]]:
        """Shrink the chunk to what the route's per-second budget (shared by every worker)
        allows now; wait for the next second when nothing is left."""
        assert route.tps is not None
        while True:
            want = sum(o.parts for o in outgoing)
            now = _now()
            with self.engine.begin() as conn:
                allowed = ledger.reserve(conn, route.id, route.tps, want, now)
            if allowed >= want:
                return chunk, outgoing
            fits = 0
            used = 0
            for o in outgoing:
                if used + o.parts > allowed:
                    break
                used += o.parts
                fits += 1
            if allowed > used:  # hand back what a whole message could not use
                with self.engine.begin() as conn:
                    ledger.reserve(conn, route.id, route.tps, used - allowed, now)
            if fits:
                return chunk[:fits], outgoing[:fits]
            await asyncio.sleep(1.0 - (now.timestamp() % 1.0) + 0.001)

    def _outgoing(self, row: ledger.Leased) -> Outgoing:
        encoding, parts = row.encoding, row.parts
        if row.channel == "sms" and (encoding is None or parts is None):
            counted = count_segments(row.text)
            encoding, parts = counted.encoding, counted.segments
        return Outgoing(
            ref=row.id,
            key=row.key,
            to=row.phone,
            text=row.text,
            sender=row.sender,
            klass=row.klass,
            encoding=encoding or "GSM-7",
            parts=parts or 1,
            validity=self.options.validity,
            # A push needs a title: the sender (the app or brand name) is it.
            extras={"title": row.sender} if row.channel == "push" and row.sender else {},
        )

    # --- what comes back ---------------------------------------------------------------------

    def _waiter(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        return future

    async def _flush(self) -> None:
        waiters, self._waiters = self._waiters, []
        try:
            self._persist_incoming()
        except Exception as exc:
            for future in waiters:
                if not future.done():
                    future.set_exception(exc)
            raise
        for future in waiters:
            if not future.done():
                future.set_result(None)

    def _persist_incoming(self) -> None:
        if self._receipts:
            batch, self._receipts = self._receipts, []
            now = _now()
            with self.engine.begin() as conn:
                matched, kept = ledger.apply_receipts(conn, batch, now=now)
            self.stats.receipts += matched
            self.stats.receipts_kept += kept
            self._last_activity = now
        if self._inbound:
            from loa.services.compliance.inbound import receive_inbound

            batch_in, self._inbound = self._inbound, []
            for workspace_id, route_name, message in batch_in:
                try:
                    receive_inbound(
                        Store(engine=self.engine, workspace_id=workspace_id),
                        message.phone,
                        message.text,
                        to=message.to,
                        source="sms",
                        provider_id=message.provider_id and f"{route_name}:{message.provider_id}",
                        received_at=message.received_at,
                    )
                    self.stats.inbound += 1
                except LoaError as exc:
                    log.warning("inbound from %s not recorded: %s", message.phone, exc)
            self._last_activity = _now()

    async def _close_channels(self) -> None:
        for channel in self._channels.values():
            with contextlib.suppress(Exception):
                await channel.close()
        self._channels.clear()


def _with_down(route: Route, until: datetime | None) -> Route:
    if until is None or (route.down_until is not None and route.down_until >= until):
        return route
    return replace(route, down_until=until)
