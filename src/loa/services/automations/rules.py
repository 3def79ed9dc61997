"""Automation rules: what they are made of, how they are written down, created and listed.

A rule says: on this event (or this daily date rule), for contacts meeting these conditions,
send this template under this sender, at this time, on these channels in order (each later
one a fallback for the one before), at most this often.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update

from loa.domain.compose import OptOut, frame_template
from loa.domain.templates import parse
from loa.i18n import Lang, LoaError, Msg
from loa.services import audit
from loa.services.automations.builtins import (
    BUILTINS,
    DAILY_TYPES,
    subject_prop,
)
from loa.services.compliance.brandnames import find_brandname, workspace_pack
from loa.services.compliance.templates import find_template
from loa.services.segments.rules import parse_rule
from loa.store.tables import automations, message_templates

VN: Final = ZoneInfo("Asia/Ho_Chi_Minh")
CHANNELS: Final = ("push", "sms")
TYPE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,47}$")
NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$")
OPS: Final = ("==", "!=", ">=", "<=", ">", "<")
_COND_RE: Final = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(==|!=|>=|<=|>|<|=)\s*([^=<>!\s].*?)\s*$"
)
_DELAY_RE: Final = re.compile(r"^(\d+)\s*(m|min|h|d)?$")
_REL_RE: Final = re.compile(r"^(\d+)\s*(m|h|d)\s+(before|after)\s+([a-z_][a-z0-9_]*)$")
_AT_RE: Final = re.compile(r"^(?:at\s+)?(\d{1,2}):(\d{2})$")

# --- messages -------------------------------------------------------------------------------

BAD_EVENT = Msg(
    "automations.bad_event",
    "Loại sự kiện '{value}' không hợp lệ; dùng chữ thường không dấu, số và _ (ví dụ "
    "order_completed), hoặc một quy tắc hằng ngày: {daily}.",
    "The event type '{value}' is not valid; use lower-case letters, digits and _ (e.g. "
    "order_completed), or a daily rule: {daily}.",
)
BAD_NAME = Msg(
    "automations.bad_name",
    "Tên tự động hoá '{value}' không hợp lệ: chữ, số, khoảng trắng, '-', '_' hoặc '.', tối đa "
    "100 ký tự.",
    "The automation name '{value}' is not valid: letters, digits, spaces, '-', '_' or '.', at "
    "most 100 characters.",
)
NAME_TAKEN = Msg(
    "automations.name_taken",
    "Đã có tự động hoá tên '{name}'; chọn tên khác (--name).",
    "An automation named '{name}' already exists; choose another name (--name).",
)
UNKNOWN = Msg(
    "automations.unknown",
    "Không có tự động hoá '{name}' (xem: loa automations list).",
    "There is no automation '{name}' (see: loa automations list).",
)
UNKNOWN_TEMPLATE = Msg(
    "automations.unknown_template",
    "Không có mẫu '{name}': đăng ký mẫu (loa templates add) hoặc dùng một mẫu có sẵn: {known}.",
    "There is no template '{name}': register one (loa templates add) or use a ready one: {known}.",
)
_APPROVAL_VI = (
    "Tin CSKH phải theo mẫu đã được nhà mạng duyệt, mà mẫu '{{name}}' {why}. Đăng ký và duyệt "
    "mẫu: loa automations templates --register, rồi loa templates add {{name}} --class cskh "
    '--approved --replace --text "...".'
)
_APPROVAL_EN = (
    "Customer-care messages must follow a template the carriers approved, and the template "
    "'{{name}}' {why}. Register and approve it: loa automations templates --register, then loa "
    'templates add {{name}} --class cskh --approved --replace --text "...".'
)
NOT_REGISTERED = Msg(
    "automations.template_missing",
    _APPROVAL_VI.format(why="chưa được đăng ký"),
    _APPROVAL_EN.format(why="is not registered"),
)
NOT_APPROVED = Msg(
    "automations.template_unapproved",
    _APPROVAL_VI.format(why="chưa được duyệt"),
    _APPROVAL_EN.format(why="is not approved"),
)
NOT_CSKH = Msg(
    "automations.template_not_cskh",
    _APPROVAL_VI.format(why="không phải mẫu CSKH"),
    _APPROVAL_EN.format(why="is not a CSKH template"),
)
UNKNOWN_SENDER = Msg(
    "automations.unknown_sender",
    "Brandname '{sender}' chưa được đăng ký trong workspace; thêm nó trước (loa brandnames add).",
    "The brandname '{sender}' is not registered in this workspace; add it first (loa "
    "brandnames add).",
)
BAD_CHANNELS = Msg(
    "automations.bad_channels",
    "Kênh '{value}' không hợp lệ; liệt kê theo thứ tự, cách nhau bởi dấu phẩy, trong số: "
    "{known} (ví dụ push,sms).",
    "The channels '{value}' are not valid; list them in order, comma-separated, from: {known} "
    "(e.g. push,sms).",
)
BAD_DELAY = Msg(
    "automations.bad_delay",
    "Thời điểm gửi '{value}' không hợp lệ; viết: now, 30m, 2h, 1d (sau sự kiện), 09:00 (giờ "
    "trong ngày), hoặc '24h before starts_at' / '2h after due_date' (so với thời điểm trong sự "
    "kiện).",
    "The send time '{value}' is not valid; write: now, 30m, 2h, 1d (after the event), 09:00 "
    "(a time of day), or '24h before starts_at' / '2h after due_date' (relative to a time in "
    "the event).",
)
DAILY_NEEDS_TIME = Msg(
    "automations.daily_time",
    "Quy tắc hằng ngày '{event}' gửi vào một giờ trong ngày: dùng --delay 09:00.",
    "The daily rule '{event}' sends at a time of day: use --delay 09:00.",
)
BAD_CONDITION = Msg(
    "automations.bad_condition",
    "Điều kiện '{value}' không hợp lệ; viết dạng thuoc_tinh>=gia_tri, ví dụ total>=500000 "
    "hoặc city==HN (phép so sánh: == != >= <= > <).",
    "The condition '{value}' is not valid; write property>=value, e.g. total>=500000 or "
    "city==HN (comparisons: == != >= <= > <).",
)
BAD_NUMBER = Msg(
    "automations.bad_number",
    "{field} phải là số nguyên dương, không phải {value}.",
    "{field} must be a positive whole number, not {value}.",
)

STATE_ACTIVE: Final = "active"
STATE_PAUSED: Final = "paused"


@dataclass(frozen=True, slots=True)
class Timing:
    """When a message leaves, relative to its event."""

    mode: str  # now / delay / at / before / after
    minutes: int = 0  # delay, before, after
    at: time | None = None  # mode "at": a time of day in Vietnam
    prop: str | None = None  # before / after: the event property holding the time

    def to_json(self) -> dict[str, Any]:
        """As stored."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.mode in ("delay", "before", "after"):
            out["minutes"] = self.minutes
        if self.at is not None:
            out["time"] = self.at.strftime("%H:%M")
        if self.prop is not None:
            out["prop"] = self.prop
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Timing:
        """From the stored (or built-in) form."""
        minutes = int(data.get("minutes", 0)) + 60 * int(data.get("hours", 0))
        raw = data.get("time")
        at = time.fromisoformat(raw) if raw else None
        return cls(str(data["mode"]), minutes, at, data.get("prop"))

    def describe(self) -> str:
        """Short, as the list shows it."""
        if self.mode == "now":
            return "now"
        if self.mode == "delay":
            return f"+{self.minutes}m"
        if self.mode == "at":
            assert self.at is not None
            return self.at.strftime("%H:%M")
        return f"{self.minutes // 60}h {self.mode} {self.prop}"


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on an event property."""

    prop: str
    op: str
    value: Any

    def holds(self, props: Mapping[str, Any]) -> bool:
        """True when the event's property passes the test (a missing one never does)."""
        current: Any = props
        for step in self.prop.split("."):
            if not isinstance(current, Mapping) or step not in current:
                return False
            current = current[step]
        want = self.value
        if isinstance(want, int | float) and not isinstance(want, bool):
            try:
                current = float(current)
            except (TypeError, ValueError):
                return False
        else:
            current = str(current)
            want = str(want)
        match self.op:
            case "==":
                return bool(current == want)
            case "!=":
                return bool(current != want)
            case ">=":
                return bool(current >= want)
            case "<=":
                return bool(current <= want)
            case ">":
                return bool(current > want)
            case _:
                return bool(current < want)


@dataclass(frozen=True, slots=True)
class Automation:
    """A stored rule."""

    id: int
    workspace_id: int
    name: str
    event: str
    also: tuple[str, ...]
    template: str
    text: str
    cls: str
    sender: str
    channels: tuple[str, ...]
    fallback_after_s: int | None
    timing: Timing
    conditions: tuple[Condition, ...]
    segment: Any  # a segment name or rule the contact must be in, or None
    limit_days: int | None
    voucher: Mapping[str, Any] | None
    params: Mapping[str, Any]
    subject: str | None
    priority: int
    state: str
    created_at: datetime

    @property
    def events(self) -> tuple[str, ...]:
        """Every event type the rule answers."""
        return (self.event, *self.also)

    @property
    def daily(self) -> bool:
        """True for a date-driven rule."""
        return self.event.startswith("daily:")

    def to_dict(self) -> dict[str, Any]:
        """As `--json` and the API show it."""
        return {
            "id": self.id,
            "name": self.name,
            "events": list(self.events),
            "template": self.template,
            "text": self.text,
            "class": self.cls,
            "sender": self.sender,
            "channels": list(self.channels),
            "fallback_after_s": self.fallback_after_s,
            "timing": self.timing.to_json(),
            "conditions": [{"prop": c.prop, "op": c.op, "value": c.value} for c in self.conditions],
            "segment": self.segment,
            "limit_days": self.limit_days,
            "voucher": dict(self.voucher) if self.voucher else None,
            "params": dict(self.params),
            "state": self.state,
            "created_at": self.created_at.isoformat(),
        }


def automation_from_row(row: Any) -> Automation:
    """A rule as stored (a row of `automations`) made an `Automation`."""
    return _row(row)


def _row(row: Any) -> Automation:
    conditions = row.conditions or {}
    params = dict(row.params or {})
    return Automation(
        id=int(row.id),
        workspace_id=int(row.workspace_id),
        name=row.name,
        event=row.event,
        also=tuple(params.pop("also", ())),
        template=row.template,
        text=row.text,
        cls=row._mapping["class"],
        sender=row.sender,
        channels=tuple(row.channels),
        fallback_after_s=row.fallback_after_s,
        timing=Timing.from_json(row.timing),
        conditions=tuple(Condition(**c) for c in conditions.get("event", ())),
        segment=conditions.get("segment"),
        limit_days=row.limit_days,
        voucher=row.voucher,
        params=params,
        subject=row.subject,
        priority=int(row.priority),
        state=row.state,
        created_at=row.created_at,
    )


# --- parsing what people write ----------------------------------------------------------------


def parse_delay(text: str) -> Timing:
    """`now`, `30m`, `2h`, `1d`, `09:00`, `24h before starts_at`, `2h after due_date`."""
    value = text.strip().lower()
    if value in ("now", "0", "ngay"):
        return Timing("now")
    unit_minutes = {"m": 1, "min": 1, "h": 60, "d": 1440, None: 1}
    if m := _DELAY_RE.match(value):
        minutes = int(m.group(1)) * unit_minutes[m.group(2)]
        return Timing("delay", minutes) if minutes else Timing("now")
    if m := _AT_RE.match(value):
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour < 24 and minute < 60:
            return Timing("at", at=time(hour, minute))
    if m := _REL_RE.match(value):
        minutes = int(m.group(1)) * unit_minutes[m.group(2)]
        return Timing(m.group(3), minutes, prop=m.group(4))
    raise LoaError(BAD_DELAY, value=text)


def parse_channels(text: str | Sequence[str]) -> tuple[str, ...]:
    """`push,sms` -> ("push", "sms"): each known, none twice, at least one."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(i.strip().lower() for i in items if i.strip())
    if not names or len(set(names)) != len(names) or any(n not in CHANNELS for n in names):
        shown = text if isinstance(text, str) else ",".join(text)
        raise LoaError(BAD_CHANNELS, value=shown, known=", ".join(CHANNELS))
    return names


def parse_condition(text: str) -> Condition:
    """`total>=500000`, `city==HN`: numbers compare as numbers, anything else as text."""
    m = _COND_RE.match(text)
    if m is None:
        raise LoaError(BAD_CONDITION, value=text)
    prop, op, raw = m.group(1), m.group(2), m.group(3).strip().strip("\"'")
    value: Any = raw
    try:
        value = int(raw)
    except ValueError:
        try:
            value = float(raw)
        except ValueError:
            value = raw
    return Condition(prop, "==" if op == "=" else op, value)


# --- the store --------------------------------------------------------------------------------


def _template_text(
    conn: Connection, workspace_id: int, name: str, lang: Lang
) -> tuple[str, str, bool]:
    """(text, class, approved) of a registered template, else of a built-in one."""
    found = conn.execute(
        select(message_templates.c.id).where(
            message_templates.c.workspace_id == workspace_id, message_templates.c.name == name
        )
    ).first()
    if found is not None:
        t = find_template(conn, workspace_id, name)
        return t.text, t.cls, t.approved and t.cls == "cskh"
    builtin = BUILTINS.get(name)
    if builtin is None:
        raise LoaError(UNKNOWN_TEMPLATE, name=name, known=", ".join(BUILTINS))
    return builtin.text(lang), builtin.cls, False


def create_automation(
    conn: Connection,
    *,
    workspace_id: int,
    event: str | Sequence[str],
    template: str,
    sender: str,
    name: str | None = None,
    timing: Timing | None = None,
    channels: Sequence[str] = ("sms",),
    fallback_after_s: int | None = None,
    conditions: Sequence[Condition] = (),
    segment: Any = None,
    limit_days: int | None = None,
    voucher: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    actor: str = "cli",
    now: datetime | None = None,
) -> Automation:
    """Validate and store a rule; errors name the option and the fix."""
    now = now or datetime.now(UTC)
    types = [event] if isinstance(event, str) else list(event)
    types = [t.strip().lower() for t in types]
    for kind in types:
        if not TYPE_RE.match(kind) or (kind.startswith("daily:") and kind not in DAILY_TYPES):
            raise LoaError(BAD_EVENT, value=kind, daily=", ".join(DAILY_TYPES))
    builtin = BUILTINS.get(template)
    if builtin is not None and builtin.event == types[0]:
        types += [t for t in builtin.also if t not in types]
    primary, also = types[0], types[1:]
    default = template if builtin and builtin.event == primary else f"{template}-{primary}"
    name = (name or default.replace(":", "-")).strip()
    if not NAME_RE.match(name):
        raise LoaError(BAD_NAME, value=name)
    pack = workspace_pack(conn, workspace_id)
    lang: Lang = "vi" if pack.code == "vn" else "en"
    text, cls, approved = _template_text(conn, workspace_id, template, lang)
    if cls == "cskh" and pack.cskh_template_required and not approved:
        registered = conn.execute(
            select(message_templates.c["class"], message_templates.c.approved).where(
                message_templates.c.workspace_id == workspace_id,
                message_templates.c.name == template,
            )
        ).first()
        problem = (
            NOT_REGISTERED
            if registered is None
            else NOT_CSKH
            if registered[0] != "cskh"
            else NOT_APPROVED
        )
        raise LoaError(problem, name=template)
    brand = find_brandname(conn, workspace_id, sender)
    if brand is None:
        raise LoaError(UNKNOWN_SENDER, sender=sender)
    parsed = parse(text)  # a syntax error is the template's, named with its line
    if cls == "qc":  # refusal instructions must be there to frame a QC message
        optout = OptOut(brand.optout_keyword, brand.optout_shortcode, brand.hotline)
        frame_template(parsed, "qc", optout, lang, brand.name)
    timing = timing or (Timing.from_json(builtin.timing) if builtin else Timing("now"))
    if primary.startswith("daily:") and timing.mode != "at":
        raise LoaError(DAILY_NEEDS_TIME, event=primary)
    chain = parse_channels(channels)
    for label, number in (("--fallback-after", fallback_after_s), ("--limit-days", limit_days)):
        if number is not None and number <= 0:
            raise LoaError(BAD_NUMBER, field=label, value=number)
    if segment is not None and not isinstance(segment, str):
        parse_rule(segment)
    taken = conn.execute(
        select(automations.c.id).where(
            automations.c.workspace_id == workspace_id, automations.c.name == name
        )
    ).first()
    if taken is not None:
        raise LoaError(NAME_TAKEN, name=name)
    stored_params = dict(
        params if params is not None else (builtin.params or {}) if builtin else {}
    )
    if also:
        stored_params["also"] = also
    the_voucher = voucher if voucher is not None else (builtin.voucher if builtin else None)
    new_id = conn.execute(
        insert(automations)
        .values(
            workspace_id=workspace_id,
            name=name,
            event=primary,
            template=template,
            text=text,
            **{"class": cls},
            sender=brand.name,
            channels=list(chain),
            fallback_after_s=fallback_after_s,
            timing=timing.to_json(),
            conditions={
                "event": [{"prop": c.prop, "op": c.op, "value": c.value} for c in conditions],
                "segment": segment,
            },
            limit_days=limit_days,
            voucher=dict(the_voucher) if the_voucher else None,
            params=stored_params,
            subject=None if primary.startswith("daily:") else subject_prop(primary),
            priority=5 if cls == "cskh" else 1,
            state=STATE_ACTIVE,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        .returning(automations.c.id)
    ).scalar_one()
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="automation.create",
        target=name,
        details={"events": types, "template": template, "channels": list(chain)},
        now=now,
    )
    return get_automation(conn, workspace_id=workspace_id, name=str(new_id))


def get_automation(conn: Connection, *, workspace_id: int, name: str) -> Automation:
    """A rule by name, or by id written as digits."""
    where = automations.c.name == name
    if name.isdigit():
        where = where | (automations.c.id == int(name))
    row = conn.execute(
        select(automations).where(automations.c.workspace_id == workspace_id, where)
    ).first()
    if row is None:
        raise LoaError(UNKNOWN, name=name)
    return _row(row)


def list_automations(
    conn: Connection, *, workspace_id: int | None = None, active_only: bool = False
) -> list[Automation]:
    """Rules of a workspace (or of every workspace), by id."""
    query = select(automations).order_by(automations.c.id)
    if workspace_id is not None:
        query = query.where(automations.c.workspace_id == workspace_id)
    if active_only:
        query = query.where(automations.c.state == STATE_ACTIVE)
    return [_row(r) for r in conn.execute(query)]


def set_state(
    conn: Connection,
    *,
    workspace_id: int,
    name: str,
    state: str,
    actor: str = "cli",
    now: datetime | None = None,
) -> Automation:
    """Pause or resume a rule. A paused rule reacts to nothing; what it queued still goes."""
    now = now or datetime.now(UTC)
    found = get_automation(conn, workspace_id=workspace_id, name=name)
    conn.execute(
        update(automations).where(automations.c.id == found.id).values(state=state, updated_at=now)
    )
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action=f"automation.{'pause' if state == STATE_PAUSED else 'resume'}",
        target=found.name,
        now=now,
    )
    return get_automation(conn, workspace_id=workspace_id, name=str(found.id))


def send_time(timing: Timing, occurred_at: datetime, props: Mapping[str, Any]) -> datetime | None:
    """The instant a message should leave; None when the event lacks the time it needs."""
    if timing.mode == "now":
        return occurred_at
    if timing.mode == "delay":
        return occurred_at + timedelta(minutes=timing.minutes)
    if timing.mode == "at":
        assert timing.at is not None
        local = occurred_at.astimezone(VN)
        at = datetime.combine(local.date(), timing.at, tzinfo=VN)
        if at < local:
            at += timedelta(days=1)
        return at.astimezone(UTC)
    assert timing.prop is not None
    moment = event_time(props.get(timing.prop))
    if moment is None:
        return None
    sign = -1 if timing.mode == "before" else 1
    return moment + sign * timedelta(minutes=timing.minutes)


def event_time(value: Any) -> datetime | None:
    """A time given in an event property: ISO with or without an offset (then Vietnam time);
    a date alone means 09:00 that day in Vietnam."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=VN)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 10:  # a date: customers are told "on that day", reminded in the morning
        parsed = parsed.replace(hour=9)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=VN)
