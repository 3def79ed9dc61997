"""Segment rules as data: JSON in, a checked tree of rule nodes out, or an error that names the
bad part of the rule (as a path such as `rule.all[1].count`) and says how to fix it.

The language itself is described in the package docstring (`loa.services.segments`).
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final, TypeAlias
from zoneinfo import ZoneInfo

from loa.i18n import LoaError, Msg

VN: Final = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_DEPTH: Final = 16
MAX_LIST: Final = 1000

TEXT_ATTRS: Final = frozenset(
    {"name", "given_name", "email", "gender", "province", "carrier", "source", "phone_type",
     "phone"}
)  # fmt: skip
BOOL_ATTRS: Final = frozenset({"dnc"})
DATETIME_ATTRS: Final = frozenset({"created_at"})
DATE_ATTRS: Final = frozenset({"birthday"})
CUSTOM_PREFIX: Final = "attrs."
CUSTOM_KEY: Final = re.compile(r"^[\w\- ]{1,64}$")

TEXT_OPS: Final = ("eq", "ne", "in", "not_in", "contains", "starts_with", "exists", "missing")
ORDER_OPS: Final = ("gt", "gte", "lt", "lte")
OPS_BY_KIND: Final[dict[str, tuple[str, ...]]] = {
    "text": TEXT_OPS,
    "bool": ("eq", "ne"),
    "datetime": (*ORDER_OPS, "exists", "missing"),
    "date": ("eq", "ne", *ORDER_OPS, "exists", "missing"),
    "custom": (*TEXT_OPS, *ORDER_OPS),
}
ALL_OPS: Final = (*TEXT_OPS, *ORDER_OPS)
OPERATORS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
CMP_OPS: Final = tuple(OPERATORS)
CHANNELS: Final = ("sms", "email", "push", "zalo")
STATES: Final = ("subscribed", "opted_out")
PURPOSES: Final = ("marketing", "care")
EVENT_TYPE: Final = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,47}$")
KINDS: Final = (
    "all",
    "any",
    "not",
    "attr",
    "tag",
    "channel",
    "consent",
    "event",
    "birthday_within_days",
    "created_within_days",
    "rfm",
)

# --- messages: every one names the place ({path}) and the fix -------------------------------

NOT_JSON = Msg(
    "segments.rule.not_json",
    'Điều kiện không phải JSON hợp lệ ({error}). Ví dụ đúng: {{"tag": "vip"}}.',
    'The rule is not valid JSON ({error}). A valid example: {{"tag": "vip"}}.',
)
NOT_OBJECT = Msg(
    "segments.rule.not_object",
    '{path} phải là một đối tượng JSON như {{"tag": "vip"}}, không phải {got}.',
    '{path} must be a JSON object such as {{"tag": "vip"}}, not {got}.',
)
UNKNOWN_KIND = Msg(
    "segments.rule.unknown_kind",
    "{path}: không nhận ra loại điều kiện (có các khóa {keys}). Mỗi điều kiện có đúng một "
    "trong các khóa: {kinds}.",
    "{path}: unknown kind of condition (keys {keys}). Each condition has exactly one of the "
    "keys: {kinds}.",
)
TWO_KINDS = Msg(
    "segments.rule.two_kinds",
    '{path} trộn nhiều loại điều kiện ({keys}); tách chúng ra trong {{"all": [...]}}.',
    '{path} mixes several kinds of condition ({keys}); split them into {{"all": [...]}}.',
)
UNKNOWN_KEY = Msg(
    "segments.rule.unknown_key",
    "{path}: khóa '{key}' không dùng được ở đây; các khóa hợp lệ: {allowed}.",
    "{path}: the key '{key}' does not belong here; valid keys: {allowed}.",
)
MISSING_KEY = Msg(
    "segments.rule.missing_key",
    "{path} thiếu khóa '{key}'; ví dụ: {example}.",
    "{path} lacks the key '{key}'; for example: {example}.",
)
NEED_LIST = Msg(
    "segments.rule.need_list",
    "{path} phải là một danh sách điều kiện (tối đa {max}), ví dụ {example}; không phải {got}.",
    "{path} must be a list of conditions (at most {max}), e.g. {example}; not {got}.",
)
EMPTY_ANY = Msg(
    "segments.rule.empty_any",
    '{path}: danh sách "any" rỗng sẽ không chọn ai; thêm ít nhất một điều kiện.',
    '{path}: an empty "any" list selects nobody; add at least one condition.',
)
TOO_DEEP = Msg(
    "segments.rule.too_deep",
    "{path}: điều kiện lồng nhau quá {max} tầng; viết gọn lại.",
    "{path}: conditions are nested more than {max} deep; simplify the rule.",
)
UNKNOWN_ATTR = Msg(
    "segments.rule.unknown_attr",
    "{path}: không có thuộc tính '{got}'. Dùng một trong: {allowed}; hoặc attrs.TÊN cho thuộc "
    "tính riêng, ví dụ attrs.customer_type.",
    "{path}: there is no attribute '{got}'. Use one of: {allowed}; or attrs.NAME for a custom "
    "attribute, e.g. attrs.customer_type.",
)
BAD_CUSTOM_KEY = Msg(
    "segments.rule.bad_custom_key",
    "{path}: tên thuộc tính riêng '{got}' không hợp lệ; dùng chữ, số, _ hoặc - (tối đa 64 ký "
    "tự), ví dụ attrs.customer_type.",
    "{path}: the custom attribute name '{got}' is not valid; use letters, digits, _ or - (at "
    "most 64), e.g. attrs.customer_type.",
)
BAD_OP = Msg(
    "segments.rule.bad_op",
    "{path}: phép so sánh '{got}' không dùng được cho '{attr}'; dùng một trong: {allowed}.",
    "{path}: the operator '{got}' cannot be used with '{attr}'; use one of: {allowed}.",
)
NO_VALUE = Msg(
    "segments.rule.no_value",
    "{path}: phép '{op}' không cần \"value\"; bỏ khóa value đi.",
    "{path}: the operator '{op}' takes no \"value\"; remove the value key.",
)
NEED_TEXT = Msg(
    "segments.rule.need_text",
    '{path} phải là một chuỗi không rỗng, ví dụ "Hà Nội"; không phải {got}.',
    '{path} must be a non-empty string, e.g. "Hà Nội"; not {got}.',
)
NEED_SCALAR = Msg(
    "segments.rule.need_scalar",
    "{path} phải là chuỗi, số hoặc true/false; không phải {got}.",
    "{path} must be a string, a number or true/false; not {got}.",
)
NEED_TEXT_LIST = Msg(
    "segments.rule.need_text_list",
    '{path} phải là một danh sách không rỗng (tối đa {max} giá trị), ví dụ ["Hà Nội", '
    '"Hải Phòng"]; không phải {got}.',
    '{path} must be a non-empty list (at most {max} values), e.g. ["Hà Nội", "Hải Phòng"]; '
    "not {got}.",
)
NEED_BOOL = Msg(
    "segments.rule.need_bool",
    "{path} phải là true hoặc false; không phải {got}.",
    "{path} must be true or false; not {got}.",
)
NEED_NUMBER = Msg(
    "segments.rule.need_number",
    "{path} phải là một số, ví dụ 5; không phải {got}.",
    "{path} must be a number, e.g. 5; not {got}.",
)
NEED_WHOLE = Msg(
    "segments.rule.need_whole",
    "{path} phải là số nguyên từ {min} đến {max}; không phải {got}.",
    "{path} must be a whole number from {min} to {max}; not {got}.",
)
NEED_DATE = Msg(
    "segments.rule.need_date",
    '{path} phải là ngày dạng YYYY-MM-DD, ví dụ "1990-12-25"; không phải {got}.',
    '{path} must be a date as YYYY-MM-DD, e.g. "1990-12-25"; not {got}.',
)
NEED_DATETIME = Msg(
    "segments.rule.need_datetime",
    '{path} phải là ngày "2025-01-31" (giờ Việt Nam) hoặc thời điểm ISO có múi giờ '
    '"2025-01-31T08:00:00+07:00"; không phải {got}.',
    '{path} must be a date "2025-01-31" (Vietnam time) or an ISO time with an offset '
    '"2025-01-31T08:00:00+07:00"; not {got}.',
)
NEED_CHOICE = Msg(
    "segments.rule.need_choice",
    "{path} phải là một trong: {allowed}; không phải {got}.",
    "{path} must be one of: {allowed}; not {got}.",
)
NEED_CMP = Msg(
    "segments.rule.need_cmp",
    '{path} phải là một phép so sánh như {{"gte": 2}} với eq, ne, gt, gte, lt, lte; không '
    "phải {got}.",
    '{path} must be a comparison such as {{"gte": 2}} using eq, ne, gt, gte, lt, lte; not {got}.',
)
EVENT_MEASURE = Msg(
    "segments.rule.event_measure",
    '{path}: điều kiện sự kiện cần "count", "sum" hoặc "exists", ví dụ '
    '{{"event": "purchase", "count": {{"gte": 2}}, "within_days": 90}}.',
    '{path}: an event condition needs "count", "sum" or "exists", e.g. '
    '{{"event": "purchase", "count": {{"gte": 2}}, "within_days": 90}}.',
)
EXISTS_AND_MEASURE = Msg(
    "segments.rule.exists_and_measure",
    '{path}: "exists" không đi cùng "count" hay "sum"; "exists": true nghĩa là '
    '"count": {{"gte": 1}}, false nghĩa là "count": {{"eq": 0}}.',
    '{path}: "exists" does not go with "count" or "sum"; "exists": true means '
    '"count": {{"gte": 1}}, false means "count": {{"eq": 0}}.',
)
RFM_EMPTY = Msg(
    "segments.rule.rfm_empty",
    '{path}: cần ít nhất một trong r, f, m, ví dụ {{"rfm": {{"f": {{"gte": 4}}}}}}.',
    '{path}: give at least one of r, f, m, e.g. {{"rfm": {{"f": {{"gte": 4}}}}}}.',
)

# --- the tree -------------------------------------------------------------------------------

Scalar: TypeAlias = str | int | float | bool
Comparison: TypeAlias = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every one of `rules` holds (an empty list holds for everyone)."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of `rules` holds."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """`rule` does not hold."""

    rule: Rule


@dataclass(frozen=True, slots=True)
class Attr:
    """A contact column or custom attribute compared with a value."""

    attr: str
    kind: str  # text / bool / datetime / date / custom
    op: str
    value: Any  # str, tuple[str, ...], bool, float, date or aware datetime; None for exists

    @property
    def custom_key(self) -> str | None:
        return self.attr.removeprefix(CUSTOM_PREFIX) if self.kind == "custom" else None


@dataclass(frozen=True, slots=True)
class Tag:
    """The contact carries one of `tags`."""

    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChannelState:
    """The contact is subscribed to, or opted out of, a channel."""

    channel: str
    state: str


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent for the channel and purpose was given and not withdrawn."""

    channel: str
    purpose: str


@dataclass(frozen=True, slots=True)
class EventRule:
    """How many events of a type (or what their value adds up to), optionally recently."""

    type: str
    count: Comparison
    sum: Comparison
    within_days: int | None
    categories: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class BirthdayWithin:
    """The birthday falls in the next `days` days, today included (Vietnam time)."""

    days: int


@dataclass(frozen=True, slots=True)
class CreatedWithin:
    """The contact was created in the last `days` days."""

    days: int


@dataclass(frozen=True, slots=True)
class Rfm:
    """Conditions on the RFM scores (1..5) in contact_stats."""

    r: Comparison
    f: Comparison
    m: Comparison


Rule: TypeAlias = (
    AllOf
    | AnyOf
    | Not
    | Attr
    | Tag
    | ChannelState
    | Consent
    | EventRule
    | BirthdayWithin
    | CreatedWithin
    | Rfm
)


# --- parsing --------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A value as the user wrote it, short enough for an error message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(values: Sequence[str]) -> str:
    return ", ".join(values)


def rule_from_text(text: str) -> dict[str, Any]:
    """A rule given as JSON text (the CLI's --rule), checked to be a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoaError(NOT_JSON, error=exc.msg) from exc
    if not isinstance(value, dict):
        raise LoaError(NOT_OBJECT, path="rule", got=_show(value))
    parse_rule(value)
    return value


def parse_rule(data: Any, path: str = "rule") -> Rule:
    """Check a rule given as data and return its tree; a LoaError names the bad part."""
    return _Parser().rule(data, path, 0)


class _Parser:
    def rule(self, data: Any, path: str, depth: int) -> Rule:
        if depth > MAX_DEPTH:
            raise LoaError(TOO_DEEP, path=path, max=MAX_DEPTH)
        if not isinstance(data, Mapping):
            raise LoaError(NOT_OBJECT, path=path, got=_show(data))
        kinds = [k for k in KINDS if k in data]
        if not kinds:
            raise LoaError(
                UNKNOWN_KIND, path=path, keys=_names(list(data)) or "{}", kinds=_names(KINDS)
            )
        if len(kinds) > 1:
            raise LoaError(TWO_KINDS, path=path, keys=_names(kinds))
        kind = kinds[0]
        if kind in ("all", "any"):
            self._keys(data, path, {kind})
            return self.combine(kind, data[kind], f"{path}.{kind}", depth)
        if kind == "not":
            self._keys(data, path, {"not"})
            return Not(self.rule(data["not"], f"{path}.not", depth + 1))
        if kind == "attr":
            return self.attr(data, path)
        if kind == "tag":
            self._keys(data, path, {"tag"})
            return Tag(self._texts(data["tag"], f"{path}.tag", allow_one=True))
        if kind == "channel":
            self._keys(data, path, {"channel", "state"})
            self._require(data, path, "state", '{"channel": "sms", "state": "opted_out"}')
            return ChannelState(
                self._choice(data["channel"], f"{path}.channel", CHANNELS),
                self._choice(data["state"], f"{path}.state", STATES),
            )
        if kind == "consent":
            self._keys(data, path, {"consent"})
            inner = data["consent"]
            where = f"{path}.consent"
            if not isinstance(inner, Mapping):
                raise LoaError(NOT_OBJECT, path=where, got=_show(inner))
            self._keys(inner, where, {"channel", "purpose"})
            example = '{"consent": {"channel": "sms", "purpose": "marketing"}}'
            self._require(inner, where, "channel", example)
            self._require(inner, where, "purpose", example)
            return Consent(
                self._choice(inner["channel"], f"{where}.channel", CHANNELS),
                self._choice(inner["purpose"], f"{where}.purpose", PURPOSES),
            )
        if kind == "event":
            return self.event(data, path)
        if kind == "birthday_within_days":
            self._keys(data, path, {kind})
            return BirthdayWithin(self._whole(data[kind], f"{path}.{kind}", 1, 366))
        if kind == "created_within_days":
            self._keys(data, path, {kind})
            return CreatedWithin(self._whole(data[kind], f"{path}.{kind}", 1, 36_500))
        return self.rfm(data, path)

    def combine(self, kind: str, items: Any, path: str, depth: int) -> Rule:
        if not isinstance(items, list) or len(items) > MAX_LIST:
            raise LoaError(
                NEED_LIST, path=path, max=MAX_LIST, got=_show(items),
                example='[{"tag": "vip"}, {"attr": "province", "op": "eq", "value": "Hà Nội"}]',
            )  # fmt: skip
        if kind == "any" and not items:
            raise LoaError(EMPTY_ANY, path=path)
        rules = tuple(self.rule(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(items))
        return AllOf(rules) if kind == "all" else AnyOf(rules)

    def attr(self, data: Mapping[str, Any], path: str) -> Attr:
        self._keys(data, path, {"attr", "op", "value"})
        example = '{"attr": "province", "op": "eq", "value": "Hà Nội"}'
        self._require(data, path, "op", example)
        name = data["attr"]
        where = f"{path}.attr"
        if not isinstance(name, str):
            raise LoaError(NEED_TEXT, path=where, got=_show(name))
        kind = _attr_kind(name)
        if kind is None:
            known = sorted(TEXT_ATTRS | BOOL_ATTRS | DATETIME_ATTRS | DATE_ATTRS)
            raise LoaError(UNKNOWN_ATTR, path=where, got=name, allowed=_names(known))
        if kind == "custom" and not CUSTOM_KEY.match(name.removeprefix(CUSTOM_PREFIX)):
            raise LoaError(BAD_CUSTOM_KEY, path=where, got=name)
        op = data["op"]
        allowed = OPS_BY_KIND[kind]
        if op not in allowed:
            raise LoaError(BAD_OP, path=f"{path}.op", got=_show(op), attr=name,
                           allowed=_names(allowed))  # fmt: skip
        where = f"{path}.value"
        if op in ("exists", "missing"):
            if data.get("value") is not None:
                raise LoaError(NO_VALUE, path=where, op=op)
            return Attr(name, kind, op, None)
        self._require(data, path, "value", example)
        return Attr(name, kind, op, self._value(kind, op, data["value"], where))

    def _value(self, kind: str, op: str, value: Any, path: str) -> Any:
        if op in ("in", "not_in"):
            if kind == "custom":
                return self._scalars(value, path)
            return self._texts(value, path, allow_one=False)
        if op in ("contains", "starts_with"):
            return self._text(value, path)
        if kind == "text":
            return self._text(value, path)
        if kind == "bool":
            if not isinstance(value, bool):
                raise LoaError(NEED_BOOL, path=path, got=_show(value))
            return value
        if kind == "datetime":
            return _parse_datetime(value, path)
        if kind == "date":
            return _parse_date(value, path)
        # custom: the order operators compare numbers, the others compare text
        if op in ORDER_OPS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise LoaError(NEED_NUMBER, path=path, got=_show(value))
            if not math.isfinite(value):
                raise LoaError(NEED_NUMBER, path=path, got=_show(value))
            return value
        return _as_text(self._scalar(value, path))

    def event(self, data: Mapping[str, Any], path: str) -> EventRule:
        self._keys(data, path, {"event", "count", "sum", "exists", "within_days", "category"})
        kind = data["event"]
        if not isinstance(kind, str) or not EVENT_TYPE.match(kind):
            raise LoaError(NEED_TEXT, path=f"{path}.event", got=_show(kind))
        measures = [k for k in ("count", "sum", "exists") if k in data]
        if not measures:
            raise LoaError(EVENT_MEASURE, path=path)
        count: Comparison = ()
        total: Comparison = ()
        if "exists" in data:
            if len(measures) > 1:
                raise LoaError(EXISTS_AND_MEASURE, path=path)
            exists = data["exists"]
            if not isinstance(exists, bool):
                raise LoaError(NEED_BOOL, path=f"{path}.exists", got=_show(exists))
            count = (("gte", 1),) if exists else (("eq", 0),)
        if "count" in data:
            count = self._cmp(data["count"], f"{path}.count", 0, 10**9)
        if "sum" in data:
            total = self._cmp(data["sum"], f"{path}.sum", -(10**15), 10**15)
        within = None
        if data.get("within_days") is not None:
            within = self._whole(data["within_days"], f"{path}.within_days", 1, 36_500)
        categories = None
        if data.get("category") is not None:
            categories = self._texts(data["category"], f"{path}.category", allow_one=True)
        return EventRule(kind, count, total, within, categories)

    def rfm(self, data: Mapping[str, Any], path: str) -> Rfm:
        self._keys(data, path, {"rfm"})
        inner = data["rfm"]
        where = f"{path}.rfm"
        if not isinstance(inner, Mapping):
            raise LoaError(NOT_OBJECT, path=where, got=_show(inner))
        self._keys(inner, where, {"r", "f", "m"})
        if not inner:
            raise LoaError(RFM_EMPTY, path=where)
        scores = {k: self._cmp(inner[k], f"{where}.{k}", 1, 5) if k in inner else () for k in "rfm"}
        return Rfm(scores["r"], scores["f"], scores["m"])

    # --- small checks

    def _keys(self, data: Mapping[str, Any], path: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                raise LoaError(UNKNOWN_KEY, path=path, key=key, allowed=_names(sorted(allowed)))

    def _require(self, data: Mapping[str, Any], path: str, key: str, example: str) -> None:
        if key not in data:
            raise LoaError(MISSING_KEY, path=path, key=key, example=example)

    def _text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise LoaError(NEED_TEXT, path=path, got=_show(value))
        return value

    def _texts(self, value: Any, path: str, *, allow_one: bool) -> tuple[str, ...]:
        if allow_one and not isinstance(value, list):
            return (self._text(value, path),)
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise LoaError(NEED_TEXT_LIST, path=path, max=MAX_LIST, got=_show(value))
        return tuple(self._text(v, f"{path}[{i}]") for i, v in enumerate(value))

    def _scalar(self, value: Any, path: str) -> Scalar:
        if isinstance(value, str):
            return self._text(value, path)
        if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
            return value
        raise LoaError(NEED_SCALAR, path=path, got=_show(value))

    def _scalars(self, value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise LoaError(NEED_TEXT_LIST, path=path, max=MAX_LIST, got=_show(value))
        return tuple(_as_text(self._scalar(v, f"{path}[{i}]")) for i, v in enumerate(value))

    def _choice(self, value: Any, path: str, allowed: Sequence[str]) -> str:
        if value not in allowed:
            raise LoaError(NEED_CHOICE, path=path, got=_show(value), allowed=_names(allowed))
        return str(value)

    def _whole(self, value: Any, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise LoaError(NEED_WHOLE, path=path, got=_show(value), min=low, max=high)
        return value

    def _cmp(self, value: Any, path: str, low: int, high: int) -> Comparison:
        if not isinstance(value, Mapping) or not value:
            raise LoaError(NEED_CMP, path=path, got=_show(value))
        parts = []
        for op, bound in value.items():
            if op not in CMP_OPS:
                raise LoaError(NEED_CMP, path=path, got=_show(value))
            parts.append((op, self._whole(bound, f"{path}.{op}", low, high)))
        return tuple(parts)


def _attr_kind(name: str) -> str | None:
    if name in TEXT_ATTRS:
        return "text"
    if name in BOOL_ATTRS:
        return "bool"
    if name in DATETIME_ATTRS:
        return "datetime"
    if name in DATE_ATTRS:
        return "date"
    if name.startswith(CUSTOM_PREFIX):
        return "custom"
    return None


def _as_text(value: Scalar) -> str:
    """A custom attribute value as both databases print a JSON scalar: true, 5, 2.5, text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_date(value: Any, path: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise LoaError(NEED_DATE, path=path, got=_show(value))


def _parse_datetime(value: Any, path: str) -> datetime:
    """A date means its start in Vietnam; a time must carry its offset."""
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), time(), VN)
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    raise LoaError(NEED_DATETIME, path=path, got=_show(value))


def holds(cmp: Comparison, value: int) -> bool:
    """Whether `value` satisfies every part of the comparison (used to reason about zero)."""
    return all(OPERATORS[op](value, bound) for op, bound in cmp)
