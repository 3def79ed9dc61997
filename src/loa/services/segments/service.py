"""Segment use cases: create, list, get, delete, count and preview. Plain functions that take
the connection; the caller owns the transaction. Every query is limited to one workspace."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, and_, delete, func, insert, select

from loa.i18n import Lang, LoaError, Msg
from loa.services.segments.builtins import BUILTINS
from loa.services.segments.compile import Condition, compile_rule
from loa.services.segments.rules import parse_rule
from loa.store.tables import contact_stats, contacts, segments

MAX_NAME: Final = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

NAME_RESERVED = Msg(
    "segments.name_reserved",
    "'{name}' là tên phân khúc có sẵn; chọn tên khác. Tên có sẵn: {builtins}.",
    "'{name}' is a built-in segment; choose another name. Built-in names: {builtins}.",
)
NAME_INVALID = Msg(
    "segments.name_invalid",
    "Tên phân khúc '{name}' không hợp lệ: cần 1–{max} ký tự, không bắt đầu bằng '{{', không có "
    "ký tự điều khiển.",
    "The segment name '{name}' is not valid: use 1–{max} characters, not starting with '{{', "
    "without control characters.",
)
NAME_TAKEN = Msg(
    "segments.name_taken",
    "Đã có phân khúc tên '{name}'; chọn tên khác hoặc xoá phân khúc cũ (loa segments delete).",
    "A segment named '{name}' already exists; choose another name or delete the old one "
    "(loa segments delete).",
)
UNKNOWN_SEGMENT = Msg(
    "segments.unknown",
    "Không có phân khúc '{name}'. Các phân khúc hiện có: {known}.",
    "There is no segment '{name}'. Existing segments: {known}.",
)
BUILTIN_READONLY = Msg(
    "segments.builtin_readonly",
    "'{name}' là phân khúc có sẵn, không xoá được.",
    "'{name}' is a built-in segment and cannot be deleted.",
)


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment as the marketer sees it: built-in or stored, with its count when asked."""

    name: str
    rule: dict[str, Any]
    builtin: bool
    label: Msg | None = None
    description: str | None = None
    count: int | None = None

    def title(self, lang: Lang | None = None) -> str:
        """What to show beside the name: the built-in label or the stored description."""
        if self.label is not None:
            return self.label.render(lang)
        return self.description or ""


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One member of a segment, as the marketer checks it before sending."""

    phone: str
    name: str | None
    province: str | None
    carrier: str | None
    orders_count: int
    total_spend_vnd: int


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _builtin(name: str) -> Segment:
    spec = BUILTINS[name]
    return Segment(name=name, rule=spec.rule, builtin=True, label=spec.label)


def check_name(name: str) -> str:
    """The name, stripped, if a new segment may take it; else a LoaError that says why."""
    cleaned = name.strip()
    if (
        not cleaned
        or len(cleaned) > MAX_NAME
        or cleaned.startswith("{")
        or _CONTROL.search(cleaned)
    ):
        raise LoaError(NAME_INVALID, name=name, max=MAX_NAME)
    if cleaned.casefold() in BUILTINS:
        raise LoaError(NAME_RESERVED, name=cleaned, builtins=", ".join(BUILTINS))
    return cleaned


def create_segment(
    conn: Connection,
    *,
    workspace_id: int,
    name: str,
    rule: Mapping[str, Any],
    description: str | None = None,
) -> Segment:
    """Store a new segment after checking its name and its rule."""
    cleaned = check_name(name)
    parse_rule(rule)
    taken = conn.execute(
        select(segments.c.id).where(
            segments.c.workspace_id == workspace_id, segments.c.name == cleaned
        )
    ).first()
    if taken is not None:
        raise LoaError(NAME_TAKEN, name=cleaned)
    now = datetime.now(UTC)
    stored = dict(rule)
    conn.execute(
        insert(segments).values(
            workspace_id=workspace_id,
            name=cleaned,
            description=description,
            rule=stored,
            created_at=now,
            updated_at=now,
        )
    )
    return Segment(name=cleaned, rule=stored, builtin=False, description=description)


def _stored(conn: Connection, workspace_id: int) -> list[Segment]:
    rows = conn.execute(
        select(segments.c.name, segments.c.rule, segments.c.description)
        .where(segments.c.workspace_id == workspace_id)
        .order_by(segments.c.name)
    ).all()
    return [Segment(name=n, rule=dict(r), builtin=False, description=d) for n, r, d in rows]


def list_segments(
    conn: Connection,
    *,
    workspace_id: int,
    counts: bool = False,
    now: datetime | None = None,
) -> list[Segment]:
    """The built-in segments, then the stored ones by name; with member counts when asked."""
    found = [_builtin(name) for name in BUILTINS] + _stored(conn, workspace_id)
    if not counts:
        return found
    when = _now(now)
    return [
        replace(s, count=count_segment(conn, workspace_id=workspace_id, segment=s, now=when))
        for s in found
    ]


def get_segment(conn: Connection, *, workspace_id: int, name: str) -> Segment:
    """A built-in or stored segment by name, or a LoaError that lists the known names."""
    if name in BUILTINS:
        return _builtin(name)
    row = conn.execute(
        select(segments.c.rule, segments.c.description).where(
            segments.c.workspace_id == workspace_id, segments.c.name == name
        )
    ).first()
    if row is None:
        known = [*BUILTINS, *(s.name for s in _stored(conn, workspace_id))]
        raise LoaError(UNKNOWN_SEGMENT, name=name, known=", ".join(known))
    return Segment(name=name, rule=dict(row.rule), builtin=False, description=row.description)


def delete_segment(conn: Connection, *, workspace_id: int, name: str) -> None:
    """Delete a stored segment; built-in ones cannot be deleted."""
    if name in BUILTINS:
        raise LoaError(BUILTIN_READONLY, name=name)
    get_segment(conn, workspace_id=workspace_id, name=name)
    conn.execute(
        delete(segments).where(segments.c.workspace_id == workspace_id, segments.c.name == name)
    )


def _condition(
    conn: Connection, workspace_id: int, segment: str | Segment | Mapping[str, Any], now: datetime
) -> Condition:
    if isinstance(segment, str):
        rule: Mapping[str, Any] = get_segment(conn, workspace_id=workspace_id, name=segment).rule
    elif isinstance(segment, Segment):
        rule = segment.rule
    else:
        rule = segment
    return compile_rule(
        parse_rule(rule), workspace_id=workspace_id, now=now, dialect=conn.dialect.name
    )


def segment_members(
    conn: Connection,
    *,
    workspace_id: int,
    segment: str | Segment | Mapping[str, Any],
    now: datetime | None = None,
) -> Condition:
    """The WHERE condition on `contacts` for a segment (name, Segment or rule) in a workspace."""
    return and_(
        contacts.c.workspace_id == workspace_id,
        _condition(conn, workspace_id, segment, _now(now)),
    )


def count_segment(
    conn: Connection,
    *,
    workspace_id: int,
    segment: str | Segment | Mapping[str, Any],
    now: datetime | None = None,
) -> int:
    """How many contacts the segment (a name, a Segment or a rule) holds as of `now`."""
    where = segment_members(conn, workspace_id=workspace_id, segment=segment, now=now)
    return int(conn.execute(select(func.count()).select_from(contacts).where(where)).scalar_one())


def preview_segment(
    conn: Connection,
    *,
    workspace_id: int,
    segment: str | Segment | Mapping[str, Any],
    limit: int = 20,
    now: datetime | None = None,
) -> list[PreviewRow]:
    """The first `limit` members (oldest contacts first) with their purchase figures."""
    where = segment_members(conn, workspace_id=workspace_id, segment=segment, now=now)
    c, s = contacts.c, contact_stats.c
    rows = conn.execute(
        select(
            c.phone,
            c.name,
            c.province,
            c.carrier,
            func.coalesce(s.orders_count, 0),
            func.coalesce(s.total_spend_vnd, 0),
        )
        .select_from(contacts.outerjoin(contact_stats, s.contact_id == c.id))
        .where(where)
        .order_by(c.id)
        .limit(limit)
    ).all()
    return [
        PreviewRow(
            phone=phone,
            name=name,
            province=province,
            carrier=carrier,
            orders_count=int(orders),
            total_spend_vnd=int(spend),
        )
        for phone, name, province, carrier, orders, spend in rows
    ]
