"""One person's data: find, export everything Loa holds about them, erase them.

Export and erasure are the rights Law 91/2025 gives a data subject; both are recorded in the
audit log with the number masked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select

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
    events,
)

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


def forget_person(store: Store, phone: str, *, actor: str) -> dict[str, int]:
    """Erase one person and everything linked to them; returns what was removed."""
    with store.engine.begin() as conn:
        person = find_contact(conn, workspace_id=store.workspace_id, phone=phone)
        cid = int(person.id)
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
        record(
            conn,
            workspace_id=store.workspace_id,
            actor=actor,
            action="contacts.forget",
            target=mask_phone(person.phone),
            details={"fingerprint": phone_fingerprint(person.phone), "removed": removed},
        )
    return removed


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
