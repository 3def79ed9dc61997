"""One person's data: find, export everything Loa holds about them, erase them.

Export and erasure are the rights Law 91/2025 gives a data subject; both are recorded in the
audit log with the number masked. Erasure removes the profile but not the anti-spam record:
refusals stay by number (so they keep working), consent evidence stays in the erasure's audit
entry under a one-way token of the number, and the national DNC list is never edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy import Connection, Row, delete, func, insert, select

from loa.domain.phones import parse_phone
from loa.domain.privacy import mask_phone, phone_fingerprint
from loa.i18n import LoaError, Msg
from loa.services.audit import record
from loa.store.db import Store
from loa.store.tables import (
    channel_states,
    consents,
    contact_stats,
    contact_tags,
    contacts,
    dnc_numbers,
    events,
    opt_outs,
)

# The audit entry of an erasure; it carries the consent evidence the law says to keep.
FORGET_ACTION: Final = "contacts.forget"

BAD_PHONE = Msg(
    "contacts.bad_phone",
    "'{value}' không phải số điện thoại hợp lệ: {reason}",
    "'{value}' is not a valid phone number: {reason}",
)
NOT_FOUND = Msg(
    "contacts.not_found",
    "Không có khách hàng nào có số {phone} trong workspace này.",
    "No customer with the number {phone} in this workspace.",
)


def resolve_phone(value: str) -> str:
    """E.164 for a number typed by a person, or a clear error."""
    result = parse_phone(value)
    if not result.valid or result.e164 is None:
        raise LoaError(BAD_PHONE, value=value, reason=result.reason_text() or "")
    return result.e164


def find_contact(conn: Connection, *, workspace_id: int, phone: str) -> Row[Any]:
    """The contact row for `phone` (any written form), or a clear error."""
    e164 = resolve_phone(phone)
    row = conn.execute(
        select(contacts).where(contacts.c.workspace_id == workspace_id, contacts.c.phone == e164)
    ).first()
    if row is None:
        raise LoaError(NOT_FOUND, phone=e164)
    return row


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(conn: Connection, table: Any, contact_id: int) -> list[dict[str, Any]]:
    found = conn.execute(select(table).where(table.c.contact_id == contact_id)).mappings()
    return [
        {k: _plain(v) for k, v in row.items() if k not in {"workspace_id", "contact_id"}}
        for row in found
    ]


def export_person(store: Store, phone: str, *, actor: str) -> dict[str, Any]:
    """Everything Loa keeps about one person, as plain JSON-ready data."""
    with store.engine.begin() as conn:
        person = find_contact(conn, workspace_id=store.workspace_id, phone=phone)
        cid = int(person.id)
        data = {
            "contact": {
                k: _plain(v) for k, v in person._mapping.items() if k not in {"workspace_id"}
            },
            "tags": [r["tag"] for r in _rows(conn, contact_tags, cid)],
            "channels": _rows(conn, channel_states, cid),
            "consents": _rows(conn, consents, cid),
            "events": _rows(conn, events, cid),
            "stats": next(iter(_rows(conn, contact_stats, cid)), None),
            "exported_at": datetime.now(UTC).isoformat(),
        }
        record(
            conn,
            workspace_id=store.workspace_id,
            actor=actor,
            action="contacts.export_person",
            target=mask_phone(person.phone),
        )
    return data


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What erasing one person removed, and the legal records kept about the number."""

    phone: str
    fingerprint: str  # the one-way token the kept consent evidence is filed under
    removed: dict[str, int]
    opt_outs: int  # refusals kept by number (including those moved off the profile)
    opt_outs_moved: int  # refusals that lived on the profile and now live by number
    consents: int  # consent records kept as evidence under the fingerprint
    on_dnc_list: bool  # the national list is kept by number, never edited by an erasure


def _refusals_on_profile(conn: Connection, person: Row[Any]) -> list[dict[str, Any]]:
    """The refusals the profile alone records: an opted-out channel, the workspace's own
    do-not-contact flag, a withdrawn marketing consent not given again since. Each becomes an
    opt-out by number, so it still suppresses advertising if the number comes back."""
    found: list[dict[str, Any]] = []
    for row in conn.execute(
        select(channel_states).where(
            channel_states.c.contact_id == person.id, channel_states.c.status == "opted_out"
        )
    ):
        found.append(
            {"channel": row.channel, "at": row.changed_at, "source": row.method or "profile"}
        )
    if person.dnc:
        found.append({"channel": "sms", "at": person.updated_at, "source": "dnc-flag"})
    latest: dict[str, Any] = {}
    for row in conn.execute(
        select(consents)
        .where(consents.c.contact_id == person.id, consents.c.purpose == "marketing")
        .order_by(consents.c.given_at, consents.c.id)
    ):
        latest[row.channel] = row
    for channel, row in latest.items():
        if row.withdrawn_at is not None:
            found.append({"channel": channel, "at": row.withdrawn_at, "source": "consent"})
    return found


def _keep_refusals(conn: Connection, workspace_id: int, person: Row[Any]) -> int:
    moved = 0
    for refusal in _refusals_on_profile(conn, person):
        covered = conn.execute(
            select(opt_outs.c.id).where(
                opt_outs.c.workspace_id == workspace_id,
                opt_outs.c.phone == person.phone,
                opt_outs.c.channel == refusal["channel"],
                opt_outs.c.scope == "all",
                opt_outs.c.revoked_at.is_(None),
            )
        ).first()
        if covered is not None:
            continue
        conn.execute(
            insert(opt_outs).values(
                workspace_id=workspace_id,
                phone=person.phone,
                channel=refusal["channel"],
                scope="all",
                received_at=refusal["at"],
                effective_at=refusal["at"],
                source=str(refusal["source"])[:16],
            )
        )
        moved += 1
    return moved


def _consent_evidence(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(consents).where(consents.c.contact_id == contact_id).order_by(consents.c.id)
    ).mappings()
    keep = ("channel", "purpose", "method", "evidence", "given_at", "withdrawn_at", "source")
    return [{"reference": f"consent:{r['id']}", **{k: _plain(r[k]) for k in keep}} for r in rows]


def forget_person(store: Store, phone: str, *, actor: str) -> Forgotten:
    """Erase one person's profile and everything linked to it (Law 91/2025), keeping what the
    anti-spam law needs proved: refusals stay by number and keep suppressing advertising, the
    consent evidence stays in the audit log under a one-way token of the number, and the
    national DNC list is untouched (Decree 91/2020 Art 11.7: kept at least a year)."""
    with store.engine.begin() as conn:
        ws = store.workspace_id
        person = find_contact(conn, workspace_id=ws, phone=phone)
        cid = int(person.id)
        moved = _keep_refusals(conn, ws, person)
        evidence = _consent_evidence(conn, cid)
        removed: dict[str, int] = {}
        # Deleted explicitly rather than by ON DELETE CASCADE, so the counts can be reported.
        for name, table in (
            ("tags", contact_tags),
            ("channels", channel_states),
            ("consents", consents),
            ("events", events),
            ("stats", contact_stats),
        ):
            removed[name] = int(
                conn.execute(delete(table).where(table.c.contact_id == cid)).rowcount
            )
        conn.execute(delete(contacts).where(contacts.c.id == cid))
        removed["contact"] = 1
        kept = int(
            conn.execute(
                select(func.count())
                .select_from(opt_outs)
                .where(opt_outs.c.workspace_id == ws, opt_outs.c.phone == person.phone)
            ).scalar_one()
        )
        listed = (
            conn.execute(
                select(dnc_numbers.c.phone).where(
                    dnc_numbers.c.workspace_id == ws, dnc_numbers.c.phone == person.phone
                )
            ).first()
            is not None
        )
        fingerprint = phone_fingerprint(person.phone)
        record(
            conn,
            workspace_id=ws,
            actor=actor,
            action=FORGET_ACTION,
            target=mask_phone(person.phone),
            details={
                "fingerprint": fingerprint,
                "removed": removed,
                "kept": {"opt_outs": kept, "opt_outs_moved": moved, "dnc_list": listed},
                "consents": evidence,
            },
        )
    return Forgotten(person.phone, fingerprint, removed, kept, moved, len(evidence), listed)


def count_contacts(store: Store) -> int:
    """How many contacts the workspace has."""
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(contacts)
                .where(contacts.c.workspace_id == store.workspace_id)
            ).scalar_one()
        )


def list_contacts(store: Store, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    """A page of contacts, newest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                contacts.c.phone,
                contacts.c.name,
                contacts.c.province,
                contacts.c.carrier,
                contacts.c.email,
                contacts.c.birthday,
            )
            .where(contacts.c.workspace_id == store.workspace_id)
            .order_by(contacts.c.id.desc())
            .limit(limit)
            .offset(offset)
        ).mappings()
        return [{k: _plain(v) for k, v in row.items()} for row in rows]
