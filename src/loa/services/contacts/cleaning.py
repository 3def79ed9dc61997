"""Turning spreadsheet text into contact fields, column by column (vectorised with Polars).

Each cleaner returns the clean value and, per row, the reason it is unusable (or null), so the
import can report every bad cell at once: the row, the column and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from loa.i18n import Msg

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"

BAD_DATE = Msg(
    "import.bad_date",
    "'{value}' không phải ngày có thật; dùng dd/mm/yyyy (ví dụ 05/09/1990) hoặc yyyy-mm-dd.",
    "'{value}' is not a real date; use dd/mm/yyyy (e.g. 05/09/1990) or yyyy-mm-dd.",
)
DATE_OUT_OF_RANGE = Msg(
    "import.date_out_of_range",
    "Ngày sinh '{value}' nằm ngoài khoảng 1900 đến hôm nay; hãy sửa năm.",
    "The birthday '{value}' is outside 1900 to today; fix the year.",
)
BAD_EMAIL = Msg(
    "import.bad_email",
    "'{value}' không phải địa chỉ email; dạng đúng: ten@vidu.vn (hoặc để trống).",
    "'{value}' is not an email address; expected name@example.com (or leave it empty).",
)
BAD_GENDER = Msg(
    "import.bad_gender",
    "Giới tính '{value}' không rõ; dùng Nam, Nữ hoặc Khác (hoặc để trống).",
    "Gender '{value}' is not recognised; use Nam/male, Nữ/female or Khác/other (or leave empty).",
)
NAME_TOO_LONG = Msg(
    "import.name_too_long",
    "Họ tên dài hơn 200 ký tự; hãy rút gọn.",
    "The name is longer than 200 characters; shorten it.",
)
BAD_CHANNEL = Msg(
    "import.bad_consent_channel",
    "Kênh đồng ý '{value}' không rõ; dùng sms, email, push hoặc zalo.",
    "Consent channel '{value}' is not recognised; use sms, email, push or zalo.",
)
BAD_PURPOSE = Msg(
    "import.bad_consent_purpose",
    "Mục đích đồng ý '{value}' không rõ; dùng marketing (quảng cáo) hoặc care (chăm sóc KH).",
    "Consent purpose '{value}' is not recognised; use marketing or care.",
)
BAD_METHOD = Msg(
    "import.bad_consent_method",
    "Cách đồng ý '{value}' không rõ; dùng sms_reply, form, hotline hoặc app.",
    "Consent method '{value}' is not recognised; use sms_reply, form, hotline or app.",
)
CONSENT_INCOMPLETE = Msg(
    "import.consent_incomplete",
    "Có thông tin đồng ý nhưng thiếu {missing}; cần đủ kênh, mục đích và cách đồng ý.",
    "Consent is given without {missing}; channel, purpose and method are all needed.",
)

GENDERS = {
    **dict.fromkeys(["nam", "male", "m", "trai", "ông", "ong", "anh", "mr"], "male"),
    **dict.fromkeys(["nữ", "nu", "female", "f", "gái", "gai", "bà", "ba", "chị", "chi"], "female"),
    **dict.fromkeys(["khác", "khac", "other", "o"], "other"),
}
CUSTOMER_TYPES = {
    **dict.fromkeys(["sỉ", "si", "buôn", "buon", "wholesale", "đại lý", "dai ly"], "wholesale"),
    **dict.fromkeys(["lẻ", "le", "retail"], "retail"),
}
CHANNELS = {
    **dict.fromkeys(["sms", "tin nhắn", "tin nhan"], "sms"),
    **dict.fromkeys(["email", "e-mail", "mail"], "email"),
    **dict.fromkeys(["push", "app push"], "push"),
    **dict.fromkeys(["zalo"], "zalo"),
}
PURPOSES = {
    **dict.fromkeys(["marketing", "qc", "quảng cáo", "quang cao", "advertising"], "marketing"),
    **dict.fromkeys(["care", "cskh", "chăm sóc", "cham soc", "customer care"], "care"),
}
METHODS = {
    **dict.fromkeys(["sms_reply", "sms", "registration_sms", "tin nhắn đăng ký"], "sms_reply"),
    **dict.fromkeys(["form", "web", "biểu mẫu", "bieu mau", "website"], "form"),
    **dict.fromkeys(["hotline", "call", "tổng đài", "tong dai", "gọi điện"], "hotline"),
    **dict.fromkeys(["app", "ứng dụng", "ung dung"], "app"),
}


@dataclass(frozen=True, slots=True)
class Cleaned:
    """A clean column and, per row, why its value is unusable (null when it is fine)."""

    value: pl.Expr
    error: pl.Expr


def reason(msg: Msg, raw: pl.Expr) -> pl.Expr:
    """Per-row error text: the message in the current language with the raw value in it."""
    before, after = msg.render(value="\x00").split("\x00", 1)
    return pl.concat_str([pl.lit(before), raw, pl.lit(after)])


def _fixed(msg: Msg) -> pl.Expr:
    return pl.lit(msg.render())


def text(raw: pl.Expr) -> pl.Expr:
    """Runs of whitespace collapsed (cells arrive trimmed and in NFC: see reading.trimmed)."""
    return raw.str.replace_all(r"\s{2,}|[\t\n\r\xa0]", " ")


def name(raw: pl.Expr) -> Cleaned:
    """Full names: NFC, single spaces, and ALL-CAPS or all-lower names set in title case."""
    clean = text(raw)
    value = pl.when(_shouted(clean)).then(clean.str.to_titlecase()).otherwise(clean)
    return Cleaned(value, name_error(clean))


def _shouted(clean: pl.Expr) -> pl.Expr:
    return ~clean.str.contains(r"\p{Ll}") | ~clean.str.contains(r"\p{Lu}")


def name_error(spaced: pl.Expr) -> pl.Expr:
    """`name(raw).error`, given `text(raw)`."""
    return pl.when(spaced.str.len_chars() > 200).then(_fixed(NAME_TOO_LONG))


def names(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """`text(raw)` and `name(raw).value` for a whole column: title case costs as much as the
    rest of the cleaning together, so only the shouted names pay for it."""
    spaced = pl.select(text(pl.lit(raw))).to_series()
    rows = pl.select(_shouted(pl.lit(spaced)).fill_null(False)).to_series().arg_true()
    if not rows.len():
        return spaced, spaced
    value = spaced.clone()
    value.scatter(rows, spaced.gather(rows).str.to_titlecase())
    return spaced, value


def given_name(full: pl.Expr) -> pl.Expr:
    """The last word of a Vietnamese full name, used in greetings."""
    return full.str.split(" ").list.last()


def email(raw: pl.Expr) -> Cleaned:
    """Lower-cased addresses of a plausible shape."""
    value = raw.str.to_lowercase()
    error = pl.when(raw.is_not_null() & ~value.str.contains(EMAIL_PATTERN)).then(
        reason(BAD_EMAIL, raw)
    )
    return Cleaned(value, error)


def _lookup(raw: pl.Expr, table: dict[str, str], msg: Msg) -> Cleaned:
    value = raw.str.to_lowercase().replace_strict(table, default=None, return_dtype=pl.Utf8)
    error = pl.when(raw.is_not_null() & value.is_null()).then(reason(msg, raw))
    return Cleaned(value, error)


def gender(raw: pl.Expr) -> Cleaned:
    """male / female / other from Vietnamese or English words."""
    return _lookup(raw, GENDERS, BAD_GENDER)


def customer_type(raw: pl.Expr) -> pl.Expr:
    """wholesale / retail from Sỉ / Lẻ and friends; anything else kept as written."""
    lowered = raw.str.to_lowercase()
    return lowered.replace_strict(CUSTOMER_TYPES, default=lowered, return_dtype=pl.Utf8)


def parse_date(raw: pl.Expr) -> pl.Expr:
    """dd/mm/yyyy, dd-mm-yyyy, dd.mm.yyyy or ISO (with or without a time); null otherwise."""
    return pl.coalesce(
        raw.str.strptime(pl.Date, "%d/%m/%Y", strict=False),
        raw.str.strptime(pl.Date, "%d-%m-%Y", strict=False),
        raw.str.strptime(pl.Date, "%d.%m.%Y", strict=False),
        raw.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False),
    )


def parse_dates(values: pl.Series) -> pl.Series:
    """`parse_date` for a whole column, trying the other formats only where dd/mm/yyyy fails."""
    parsed = values.str.strptime(pl.Date, "%d/%m/%Y", strict=False)
    missed = (parsed.is_null() & values.is_not_null()).arg_true()
    if missed.len():
        retry = pl.select(parse_date(pl.lit(values.gather(missed)))).to_series()
        parsed = parsed.scatter(missed, retry)
    return parsed


def birthday(raw: pl.Expr, parsed: pl.Expr, today: date) -> Cleaned:
    """A real date between 1900 and today; `parsed` is `raw` through `parse_dates`."""
    in_range = parsed.is_between(date(1900, 1, 1), today)
    error = (
        pl.when(raw.is_not_null() & parsed.is_null())
        .then(reason(BAD_DATE, raw))
        .when(parsed.is_not_null() & ~in_range)
        .then(reason(DATE_OUT_OF_RANGE, raw))
    )
    return Cleaned(pl.when(in_range).then(parsed), error)


def birth_mmdd(day: pl.Expr) -> pl.Expr:
    """month*100+day, so 'birthday in the next N days' is an indexed IN list."""
    return (day.dt.month().cast(pl.Int16) * 100 + day.dt.day().cast(pl.Int16)).cast(pl.Int16)


def tags(raw: pl.Expr) -> pl.Expr:
    """'vip; hội viên , ' -> ['vip', 'hội viên']."""
    item = pl.element().str.strip_chars().str.slice(0, 64)
    return (
        raw.str.replace_all(",", ";")
        .str.split(";")
        .list.eval(item.filter(item != ""))
        .list.unique(maintain_order=True)
    )


def consent_channel(raw: pl.Expr) -> Cleaned:
    """sms / email / push / zalo."""
    return _lookup(raw, CHANNELS, BAD_CHANNEL)


def consent_purpose(raw: pl.Expr) -> Cleaned:
    """marketing / care."""
    return _lookup(raw, PURPOSES, BAD_PURPOSE)


def consent_method(raw: pl.Expr) -> Cleaned:
    """sms_reply / form / hotline / app."""
    return _lookup(raw, METHODS, BAD_METHOD)
