"""Contacts (CRUD, import, export, erase) and events (one or a batch)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Connection, func, insert, or_, select, update

from loa.api.common import Cursor, IdPath, Limit, decode_cursor, page, plain, workspace_store
from loa.api.deps import get_store, require
from loa.api.errors import ApiError, not_found, request_lang
from loa.domain.phones import parse_phone
from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.services.accounts import Principal
from loa.services.contacts.importer import import_contacts
from loa.services.contacts.people import export_person, forget_person
from loa.services.events import record_event
from loa.store.tables import contacts

router = APIRouter(tags=["contacts"])

BAD_PHONE = Msg(
    "api.bad_phone",
    "Số điện thoại '{value}' không hợp lệ: {reason}",
    "The phone number '{value}' is not valid: {reason}",
)
PHONE_TAKEN = Msg(
    "api.phone_taken",
    "Đã có liên hệ với số {phone} (#{id}); sửa liên hệ đó bằng PATCH /api/v1/contacts/{id}.",
    "There is already a contact with {phone} (#{id}); change it with PATCH /api/v1/contacts/{id}.",
)

UNREADABLE = Msg(
    "api.unreadable_file",
    "Không đọc được tệp '{name}' ({error}); gửi tệp CSV (UTF-8) hoặc XLSX có dòng tiêu đề.",
    "The file '{name}' could not be read ({error}); send a CSV (UTF-8) or XLSX file with a "
    "header row.",
)

log = logging.getLogger("loa.api")

PUBLIC = (
    contacts.c.id,
    contacts.c.phone,
    contacts.c.name,
    contacts.c.email,
    contacts.c.gender,
    contacts.c.birthday,
    contacts.c.province,
    contacts.c.carrier,
    contacts.c.attrs,
    contacts.c.source,
    contacts.c.dnc,
    contacts.c.created_at,
    contacts.c.updated_at,
)

Read = Annotated[Principal, Depends(require("contacts:read"))]
Write = Annotated[Principal, Depends(require("contacts:write"))]


class NewContact(BaseModel):
    phone: str = Field(max_length=40)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    gender: Literal["male", "female", "other"] | None = None
    birthday: date | None = None
    province: str | None = Field(default=None, max_length=80)
    attrs: dict[str, Any] | None = None


class ContactChange(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    gender: Literal["male", "female", "other"] | None = None
    birthday: date | None = None
    province: str | None = Field(default=None, max_length=80)
    attrs: dict[str, Any] | None = None


class NewEvent(BaseModel):
    phone: str = Field(max_length=40)
    type: str = Field(min_length=1, max_length=48)
    occurred_at: AwareDatetime | None = None
    value_vnd: int | None = Field(default=None, ge=0, le=10**15)
    category: str | None = Field(default=None, max_length=80)
    properties: dict[str, Any] | None = None
    external_id: str | None = Field(default=None, max_length=128)


class EventBatch(BaseModel):
    events: list[NewEvent] = Field(max_length=1000)


def _contact(conn: Connection, principal: Principal, contact_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(*PUBLIC).where(
            contacts.c.workspace_id == principal.workspace_id, contacts.c.id == contact_id
        )
    ).first()
    if row is None:
        raise not_found("contact", contact_id)
    return plain(row)  # type: ignore[no-any-return]


@router.get("/contacts")
def contacts_list(
    request: Request,
    principal: Read,
    q: str | None = None,
    limit: int = Limit,
    cursor: str | None = Cursor,
) -> dict[str, Any]:
    """Contacts, newest first; `q` searches phone, name and email."""
    after = decode_cursor(cursor)
    query = (
        select(*PUBLIC)
        .where(contacts.c.workspace_id == principal.workspace_id)
        .order_by(contacts.c.id.desc())
        .limit(limit + 1)
    )
    if isinstance(after, int):
        query = query.where(contacts.c.id < after)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(
            or_(
                contacts.c.phone.like(like),
                func.lower(contacts.c.name).like(like),
                func.lower(contacts.c.email).like(like),
            )
        )
    with get_store(request).engine.connect() as conn:
        rows = [plain(r) for r in conn.execute(query)]
    return page(rows, limit)


@router.post("/contacts", status_code=201)
def contacts_create(body: NewContact, request: Request, principal: Write) -> dict[str, Any]:
    """Add one contact (for many, use POST /contacts/import)."""
    parsed = parse_phone(body.phone)
    if not parsed.valid or parsed.e164 is None:
        raise ApiError(BAD_PHONE, field="phone", value=body.phone, reason=parsed.reason_text())
    now = datetime.now(UTC)
    with get_store(request).engine.begin() as conn:
        existing = conn.execute(
            select(contacts.c.id).where(
                contacts.c.workspace_id == principal.workspace_id,
                contacts.c.phone == parsed.e164,
            )
        ).scalar()
        if existing is not None:
            raise ApiError(PHONE_TAKEN, status=409, field="phone", phone=parsed.e164, id=existing)
        name = body.name.strip() if body.name else None
        contact_id = conn.execute(
            insert(contacts)
            .values(
                workspace_id=principal.workspace_id,
                phone=parsed.e164,
                name=name,
                given_name=name.split()[-1] if name else None,
                email=body.email,
                gender=body.gender,
                birthday=body.birthday,
                birth_mmdd=body.birthday.month * 100 + body.birthday.day if body.birthday else None,
                province=body.province,
                carrier=parsed.carrier,
                phone_type=parsed.type,
                legacy_converted=parsed.legacy_converted,
                attrs=body.attrs,
                source="api",
                created_at=now,
                updated_at=now,
            )
            .returning(contacts.c.id)
        ).scalar_one()
        audit.record(
            conn,
            workspace_id=principal.workspace_id,
            actor=principal.actor,
            action="contact.create",
            target=f"contact:{contact_id}",
        )
        return _contact(conn, principal, int(contact_id))


@router.get("/contacts/{contact_id}")
def contacts_get(contact_id: IdPath, request: Request, principal: Read) -> dict[str, Any]:
    """One contact."""
    with get_store(request).engine.connect() as conn:
        return _contact(conn, principal, contact_id)


@router.patch("/contacts/{contact_id}")
def contacts_change(
    contact_id: IdPath, body: ContactChange, request: Request, principal: Write
) -> dict[str, Any]:
    """Change a contact's details (the phone number is who they are: it does not change)."""
    values = body.model_dump(exclude_unset=True)
    if "name" in values:
        name = values["name"].strip() if values["name"] else None
        values["name"] = name
        values["given_name"] = name.split()[-1] if name else None
    if "birthday" in values:
        day = values["birthday"]
        values["birth_mmdd"] = day.month * 100 + day.day if day else None
    with get_store(request).engine.begin() as conn:
        _contact(conn, principal, contact_id)
        if values:
            conn.execute(
                update(contacts)
                .where(contacts.c.id == contact_id)
                .values(**values, updated_at=datetime.now(UTC))
            )
        return _contact(conn, principal, contact_id)


@router.get("/contacts/{contact_id}/export")
def contacts_export(
    contact_id: IdPath,
    request: Request,
    principal: Annotated[Principal, Depends(require("contacts:export"))],
) -> dict[str, Any]:
    """Everything Loa keeps about one person (audited)."""
    with get_store(request).engine.connect() as conn:
        phone = _contact(conn, principal, contact_id)["phone"]
    return export_person(workspace_store(request, principal), phone, actor=principal.actor)


@router.delete("/contacts/{contact_id}")
def contacts_erase(
    contact_id: IdPath,
    request: Request,
    principal: Annotated[Principal, Depends(require("contacts:erase"))],
) -> dict[str, Any]:
    """Erase one person and what is linked to them, keeping what the law requires (audited)."""
    with get_store(request).engine.connect() as conn:
        phone = _contact(conn, principal, contact_id)["phone"]
    return plain(forget_person(workspace_store(request, principal), phone, actor=principal.actor))  # type: ignore[no-any-return]


@router.post("/contacts/import")
async def contacts_import(
    request: Request,
    principal: Write,
    file: UploadFile,
    on_conflict: Annotated[Literal["update", "skip"], Form()] = "update",
    source: Annotated[str | None, Form(max_length=200)] = None,
) -> dict[str, Any]:
    """Import a CSV or XLSX file; the answer counts the rows and lists each invalid one."""
    suffix = Path(file.filename or "contacts.csv").suffix.lower()
    if suffix not in (".csv", ".xlsx", ".txt"):
        suffix = ".csv"
    store = workspace_store(request, principal)
    with tempfile.TemporaryDirectory(prefix="loa-import-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(await file.read())
        try:
            report = await asyncio.to_thread(
                import_contacts,
                store,
                path,
                on_conflict=on_conflict,
                source=source or file.filename or "api",
                actor=principal.actor,
            )
        except LoaError:
            raise
        except Exception as exc:
            # A file the reader chokes on is the caller's to fix, not a server fault.
            log.warning("unreadable import file %r", file.filename, exc_info=True)
            raise ApiError(
                UNREADABLE, status=422, field="file", name=file.filename or "?", error=exc
            ) from exc
        summary = report.summary()
    summary.pop("invalid_file", None)
    return plain(summary)  # type: ignore[no-any-return]


def _record(conn: Connection, principal: Principal, event: NewEvent) -> dict[str, Any]:
    event_id = record_event(
        conn,
        workspace_id=principal.workspace_id,
        phone=event.phone,
        type=event.type,
        occurred_at=event.occurred_at or datetime.now(UTC),
        value_vnd=event.value_vnd,
        category=event.category,
        properties=event.properties,
        external_id=event.external_id,
    )
    return {"id": event_id, "duplicate": event_id is None}


@router.post("/events", status_code=201)
def events_create(
    body: NewEvent,
    request: Request,
    principal: Annotated[Principal, Depends(require("events:write"))],
) -> dict[str, Any]:
    """Record one event (an order, a visit…); a repeated external_id is reported, not stored."""
    with get_store(request).engine.begin() as conn:
        return _record(conn, principal, body)


@router.post("/events/batch")
def events_batch(
    body: EventBatch,
    request: Request,
    principal: Annotated[Principal, Depends(require("events:write"))],
) -> dict[str, Any]:
    """Record up to 1000 events; each answers on its own (one bad row fails only itself)."""
    results: list[dict[str, Any]] = []
    engine = get_store(request).engine
    lang = request_lang(request)
    for n, event in enumerate(body.events):
        # One transaction per event: a bad row must not undo the good ones before it.
        try:
            with engine.begin() as conn:
                results.append({"index": n, **_record(conn, principal, event)})
        except LoaError as exc:
            results.append({"index": n, "error": {"code": exc.code, "message": exc.render(lang)}})
    return {
        "recorded": sum(1 for r in results if r.get("id")),
        "duplicates": sum(1 for r in results if r.get("duplicate")),
        "failed": sum(1 for r in results if "error" in r),
        "results": results,
    }
