"""Evaluating rules: events in, outbox rows out, exactly once.

Every reaction is a run keyed by (rule, event) or (rule, contact, date), and its outbox row's
idempotency key is derived from the run's (`a<rule>:<run key>:<step>`): the same event posted
twice is recorded once (the event's own id), and a rule evaluated twice after a restart finds
its run and writes nothing. Reactions to events are written in the caller's transaction, so an
event is never stored without its reaction.

Each message goes through the compliance engine like a campaign's: customer care must render
from an approved template; advertising keeps the QC hours, caps, consent and DNC rules, and is
deferred (not dropped) when the hours say "later". The worker re-checks at send time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final

import polars as pl
from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from loa.domain.compliance.decide import MESSAGE_REASON_CLASSES, Rules, decide, rules_for
from loa.domain.compliance.packs import Pack, load_pack
from loa.domain.compliance.reasons import Reason
from loa.domain.compose import OptOut, frame_template
from loa.domain.templates import Template, parse
from loa.domain.vouchers import new_codes
from loa.i18n import Lang, LoaError
from loa.services.automations.builtins import CANCELLING, subject_prop
from loa.services.automations.rules import (
    STATE_ACTIVE,
    VN,
    Automation,
    automation_from_row,
    event_time,
    list_automations,
    send_time,
)
from loa.services.compliance.brandnames import Brandname, find_brandname, workspace_pack
from loa.services.compliance.brandnames import _row as brandname_from_row
from loa.services.compliance.check import judge_message
from loa.services.compliance.decisions import decide_batch, sender_reasons
from loa.services.compliance.templates import UNKNOWN as UNKNOWN_TEMPLATE
from loa.services.compliance.templates import Template as CheckedTemplate
from loa.services.compliance.templates import _row as template_from_row
from loa.services.compliance.templates import check_class
from loa.services.compose import contact_row
from loa.services.segments.service import segment_members
from loa.store.db import Store
from loa.store.tables import (
    automation_runs,
    automations,
    brandnames,
    contact_stats,
    contacts,
    events,
    message_templates,
    outbox,
    vouchers,
    workspaces,
)

log = logging.getLogger("loa.automations")

# An event older than this when it arrives (an imported history) gets no message.
STALE: Final = timedelta(hours=24)
# A "before" message whose moment passed more than this ago is skipped, not sent late.
LATE: Final = timedelta(minutes=5)
# Without a deadline a chain still falls back on failure, for this long.
FAILURE_WATCH: Final = timedelta(hours=24)
FAILED: Final = frozenset(
    {"failed", "rejected", "undelivered", "expired", "suppressed", "uncertain", "cancelled"}
)
WAITING: Final = ("queued", "planned")
_CONTACT_COLUMNS: Final = (
    "id",
    "phone",
    "name",
    "given_name",
    "gender",
    "birthday",
    "province",
    "email",
    "attrs",
    "created_at",
    "invalid_reason",
    "carrier",
)


@dataclass(slots=True)
class Report:
    """What one evaluation did."""

    queued: int = 0
    suppressed: int = 0
    skipped: int = 0
    cancelled: int = 0
    fell_back: int = 0
    already: int = 0
    vouchers: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # why the rule could not run at all

    def add(self, other: Report) -> None:
        """Fold another report into this one."""
        for name in ("queued", "suppressed", "skipped", "cancelled", "fell_back", "already"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.vouchers += other.vouchers
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v

    def to_dict(self) -> dict[str, Any]:
        """As `--json` prints it."""
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(slots=True)
class _Pending:
    """A message about to be written, or the reason it will not be."""

    rule: Automation
    run_key: str
    contact: Mapping[str, Any]
    at: datetime
    context: dict[str, Any]
    event_id: int | None = None
    subject: str | None = None
    step: int = 0
    expires_at: datetime | None = None
    voucher: dict[str, Any] | None = None
    skip: str | None = None
    text: str | None = None
    channel: str = "sms"
    to: str | None = None
    decision: str = "send"
    reasons: list[str] = field(default_factory=list)


@lru_cache(maxsize=8)
def _new_run(dialect: str) -> Any:
    """The run insert, built once: its values come as parameters (building a statement with
    `.values()` costs more Python than SQLite takes to run it)."""
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        make(automation_runs)
        .on_conflict_do_nothing(index_elements=["automation_id", "run_key"])
        .returning(automation_runs.c.id)
    )


@lru_cache(maxsize=8)
def _new_outbox(dialect: str) -> Any:
    """The outbox insert, built once (see `_new_run`)."""
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        make(outbox)
        .on_conflict_do_nothing(index_elements=["workspace_id", "idempotency_key"])
        .returning(outbox.c.id)
    )


_RUN_OUTBOX: Final = (
    update(automation_runs)
    .where(automation_runs.c.id == bindparam("run_id"))
    .values(outbox_id=bindparam("new_outbox_id"), watch_until=bindparam("new_watch_until"))
)
_CONTACTS_BY_ID: Final = select(*(contacts.c[name] for name in _CONTACT_COLUMNS)).where(
    contacts.c.id.in_(bindparam("ids", expanding=True))
)


def _lang(conn: Connection, workspace_id: int) -> Lang:
    return "vi" if workspace_pack(conn, workspace_id).code == "vn" else "en"


# --- context: what a message may name ---------------------------------------------------------


def event_context(
    props: Mapping[str, Any] | None,
    value_vnd: int | None,
    external_id: str | None,
    kind: str = "",
) -> dict[str, Any]:
    """The event as templates see it: its properties, its value and id, and for every property
    holding a time, `<prop>_time` and `<prop>_date` in Vietnam time. An order event without an
    `order_id` takes its own id (shop exports key orders by their number)."""
    out: dict[str, Any] = dict(props or {})
    if kind.startswith("order_") and "order_id" not in out and external_id is not None:
        out["order_id"] = external_id
    for key, value in list(out.items()):
        if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-":
            moment = event_time(value)
            if moment is not None:
                local = moment.astimezone(VN)
                out.setdefault(f"{key}_time", local.strftime("%H:%M"))
                out.setdefault(f"{key}_date", local.strftime("%d/%m/%Y"))
    if value_vnd is not None:
        out.setdefault("value_vnd", value_vnd)
    if external_id is not None:
        out.setdefault("id", external_id)
    return out


def _contacts(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    wanted = sorted(set(ids))
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(_CONTACTS_BY_ID, {"ids": wanted[start : start + 500]})
        for row in rows:
            found[int(row.id)] = dict(row._mapping)
    return found


# --- reacting to events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What a rule reads of an event; `id` is None while the event is not stored yet."""

    id: int | None
    type: str
    contact_id: int
    occurred_at: datetime
    value_vnd: int | None = None
    properties: Mapping[str, Any] | None = None
    external_id: str | None = None


@dataclass(slots=True)
class Reaction:
    """The messages events call for, rendered and judged; written by `apply`.

    Preparing before the event is stored keeps the write transaction (on SQLite, the one
    writer's lock) as short as the inserts themselves."""

    workspace_id: int
    now: datetime
    cancels: list[tuple[str, str]] = field(default_factory=list)  # (subject, event type)
    items: list[_Pending] = field(default_factory=list)

    def apply(self, conn: Connection, event_id: int | None = None) -> Report:
        """Write the reaction; `event_id` names the event it was prepared for, once stored."""
        report = Report()
        for subject, reason in self.cancels:
            report.cancelled += cancel_subject(
                conn, workspace_id=self.workspace_id, subject=subject, reason=reason, now=self.now
            )
        for item in self.items:
            if event_id is not None:
                item.event_id = event_id
                item.run_key = f"e{event_id}"
            _persist(conn, self.workspace_id, item, self.now, report)
        return report


_ACTIVE_RULES: Final = (
    select(automations)
    .where(
        automations.c.workspace_id == bindparam("ws"),
        automations.c.state == STATE_ACTIVE,
        automations.c.event.not_like("daily:%"),
    )
    .order_by(automations.c.id)
)
_PACK: Final = select(workspaces.c.policy_pack).where(workspaces.c.id == bindparam("ws"))
_BRANDS: Final = (
    select(brandnames)
    .where(brandnames.c.workspace_id == bindparam("ws"))
    .order_by(brandnames.c.name)
)
_TEMPLATES: Final = (
    select(message_templates)
    .where(message_templates.c.workspace_id == bindparam("ws"))
    .order_by(message_templates.c.name)
)
# What is worked out from rows that change only when a user edits a rule, a brandname or a
# template, keyed by those rows' content: every event still reads the rows in its own
# transaction (so an edit counts at once), but parses and composes only when they changed.
_DERIVED: dict[Any, Any] = {}
_DERIVED_MAX: Final = 256


def _derived(key: Any, make: Callable[[], Any]) -> Any:
    try:
        return _DERIVED[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable row value: work it out each time
        return make()
    if len(_DERIVED) >= _DERIVED_MAX:
        _DERIVED.clear()
    value = _DERIVED[key] = make()
    return value


def _row_key(rows: Sequence[Any]) -> str:
    # repr covers JSON columns (dicts and lists), which are not hashable.
    return repr([tuple(r) for r in rows])


def _active_event_rules(conn: Connection, workspace_id: int) -> list[Automation]:
    rows = conn.execute(_ACTIVE_RULES, {"ws": workspace_id}).all()
    found: list[Automation] = _derived(
        ("rules", workspace_id, _row_key(rows)), lambda: [automation_from_row(r) for r in rows]
    )
    return [r for r in found if not r.daily]


@dataclass(frozen=True, slots=True)
class _Setting:
    """What the messages of a workspace are judged against, read once per batch of events."""

    pack: Pack
    lang: Lang
    brands: tuple[Brandname, ...]  # by name
    by_name: Mapping[str, Brandname]  # lower-case name -> brandname
    templates: tuple[CheckedTemplate, ...]  # by name
    brand_key: str  # the brandname rows, as a cache key


def _setting(conn: Connection, workspace_id: int) -> _Setting:
    code = str(conn.execute(_PACK, {"ws": workspace_id}).scalar_one())
    brand_rows = conn.execute(_BRANDS, {"ws": workspace_id}).all()
    template_rows = conn.execute(_TEMPLATES, {"ws": workspace_id}).all()

    def make() -> _Setting:
        pack = load_pack(code)
        brands = tuple(brandname_from_row(r) for r in brand_rows)
        return _Setting(
            pack=pack,
            lang="vi" if pack.code == "vn" else "en",
            brands=brands,
            by_name={b.name.lower(): b for b in brands},
            templates=tuple(template_from_row(r) for r in template_rows),
            brand_key=_row_key(brand_rows),
        )

    found: _Setting = _derived(
        ("setting", code, _row_key(brand_rows), _row_key(template_rows)), make
    )
    return found


def prepare_reaction(
    conn: Connection,
    *,
    workspace_id: int,
    facts: Sequence[EventFacts],
    rules: Sequence[Automation] | None = None,
    now: datetime | None = None,
) -> Reaction:
    """Evaluate the rules for `facts`: conditions, limits, send times, texts, compliance."""
    now = now or datetime.now(UTC)
    reaction = Reaction(workspace_id, now)
    if rules is None:
        rules = _active_event_rules(conn, workspace_id)
    wanted = [f for f in facts if f.type in CANCELLING or any(f.type in r.events for r in rules)]
    if not wanted:
        return reaction
    people = _contacts(conn, (f.contact_id for f in wanted))
    limited: set[tuple[int, int]] = set()
    for ev in wanted:
        props = dict(ev.properties or {})
        subject_name = subject_prop(ev.type)
        subject_value = props.get(subject_name) if subject_name else None
        subject = f"{subject_name}={subject_value}" if subject_value is not None else None
        if ev.type in CANCELLING and subject is not None:
            reaction.cancels.append((subject, ev.type))
        contact = people.get(ev.contact_id)
        if contact is None:
            continue
        context = {"event": event_context(props, ev.value_vnd, ev.external_id, ev.type)}
        for rule in rules:
            if ev.type not in rule.events:
                continue
            item = _Pending(
                rule=rule,
                run_key=f"e{ev.id}",
                contact=contact,
                at=now,
                context=context,
                event_id=ev.id,
                subject=subject,
            )
            item.skip = _why_not(conn, rule, ev, props, contact, now, limited, item)
            reaction.items.append(item)
    _render_and_judge(conn, workspace_id, reaction.items, now)
    return reaction


def react(
    conn: Connection,
    *,
    workspace_id: int,
    event_ids: Sequence[int] = (),
    after_id: int | None = None,
    now: datetime | None = None,
) -> Report:
    """Hand stored events (`event_ids`, or every event after `after_id`) to the rules, in
    the caller's transaction."""
    now = now or datetime.now(UTC)
    if not event_ids and after_id is None:
        return Report()
    rules = _active_event_rules(conn, workspace_id)
    types = sorted({t for r in rules for t in r.events} | CANCELLING)
    mine = and_(events.c.workspace_id == workspace_id, events.c.type.in_(types))
    rows: list[Any] = []
    if after_id is not None:
        rows = list(
            conn.execute(
                select(events).where(mine, events.c.id > after_id).order_by(events.c.id)
            ).all()
        )
    ids = list(event_ids)
    for start in range(0, len(ids), 500):
        rows += conn.execute(
            select(events)
            .where(mine, events.c.id.in_(ids[start : start + 500]))
            .order_by(events.c.id)
        ).all()
    facts = [
        EventFacts(
            int(r.id),
            r.type,
            int(r.contact_id),
            r.occurred_at,
            r.value_vnd,
            r.properties,
            r.external_id,
        )
        for r in rows
    ]
    reaction = prepare_reaction(conn, workspace_id=workspace_id, facts=facts, rules=rules, now=now)
    return reaction.apply(conn)


def _why_not(
    conn: Connection,
    rule: Automation,
    ev: Any,
    props: Mapping[str, Any],
    contact: Mapping[str, Any],
    now: datetime,
    limited: set[tuple[int, int]],
    item: _Pending,
) -> str | None:
    """The reason a rule does not answer this event, or None (and the send time set)."""
    if not all(c.holds(item.context["event"]) for c in rule.conditions):
        return "condition"
    at = send_time(rule.timing, ev.occurred_at, props)
    if at is None:
        return "no_time"
    if rule.timing.mode == "before":
        moment = event_time(props.get(rule.timing.prop or ""))
        if moment is not None and moment < now:
            return "stale"  # the time it reminds of is over
        if at < now - LATE:
            return "too_late"
        item.expires_at = moment
    elif at < now - STALE:
        return "stale"
    item.at = max(at, now)
    if rule.segment is not None:
        where = segment_members(conn, workspace_id=rule.workspace_id, segment=rule.segment, now=now)
        inside = conn.execute(
            select(contacts.c.id).where(contacts.c.id == contact["id"], where)
        ).first()
        if inside is None:
            return "segment"
    if rule.limit_days is not None:
        key = (rule.id, int(contact["id"]))
        if key in limited or _sent_within(conn, rule, int(contact["id"]), now):
            return "limit"
        limited.add(key)
    return None


def _sent_within(conn: Connection, rule: Automation, contact_id: int, now: datetime) -> bool:
    assert rule.limit_days is not None
    r = automation_runs.c
    found = conn.execute(
        select(r.id)
        .where(
            r.automation_id == rule.id,
            r.contact_id == contact_id,
            r.status == "queued",
            r.created_at >= now - timedelta(days=rule.limit_days),
        )
        .limit(1)
    ).first()
    return found is not None


def cancel_subject(
    conn: Connection, *, workspace_id: int, subject: str, reason: str, now: datetime
) -> int:
    """Cancel every message for `subject` (e.g. appointment_id=A7) not yet handed to a worker;
    returns how many were cancelled."""
    r = automation_runs.c
    waiting = conn.execute(
        select(r.id, r.outbox_id).where(
            r.workspace_id == workspace_id, r.subject == subject, r.status == "queued"
        )
    ).all()
    ids = [int(w.outbox_id) for w in waiting if w.outbox_id is not None]
    if not ids:
        return 0
    cancelled = [
        int(i)
        for i in conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids), outbox.c.status.in_(WAITING))
            .values(status="cancelled", code=reason, done_at=now, updated_at=now, lease_until=None)
            .returning(outbox.c.id)
        ).scalars()
    ]
    if cancelled:
        conn.execute(
            update(automation_runs)
            .where(r.outbox_id.in_(cancelled))
            .values(status="cancelled", reason=reason, watch_until=None, updated_at=now)
        )
    return len(cancelled)


# --- writing ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Composed:
    template: Template
    checked_name: str | None  # the registered template the text must match, if any
    lang: Lang


def _compose(conn: Connection, rule: Automation, lang: Lang) -> _Composed:
    brand = find_brandname(conn, rule.workspace_id, rule.sender)
    optout = OptOut(
        brand.optout_keyword if brand else None,
        brand.optout_shortcode if brand else None,
        brand.hotline if brand else None,
    )
    template = _parsed(rule.text)
    if rule.cls != "cskh" and brand is not None:
        template = frame_template(template, rule.cls, optout, lang, rule.sender)  # type: ignore[arg-type]
    registered = conn.execute(
        select(message_templates.c.id).where(
            message_templates.c.workspace_id == rule.workspace_id,
            message_templates.c.name == rule.template,
        )
    ).first()
    return _Composed(template, rule.template if registered else None, lang)


@lru_cache(maxsize=512)
def _parsed(source: str) -> Template:
    """A rule's text parsed once per process (Jinja2's parser is the slow part of a render);
    templates are immutable, and framing makes a new one."""
    return parse(source)


def _chain_start(
    rule: Automation, contact: Mapping[str, Any], first: int = 0
) -> tuple[int, str, str] | None:
    """The first channel from `first` on that can reach the contact: (step, channel, to)."""
    attrs = contact.get("attrs") or {}
    for step in range(first, len(rule.channels)):
        channel = rule.channels[step]
        if channel == "push":
            token = attrs.get("push_token") if isinstance(attrs, Mapping) else None
            if token:
                return step, channel, str(token)
        elif channel == "sms":
            return step, channel, str(contact["phone"])
    return None


def _write(conn: Connection, workspace_id: int, items: list[_Pending], now: datetime) -> Report:
    """Render, judge and write `items`: one run each, one outbox row for those that go."""
    report = Report()
    _render_and_judge(conn, workspace_id, items, now)
    for item in items:
        _persist(conn, workspace_id, item, now, report)
    return report


def _render_and_judge(
    conn: Connection, workspace_id: int, items: list[_Pending], now: datetime
) -> None:
    """Each item's channel, text and compliance decision (or why it is skipped)."""
    if not items:
        return
    setting = _setting(conn, workspace_id)
    composed: dict[int, _Composed] = {}
    broken: set[int] = set()
    for item in items:
        if item.skip is not None:
            continue
        rule = item.rule
        if rule.id not in composed and rule.id not in broken:
            try:
                composed[rule.id] = _compose_cached(conn, rule, setting)
            except LoaError as exc:  # e.g. its sender lost its refusal keyword: that rule
                # stops (the history says so), the event and every other rule go on
                log.warning("automation %s: %s", rule.name, exc.render("en"))
                broken.add(rule.id)
        if rule.id in broken:
            item.skip = "rule_error"
            continue
        start = _chain_start(rule, item.contact, item.step)
        if start is None:
            item.skip = "no_channel"
            continue
        item.step, item.channel, item.to = start
        if item.voucher is not None:
            item.context["voucher"] = {
                "code": item.voucher["code"],
                "value": item.voucher.get("value") or "",
                "expires": item.voucher["expires_at"].astimezone(VN).strftime("%d/%m/%Y")
                if item.voucher.get("expires_at")
                else "",
            }
        row = {**contact_row(item.contact), **item.context}
        try:
            item.text = composed[rule.id].template.render(row, str(item.contact["phone"]))
        except Exception as exc:  # a missing variable in this event: named in the history
            log.info("automation %s: %s", rule.name, exc)
            item.skip = "render_failed"
    _judge(conn, workspace_id, [i for i in items if i.skip is None], composed, now, setting)


def _compose_cached(conn: Connection, rule: Automation, setting: _Setting) -> _Composed:
    """`_compose`, worked out again only when the rule, its brandname or the templates change."""
    brand = setting.by_name.get(rule.sender.strip().lower())
    registered = any(t.name == rule.template for t in setting.templates)
    key = ("compose", repr(rule), repr(brand), registered, setting.lang)
    found: _Composed = _derived(key, lambda: _compose(conn, rule, setting.lang))
    return found


def _judge(
    conn: Connection,
    workspace_id: int,
    items: list[_Pending],
    composed: Mapping[int, _Composed],
    now: datetime,
    setting: _Setting | None = None,
) -> None:
    """The compliance decision for each SMS, and for advertising by any channel: a person who
    refused advertising, gave no consent or is asleep does not get it by push either."""
    setting = setting or _setting(conn, workspace_id)
    store = Store(engine=conn.engine, workspace_id=workspace_id)
    groups: dict[int, list[_Pending]] = {}
    for item in items:
        if item.channel == "sms" or item.rule.cls == "qc":
            groups.setdefault(item.rule.id, []).append(item)
    for group in groups.values():
        rule = group[0].rule
        sample = group[0].text
        assert sample is not None
        checked_name = composed[rule.id].checked_name
        checked = judge_message(
            sample,
            rule.sender,
            check_class(rule.cls),
            setting.pack,
            setting.by_name.get(rule.sender.strip().lower()) if rule.sender else None,
            setting.brands,
            _named_template(setting, checked_name),
            setting.templates,
            template=checked_name,
        )
        reasons: list[Reason] = []
        for reason in checked.reasons:
            if reason.code in MESSAGE_REASON_CLASSES:
                reasons.append(reason)
            else:
                reasons.append(Reason("content_blocked", {"detail": reason.render()}))
        if rule.cls == "qc":
            frame = pl.DataFrame(
                # Judged by the person's number whatever the channel: consent, refusals and
                # the frequency cap are kept per number.
                {"phone": [str(i.contact["phone"]) for i in group], "at": [i.at for i in group]},
                schema={"phone": pl.String, "at": pl.Datetime("us", "UTC")},
            )
            decided = decide_batch(
                store,
                frame,
                cls=rule.cls,
                sender=rule.sender,
                allow_defer=True,
                message_reasons=reasons,
                now=now,
            ).frame
            verdicts = [
                (str(r["decision"]), list(r["reasons"] or []), r["scheduled_at"])
                for r in decided.iter_rows(named=True)
            ]
        else:
            verdicts = _decide_care(conn, rule, group, reasons, now, setting)
        for item, (decision, codes, at) in zip(group, verdicts, strict=True):
            item.decision = decision
            item.reasons = codes
            if at is not None:
                item.at = max(item.at, at)


def _decide_care(
    conn: Connection,
    rule: Automation,
    group: list[_Pending],
    reasons: list[Reason],
    now: datetime,
    setting: _Setting,
) -> list[tuple[str, list[str], datetime | None]]:
    """The engine's decision for customer care, from the facts it reads for that class alone:
    the sender, the message, and whether the number is valid (opt-outs, consent, DNC, caps
    and hours are advertising rules). Saves the per-number fact tables on the event path."""
    pack = setting.pack
    own: list[Reason] = _derived(
        ("sender", rule.workspace_id, rule.sender, setting.brand_key, pack.code, now.date()),
        lambda: sender_reasons(conn, rule.workspace_id, rule.sender, pack, now.date()),
    )
    rules = rules_for(pack, rule.cls, allow_defer=True, message_reasons=[*own, *reasons])
    if rules.hours.any_hour:
        # With no hours to keep, the verdict depends only on the message's reasons and on the
        # number being valid: the engine decides each combination once, not once per event.
        out: list[tuple[str, list[str], datetime | None]] = []
        for item in group:
            decision, codes = _care_verdict(rules, item.contact.get("invalid_reason") is not None)
            out.append((decision, list(codes), None if decision == "suppress" else item.at))
        return out
    zone = pack.timezone if pack.timezone != "recipient" else "UTC"
    facts = pl.DataFrame(
        {
            "phone": [i.to for i in group],
            "at": [i.at for i in group],
            "invalid_reason": [i.contact.get("invalid_reason") for i in group],
        },
        schema={"phone": pl.String, "at": pl.Datetime("us", "UTC"), "invalid_reason": pl.String},
    ).with_columns(pl.lit(zone, pl.String).alias("zone"))
    history = pl.DataFrame(schema={"phone": pl.String, "at": pl.Datetime("us", "UTC")})
    return [
        (str(r["decision"]), list(r["reasons"] or []), r["scheduled_at"])
        for r in decide(facts, history, rules).iter_rows(named=True)
    ]


def _named_template(setting: _Setting, name: str | None) -> CheckedTemplate | None:
    """The registered template `name` (as `find_template`, which refuses an unknown one)."""
    if name is None:
        return None
    for template in setting.templates:
        if template.name == name:
            return template
    raise LoaError(UNKNOWN_TEMPLATE, name=name)


_VERDICTS: dict[tuple[str, str, tuple[str, ...], bool], tuple[str, tuple[str, ...]]] = {}


def _care_verdict(rules: Rules, invalid: bool) -> tuple[str, tuple[str, ...]]:
    """The engine's (decision, reasons) for a message under `rules` to a valid or invalid
    number, when no hours apply."""
    key = (rules.pack.code, rules.cls, tuple(r.code for r in rules.message_reasons), invalid)
    if key not in _VERDICTS:
        probe = pl.DataFrame(
            {
                "phone": ["+84900000000"],
                "at": [datetime(2026, 1, 1, tzinfo=UTC)],
                "invalid_reason": ["invalid" if invalid else None],
            },
            schema={
                "phone": pl.String,
                "at": pl.Datetime("us", "UTC"),
                "invalid_reason": pl.String,
            },
        )
        history = pl.DataFrame(schema={"phone": pl.String, "at": pl.Datetime("us", "UTC")})
        row = decide(probe, history, rules).row(0, named=True)
        _VERDICTS[key] = (str(row["decision"]), tuple(row["reasons"] or ()))
    return _VERDICTS[key]


def _persist(
    conn: Connection, workspace_id: int, item: _Pending, now: datetime, report: Report
) -> None:
    rule = item.rule
    # History being imported is not a reaction, and leaves no record of one; a date rule that
    # could not run leaves none either, so that the day can be run again once it is fixed.
    if item.skip == "stale" or (item.skip == "rule_error" and item.event_id is None):
        report.skipped += 1
        report.reasons[item.skip] = report.reasons.get(item.skip, 0) + 1
        return
    status = "skipped" if item.skip else "suppressed" if item.decision == "suppress" else "queued"
    reason = item.skip or (item.reasons[0] if item.reasons and status != "queued" else None)
    new_run = conn.execute(
        _new_run(conn.dialect.name),
        {
            "workspace_id": workspace_id,
            "automation_id": rule.id,
            "run_key": item.run_key,
            "event_id": item.event_id,
            "contact_id": item.contact["id"],
            "subject": item.subject,
            "step": item.step,
            "status": status,
            "reason": reason,
            "voucher_code": item.voucher["code"] if item.voucher and not item.skip else None,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one_or_none()
    if new_run is None:
        report.already += 1
        return
    if item.skip is not None:
        report.skipped += 1
        report.reasons[item.skip] = report.reasons.get(item.skip, 0) + 1
        return
    if item.voucher is not None:
        conn.execute(insert(vouchers).values(**item.voucher))
        report.vouchers += 1
    outbox_id = _outbox_row(conn, workspace_id, item, now)
    watch = None
    if status == "queued" and item.step < len(rule.channels) - 1:
        deadline = timedelta(seconds=rule.fallback_after_s or 0) or FAILURE_WATCH
        watch = item.at + deadline
    conn.execute(
        _RUN_OUTBOX, {"run_id": new_run, "new_outbox_id": outbox_id, "new_watch_until": watch}
    )
    if status == "queued":
        report.queued += 1
    else:
        report.suppressed += 1
        if reason:
            report.reasons[reason] = report.reasons.get(reason, 0) + 1


def _outbox_row(conn: Connection, workspace_id: int, item: _Pending, now: datetime) -> int | None:
    rule = item.rule
    suppressed = item.decision == "suppress"
    # The book's carrier for the number (the worker works it out when the book has none).
    carrier = item.contact.get("carrier") if item.channel == "sms" else None
    key = f"a{rule.id}:{item.run_key}:{item.step}"
    new_id = conn.execute(
        _new_outbox(conn.dialect.name),
        {
            "workspace_id": workspace_id,
            "idempotency_key": key,
            "contact_id": item.contact["id"],
            "phone": item.to,
            "channel": item.channel,
            "class": rule.cls,
            "sender": rule.sender,
            "variant": f"a{rule.id}",
            "text": item.text,
            "carrier": carrier,
            "decision": item.decision,
            "reasons": item.reasons,
            "scheduled_at": None if suppressed else item.at,
            "status": "suppressed" if suppressed else "queued",
            "priority": rule.priority,
            "expires_at": item.expires_at,
            "done_at": now if suppressed else None,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one_or_none()
    if new_id is None:  # written by an earlier evaluation that lost its run: find it
        new_id = conn.execute(
            select(outbox.c.id).where(
                outbox.c.workspace_id == workspace_id, outbox.c.idempotency_key == key
            )
        ).scalar_one_or_none()
    return None if new_id is None else int(new_id)


# --- fallback along the channel chain ---------------------------------------------------------


def sweep_fallbacks(engine: Engine, *, now: datetime | None = None, limit: int = 500) -> Report:
    """Move each watched message whose channel failed, or did not deliver by the rule's
    deadline, to the next channel of its rule."""
    now = now or datetime.now(UTC)
    report = Report()
    r, o, a = automation_runs.c, outbox.c, automations.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                r.id,
                r.workspace_id,
                r.automation_id,
                r.run_key,
                r.step,
                r.watch_until,
                r.contact_id,
                o.status.label("sent_status"),
                o.id.label("outbox_id"),
                o.text,
                o.expires_at,
                a.fallback_after_s,
            )
            .select_from(
                automation_runs.join(outbox, o.id == r.outbox_id).join(
                    automations, a.id == r.automation_id
                )
            )
            .where(
                r.watch_until.is_not(None),
                r.status == "queued",
                # Only what needs a move: timed out, failed, or delivered (to stop watching).
                (r.watch_until <= now) | o.status.in_(sorted(FAILED | {"delivered"})),
            )
            .order_by(r.watch_until)
            .limit(limit)
        ).all()
        moving: list[Any] = []
        for row in rows:
            if row.sent_status == "delivered":
                _unwatch(conn, row.id, now)
            elif row.sent_status in FAILED:
                moving.append(row)
            elif row.watch_until <= now:
                if row.fallback_after_s is None:
                    _unwatch(conn, row.id, now)
                elif row.sent_status in WAITING:
                    left = conn.execute(
                        update(outbox)
                        .where(o.id == row.outbox_id, o.status.in_(WAITING))
                        .values(status="cancelled", code="fallback", done_at=now, updated_at=now)
                        .returning(o.id)
                    ).first()
                    if left is not None:
                        moving.append(row)
                elif row.sent_status in ("submitted", "delivered"):
                    moving.append(row)
                # leased / submitting: a worker holds it now; look again next time
        by_workspace: dict[int, list[Any]] = {}
        for row in moving:
            by_workspace.setdefault(int(row.workspace_id), []).append(row)
        for workspace_id, group in by_workspace.items():
            report.add(_fall_back(conn, workspace_id, group, now))
    return report


def _unwatch(conn: Connection, run_id: int, now: datetime) -> None:
    conn.execute(
        update(automation_runs)
        .where(automation_runs.c.id == run_id)
        .values(watch_until=None, updated_at=now)
    )


def _fall_back(conn: Connection, workspace_id: int, rows: list[Any], now: datetime) -> Report:
    rules = {r.id: r for r in list_automations(conn, workspace_id=workspace_id)}
    people = _contacts(conn, (int(r.contact_id) for r in rows))
    items: list[_Pending] = []
    for row in rows:
        rule = rules[int(row.automation_id)]
        contact = people.get(int(row.contact_id))
        conn.execute(
            update(automation_runs)
            .where(automation_runs.c.id == row.id)
            .values(watch_until=None, updated_at=now)
        )
        if contact is None:
            continue
        start = _chain_start(rule, contact, int(row.step) + 1)
        if start is None:
            continue
        step, channel, to = start
        item = _Pending(
            rule=rule,
            run_key=str(row.run_key),
            contact=contact,
            at=now,
            context={},
            step=step,
            channel=channel,
            to=to,
            text=row.text,
            expires_at=row.expires_at,
        )
        items.append(item)
    if not items:
        return Report()
    report = Report()
    lang = _lang(conn, workspace_id)
    _judge(conn, workspace_id, items, {i.rule.id: _compose(conn, i.rule, lang) for i in items}, now)
    for item in items:
        suppressed = item.decision == "suppress"
        outbox_id = _outbox_row(conn, workspace_id, item, now)
        watch = None
        if not suppressed and item.step < len(item.rule.channels) - 1:
            deadline = timedelta(seconds=item.rule.fallback_after_s or 0) or FAILURE_WATCH
            watch = now + deadline
        conn.execute(
            update(automation_runs)
            .where(
                automation_runs.c.automation_id == item.rule.id,
                automation_runs.c.run_key == item.run_key,
            )
            .values(
                step=item.step,
                outbox_id=outbox_id,
                watch_until=watch,
                status="suppressed" if suppressed else "queued",
                reason=(item.reasons[0] if item.reasons else None) if suppressed else None,
                updated_at=now,
            )
        )
        report.fell_back += 1
    return report


# --- daily date rules ---------------------------------------------------------------------------


def _mmdd(day: date) -> list[int]:
    days = [day.month * 100 + day.day]
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    if day.month == 2 and day.day == 28 and not leap:
        days.append(229)  # born on 29 February: celebrated on the 28th in other years
    return days


def _daily_candidates(
    conn: Connection, rule: Automation, day: date
) -> list[tuple[int, str, dict[str, Any]]]:
    """(contact id, run key, extra template variables) for everyone the rule picks on `day`."""
    ws = rule.workspace_id
    c, s = contacts.c, contact_stats.c
    valid = and_(c.workspace_id == ws, c.invalid_reason.is_(None))
    if rule.event == "daily:birthday":
        ids = conn.execute(
            select(c.id).where(valid, c.birth_mmdd.in_(_mmdd(day))).order_by(c.id)
        ).scalars()
        return [(int(i), f"y{day.year}:c{i}", {}) for i in ids]
    if rule.event == "daily:anniversary":
        found = []
        for cid, created in conn.execute(select(c.id, c.created_at).where(valid).order_by(c.id)):
            local = created.astimezone(VN).date()
            years = day.year - local.year
            if years >= 1 and local.month * 100 + local.day in _mmdd(day):
                found.append((int(cid), f"y{day.year}:c{cid}", {"years": years}))
        return found
    if rule.event == "daily:inactive":
        days = int(rule.params.get("days", 90))
        cutoff = datetime.combine(day, time(0), tzinfo=VN) - timedelta(days=days)
        rows = conn.execute(
            select(c.id, s.last_order_at)
            .select_from(contacts.join(contact_stats, s.contact_id == c.id))
            .where(valid, s.last_order_at < cutoff)
            .order_by(c.id)
        )
        return [
            (int(cid), f"i{last.astimezone(VN).date().isoformat()}:c{cid}", {"days": days})
            for cid, last in rows
        ]
    if rule.event == "daily:milestone":
        steps = sorted(int(m) for m in rule.params.get("milestones", (5, 10, 20, 50)))
        rows = conn.execute(
            select(c.id, s.orders_count)
            .select_from(contacts.join(contact_stats, s.contact_id == c.id))
            .where(valid, s.orders_count >= steps[0])
            .order_by(c.id)
        )
        found = []
        for cid, count in rows:
            reached = max(m for m in steps if m <= count)
            found.append((int(cid), f"m{reached}:c{cid}", {"milestone": reached}))
        return found
    return []


def run_daily(
    store: Store, *, day: date | None = None, now: datetime | None = None
) -> dict[str, Report]:
    """Evaluate every active date rule of the workspace for `day` (default: today in Vietnam).
    Running it again the same day sends nothing more and issues no second voucher."""
    now = now or datetime.now(UTC)
    day = day or now.astimezone(VN).date()
    out: dict[str, Report] = {}
    with store.engine.begin() as conn:
        rules = [
            r
            for r in list_automations(conn, workspace_id=store.workspace_id, active_only=True)
            if r.daily
        ]
    for rule in rules:
        try:
            with store.engine.begin() as conn:
                out[rule.name] = _run_rule(conn, rule, day, now)
        except LoaError as exc:  # one rule's problem (e.g. its sender's settings) stops only it
            log.warning("automation %s: %s", rule.name, exc.render("en"))
            out[rule.name] = Report(error=exc.render())
    return out


def _run_rule(conn: Connection, rule: Automation, day: date, now: datetime) -> Report:
    candidates = _daily_candidates(conn, rule, day)
    done: set[str] = set()
    keys = [k for _, k, _ in candidates]
    for start in range(0, len(keys), 500):
        done.update(
            conn.execute(
                select(automation_runs.c.run_key).where(
                    automation_runs.c.automation_id == rule.id,
                    automation_runs.c.run_key.in_(keys[start : start + 500]),
                )
            ).scalars()
        )
    report = Report(already=len(done & set(keys)))
    fresh = [c for c in candidates if c[1] not in done]
    if not fresh:
        return report
    assert rule.timing.at is not None
    at = max(datetime.combine(day, rule.timing.at, tzinfo=VN).astimezone(UTC), now)
    people = _contacts(conn, (cid for cid, _, _ in fresh))
    codes = _voucher_codes(conn, rule, len(fresh)) if rule.voucher else []
    items: list[_Pending] = []
    for index, (cid, key, extra) in enumerate(fresh):
        item = _Pending(rule=rule, run_key=key, contact=people[cid], at=at, context=dict(extra))
        if rule.voucher:
            valid_days = int(rule.voucher.get("valid_days", 30))
            expires = datetime.combine(
                day + timedelta(days=valid_days), time(23, 59, 59), tzinfo=VN
            )
            item.voucher = {
                "workspace_id": rule.workspace_id,
                "code": codes[index],
                "batch": f"automation:{rule.name}"[:100],
                "contact_id": cid,
                "value": rule.voucher.get("value"),
                "issued_at": now,
                "expires_at": expires,
            }
        if rule.limit_days is not None and _sent_within(conn, rule, cid, now):
            item.skip = "limit"
        items.append(item)
    report.add(_write(conn, rule.workspace_id, items, now))
    return report


def _voucher_codes(conn: Connection, rule: Automation, count: int) -> list[str]:
    """`count` codes no voucher of the workspace holds yet."""
    prefix = (rule.voucher or {}).get("prefix")
    while True:
        codes = new_codes(count, prefix)
        taken = set(
            conn.execute(
                select(vouchers.c.code).where(
                    vouchers.c.workspace_id == rule.workspace_id, vouchers.c.code.in_(codes)
                )
            ).scalars()
        )
        if not taken and len(set(codes)) == count:
            return codes


# --- the worker's beat --------------------------------------------------------------------------


def tick(
    engine: Engine, *, now: datetime | None = None, last_day: date | None = None
) -> date | None:
    """What the worker does every second for automations: fall back along channel chains,
    and once a day (Vietnam time) run the date rules of every workspace. Returns the day done."""
    now = now or datetime.now(UTC)
    # A failing rule must never stop the worker sending everything else: it is logged, and
    # tried again on the next beat.
    try:
        sweep_fallbacks(engine, now=now)
    except Exception:
        log.exception("automations: the channel fallback sweep failed")
    today = now.astimezone(VN).date()
    if last_day == today:
        return today
    try:
        _run_all_daily(engine, today, now)
    except Exception:
        log.exception("automations: the daily run for %s failed; trying again", today)
        return last_day
    return today


def _run_all_daily(engine: Engine, today: date, now: datetime) -> None:
    with engine.connect() as conn:
        spaces = sorted(
            {
                int(w)
                for w in conn.execute(
                    select(automations.c.workspace_id).where(
                        automations.c.state == "active", automations.c.event.like("daily:%")
                    )
                ).scalars()
            }
        )
    for workspace_id in spaces:
        run_daily(Store(engine=engine, workspace_id=workspace_id), day=today, now=now)


def run_counts(conn: Connection, automation_id: int) -> dict[str, int]:
    """Runs of a rule by status."""
    r = automation_runs.c
    return {
        str(s): int(n)
        for s, n in conn.execute(
            select(r.status, func.count())
            .where(r.automation_id == automation_id)
            .group_by(r.status)
        )
    }


def run_history(
    conn: Connection, *, workspace_id: int, automation_id: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The latest runs, newest first, with the fate of their message (numbers masked)."""
    from loa.domain.privacy import mask_phone

    r, o, a = automation_runs.c, outbox.c, automations.c
    query = (
        select(
            r.id,
            a.name,
            r.run_key,
            r.status,
            r.reason,
            r.step,
            r.voucher_code,
            r.created_at,
            contacts.c.phone,
            o.channel,
            o.status.label("message"),
            o.scheduled_at,
            o.submitted_at,
        )
        .select_from(
            automation_runs.join(automations, a.id == r.automation_id)
            .outerjoin(outbox, o.id == r.outbox_id)
            .outerjoin(contacts, contacts.c.id == r.contact_id)
        )
        .where(r.workspace_id == workspace_id)
        .order_by(r.id.desc())
        .limit(limit)
    )
    if automation_id is not None:
        query = query.where(r.automation_id == automation_id)
    out = []
    for row in conn.execute(query):
        out.append(
            {
                "id": int(row.id),
                "automation": row.name,
                "run": row.run_key,
                "status": row.status,
                "reason": row.reason,
                "channel": row.channel,
                "message": row.message,
                "phone": mask_phone(row.phone) if row.phone else None,
                "voucher": row.voucher_code,
                "scheduled_at": row.scheduled_at.isoformat() if row.scheduled_at else None,
                "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
                "created_at": row.created_at.isoformat(),
            }
        )
    return out


def event_runs(conn: Connection, event_id: int) -> dict[str, int]:
    """What the rules did with one event: runs by status."""
    r = automation_runs.c
    return {
        str(status): int(n)
        for status, n in conn.execute(
            select(r.status, func.count()).where(r.event_id == event_id).group_by(r.status)
        )
    }
