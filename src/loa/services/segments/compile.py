"""Rule trees to one SQLAlchemy Core condition on `contacts`, every value a bound parameter.

Every leaf is two-valued (true or false, never NULL), so `not` and `any` mean what a marketer
expects: a contact with no province is "not in Hà Nội".

Negation is pushed down to the leaves. A leaf that is "the contact is (not) in this set" reads
as IN / NOT IN a subquery on SQLite, which builds the set once and probes it, and as IN /
NOT EXISTS on PostgreSQL, which plans those as semi- and anti-joins (its NOT IN over a large
set falls back to a per-row scan). "No purchase in 180 days" and "fewer than n orders" are
such negative leaves: they must include contacts with no events at all, and the complement
(contacts that did buy) is the set the indexes find quickly.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    Float,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from loa.services.segments.rules import (
    OPERATORS,
    VN,
    AllOf,
    AnyOf,
    Attr,
    BirthdayWithin,
    ChannelState,
    Comparison,
    Consent,
    CreatedWithin,
    EventRule,
    Not,
    Rfm,
    Rule,
    Tag,
    holds,
)
from loa.services.stats import PURCHASE_TYPES
from loa.store.tables import channel_states, contact_stats, contact_tags, contacts
from loa.store.tables import consents as consent_table
from loa.store.tables import events as events_table

# The rule name "purchase" covers every event type that counts as a purchase.
EVENT_ALIASES: Final[dict[str, tuple[str, ...]]] = {"purchase": PURCHASE_TYPES}

Condition = ColumnElement[bool]


def compile_rule(rule: Rule, *, workspace_id: int, now: datetime, dialect: str) -> Condition:
    """The condition on `contacts` that selects the rule's members as of `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return _Compiler(workspace_id, now, dialect).rule(rule, negate=False)


def birthday_mmdd(today: date, days: int) -> list[int]:
    """month*100+day for `days` days from `today`; 29 Feb joins 28 Feb in common years."""
    found: list[int] = []
    for offset in range(days):
        day = today + timedelta(days=offset)
        found.append(day.month * 100 + day.day)
        if day.month == 2 and day.day == 28 and not _is_leap(day.year):
            found.append(229)
    return sorted(set(found))


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class _Compiler:
    def __init__(self, workspace_id: int, now: datetime, dialect: str) -> None:
        self.ws = workspace_id
        self.now = now
        self.dialect = dialect

    def rule(self, rule: Rule, *, negate: bool) -> Condition:
        match rule:
            case AllOf(rules):
                if not rules:
                    return false() if negate else true()
                parts = [self.rule(r, negate=negate) for r in rules]
                return or_(*parts) if negate else and_(*parts)
            case AnyOf(rules):
                parts = [self.rule(r, negate=negate) for r in rules]
                return and_(*parts) if negate else or_(*parts)
            case Not(inner):
                return self.rule(inner, negate=not negate)
            case Tag(tags):
                t = contact_tags.c
                return self.member(
                    select(t.contact_id).where(t.workspace_id == self.ws, t.tag.in_(tags)),
                    negate,
                )
            case ChannelState(channel, state):
                c = channel_states.c
                opted_out = select(c.contact_id).where(
                    c.workspace_id == self.ws, c.channel == channel, c.status == "opted_out"
                )
                # No row means subscribed, so "subscribed" is "not opted out".
                return self.member(opted_out, negate != (state == "subscribed"))
            case Consent(channel, purpose):
                k = consent_table.c
                given = select(k.contact_id).where(
                    k.workspace_id == self.ws,
                    k.channel == channel,
                    k.purpose == purpose,
                    k.given_at <= self.now,
                    or_(k.withdrawn_at.is_(None), k.withdrawn_at > self.now),
                )
                return self.member(given, negate)
            case EventRule():
                return self.event(rule, negate)
            case Rfm(r, f, m):
                s = contact_stats.c
                conds = [s.workspace_id == self.ws]
                conds += _cmp(s.r_score, r) + _cmp(s.f_score, f) + _cmp(s.m_score, m)
                return self.member(select(s.contact_id).where(*conds), negate)
            case BirthdayWithin(days):
                today = self.now.astimezone(VN).date()
                mmdd = contacts.c.birth_mmdd
                cond = and_(mmdd.is_not(None), mmdd.in_(birthday_mmdd(today, days)))
                return not_(cond) if negate else cond
            case CreatedWithin(days):
                cond = contacts.c.created_at >= self.now - timedelta(days=days)
                return not_(cond) if negate else cond
            case Attr():
                cond = self.attr(rule)
                return not_(cond) if negate else cond
        raise TypeError(f"not a rule node: {rule!r}")  # pragma: no cover

    def member(self, ids: Select[Any], negate: bool) -> Condition:
        """contacts.id is (not) among the contact ids `ids` selects."""
        if not negate:
            return contacts.c.id.in_(ids)
        if self.dialect == "postgresql":
            found = ids.subquery("found")
            return ~exists().where(found.c.contact_id == contacts.c.id).correlate(contacts)
        return contacts.c.id.not_in(ids)

    def event(self, rule: EventRule, negate: bool) -> Condition:
        e = events_table.c
        types = EVENT_ALIASES.get(rule.type, (rule.type,))
        where = [
            e.workspace_id == self.ws,
            e.type.in_(types) if len(types) > 1 else e.type == types[0],
            e.occurred_at <= self.now,
        ]
        if rule.within_days is not None:
            where.append(e.occurred_at >= self.now - timedelta(days=rule.within_days))
        if rule.categories is not None:
            where.append(e.category.in_(rule.categories))
        matching = select(e.contact_id).where(*where)
        having = _cmp(func.count(), rule.count) + _cmp(
            func.coalesce(func.sum(e.value_vnd), 0), rule.sum
        )
        # A contact with no matching events has count 0 and sum 0; whether that satisfies the
        # rule decides between "in the set of contacts whose events pass" and "not in the set
        # of contacts whose events fail", and only the second includes contacts with none.
        if not (holds(rule.count, 0) and holds(rule.sum, 0)):
            if not rule.sum and _all_positive_hold(rule.count):
                return self.member(matching, negate)  # "at least one": no grouping needed
            grouped = matching.group_by(e.contact_id).having(and_(*having))
            return self.member(grouped, negate)
        if not rule.sum and _no_positive_holds(rule.count):
            return self.member(matching, not negate)  # "none at all"
        failing = matching.group_by(e.contact_id).having(not_(and_(*having)))
        return self.member(failing, not negate)

    def attr(self, rule: Attr) -> Condition:
        """A two-valued comparison of a column or custom attribute (NULL counts as missing)."""
        if rule.kind == "custom":
            key = rule.custom_key
            assert key is not None
            column: ColumnElement[Any] = self.json_text(key)
        else:
            column = contacts.c[rule.attr]
        op, value = rule.op, rule.value
        textual = rule.kind in ("text", "custom")
        present = and_(column.is_not(None), column != "") if textual else column.is_not(None)
        if op == "exists":
            return present
        if op == "missing":
            return not_(present)
        if op == "ne":
            return not_(self.attr(Attr(rule.attr, rule.kind, "eq", value)))
        if op == "not_in":
            return not_(self.attr(Attr(rule.attr, rule.kind, "in", value)))
        if op == "in":
            return and_(column.is_not(None), column.in_(value))
        if op == "contains":
            return and_(column.is_not(None), self.position(column, value) > 0)
        if op == "starts_with":
            return and_(column.is_not(None), func.substr(column, 1, len(value)) == value)
        if rule.kind == "custom" and op != "eq":
            number = self.json_number(rule.custom_key or "")
            return and_(number.is_not(None), OPERATORS[op](number, value))
        return and_(column.is_not(None), OPERATORS[op](column, value))

    def position(self, column: ColumnElement[Any], needle: str) -> ColumnElement[int]:
        # LIKE is case-insensitive on SQLite and not on PostgreSQL, and treats % and _ as
        # wildcards; a plain substring search behaves the same on both.
        if self.dialect == "postgresql":
            return func.strpos(column, needle)
        return func.instr(column, needle)

    def json_text(self, key: str) -> ColumnElement[str]:
        """The custom attribute as text, the same on both databases: 5, 2.5, true, Hà Nội."""
        attrs = contacts.c.attrs
        if self.dialect == "postgresql":
            return attrs.op("->>", return_type=String())(literal(key, String()))
        path = _sqlite_path(key)
        kind = func.json_type(attrs, path)
        return case(
            (kind.in_(("true", "false")), kind),
            else_=cast(func.json_extract(attrs, path), String()),
        )

    def json_number(self, key: str) -> ColumnElement[float]:
        """The custom attribute as a number when it is one (or numeric text), else NULL."""
        text = self.json_text(key)
        if self.dialect == "postgresql":
            return case((text.regexp_match(r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"), cast(text, Float())))
        bare = func.trim(text)
        digits = case((func.substr(bare, 1, 1) == "-", func.substr(bare, 2)), else_=bare)
        numeric = and_(
            digits != "",
            not_(digits.op("GLOB")("*[^0-9.]*")),
            not_(digits.op("GLOB")("*.*.*")),
            not_(digits.op("GLOB")(".*")),
            not_(digits.op("GLOB")("*.")),
        )
        return case((numeric, cast(bare, Float())))


def _sqlite_path(key: str) -> ColumnElement[str]:
    return literal('$."' + key + '"', String())


def _cmp(expr: ColumnElement[Any], cmp: Comparison) -> list[Condition]:
    return [OPERATORS[op](expr, bound) for op, bound in cmp]


def _all_positive_hold(cmp: Comparison) -> bool:
    """True when every count of one or more satisfies the comparison (e.g. gte 1, gt 0)."""
    return all(
        (op == "gte" and bound <= 1) or (op in ("gt", "ne") and bound < 1) for op, bound in cmp
    )


def _no_positive_holds(cmp: Comparison) -> bool:
    """True when no count of one or more satisfies the comparison (e.g. eq 0, lt 1)."""
    return any(
        (op == "eq" and bound < 1) or (op == "lt" and bound <= 1) or (op == "lte" and bound < 1)
        for op, bound in cmp
    )
