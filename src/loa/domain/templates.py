"""Personalised message text: `{{ given_name | default("bạn") }}` filled in for each recipient.

The language is a subset of Jinja2: literal text and `{{ path | filter(args) | ... }}` slots,
where a path is a variable name with `.key` or `["key"]` steps (`order.id`). Jinja2's own parser
reads the template (so syntax errors carry its line numbers and wording); the tree it returns is
then checked against the subset and compiled ONCE into literal parts and slots. Rendering an
audience works column by column: each slot's values for the whole chunk are looked up, passed
through its filters once per distinct value (names, genders and amounts repeat a lot), and the
columns are joined with one C-level `str.format` per recipient. One Jinja2 render per recipient
would be about ten times slower (see bench/render.py).

Sandboxed by construction: a path only ever indexes mappings (never `getattr`), names starting
with `_` are refused, filters come from the `FILTERS` allow-list, and tags (`{% ... %}`), calls,
operators and every other expression are refused when the template is parsed.

`FILTERS` work as plain Jinja2 filters too (the value first, then the arguments), so the email
renderer registers them in its own sandboxed environment.
"""

from __future__ import annotations

import functools
import inspect
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from itertools import repeat
from typing import Any, Final

import jinja2
import regex
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from loa.domain.names import given_name
from loa.domain.text import (
    GSM7,
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_MULTI_PART_SEPTETS,
    GSM7_SINGLE_PART_SEPTETS,
    UCS2,
    UCS2_MULTI_PART_UNITS,
    UCS2_SINGLE_PART_UNITS,
    SegmentCount,
    _grapheme_sets,  # the "simple" characters count_segments cuts by arithmetic
    count_segments,
    strip_accents,
)
from loa.i18n import LoaError, Msg

VN_TZ: Final = timezone(timedelta(hours=7))  # Vietnam keeps no daylight saving

TEMPLATE_SYNTAX = Msg(
    "templates.syntax",
    "Mẫu tin nhắn sai cú pháp ở dòng {line}: {error}. Biến viết dạng {{{{ ten_bien }}}}.",
    "The message template has a syntax error on line {line}: {error}. Write variables as "
    "{{{{ variable_name }}}}.",
)
TEMPLATE_UNSUPPORTED = Msg(
    "templates.unsupported",
    "Mẫu tin nhắn có '{construct}' không được hỗ trợ: chỉ dùng văn bản và biến dạng "
    '{{{{ ten_bien | bo_loc("tham số") }}}}.',
    "The message template uses '{construct}', which is not supported: use only text and "
    'variables like {{{{ variable | filter("argument") }}}}.',
)
TEMPLATE_PRIVATE_NAME = Msg(
    "templates.private_name",
    "Biến '{variable}' không được phép: tên biến không được bắt đầu bằng '_'.",
    "The variable '{variable}' is not allowed: variable names may not start with '_'.",
)
UNKNOWN_FILTER = Msg(
    "templates.unknown_filter",
    "Không có bộ lọc '{filter}' (ở biến '{variable}'). Các bộ lọc có: {known}.",
    "There is no filter '{filter}' (on the variable '{variable}'). Known filters: {known}.",
)
BAD_FILTER_ARGS = Msg(
    "templates.bad_filter_args",
    "Bộ lọc '{filter}' ở biến '{variable}' nhận sai tham số: {error}.",
    "The filter '{filter}' on the variable '{variable}' got wrong arguments: {error}.",
)
MISSING_VARIABLE = Msg(
    "templates.missing_variable",
    "Thiếu giá trị của biến '{variable}' cho người nhận {row}: bổ sung dữ liệu, hoặc khai báo "
    'giá trị mặc định, ví dụ {{{{ {variable} | default("...") }}}}.',
    "The variable '{variable}' has no value for the recipient {row}: add the data, or declare a "
    'default, for example {{{{ {variable} | default("...") }}}}.',
)
BAD_VALUE = Msg(
    "templates.bad_value",
    "Bộ lọc '{filter}' không dùng được với giá trị '{value}' của biến '{variable}' cho người "
    "nhận {row}: cần {expected}.",
    "The filter '{filter}' cannot take the value '{value}' of the variable '{variable}' for the "
    "recipient {row}: it needs {expected}.",
)
EXPECTED_AMOUNT = Msg("templates.expected_amount", "một số tiền", "an amount of money")
EXPECTED_DATE = Msg("templates.expected_date", "một ngày (YYYY-MM-DD)", "a date (YYYY-MM-DD)")


class FilterValueError(ValueError):
    """A filter cannot take this value; `expected` says what it takes."""

    def __init__(self, expected: Msg) -> None:
        super().__init__(expected.en)
        self.expected = expected


def _is_missing(value: Any) -> bool:
    # Undefined first: Jinja2's StrictUndefined raises on any comparison.
    return isinstance(value, jinja2.Undefined) or value is None or value == ""


# --- filters ------------------------------------------------------------------------------------


def vnd(value: Any) -> str:
    """An amount in đồng as Vietnamese write it: 1250000 -> '1.250.000đ'."""
    if isinstance(value, bool):
        raise FilterValueError(EXPECTED_AMOUNT)
    if isinstance(value, int):
        amount = value
    else:
        try:
            # "1.250.000" and "1,250,000" are how people type amounts into spreadsheets.
            cleaned = str(value).strip().removesuffix("đ").replace(".", "").replace(",", "")
            number = Decimal(str(value)) if isinstance(value, float) else Decimal(cleaned)
            amount = int(number.to_integral_value())
        except (InvalidOperation, ValueError) as exc:
            raise FilterValueError(EXPECTED_AMOUNT) from exc
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,}đ".replace(",", ".")


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        # A stored time is UTC; the recipient reads the date in Vietnam.
        return value.astimezone(VN_TZ).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return _as_date(datetime.fromisoformat(value.strip()))
        except ValueError:
            pass
    raise FilterValueError(EXPECTED_DATE)


def ddmm(value: Any) -> str:
    """A date as day/month: 2025-12-05 -> '05/12' (an aware time is read in Vietnam time)."""
    day = _as_date(value)
    return f"{day.day:02d}/{day.month:02d}"


def ddmmyyyy(value: Any) -> str:
    """A date as day/month/year: 2025-12-05 -> '05/12/2025'."""
    day = _as_date(value)
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


_GENDER_WORDS: Final = {
    "male": "Anh",
    "m": "Anh",
    "nam": "Anh",
    "female": "Chị",
    "f": "Chị",
    "nữ": "Chị",
    "nu": "Chị",
}


def greeting(gender: Any, unknown: str = "Quý khách") -> str:
    """How to address someone by gender: 'Anh', 'Chị', else `unknown` ('Quý khách')."""
    if _is_missing(gender):
        return unknown
    return _GENDER_WORDS.get(unicodedata.normalize("NFC", str(gender)).strip().lower(), unknown)


def given(full_name: Any) -> str:
    """The name a Vietnamese greeting uses: 'Nguyễn Văn An' -> 'An'."""
    return given_name(str(full_name)) or ""


def upper(value: Any) -> str:
    """Upper case."""
    return str(value).upper()


def lower(value: Any) -> str:
    """Lower case."""
    return str(value).lower()


def title(value: Any) -> str:
    """Each word capitalised: 'nguyễn văn an' -> 'Nguyễn Văn An'."""
    return str(value).title()


def unaccent(value: Any) -> str:
    """Vietnamese without accents ("không dấu"): 'Thảo' -> 'Thao'."""
    text = value if isinstance(value, str) else _text(value)
    return text if text.isascii() else strip_accents(text)


def default(value: Any, fallback: Any = "") -> str:
    """`fallback` when the value is missing (absent, null or empty), else the value."""
    return _text(fallback) if _is_missing(value) else _text(value)


FILTERS: dict[str, Callable[..., str]] = {
    "vnd": vnd,
    "ddmm": ddmm,
    "ddmmyyyy": ddmmyyyy,
    "greeting": greeting,
    "given": given,
    "upper": upper,
    "lower": lower,
    "title": title,
    "unaccent": unaccent,
    "default": default,
}
# Filters that take a missing value and decide what it becomes; every other filter needs one.
_ACCEPTS_MISSING: Final = frozenset({"default", "greeting"})
_ALIASES: Final = {"d": "default"}


def _text(value: Any) -> str:
    """A value as it appears in a message when no filter formats it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return ddmmyyyy(value)
    return str(value)


# --- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilterCall:
    """One `| name(args)` step of a slot."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Slot:
    """A `{{ path | filters }}` in a template."""

    path: tuple[str, ...]
    filters: tuple[FilterCall, ...] = ()

    @property
    def variable(self) -> str:
        """The path as the user wrote it: 'order.id'."""
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class RenderError:
    """A recipient whose message could not be rendered, and why."""

    row: int
    label: str
    variable: str
    error: LoaError


@dataclass(frozen=True, slots=True)
class RenderResult:
    """A chunk's messages (None where a recipient failed) and the failures in row order."""

    texts: list[str | None]
    errors: list[RenderError] = field(default_factory=list)


_env = SandboxedEnvironment(keep_trailing_newline=True, autoescape=False)


def _path(node: nodes.Expr) -> tuple[str, ...]:
    if isinstance(node, nodes.Name):
        steps: tuple[str, ...] = (node.name,)
    elif isinstance(node, nodes.Getattr):
        steps = (*_path(node.node), node.attr)
    elif (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        steps = (*_path(node.node), node.arg.value)
    else:
        raise LoaError(TEMPLATE_UNSUPPORTED, construct=_shown(node))
    for step in steps:
        if step.startswith("_"):
            raise LoaError(TEMPLATE_PRIVATE_NAME, variable=".".join(steps))
    return steps


def _const(node: nodes.Node, variable: str, name: str) -> Any:
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg) and isinstance(node.node, nodes.Const):
        return -node.node.value
    raise LoaError(
        BAD_FILTER_ARGS, filter=name, variable=variable, error=f"{_shown(node)} is not a constant"
    )


def _slot(node: nodes.Expr) -> Slot:
    chain: list[nodes.Filter] = []
    while isinstance(node, nodes.Filter) and node.node is not None:
        chain.append(node)
        node = node.node
    path = _path(node)
    variable = ".".join(path)
    calls: list[FilterCall] = []
    for step in reversed(chain):
        name = _ALIASES.get(step.name, step.name)
        if name not in FILTERS:
            raise LoaError(UNKNOWN_FILTER, filter=step.name, variable=variable, known=_known())
        if step.dyn_args is not None or step.dyn_kwargs is not None:
            raise LoaError(TEMPLATE_UNSUPPORTED, construct="*args")
        args = tuple(_const(arg, variable, name) for arg in step.args)
        kwargs = tuple(
            (str(kw.key), _const(kw.value, variable, name))
            for kw in step.kwargs
            if isinstance(kw, nodes.Keyword)
        )
        try:
            # Bind the arguments now, so a wrong call is refused with the template, not later.
            inspect.signature(FILTERS[name]).bind(None, *args, **dict(kwargs))
        except TypeError as exc:
            raise LoaError(BAD_FILTER_ARGS, filter=name, variable=variable, error=exc) from exc
        calls.append(FilterCall(name, args, kwargs))
    return Slot(path, tuple(calls))


def _known() -> str:
    return ", ".join(FILTERS)


def _shown(node: nodes.Node) -> str:
    """The construct as the user wrote it, near enough to find it in the template."""
    if isinstance(node, nodes.Call):
        return "(...)"
    if isinstance(node, nodes.BinExpr | nodes.UnaryExpr):
        return str(node.operator)
    if isinstance(node, nodes.CondExpr):
        return "if ... else"
    if isinstance(node, nodes.Compare):
        return " ".join(str(op.op) for op in node.ops)
    if isinstance(node, nodes.Const):
        return repr(node.value)
    return type(node).__name__


_TAG_NAMES: Final[dict[type[nodes.Node], str]] = {
    nodes.If: "{% if %}",
    nodes.For: "{% for %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.Macro: "{% macro %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}",
}


class Template:
    """A template parsed once into literal parts and slots; renders whole chunks at a time."""

    __slots__ = ("literals", "slots", "source")

    def __init__(self, source: str, literals: list[str], slots: list[Slot]) -> None:
        self.source = source
        self.literals = literals  # len(slots) + 1 pieces of text around the slots
        self.slots = slots

    @property
    def variables(self) -> list[str]:
        """The variables the template uses, in order of first use."""
        return list(dict.fromkeys(slot.variable for slot in self.slots))

    def unaccented(self) -> Template:
        """The same template producing text without Vietnamese accents."""
        slots = [Slot(s.path, (*s.filters, FilterCall("unaccent"))) for s in self.slots]
        return Template(self.source, [strip_accents(part) for part in self.literals], slots)

    def render(self, row: Mapping[str, Any], label: str = "1") -> str:
        """One recipient's message; a LoaError names a missing variable."""
        return self.render_all([row], [label])[0]

    def render_all(
        self, rows: Sequence[Mapping[str, Any]], labels: Sequence[str] = ()
    ) -> list[str]:
        """Every recipient's message; the first failure raises its LoaError."""
        result = self.render_rows(rows, labels, max_errors=1)
        if result.errors:
            raise result.errors[0].error
        return [text for text in result.texts if text is not None]

    def render_rows(
        self,
        rows: Sequence[Mapping[str, Any]],
        labels: Sequence[str] = (),
        *,
        max_errors: int | None = None,
    ) -> RenderResult:
        """Every recipient's message, None for those that fail; the failures, in row order.

        `labels` name the rows in errors (default: their 1-based position). `max_errors` stops
        collecting failures (not rendering) after that many.
        """
        return self._render(rows, labels, max_errors)[0]

    def render_counted(
        self,
        rows: Sequence[Mapping[str, Any]],
        labels: Sequence[str] = (),
        *,
        max_errors: int | None = None,
    ) -> tuple[RenderResult, list[SegmentCount | None]]:
        """`render_rows` plus each message's encoding and parts (None where it failed).

        The same figures as `count_segments` on each message, mostly without looking at the
        message: the literal parts are measured once, each slot's values once per distinct
        value, and a message's septets or UTF-16 units are their sums. Only a multi-part message
        with GSM-7 extension characters or joining characters (whose parts need the real layout),
        or one where a value starts with a character that Unicode normalisation could join to
        what precedes it, is counted the slow way.
        """
        result, columns = self._render(rows, labels, max_errors)
        if len(self.literals) > _MAX_PIECES:
            return result, [None if t is None else count_segments(t) for t in result.texts]
        pieces = [_PieceStats.of(part) for part in self.literals]
        septets = sum(p.septets for p in pieces)
        units = sum(p.units for p in pieces)
        careful = sum(p.careful for p in pieces)
        # A literal after a slot is joined to a value: it needs a stable first character.
        careful_join = sum(p.unstable_start for p in pieces[1:])
        stats = [_column_stats(column) for column in columns]
        n = len(result.texts)
        zeros = [0] * n
        col_septets = list(map(sum, zip(*(c[0] for c in stats), strict=True))) if stats else zeros
        col_units = list(map(sum, zip(*(c[1] for c in stats), strict=True))) if stats else zeros
        col_careful = list(map(sum, zip(*(c[2] for c in stats), strict=True))) if stats else zeros
        if careful_join:
            return result, [None if t is None else count_segments(t) for t in result.texts]
        # Without flags on its values, a message's count follows from its sums alone, so it is
        # worked out once per sum; a value with flags sends its message the slow way.
        by_septets: dict[int, SegmentCount | None] = {}
        by_units: dict[int, SegmentCount | None] = {}
        counts: list[SegmentCount | None] = []
        add = counts.append
        for text, s, u, c in zip(result.texts, col_septets, col_units, col_careful, strict=True):
            if text is None:
                add(None)
            elif c:
                add(count_segments(text))
            elif s + septets >= 0:
                try:
                    found = by_septets[s]
                except KeyError:
                    found = by_septets[s] = _gsm_count(s + septets, careful)
                add(count_segments(text) if found is None else found)
            else:
                try:
                    found = by_units[u]
                except KeyError:
                    found = by_units[u] = _ucs2_count(u + units, careful)
                add(count_segments(text) if found is None else found)
        return result, counts

    def _render(
        self, rows: Sequence[Mapping[str, Any]], labels: Sequence[str], max_errors: int | None
    ) -> tuple[RenderResult, list[list[str]]]:
        n = len(rows)
        if not self.slots:
            return RenderResult([self.literals[0]] * n), []
        bad: dict[int, RenderError] = {}
        columns = [self._column(slot, rows, labels, bad) for slot in self.slots]
        # Literals and value columns interleaved, joined row by row: "".join over zip runs at C
        # speed, three times faster than one str.format per row.
        pieces: list[Iterable[str]] = []
        for i, part in enumerate(self.literals):
            if part:
                pieces.append(repeat(part, n))
            if i < len(columns):
                pieces.append(columns[i])
        texts: list[str | None] = list(map("".join, zip(*pieces, strict=True)))
        errors = sorted(bad.values(), key=lambda e: e.row)
        for error in errors:
            texts[error.row] = None
        if max_errors is not None:
            errors = errors[:max_errors]
        return RenderResult(texts, errors), columns

    def _column(
        self,
        slot: Slot,
        rows: Sequence[Mapping[str, Any]],
        labels: Sequence[str],
        bad: dict[int, RenderError],
    ) -> list[str]:
        values = _lookup(slot.path, rows)
        for call in slot.filters:
            values = _apply(call, values, slot, labels, bad)
        kinds = set(map(type, values))
        if kinds <= _PLAIN:
            # The common case, at C speed: text and whole numbers, shown as they are.
            out: list[str] = values if kinds == {str} else list(map(str, values))
            if "" in out:
                for i, text in enumerate(out):
                    if not text:
                        missing = LoaError(
                            MISSING_VARIABLE, variable=slot.variable, row=_label(labels, i)
                        )
                        _fail(bad, i, labels, slot, missing)
            return out
        try:
            shown = {v: _shown_value(v) for v in dict.fromkeys(values)}
            out = list(map(shown.__getitem__, values))
        except TypeError:  # an unhashable value (a list from JSON attributes)
            out = [_shown_value(v) for v in values]
        if None in out:
            for i, text in enumerate(out):
                if text is None:
                    missing = LoaError(
                        MISSING_VARIABLE, variable=slot.variable, row=_label(labels, i)
                    )
                    _fail(bad, i, labels, slot, missing)
                    out[i] = ""
        return out


_PLAIN: Final = frozenset({str, int})


def _shown_value(value: Any) -> Any:
    """The value's text in a message, or None when it is missing."""
    return None if _is_missing(value) else _text(value)


# --- counting column-wise -----------------------------------------------------------------------

_NOT_GSM: Final = -(1 << 40)  # septets of a piece GSM-7 cannot carry: any sum stays negative
# A piece's "careful" flags, summed over a message's pieces (at most 1023 slots each): it has
# GSM-7 extension characters / joining characters / a first character that may join the one
# before it.
_EXTENSION: Final = 0x3FF
_JOINING: Final = 0x3FF << 10
_UNSTABLE: Final = 1 << 20
_MAX_PIECES: Final = 1000
# A character that never joins a preceding one under NFC and is never reordered: text may be
# cut before it and normalised piece by piece (Unicode's "stable code points").
_STABLE: Final = regex.compile(r"[\p{NFC_QC=Yes}&&\p{ccc=0}]", regex.V1)
_BASIC_GSM_ASCII: Final = bytes(sorted(ord(c) for c in GSM7_BASIC if c.isascii()))


@dataclass(frozen=True, slots=True)
class _PieceStats:
    """What a piece of a message adds to its count, whatever surrounds it."""

    septets: int  # _NOT_GSM when GSM-7 cannot carry it
    units: int  # UTF-16 units once normalised
    careful: int  # extension and joining characters as flags (1, 1 << 10)
    unstable_start: int  # 1 when normalising could join its first character to the one before

    @staticmethod
    def of(piece: str) -> _PieceStats:
        if not piece:
            return _PieceStats(0, 0, 0, 0)
        unstable = 0 if piece[0].isascii() or _STABLE.match(piece) else 1
        nfc = piece if piece.isascii() else unicodedata.normalize("NFC", piece)
        count = count_segments(nfc, nfc=False)
        units = len(nfc.encode("utf-16-le")) >> 1
        extension = any(c in GSM7_EXTENSION for c in nfc)
        # When every character is a grapheme of its own (text.py's "simple" set), so is every
        # character of a text made of such pieces, and its parts follow by arithmetic.
        simple = _grapheme_sets()[0].fullmatch(nfc) is not None
        septets = count.units if count.encoding == GSM7 else _NOT_GSM
        return _PieceStats(septets, units, int(extension) + (0 if simple else 1 << 10), unstable)


def _gsm_count(septets: int, careful: int) -> SegmentCount | None:
    """The count of a GSM-7 message from its septets; None when its parts need the layout."""
    if septets <= GSM7_SINGLE_PART_SEPTETS:
        return SegmentCount(GSM7, 1, septets)
    if careful & _EXTENSION:
        return None
    return SegmentCount(GSM7, -(-septets // GSM7_MULTI_PART_SEPTETS), septets)


def _ucs2_count(units: int, careful: int) -> SegmentCount | None:
    """The count of a UCS-2 message from its units; None when its parts need the layout."""
    if units <= UCS2_SINGLE_PART_UNITS:
        return SegmentCount(UCS2, 1, units)
    if careful & _JOINING:
        return None
    return SegmentCount(UCS2, -(-units // UCS2_MULTI_PART_UNITS), units)


def _column_stats(column: list[str]) -> tuple[list[int], list[int], list[int]]:
    """(septets, units, careful) of each value of a slot, per distinct value."""
    joined = "".join(column)
    if joined.isascii() and not joined.encode().translate(None, _BASIC_GSM_ASCII):
        # Plain ASCII letters, digits and punctuation: one septet and one unit each.
        lengths = list(map(len, column))
        return lengths, lengths, [0] * len(column)
    stats = {v: _PieceStats.of(v) for v in dict.fromkeys(column)}
    per_row = list(map(stats.__getitem__, column))
    careful = [p.careful + _UNSTABLE * p.unstable_start for p in per_row]
    return [p.septets for p in per_row], [p.units for p in per_row], careful


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _label(labels: Sequence[str], i: int) -> str:
    return labels[i] if i < len(labels) else str(i + 1)


def _fail(
    bad: dict[int, RenderError], i: int, labels: Sequence[str], slot: Slot, error: LoaError
) -> None:
    # A recipient's first failure is the one to report: the later ones often follow from it.
    if i not in bad:
        bad[i] = RenderError(i, _label(labels, i), slot.variable, error)


def _lookup(path: tuple[str, ...], rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    first = path[0]
    try:
        values: list[Any] = list(map(dict.get, rows, repeat(first)))  # type: ignore[arg-type]
    except TypeError:  # rows that are mappings but not dicts
        values = [row.get(first) for row in rows]
    for step in path[1:]:
        values = [
            v.get(step) if type(v) is dict or isinstance(v, Mapping) else None for v in values
        ]
    return values


def _apply(
    call: FilterCall,
    values: list[Any],
    slot: Slot,
    labels: Sequence[str],
    bad: dict[int, RenderError],
) -> list[Any]:
    fn = FILTERS[call.name]
    args, kwargs = call.args, dict(call.kwargs)
    takes_missing = call.name in _ACCEPTS_MISSING
    failed: dict[Any, FilterValueError] = {}
    if call.name == "unaccent" and set(map(type, values)) <= _PLAIN:
        shown = list(map(str, values))
        if "".join(shown).isascii():
            # Accents only live outside ASCII: a plain column passes as it is (missing values
            # stay empty, to be reported when the column is joined).
            return shown

    def one(value: Any) -> Any:
        if not takes_missing and _is_missing(value):
            return None  # reported as missing when the column is joined
        try:
            return fn(value, *args, **kwargs)
        except FilterValueError as exc:
            failed[_key(value)] = exc
            return ""

    try:
        # Once per distinct value: names, genders and amounts repeat across an audience.
        results = {v: one(v) for v in dict.fromkeys(values)}
        out = list(map(results.__getitem__, values))
    except TypeError:  # an unhashable value (a list from JSON attributes)
        out = [one(v) for v in values]
    if failed:
        for i, value in enumerate(values):
            exc = failed.get(_key(value))
            if exc is not None:
                expected = exc.expected
                msg = Msg(
                    BAD_VALUE.code,
                    BAD_VALUE.vi.replace("{expected}", expected.vi),
                    BAD_VALUE.en.replace("{expected}", expected.en),
                )
                error = LoaError(
                    msg,
                    filter=call.name,
                    value=value,
                    variable=slot.variable,
                    row=_label(labels, i),
                )
                _fail(bad, i, labels, slot, error)
    return out


def _key(value: Any) -> Any:
    return value if _hashable(value) else repr(value)


@functools.lru_cache(maxsize=256)
def parse(source: str) -> Template:
    """The template compiled into literal parts and slots, or a LoaError that says what to fix."""
    try:
        tree = _env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        error = (exc.message or str(exc)).rstrip(".")
        raise LoaError(TEMPLATE_SYNTAX, line=exc.lineno, error=error) from exc
    literals = [""]
    slots: list[Slot] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            construct = _TAG_NAMES.get(type(statement), "{% ... %}")
            raise LoaError(TEMPLATE_UNSUPPORTED, construct=construct)
        for node in statement.nodes:
            if isinstance(node, nodes.TemplateData):
                literals[-1] += node.data
            elif isinstance(node, nodes.Const) and isinstance(node.value, str):
                literals[-1] += node.value
            else:
                slots.append(_slot(node))
                literals.append("")
    return Template(source, literals, slots)


def render_chunk(template: str | Template, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each row's message (rows are mappings of variables); a LoaError names the first failure."""
    compiled = parse(template) if isinstance(template, str) else template
    return compiled.render_all(rows)
