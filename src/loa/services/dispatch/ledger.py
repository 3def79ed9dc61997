"""Every state change of an outbox row on its way out, each persisted before the next step.

queued -> leased (a worker holds it; safe to hand back) -> submitting (about to be written to a
provider; if the worker dies now, nobody knows) -> submitted (the provider took it and gave an
id) -> delivered / undelivered / expired / rejected (the receipt), or failed (refused), or back
to queued (the provider said "later"). A row left in submitting by a dead worker becomes
uncertain: not sent again for advertising, reconciled by a later receipt for that recipient.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from loa.channels.base import Receipt, Submitted
from loa.store.tables import (
    campaign_changes,
    campaigns,
    contacts,
    delivery_receipts,
    dnc_numbers,
    opt_outs,
    outbox,
    outbox_parts,
    route_usage,
)

# States a row can still leave; every other state is final.
OPEN: Final = ("queued", "leased", "submitting", "submitted")
FINAL_FROM_RECEIPT: Final = frozenset({"delivered", "undelivered", "expired", "rejected"})
_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class Leased:
    id: int
    workspace_id: int
    key: str
    campaign_id: int | None
    phone: str
    channel: str
    klass: str
    sender: str | None
    text: str
    encoding: str | None
    parts: int | None
    carrier: str | None
    attempts: int
    expires_at: datetime | None
    scheduled_at: datetime | None


_LEASE_COLUMNS = (
    outbox.c.id,
    outbox.c.workspace_id,
    outbox.c.idempotency_key,
    outbox.c.campaign_id,
    outbox.c.phone,
    outbox.c.channel,
    outbox.c["class"],
    outbox.c.sender,
    outbox.c.text,
    outbox.c.encoding,
    outbox.c.parts,
    outbox.c.carrier,
    outbox.c.attempts,
    outbox.c.expires_at,
    outbox.c.scheduled_at,
)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def lease(
    conn: Connection, *, worker: str, now: datetime, limit: int, lease_for: timedelta
) -> list[Leased]:
    """Take up to `limit` due rows for this worker: the transactional lane first, then
    marketing, oldest first; rows of paused or cancelled campaigns stay where they are.
    On PostgreSQL rows another worker is taking are skipped, not waited for."""
    active = select(campaigns.c.id).where(campaigns.c.state.in_(("scheduled", "running")))
    due = and_(
        outbox.c.status == "queued",
        outbox.c.decision != "suppress",
        outbox.c.scheduled_at <= now,
        or_(outbox.c.campaign_id.is_(None), outbox.c.campaign_id.in_(active)),
    )
    got: list[Leased] = []
    for lane in (outbox.c.priority > 0, outbox.c.priority == 0):
        want = limit - len(got)
        if want <= 0:
            break
        ids = (
            select(outbox.c.id)
            .where(due, lane)
            .order_by(outbox.c.priority.desc(), outbox.c.scheduled_at, outbox.c.id)
            .limit(want)
            .with_for_update(skip_locked=True)
        )
        rows = conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids.scalar_subquery()))
            .values(status="leased", leased_by=worker, lease_until=now + lease_for, updated_at=now)
            .returning(*_LEASE_COLUMNS)
        ).all()
        got.extend(
            Leased(
                id=int(r.id),
                workspace_id=int(r.workspace_id),
                key=r.idempotency_key,
                campaign_id=r.campaign_id,
                phone=r.phone,
                channel=r.channel,
                klass=r[6],
                sender=r.sender,
                text=r.text or "",
                encoding=r.encoding,
                parts=r.parts,
                carrier=r.carrier,
                attempts=int(r.attempts),
                expires_at=r.expires_at,
                scheduled_at=r.scheduled_at,
            )
            for r in sorted(rows, key=lambda r: (r.scheduled_at, r.id))
        )
    if got:
        started = {r.campaign_id for r in got if r.campaign_id is not None}
        if started:
            _move_campaigns(conn, started, "scheduled", "running", now, "dispatch")
    return got


def pending(conn: Connection, *, now: datetime, horizon: timedelta) -> int:
    """Rows a worker still has to do something about soon: due (or due within `horizon`) in
    a campaign that may send, or held by a worker right now."""
    active = select(campaigns.c.id).where(campaigns.c.state.in_(("scheduled", "running")))
    due = conn.execute(
        select(func.count())
        .select_from(outbox)
        .where(
            outbox.c.status == "queued",
            outbox.c.decision != "suppress",
            outbox.c.scheduled_at <= now + horizon,
            or_(outbox.c.campaign_id.is_(None), outbox.c.campaign_id.in_(active)),
        )
    ).scalar_one()
    held = conn.execute(
        select(func.count())
        .select_from(outbox)
        .where(outbox.c.status.in_(("leased", "submitting")))
    ).scalar_one()
    return int(due) + int(held)


def blocked_numbers(
    conn: Connection, workspace_id: int, phones: Sequence[str], now: datetime
) -> dict[str, tuple[str, set[str | None]]]:
    """Numbers that may not get advertising any more, found since the plan was made: a reply
    TC or a DNC entry. Maps phone -> (reason, brandnames it covers; None = every brand)."""
    found: dict[str, tuple[str, set[str | None]]] = {}
    for part in _chunks(list(set(phones))):
        for phone in conn.execute(
            select(dnc_numbers.c.phone).where(
                dnc_numbers.c.workspace_id == workspace_id, dnc_numbers.c.phone.in_(part)
            )
        ).scalars():
            found[phone] = ("dnc", {None})
        for phone, scope, brand in conn.execute(
            select(opt_outs.c.phone, opt_outs.c.scope, opt_outs.c.brandname).where(
                opt_outs.c.workspace_id == workspace_id,
                opt_outs.c.phone.in_(part),
                opt_outs.c.revoked_at.is_(None),
                opt_outs.c.received_at <= now,
            )
        ):
            if phone in found and found[phone][0] == "dnc":
                continue
            _, brands = found.setdefault(phone, ("opt_out", set()))
            brands.add(None if scope == "all" else brand)
    return found


def contact_numbers(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """The phone number of the contact behind each outbox row (push and email rows hold an
    address instead); rows without a contact in the book are left out."""
    found: dict[int, str] = {}
    for part in _chunks(list(ids)):
        rows = conn.execute(
            select(outbox.c.id, contacts.c.phone)
            .join(contacts, contacts.c.id == outbox.c.contact_id)
            .where(outbox.c.id.in_(part))
        )
        found.update({int(row_id): str(phone) for row_id, phone in rows})
    return found


def mark_submitting(
    conn: Connection,
    ids: Sequence[int],
    *,
    worker: str,
    route: str,
    now: datetime,
    lease_for: timedelta,
    fills: Sequence[dict[str, Any]] = (),
) -> None:
    """The step after which nobody can tell whether the provider has the message. `fills`
    records what was worked out at send time for rows that came without it (encoding, parts
    and carrier of a confirmation written by the inbound handler)."""
    if fills:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("ref"))
            .values(
                encoding=bindparam("encoding"),
                parts=bindparam("parts"),
                carrier=bindparam("carrier"),
            ),
            list(fills),
        )
    for part in _chunks(ids):
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(part), outbox.c.leased_by == worker)
            .values(status="submitting", route=route, lease_until=now + lease_for, updated_at=now)
        )


def release(conn: Connection, ids: Sequence[int], *, now: datetime, after: float = 0.0) -> None:
    """Hand leased rows back untouched (never written to a provider)."""
    for part in _chunks(ids):
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(part), outbox.c.status.in_(("leased", "submitting")))
            .values(
                status="queued",
                leased_by=None,
                lease_until=None,
                route=None,
                scheduled_at=now + timedelta(seconds=after),
                updated_at=now,
            )
        )


def settle(
    conn: Connection,
    ids: Sequence[int],
    *,
    status: str,
    now: datetime,
    code: str | None = None,
    error: str | None = None,
    reasons: list[str] | None = None,
    scheduled_at: datetime | None = None,
) -> None:
    """Give rows one state at once (suppressed by the last gate, expired, uncertain …)."""
    values: dict[str, Any] = {
        "status": status,
        "leased_by": None,
        "lease_until": None,
        "updated_at": now,
    }
    if status == "queued":
        values["scheduled_at"] = scheduled_at
        values["route"] = None
    else:
        values["done_at"] = now
    if code is not None:
        values["code"] = code
    if error is not None:
        values["error"] = error
    if reasons is not None:
        values["reasons"] = reasons
        values["decision"] = "suppress" if status == "suppressed" else "send"
    for part in _chunks(ids):
        conn.execute(update(outbox).where(outbox.c.id.in_(part)).values(**values))


def record(
    conn: Connection,
    answers: Sequence[Submitted],
    *,
    route: str,
    now: datetime,
    validity: timedelta,
    attempts: dict[int, int],
    max_attempts: int,
) -> tuple[int, int, int]:
    """Persist the provider's answers. Returns (accepted, retried, failed)."""
    accepted = [a for a in answers if a.outcome == "accepted"]
    if accepted:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("ref"))
            .values(
                status="submitted",
                provider_id=bindparam("pid"),
                submitted_at=now,
                expires_at=now + validity,
                lease_until=None,
                leased_by=None,
                attempts=outbox.c.attempts + 1,
                updated_at=now,
            ),
            [{"ref": a.ref, "pid": a.provider_id} for a in accepted],
        )
        parts = [
            {"route": route, "provider_id": pid, "outbox_id": a.ref, "part": n}
            for a in accepted
            for n, pid in enumerate(a.part_ids, start=2)
        ]
        if parts:
            conn.execute(insert(outbox_parts), parts)
    retried = failed = 0
    for answer in answers:
        if answer.outcome == "accepted":
            continue
        tries = attempts.get(answer.ref, 0) + 1
        if answer.outcome == "retry" and tries < max_attempts:
            wait = answer.retry_after if answer.retry_after is not None else min(2.0**tries, 300)
            conn.execute(
                update(outbox)
                .where(outbox.c.id == answer.ref)
                .values(
                    status="queued",
                    route=None,
                    leased_by=None,
                    lease_until=None,
                    attempts=tries,
                    scheduled_at=now + timedelta(seconds=wait),
                    code=answer.code,
                    error=answer.error,
                    updated_at=now,
                )
            )
            retried += 1
        else:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == answer.ref)
                .values(
                    status="failed",
                    leased_by=None,
                    lease_until=None,
                    attempts=tries,
                    code=answer.code,
                    error=answer.error,
                    done_at=now,
                    updated_at=now,
                )
            )
            failed += 1
    return len(accepted), retried, failed


def apply_receipts(
    conn: Connection, receipts: Sequence[tuple[str, Receipt]], *, now: datetime
) -> tuple[int, int]:
    """Give each message the fate its receipt tells; keep every receipt that matches nothing
    (yet) in delivery_receipts. A failure of any part of a long message wins over delivery.
    Returns (matched, kept unmatched)."""
    by_route: dict[str, list[Receipt]] = {}
    for route, receipt in receipts:
        by_route.setdefault(route, []).append(receipt)
    matched = kept = 0
    for route, items in by_route.items():
        ids = list({r.provider_id for r in items})
        owner: dict[str, int] = {}
        for part in _chunks(ids):
            owner.update(
                (pid, int(oid))
                for oid, pid in conn.execute(
                    select(outbox.c.id, outbox.c.provider_id).where(
                        outbox.c.route == route, outbox.c.provider_id.in_(part)
                    )
                )
            )
            missing = [p for p in part if p not in owner]
            if missing:
                owner.update(
                    (pid, int(oid))
                    for oid, pid in conn.execute(
                        select(outbox_parts.c.outbox_id, outbox_parts.c.provider_id).where(
                            outbox_parts.c.route == route, outbox_parts.c.provider_id.in_(missing)
                        )
                    )
                )
        updates = [
            {
                "ref": owner[r.provider_id],
                "state": r.state,
                "code": r.code,
                "done": r.done_at or now,
            }
            for r in items
            if r.provider_id in owner and r.state in FINAL_FROM_RECEIPT
        ]
        _settle_receipts(conn, updates, now=now)
        matched += sum(1 for r in items if r.provider_id in owner)
        unmatched = [r for r in items if r.provider_id not in owner]
        if unmatched:
            conn.execute(
                insert(delivery_receipts),
                [
                    {
                        "route": route,
                        "provider_id": r.provider_id,
                        "state": r.state,
                        "recipient": r.to,
                        "code": r.code,
                        "done_at": r.done_at,
                        "raw": r.raw,
                        "received_at": now,
                    }
                    for r in unmatched
                ],
            )
            kept += len(unmatched)
    return matched, kept


def _status_is(*states: str) -> ColumnElement[bool]:
    """`status IN (...)` spelled so that it works in executemany (no expanding list)."""
    return or_(*(outbox.c.status == literal(s) for s in states))


def _settle_receipts(conn: Connection, updates: list[dict[str, Any]], *, now: datetime) -> None:
    if not updates:
        return
    delivered = [u for u in updates if u["state"] == "delivered"]
    failures = [u for u in updates if u["state"] != "delivered"]
    if delivered:
        conn.execute(
            update(outbox)
            .where(
                outbox.c.id == bindparam("ref"),
                _status_is("submitting", "submitted", "uncertain"),
            )
            .values(status="delivered", done_at=bindparam("done"), updated_at=now),
            [{"ref": u["ref"], "done": u["done"]} for u in delivered],
        )
    if failures:
        conn.execute(
            update(outbox)
            .where(
                outbox.c.id == bindparam("ref"),
                _status_is("submitting", "submitted", "uncertain", "delivered"),
            )
            .values(
                status=bindparam("state"),
                code=bindparam("code"),
                done_at=bindparam("done"),
                updated_at=now,
            ),
            failures,
        )


def match_kept_receipts(conn: Connection, *, now: datetime, limit: int = 5000) -> int:
    """Match receipts kept earlier: to the message that has since got their id, or, for a
    message whose fate was uncertain, to the one sent to that recipient over that route."""
    rows = conn.execute(
        select(
            delivery_receipts.c.id,
            delivery_receipts.c.route,
            delivery_receipts.c.provider_id,
            delivery_receipts.c.state,
            delivery_receipts.c.recipient,
            delivery_receipts.c.code,
            delivery_receipts.c.done_at,
        )
        .where(
            delivery_receipts.c.outbox_id.is_(None),
            delivery_receipts.c.received_at >= now - timedelta(days=3),
        )
        .order_by(delivery_receipts.c.id)
        .limit(limit)
    ).all()
    done = 0
    for row in rows:
        target = conn.execute(
            select(outbox.c.id).where(
                outbox.c.route == row.route, outbox.c.provider_id == row.provider_id
            )
        ).scalar()
        if target is None:
            target = conn.execute(
                select(outbox_parts.c.outbox_id).where(
                    outbox_parts.c.route == row.route,
                    outbox_parts.c.provider_id == row.provider_id,
                )
            ).scalar()
        if target is None and row.recipient:
            phone = row.recipient if row.recipient.startswith("+") else "+" + row.recipient
            target = conn.execute(
                select(outbox.c.id)
                .where(
                    outbox.c.status == "uncertain",
                    outbox.c.route == row.route,
                    outbox.c.phone == phone,
                )
                .order_by(outbox.c.id)
                .limit(1)
            ).scalar()
            if target is not None:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == target)
                    .values(provider_id=row.provider_id, updated_at=now)
                )
        if target is None:
            continue
        if row.state in FINAL_FROM_RECEIPT:
            _settle_receipts(
                conn,
                [
                    {
                        "ref": int(target),
                        "state": row.state,
                        "code": row.code,
                        "done": row.done_at or now,
                    }
                ],
                now=now,
            )
        conn.execute(
            update(delivery_receipts)
            .where(delivery_receipts.c.id == row.id)
            .values(outbox_id=int(target))
        )
        done += 1
    return done


def reap(
    conn: Connection, *, now: datetime, resend_uncertain: frozenset[str], receipt_grace: timedelta
) -> dict[str, int]:
    """Clean up after dead workers and silent providers:
    - leased rows whose lease ran out go back to the queue (they never left);
    - submitting rows whose lease ran out become uncertain, or go back to the queue for the
      classes configured to be resent (e.g. one-time codes);
    - queued rows past their expiry are expired unsent; submitted rows that never got a receipt
      by their validity end (plus a grace) are expired."""
    counts: dict[str, int] = {}
    counts["released"] = conn.execute(
        update(outbox)
        .where(outbox.c.status == "leased", outbox.c.lease_until < now)
        .values(status="queued", leased_by=None, lease_until=None, route=None, updated_at=now)
    ).rowcount
    stuck = and_(outbox.c.status == "submitting", outbox.c.lease_until < now)
    if resend_uncertain:
        counts["resent"] = conn.execute(
            update(outbox)
            .where(stuck, outbox.c["class"].in_(sorted(resend_uncertain)))
            .values(status="queued", leased_by=None, lease_until=None, route=None, updated_at=now)
        ).rowcount
    counts["uncertain"] = conn.execute(
        update(outbox)
        .where(stuck)
        .values(
            status="uncertain",
            leased_by=None,
            lease_until=None,
            error="worker stopped before the provider answered",
            done_at=now,
            updated_at=now,
        )
    ).rowcount
    counts["expired"] = conn.execute(
        update(outbox)
        .where(outbox.c.status == "queued", outbox.c.expires_at < now)
        .values(status="expired", code="not-sent", done_at=now, updated_at=now)
    ).rowcount
    counts["no_receipt"] = conn.execute(
        update(outbox)
        .where(outbox.c.status == "submitted", outbox.c.expires_at < now - receipt_grace)
        .values(status="expired", code="no-receipt", done_at=now, updated_at=now)
    ).rowcount
    return counts


def reserve(conn: Connection, route_id: int, tps: int, want: int, now: datetime) -> int:
    """Take up to `want` sends from the route's budget for this second, shared by all workers.
    Returns how many may go now (0: wait for the next second)."""
    second = int(now.timestamp())
    dialect = conn.dialect.name
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = maker(route_usage).values(route_id=route_id, second=second, sent=want)
    upsert = stmt.on_conflict_do_update(
        index_elements=[route_usage.c.route_id, route_usage.c.second],
        set_={"sent": route_usage.c.sent + literal_column("excluded.sent")},
    ).returning(route_usage.c.sent)
    total = int(conn.execute(upsert).scalar_one())
    over = max(0, total - tps)
    allowed = max(0, want - over)
    if allowed < want:  # give back what we could not use, so others may
        conn.execute(
            update(route_usage)
            .where(route_usage.c.route_id == route_id, route_usage.c.second == second)
            .values(sent=route_usage.c.sent - (want - allowed))
        )
    return allowed


def prune_usage(conn: Connection, now: datetime) -> None:
    conn.execute(delete(route_usage).where(route_usage.c.second < int(now.timestamp()) - 60))


def _move_campaigns(
    conn: Connection, ids: Iterable[int], frm: str, to: str, now: datetime, actor: str
) -> list[int]:
    moved: list[int] = []
    for cid in sorted(ids):
        if conn.execute(
            update(campaigns)
            .where(campaigns.c.id == cid, campaigns.c.state == frm)
            .values(state=to, updated_at=now)
        ).rowcount:
            conn.execute(
                insert(campaign_changes).values(
                    campaign_id=cid, at=now, actor=actor, from_state=frm, to_state=to
                )
            )
            moved.append(cid)
    return moved


def finish_campaigns(conn: Connection, *, now: datetime) -> list[int]:
    """Campaigns whose every row has reached a final state are completed — not before."""
    running = (
        conn.execute(select(campaigns.c.id).where(campaigns.c.state.in_(("scheduled", "running"))))
        .scalars()
        .all()
    )
    if not running:
        return []
    still = set(
        conn.execute(
            select(outbox.c.campaign_id)
            .where(outbox.c.campaign_id.in_(running), outbox.c.status.in_(OPEN))
            .group_by(outbox.c.campaign_id)
        ).scalars()
    )
    done = [cid for cid in running if cid not in still]
    moved = _move_campaigns(conn, done, "running", "completed", now, "dispatch")
    # A scheduled campaign with nothing to send (all suppressed) completes too.
    moved += _move_campaigns(conn, done, "scheduled", "completed", now, "dispatch")
    return moved


def report(conn: Connection, campaign_id: int) -> dict[str, Any]:
    """Counts by state and the carriers' error codes, for one campaign (the full report is
    loa.services.tracking.report.campaign_report)."""
    from loa.services.tracking.report import delivery_counts

    return delivery_counts(conn, campaign_id)
