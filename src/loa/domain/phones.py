"""Phone numbers: parse, validate and normalise to E.164; original carrier by prefix.

Two paths give the same verdicts:

- `parse_phone` (one number) hands the number to `phonenumbers` after undoing Excel damage,
  then converts legacy 11-digit 01xx mobiles by the 2018 table.
- `normalize_column` (a whole column) cleans the common Vietnamese shapes with vectorised polars
  expressions and classifies the national significant number with the regexes of
  `phonenumbers`' own VN metadata, so validity equals `phonenumbers` by construction. Every row
  it is not sure about (letters, extensions, other country codes, odd lengths) goes to
  `parse_phone`. Property tests hold the two paths and `phonenumbers` to the same answers.

Validity and type are `phonenumbers`' verdicts; the carrier is a guess by prefix, the
*original* range holder, because numbers are portable since 2018.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
import polars as pl

from loa.i18n import Lang, Msg

VN = "VN"
VN_CODE = "84"
_VN_CC = int(VN_CODE)

REASONS: dict[str, Msg] = {
    "empty": Msg(
        "phone.empty",
        "Ô trống: nhập số điện thoại hoặc bỏ dòng này.",
        "Empty: enter a phone number or remove the row.",
    ),
    "not_a_number": Msg(
        "phone.not_a_number",
        "Không phải số điện thoại: nhập các chữ số, ví dụ 0912345678.",
        "Not a phone number: enter the digits, e.g. 0912345678.",
    ),
    "too_short": Msg(
        "phone.too_short",
        "Thiếu chữ số: số di động Việt Nam có 10 chữ số (0 và 9 chữ số), số cố định có 11 "
        "(02x…). Kiểm tra xem có bị mất chữ số không.",
        "Too few digits: a Vietnamese mobile has 10 digits (0 and 9 more), a landline 11 "
        "(02x…). Check for missing digits.",
    ),
    "too_long": Msg(
        "phone.too_long",
        "Thừa chữ số: số di động Việt Nam có 10 chữ số (0 và 9 chữ số), số cố định có 11 "
        "(02x…). Kiểm tra xem có gõ thừa hoặc hai số dính liền nhau không.",
        "Too many digits: a Vietnamese mobile has 10 digits (0 and 9 more), a landline 11 "
        "(02x…). Check for an extra digit or two numbers run together.",
    ),
    "unknown_prefix": Msg(
        "phone.unknown_prefix",
        "Đầu số không có trong kế hoạch số của Việt Nam: kiểm tra lại các chữ số đầu "
        "(số cố định đã đổi sang 02x từ năm 2017).",
        "This prefix is not in Vietnam's numbering plan: check the first digits "
        "(landlines moved to 02x in 2017).",
    ),
    "ambiguous_scientific": Msg(
        "phone.ambiguous_scientific",
        "Excel đã đổi số này sang dạng khoa học (như 8.49123E+10) và làm mất chữ số: "
        "định dạng cột là Văn bản (Text) trong Excel rồi xuất lại tệp.",
        "Excel turned this number into scientific notation (like 8.49123E+10) and lost digits: "
        "format the column as Text in Excel and export the file again.",
    ),
    "invalid_country_code": Msg(
        "phone.invalid_country_code",
        "Không có mã quốc gia này: kiểm tra các chữ số sau dấu + (Việt Nam là +84).",
        "No such country code: check the digits after the + (Vietnam is +84).",
    ),
    "foreign_invalid": Msg(
        "phone.foreign_invalid",
        "Số nước ngoài không hợp lệ theo kế hoạch số của nước đó: kiểm tra mã quốc gia và số.",
        "This foreign number is not valid in its country's numbering plan: check the country "
        "code and the number.",
    ),
}

# The 2018 conversion of 11-digit mobiles, keyed by national significant digits (no leading 0).
LEGACY_PREFIXES: dict[str, str] = {
    "162": "32",
    "163": "33",
    "164": "34",
    "165": "35",
    "166": "36",
    "167": "37",
    "168": "38",
    "169": "39",
    "120": "70",
    "121": "79",
    "122": "77",
    "126": "76",
    "128": "78",
    "123": "83",
    "124": "84",
    "125": "85",
    "127": "81",
    "129": "82",
    "186": "56",
    "188": "58",
    "199": "59",
}
_LEGACY_NSN_LENGTH = 10

# Original range holders by national prefix (without the 0). 052, 030, 031 and 051 are not in
# the issue's table; their holders come from phonenumbers' carrier data. 087 is Itel's own
# range although phonenumbers files it under VinaPhone, whose network Itel uses.
CARRIERS: dict[str, str] = {
    **dict.fromkeys(["86", "96", "97", "98", "31", *map(str, range(32, 40))], "Viettel"),
    **dict.fromkeys(["89", "90", "93", "70", "76", "77", "78", "79", "30", "51"], "MobiFone"),
    **dict.fromkeys(["88", "91", "94", "81", "82", "83", "84", "85"], "VinaPhone"),
    **dict.fromkeys(["92", "56", "58", "52"], "Vietnamobile"),
    **dict.fromkeys(["99", "59"], "Gmobile"),
    "87": "Itel",
    "55": "Reddi",
}

COLUMNS = ("e164", "valid", "type", "carrier", "legacy_converted", "reason")
_SCHEMA: dict[str, Any] = {
    "e164": pl.String,
    "valid": pl.Boolean,
    "type": pl.String,
    "carrier": pl.String,
    "legacy_converted": pl.Boolean,
    "reason": pl.String,
}

_TYPE_NAMES: dict[int, str] = {
    value: name.lower()
    for name, value in vars(phonenumbers.PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}


@dataclass(frozen=True, slots=True)
class _Desc:
    """One number type of phonenumbers' VN metadata: its pattern and possible lengths."""

    type: str
    pattern: str
    lengths: tuple[int, ...]


def _vn_metadata() -> tuple[_Desc, tuple[_Desc, ...], _Desc | None, _Desc | None, bool]:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(VN)
    if meta is None or meta.general_desc is None or not meta.general_desc.national_number_pattern:
        raise RuntimeError("phonenumbers has no numbering plan for VN")

    def desc(name: str) -> _Desc | None:
        found: phonenumbers.PhoneNumberDesc | None = getattr(meta, name)
        if found is None or not found.national_number_pattern:
            return None
        return _Desc(name, found.national_number_pattern, tuple(found.possible_length))

    general = _Desc(
        "general",
        meta.general_desc.national_number_pattern,
        tuple(meta.general_desc.possible_length),
    )
    # The order of phonenumbers' _number_type_helper: the first type that matches wins.
    earlier = tuple(
        d
        for name in (
            "premium_rate",
            "toll_free",
            "shared_cost",
            "voip",
            "personal_number",
            "pager",
            "uan",
            "voicemail",
        )
        if (d := desc(name)) is not None
    )
    return (
        general,
        earlier,
        desc("fixed_line"),
        desc("mobile"),
        bool(meta.same_mobile_and_fixed_line_pattern),
    )


_GENERAL, _EARLIER_TYPES, _FIXED, _MOBILE, _SAME_FIXED_AND_MOBILE = _vn_metadata()
_MIN_VN, _MAX_VN = min(_GENERAL.lengths), max(_GENERAL.lengths)
# First digit of the national significant number -> its expected length, for reasons only.
_EXPECTED_LENGTH = {**dict.fromkeys("35789", 9), "2": 10}

# Excel damage, undone the same way on both paths. ASCII digits only: other scripts' digits go
# to phonenumbers untouched.
_FULLWIDTH = {0xFF10 + i: str(i) for i in range(10)} | {0xFF0B: "+"}
_SCIENTIFIC = r"^([0-9])(?:[.,]([0-9]*))?[eE]\+?([0-9]{1,2})$"
_EXCEL_FLOAT = r"^([0-9]+)\.0+$"
_SCIENTIFIC_RE = re.compile(_SCIENTIFIC)
_EXCEL_FLOAT_RE = re.compile(_EXCEL_FLOAT)


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """The verdict on one input. `reason` is a code in REASONS, None when valid."""

    input: str
    valid: bool
    e164: str | None
    type: str | None
    carrier: str | None
    legacy_converted: bool
    reason: str | None

    def reason_text(self, lang: Lang | None = None) -> str | None:
        """The reason in the user's language."""
        return REASONS[self.reason].render(lang) if self.reason else None


def national_significant(e164: str) -> str:
    """The national significant number of an E.164 string: '+84912345678' -> '912345678'."""
    return str(phonenumbers.national_significant_number(phonenumbers.parse(e164, None)))


def parse_phone(text: str, default_region: str = VN) -> PhoneResult:
    """Parse one number as people write it, Excel damage and 11-digit 01xx numbers included."""
    cleaned, problem = _undo_excel(text)
    if problem:
        return PhoneResult(text, False, None, None, None, False, problem)
    try:
        number = phonenumbers.parse(cleaned, default_region)
    except phonenumbers.NumberParseException as exc:
        return PhoneResult(text, False, None, None, None, False, _parse_error(exc, cleaned))
    legacy = False
    if number.country_code == _VN_CC and not phonenumbers.is_valid_number(number):
        converted = _convert_legacy(phonenumbers.national_significant_number(number))
        if converted is not None:
            number = phonenumbers.PhoneNumber(country_code=_VN_CC, national_number=converted)
            legacy = True
    kind = _TYPE_NAMES[phonenumbers.number_type(number)]
    # is_valid_number is exactly "its type is known" (the same region, metadata and type
    # helper); asking number_type alone halves the cost of a foreign number.
    valid = kind != "unknown"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    carrier = None
    reason = None
    if number.country_code == _VN_CC:
        nsn = phonenumbers.national_significant_number(number)
        if kind == "mobile":
            carrier = CARRIERS.get(nsn[:2])
        if not valid:
            reason = _vn_reason(nsn)
    elif not valid:
        reason = "foreign_invalid"
    return PhoneResult(text, valid, e164, kind, carrier, legacy, reason)


def _undo_excel(text: str) -> tuple[str, str | None]:
    """The text with full-width digits, a trailing `.0` and exact scientific notation undone,
    or a reason code when nothing is left to parse."""
    stripped = text.strip().translate(_FULLWIDTH)
    if not stripped:
        return stripped, "empty"
    sci = _SCIENTIFIC_RE.match(stripped)
    if sci:
        digits = sci[1] + (sci[2] or "")
        # Exact only when the mantissa carries every digit; otherwise Excel rounded some away.
        if len(digits) != int(sci[3]) + 1:
            return stripped, "ambiguous_scientific"
        return digits, None
    return _EXCEL_FLOAT_RE.sub(r"\1", stripped), None


def _parse_error(exc: phonenumbers.NumberParseException, cleaned: str) -> str:
    kind = exc.error_type
    if kind == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        return "invalid_country_code"
    if kind == phonenumbers.NumberParseException.TOO_LONG:
        return "too_long"
    if kind == phonenumbers.NumberParseException.NOT_A_NUMBER:
        # phonenumbers calls "+84" not a number; to a person it is too short.
        letters = any(c.isalpha() for c in cleaned)
        digits = sum(c.isdigit() for c in cleaned)
        return "too_short" if 0 < digits < 3 and not letters else "not_a_number"
    return "too_short"


def _convert_legacy(nsn: str) -> int | None:
    if len(nsn) == _LEGACY_NSN_LENGTH and nsn[:3] in LEGACY_PREFIXES:
        return int(LEGACY_PREFIXES[nsn[:3]] + nsn[3:])
    return None


def _vn_reason(nsn: str) -> str:
    """Why a parsed Vietnamese national significant number is invalid, as a reason code."""
    # phonenumbers keeps the trunk 0 when too few digits follow it: judge those digits.
    nsn = nsn[1:] if nsn.startswith("0") else nsn
    expected = _LEGACY_NSN_LENGTH if nsn[:3] in LEGACY_PREFIXES else _EXPECTED_LENGTH.get(nsn[:1])
    low, high = (expected, expected) if expected else (_MIN_VN, _MAX_VN)
    if len(nsn) < low:
        return "too_short"
    if len(nsn) > high:
        return "too_long"
    return "unknown_prefix"


# --- the column path ---------------------------------------------------------------------------

_MAX_NSN_LENGTH = 17  # phonenumbers refuses longer national numbers
_CARRIER_BY_PREFIX = pl.Series([CARRIERS.get(f"{i:02d}") for i in range(100)], dtype=pl.String)
_PLAIN = r"^\+?[0-9]{3,}$"
_SEPARATORS = r"[ .()\-]"


def normalize_column(values: pl.Series, default_region: str = VN) -> pl.DataFrame:
    """Normalise a whole column; one output row per input row, in order."""
    raw = values.cast(pl.String)
    if default_region.upper() != VN:
        return _scalar_frame(raw.to_list(), default_region)
    fast = _fast_frame(raw)
    slow_rows = fast.get_column("_slow").arg_true()
    out = fast.select(COLUMNS)
    if slow_rows.len():
        slow = _scalar_frame(raw.gather(slow_rows).to_list(), default_region)
        out = out.with_columns(
            _patch(out.get_column(name), slow_rows, slow.get_column(name)) for name in COLUMNS
        )
    return out


def _scalar_frame(values: list[str | None], default_region: str) -> pl.DataFrame:
    # Cells the fast path leaves over repeat ("N/A", "không có"): judge each text once.
    verdicts = {v: parse_phone(v or "", default_region) for v in dict.fromkeys(values)}
    results = [verdicts[v] for v in values]
    return pl.DataFrame(
        {name: [getattr(r, name) for r in results] for name in COLUMNS}, schema=_SCHEMA
    )


def _fast_frame(raw: pl.Series) -> pl.DataFrame:
    """The vectorised verdicts, and `_slow` on the rows only `parse_phone` may judge.

    Each step mirrors a step of `parse_phone`/`phonenumbers.parse` for digit strings; a row
    whose shape the mirror does not cover is marked `_slow` instead of being guessed at. Steps
    that concern few rows run on those rows only: a polars string kernel costs as much on a
    null as on a value.
    """
    c = pl.col
    text = raw.str.strip_chars()
    frame = pl.DataFrame({"text": text}).with_columns(
        empty=c("text").str.len_bytes().fill_null(0) == 0,
        plain=c("text").str.contains(_PLAIN).fill_null(False),
    )
    frame = frame.with_columns(digits=pl.when(c("plain")).then(c("text")), ambiguous=False)
    odd = (~frame["plain"] & ~frame["empty"]).arg_true()
    if odd.len():
        cleaned = _clean_odd(text.gather(odd))
        frame = frame.with_columns(
            digits=_patch(frame["digits"], odd, cleaned["digits"]),
            ambiguous=_patch(frame["ambiguous"], odd, cleaned["ambiguous"]),
        )

    frame = frame.with_columns(
        n=c("digits").str.len_bytes().cast(pl.Int64),
        plus=c("digits").str.starts_with("+"),
        idd=c("digits").str.starts_with("00"),
        cc_plus=c("digits").str.starts_with("+" + VN_CODE),
        cc_idd=c("digits").str.starts_with("00" + VN_CODE),
        s84=c("digits").str.starts_with(VN_CODE),
        s840=c("digits").str.starts_with(VN_CODE + "0").cast(pl.Int64),
    )
    # Without + or 00, phonenumbers reads a leading 84 as the country code when the whole is too
    # long for VN's plan, or when it does not fit the plan but the rest (trunk 0 dropped) does.
    frame = frame.with_columns(take84=c("s84") & (c("n") > _MAX_VN))
    unsure = (frame["s84"] & (frame["n"] <= _MAX_VN)).arg_true()
    if unsure.len():
        take = frame[unsure].select(
            ~_general(c("digits")) & _general(c("digits").str.slice(2 + c("s840")))
        )
        frame = frame.with_columns(take84=_patch(frame["take84"], unsure, take.to_series()))

    frame = frame.with_columns(
        # Where the national number starts: after +84, 0084, or a bare 84 and its trunk 0.
        off=pl.when(c("cc_plus"))
        .then(3)
        .when(c("cc_idd"))
        .then(4)
        .when(c("take84"))
        .then(2 + c("s840"))
        .otherwise(0),
        foreign=(c("plus") & ~c("cc_plus")) | (c("idd") & ~c("cc_idd")),
    ).with_columns(nlen=c("n") - c("off"))
    # The trunk 0 goes only if a possible VN length is left, as in phonenumbers.parse.
    frame = frame.with_columns(
        strip=((c("digits").str.slice(c("off"), 1) == "0") & (c("nlen") > _MIN_VN)).cast(pl.Int64)
    ).with_columns(
        nsn=c("digits").str.slice(c("off") + c("strip")),
        length=c("nlen") - c("strip"),
        legacy_converted=False,
    )
    # A 10-digit NSN with a legacy prefix is never valid in VN's plan (a test holds this), so
    # every such row converts, as parse_phone converts the invalid ones.
    ten = (frame["length"] == _LEGACY_NSN_LENGTH).arg_true()
    head3 = frame["nsn"].gather(ten).str.head(3)
    legacy = ten.filter(head3.is_in(list(LEGACY_PREFIXES)))
    if legacy.len():
        old = frame["nsn"].gather(legacy)
        new = old.str.head(3).replace_strict(LEGACY_PREFIXES) + old.str.slice(3)
        frame = frame.with_columns(
            nsn=_patch(frame["nsn"], legacy, new),
            length=_patch(frame["length"], legacy, new.str.len_bytes().cast(pl.Int64)),
            legacy_converted=_patch(
                frame["legacy_converted"], legacy, pl.repeat(True, legacy.len(), eager=True)
            ),
        )

    frame = frame.with_columns(type=_type_column(frame["nsn"], frame["length"])).with_columns(
        valid=(c("type") != "unknown").fill_null(False)
    )
    frame = frame.with_columns(
        e164=pl.lit("+" + VN_CODE) + c("nsn"),
        # Looked up by position in a 100-row table: cheaper than hashing strings.
        carrier=pl.lit(_CARRIER_BY_PREFIX).gather(
            pl.when(c("type") == "mobile").then(c("nsn").str.head(2).cast(pl.UInt8))
        ),
        reason=pl.when(c("empty"))
        .then(pl.lit("empty"))
        .when(c("ambiguous"))
        .then(pl.lit("ambiguous_scientific")),
        # phonenumbers keeps a 0 left at the start of the NSN as an "Italian" zero: its call.
        _slow=~c("empty")
        & ~c("ambiguous")
        & (
            c("digits").is_null()
            | c("foreign")
            | (c("nlen") < 2)
            | c("nsn").str.starts_with("0")
            | (c("length") > _MAX_NSN_LENGTH)
        ),
    )
    invalid = (~frame["valid"] & frame["nsn"].is_not_null()).arg_true()
    if invalid.len():
        few = frame[invalid]
        reasons = few.select(_vn_reason_expr(c("nsn"), c("length"))).to_series()
        frame = frame.with_columns(reason=_patch(frame["reason"], invalid, reasons))
    return frame


def _clean_odd(text: pl.Series) -> pl.DataFrame:
    """Cells that are not bare digits: full-width digits, Excel floats and scientific notation,
    separators. `digits` is null where the result is still not a bare digit string."""
    c = pl.col
    # Most such cells are numbers written with separators: try that alone first, since a cell
    # it turns into bare digits holds no full-width digit and no scientific notation.
    quick = pl.DataFrame({"text": text}).with_columns(digits=_unseparated(c("text")))
    quick = quick.with_columns(digits=pl.when(c("digits").str.contains(_PLAIN)).then("digits"))
    out = quick.select("digits", ambiguous=pl.lit(False))
    rest = quick.get_column("digits").is_null().arg_true()
    if not rest.len():
        return out

    sci = c("sci")
    sci_digits = sci.struct[0] + sci.struct[1].fill_null("")
    sci_exact = sci_digits.str.len_bytes() == sci.struct[2].cast(pl.UInt32) + 1
    full = (
        pl.DataFrame(
            {
                "text": text.gather(rest).str.replace_many(
                    list(map(chr, _FULLWIDTH)), list(_FULLWIDTH.values())
                )
            }
        )
        .with_columns(sci=c("text").str.extract_groups(_SCIENTIFIC))
        .with_columns(
            ambiguous=sci.struct[0].is_not_null() & ~sci_exact,
            digits=pl.when(sci.struct[0].is_not_null())
            .then(pl.when(sci_exact).then(sci_digits))
            .otherwise(_unseparated(c("text"))),
        )
        .with_columns(digits=pl.when(c("digits").str.contains(_PLAIN)).then(c("digits")))
    )
    return out.with_columns(
        digits=_patch(out["digits"], rest, full["digits"]),
        ambiguous=_patch(out["ambiguous"], rest, full["ambiguous"]),
    )


def _unseparated(text: pl.Expr) -> pl.Expr:
    """Excel's `.0` dropped, or else the separators people type."""
    return (
        pl.when(text.str.contains(_EXCEL_FLOAT))
        .then(text.str.strip_chars_end("0").str.strip_suffix("."))
        .otherwise(text.str.replace_all(_SEPARATORS, ""))
    )


def _patch(target: pl.Series, rows: pl.Series, values: pl.Series) -> pl.Series:
    """`target` with `values` written at `rows`."""
    patched = target.clone()
    patched.scatter(rows, values)
    return patched


def _matches(text: pl.Expr, pattern: str) -> pl.Expr:
    return text.str.contains(f"^(?:{pattern})$")


def _general(text: pl.Expr) -> pl.Expr:
    # phonenumbers' _match_national_number: the pattern only, no length check.
    return _matches(text, _GENERAL.pattern)


def _desc_matches(nsn: pl.Expr, length: pl.Expr, desc: _Desc) -> pl.Expr:
    """phonenumbers' `_is_number_matching_desc`: the lengths first, then the anchored pattern."""
    matched = _matches(nsn, desc.pattern)
    return length.is_in(list(desc.lengths)) & matched if desc.lengths else matched


def _type_column(nsn: pl.Series, length: pl.Series) -> pl.Series:
    """`_type_expr` on a column, cheaper: most rows are mobiles, and one regex made of all the
    other types' patterns shows which rows need the whole chain of checks."""
    c = pl.col
    others = [d for d in (*_EARLIER_TYPES, _FIXED) if d is not None]
    frame = pl.DataFrame({"nsn": nsn, "length": length}).with_columns(
        general=_desc_matches(c("nsn"), c("length"), _GENERAL),
        others=_matches(c("nsn"), "|".join(d.pattern for d in others)) if others else False,
        mobile=_desc_matches(c("nsn"), c("length"), _MOBILE) if _MOBILE else False,
    )
    # Where no other type's pattern matches, at any length, only mobile is left to check.
    typed = frame.select(
        pl.when(c("general") & ~c("others") & c("mobile"))
        .then(pl.lit("mobile"))
        .when(c("nsn").is_not_null() & (~c("general") | ~c("others")))
        .then(pl.lit("unknown"))
    ).to_series()
    unsure = (frame["general"] & frame["others"]).fill_null(False).arg_true()
    if unsure.len():
        few = frame[unsure].select(_type_expr(c("nsn"), c("length"))).to_series()
        typed = _patch(typed, unsure, few)
    return typed.alias("type")


def _type_expr(nsn: pl.Expr, length: pl.Expr) -> pl.Expr:
    """phonenumbers' `_number_type_helper` for VN as one expression; null where no NSN."""
    chain: Any = pl.when(~_desc_matches(nsn, length, _GENERAL)).then(pl.lit("unknown"))
    for desc in _EARLIER_TYPES:
        chain = chain.when(_desc_matches(nsn, length, desc)).then(pl.lit(desc.type))
    fixed = _desc_matches(nsn, length, _FIXED) if _FIXED else None
    mobile = _desc_matches(nsn, length, _MOBILE) if _MOBILE else None
    if fixed is not None:
        if _SAME_FIXED_AND_MOBILE:
            chain = chain.when(fixed).then(pl.lit("fixed_line_or_mobile"))
        elif mobile is not None:
            chain = chain.when(fixed & mobile).then(pl.lit("fixed_line_or_mobile"))
        chain = chain.when(fixed).then(pl.lit("fixed_line"))
    if mobile is not None and not _SAME_FIXED_AND_MOBILE:
        chain = chain.when(mobile).then(pl.lit("mobile"))
    typed: pl.Expr = chain.otherwise(pl.lit("unknown"))
    return pl.when(nsn.is_not_null()).then(typed)


def _vn_reason_expr(nsn: pl.Expr, length: pl.Expr) -> pl.Expr:
    """`_vn_reason` as an expression."""
    expected = (
        pl.when(nsn.str.head(3).is_in(list(LEGACY_PREFIXES)))
        .then(pl.lit(_LEGACY_NSN_LENGTH))
        .otherwise(nsn.str.head(1).replace_strict(_EXPECTED_LENGTH, default=None))
    )
    return (
        pl.when(length < expected.fill_null(_MIN_VN))
        .then(pl.lit("too_short"))
        .when(length > expected.fill_null(_MAX_VN))
        .then(pl.lit("too_long"))
        .otherwise(pl.lit("unknown_prefix"))
    )
