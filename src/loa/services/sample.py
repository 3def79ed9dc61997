"""Sample customers and purchase histories that look like a Vietnamese shop's, fixed by a seed.

Contacts, orders and damage each draw from their own seeded stream of uniform numbers, a
whole column at a time, and polars expressions turn the columns into text: a million customers
take seconds, and the same seed and reference date write the same bytes.
`--messy` damages a copy of the clean contacts and nothing else: the clean file with the same
seed is the truth, row by row, for every damaged row, and `manifest.json` lists which rows
carry which damage and what an importer should make of them.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, Literal, get_args

import polars as pl

from loa.data import vietnam as vn
from loa.domain.names import fold_accents
from loa.domain.phones import LEGACY_PREFIXES
from loa.i18n import Msg

Encoding = Literal["utf-8", "utf-8-sig", "utf-16", "cp1258"]
ENCODINGS: Final[tuple[str, ...]] = get_args(Encoding)
Effect = Literal["valid", "invalid_phone", "duplicate", "invalid_date"]
Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total); stage is 'generate', 'contacts', 'orders' or 'manifest'."""

CONTACT_COLUMNS: Final = (
    "Họ tên",
    "Số điện thoại",
    "Email",
    "Ngày sinh",
    "Giới tính",
    "Tỉnh/Thành",
    "Loại khách",
    "Nhãn",
)
ORDER_COLUMNS: Final = ("order_id", "phone", "type", "occurred_at", "amount_vnd", "category")
CONTACTS_FILE: Final = "contacts.csv"
ORDERS_FILE: Final = "orders.csv"
MANIFEST_FILE: Final = "manifest.json"
MANIFEST_FORMAT: Final = "loa.sample/1"

NAME, PHONE, EMAIL, BIRTHDAY, GENDER, PROVINCE, KIND, TAGS = CONTACT_COLUMNS
MALE, FEMALE = "Nam", "Nữ"
RETAIL, WHOLESALE = "Lẻ", "Sỉ"

FEMALE_SHARE: Final = 0.55  # retail customer lists lean female
SECOND_MIDDLE_SHARE: Final = 0.18
EMAIL_SHARE: Final = 0.40
BIRTHDAY_SHARE: Final = 0.85
WHOLESALE_SHARE: Final = 0.05
TAGGED_SHARE: Final = 0.12
TWO_TAGS_SHARE: Final = 0.25
AGE_BANDS: Final = ((18, 25, 20.0), (25, 35, 35.0), (35, 45, 25.0), (45, 55, 12.0), (55, 70, 8.0))

# Buying behaviour: most of a customer book never buys; among buyers the appetite is
# Pareto-distributed (a loyal few buy weekly) and scaled by how long they were customers,
# and lapsed customers stop buying some months after their first order.
HISTORY_DAYS: Final = 730
ACTIVE_SHARE: Final = 0.45
PARETO_ALPHA: Final = 1.3
MAX_APPETITE: Final = 60.0
WHOLESALE_APPETITE: Final = 3.0
LAPSED_SHARE: Final = 0.4
LAPSED_MEAN_DAYS: Final = 150.0
FAVOURITE_SHARE: Final = 0.6
WHOLESALE_BASKET: Final = 4.0
MIN_AMOUNT_VND: Final = 50_000
MAX_AMOUNT_VND: Final = 20_000_000
# Orders by hour of day, Vietnam time: lunch and the evening after work.
# fmt: off
HOUR_WEIGHTS: Final = (
    1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 5, 6,  # 00-11
    7, 6, 5, 5, 5, 6, 7, 9, 10, 9, 6, 3,  # 12-23
)
# fmt: on

VN_TZ: Final = timezone(timedelta(hours=7))  # Vietnam keeps no daylight saving
EPOCH: Final = date(1970, 1, 1)
CHUNK_ROWS: Final = 50_000


def today_in_vietnam() -> date:
    """Today's date in Vietnam: the default reference date."""
    return datetime.now(VN_TZ).date()


@dataclass(frozen=True, slots=True)
class SampleSpec:
    """What to generate: sizes, seed, reference date, damage and encoding of contacts.csv."""

    contacts: int
    orders: int
    now: date
    seed: int = 42
    messy: bool = False
    encoding: Encoding = "utf-8"


@dataclass(frozen=True, slots=True)
class Sample:
    """Generated tables, as they will be written, and the manifest that describes them."""

    contacts: pl.DataFrame
    orders: pl.DataFrame
    manifest: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SampleFiles:
    """Where a sample was written, and its manifest."""

    contacts: Path
    orders: Path
    manifest: Path
    manifest_data: dict[str, Any]


# --- random streams ---------------------------------------------------------------------


class _Draws:
    """One seeded stream of uniform numbers, drawn a whole column at a time."""

    def __init__(self, seed: int, stream: str) -> None:
        # `random` hashes a str seed with SHA-512: the same stream on every platform.
        self.rng = random.Random(f"loa.sample/{seed}/{stream}")

    def uniform(self, n: int) -> pl.Series:
        """n numbers in [0, 1) with 32 bits each: ample for every choice made here."""
        if n == 0:
            return pl.Series(dtype=pl.Float64)
        # Reading the bytes as one little-endian array is many times faster than building
        # a Series from Python ints, and the same on every machine.
        raw = pl.Series([self.rng.randbytes(4 * n)], dtype=pl.Binary)
        words = raw.bin.reinterpret(dtype=pl.Array(pl.UInt32, n), endianness="little")
        return words.arr.explode().cast(pl.Float64) / 4294967296.0

    def index(self, n: int, weights: Sequence[float]) -> pl.Series:
        """n indices into `weights`, each drawn with its weight."""
        return _weighted_index(self.uniform(n), weights)

    def pick(self, n: int, table: vn.Weighted) -> pl.Series:
        """n values from a (value, weight) table."""
        idx = self.index(n, [w for _, w in table])
        return pl.Series([v for v, _ in table], dtype=pl.String).gather(idx)

    def pick_by(self, group: pl.Series, tables: Sequence[vn.Weighted]) -> pl.Series:
        """One value per row from the table its group (0, 1, ...) names."""
        # Group g searches the cumulative weights shifted into [g, g + 1): one sorted search
        # serves every group at once.
        cum: list[float] = []
        values: list[str] = []
        for g, table in enumerate(tables):
            cum.extend(g + c for c in _cumulative([w for _, w in table]))
            values.extend(v for v, _ in table)
        u = self.uniform(group.len()) + group.cast(pl.Float64)
        idx = pl.Series(cum).search_sorted(u, side="right").clip(upper_bound=len(cum) - 1)
        return pl.Series(values, dtype=pl.String).gather(idx)


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = float(sum(weights))
    acc = 0.0
    out = []
    for w in weights:
        acc += w
        out.append(acc / total)
    out[-1] = 1.0
    return out


def _weighted_index(u: pl.Series, weights: Sequence[float]) -> pl.Series:
    cum = pl.Series(_cumulative(weights))
    return cum.search_sorted(u, side="right").clip(upper_bound=len(weights) - 1)


def _ascii(word: str) -> str:
    return fold_accents(word).lower()


_NAME_WORDS: Final = sorted(
    {
        w
        for table in (
            vn.FAMILY_NAMES,
            vn.MIDDLE_NAMES_MALE,
            vn.MIDDLE_NAMES_FEMALE,
            vn.SECOND_MIDDLE_MALE,
            vn.SECOND_MIDDLE_FEMALE,
            vn.GIVEN_NAMES_MALE,
            vn.GIVEN_NAMES_FEMALE,
        )
        for w, _ in table
    }
)
_ASCII_NAMES: Final = {w: _ascii(w) for w in _NAME_WORDS}


# --- contacts ---------------------------------------------------------------------------


def generate_contacts(n: int, *, seed: int, now: date) -> pl.DataFrame:
    """n clean contacts with unique 10-digit mobiles, in CONTACT_COLUMNS order."""
    d = _Draws(seed, "contacts")
    female = d.uniform(n) < FEMALE_SHARE
    group = female.cast(pl.UInt8)
    cols = pl.DataFrame(
        {
            "female": female,
            "family": d.pick(n, vn.FAMILY_NAMES),
            "middle": d.pick_by(group, (vn.MIDDLE_NAMES_MALE, vn.MIDDLE_NAMES_FEMALE)),
            "given": d.pick_by(group, (vn.GIVEN_NAMES_MALE, vn.GIVEN_NAMES_FEMALE)),
            "second": d.pick_by(group, (vn.SECOND_MIDDLE_MALE, vn.SECOND_MIDDLE_FEMALE)),
            "u_second": d.uniform(n),
            "has_birthday": d.uniform(n) < BIRTHDAY_SHARE,
            "age_days": _age_days(d, n),
            "phone": _mobile_numbers(d, n),
            "has_email": d.uniform(n) < EMAIL_SHARE,
            "email_style": d.index(n, (35, 25, 20, 20)),
            "digits_style": d.index(n, (35, 25, 25, 15)),
            "u_digits": d.uniform(n),
            "domain": d.pick(n, vn.EMAIL_DOMAINS),
            "province": d.pick(n, vn.PROVINCES),
            "wholesale": d.uniform(n) < WHOLESALE_SHARE,
            "tagged": d.uniform(n) < TAGGED_SHARE,
            "two_tags": d.uniform(n) < TWO_TAGS_SHARE,
            "tag1": d.pick(n, vn.CUSTOMER_TAGS),
            "tag2": d.pick(n, vn.CUSTOMER_TAGS),
        }
    )
    c = pl.col
    plain_middle = pl.when(c.female).then(pl.lit("Thị")).otherwise(pl.lit("Văn"))
    born = pl.lit(now).cast(pl.Date) - pl.duration(days=c.age_days)
    cols = cols.with_columns(
        # "Nguyễn Minh Minh" is not a name anyone gives.
        middle=pl.when(c.middle == c.given).then(plain_middle).otherwise(c.middle),
        born=pl.when(c.has_birthday).then(born),
    ).with_columns(
        second=pl.when(
            (c.u_second < SECOND_MIDDLE_SHARE)
            & c.middle.is_in(["Văn", "Thị"])
            & (c.second != c.given)
        ).then(c.second),
    )
    email = _emails(cols, d)
    contacts = cols.select(
        pl.concat_str(
            [c.family, c.middle, c.second, c.given], separator=" ", ignore_nulls=True
        ).alias(NAME),
        c.phone.alias(PHONE),
        email.alias(EMAIL),
        c.born.dt.strftime("%d/%m/%Y").alias(BIRTHDAY),
        pl.when(c.female).then(pl.lit(FEMALE)).otherwise(pl.lit(MALE)).alias(GENDER),
        c.province.alias(PROVINCE),
        pl.when(c.wholesale).then(pl.lit(WHOLESALE)).otherwise(pl.lit(RETAIL)).alias(KIND),
        pl.when(c.tagged & c.two_tags & (c.tag1 != c.tag2))
        .then(pl.concat_str([c.tag1, c.tag2], separator=";"))
        .when(c.tagged)
        .then(c.tag1)
        .alias(TAGS),
    )
    return contacts


def _age_days(d: _Draws, n: int) -> pl.Series:
    band = d.index(n, [w for _, _, w in AGE_BANDS])
    lo = pl.Series([float(a) for a, _, _ in AGE_BANDS]).gather(band)
    hi = pl.Series([float(b) for _, b, _ in AGE_BANDS]).gather(band)
    years = lo + (hi - lo) * d.uniform(n)
    return (years * 365.25).floor().cast(pl.Int64)


def _mobile_numbers(d: _Draws, n: int) -> pl.Series:
    """n distinct clean mobiles '0xxxxxxxxx', carriers mixed by MOBILE_BLOCKS' weights."""
    heads = pl.Series([int(b) for b, _, _ in vn.MOBILE_BLOCKS], dtype=pl.Int64)
    spans = pl.Series([10 ** (10 - len(b)) for b, _, _ in vn.MOBILE_BLOCKS], dtype=pl.Int64)
    weights = [w for _, _, w in vn.MOBILE_BLOCKS]

    def draw(k: int) -> pl.Series:
        block = d.index(k, weights)
        span = spans.gather(block)
        rest = (d.uniform(k) * span.cast(pl.Float64)).floor().cast(pl.Int64)
        return heads.gather(block) * span + rest

    # Without its trunk 0 every mobile has exactly 9 digits, so numbers compare as integers.
    numbers = draw(n)
    while (repeated := _later_repeats(numbers)).len():
        numbers = numbers.scatter(repeated, draw(repeated.len()))
    return ("0" + numbers.cast(pl.String)).rename("phone")


def _later_repeats(numbers: pl.Series) -> pl.Series:
    """Positions of values that occurred earlier in `numbers` (non-negative, below 2**30)."""
    # One sort of value-and-position packed in an Int64 beats hashing a million values, and
    # ties break by position, so the earliest occurrence is always the one kept.
    shift = max(1, numbers.len().bit_length())
    packed = (
        numbers.cast(pl.Int64) * (1 << shift) + pl.int_range(numbers.len(), eager=True)
    ).sort()
    value = packed // (1 << shift)
    position = packed % (1 << shift)
    return position.filter(value == value.shift(1)).sort()


def _emails(cols: pl.DataFrame, d: _Draws) -> pl.Series:
    """Emails for about EMAIL_SHARE of rows, the way Vietnamese people make them up."""
    c = pl.col
    family, middle, given = (
        c.family.replace_strict(_ASCII_NAMES, return_dtype=pl.String),
        c.middle.replace_strict(_ASCII_NAMES, return_dtype=pl.String),
        c.given.replace_strict(_ASCII_NAMES, return_dtype=pl.String),
    )
    local = (
        pl.when(c.email_style == 0)
        .then(pl.concat_str([given, family]))  # annguyen
        .when(c.email_style == 1)
        .then(pl.concat_str([family, middle, given]))  # nguyenvanan
        .when(c.email_style == 2)
        .then(pl.concat_str([given, pl.lit("."), family]))  # an.nguyen
        .otherwise(pl.concat_str([given, family.str.head(1), middle.str.head(1)]))  # annv
    )
    year = c.born.dt.year().cast(pl.String)
    random_digits = (c.u_digits * 990 + 10).floor().cast(pl.Int64).cast(pl.String)
    digits = (
        pl.when(c.digits_style == 0)
        .then(pl.coalesce(year, random_digits))
        .when(c.digits_style == 1)
        .then(pl.coalesce(year.str.slice(2, 2), random_digits))
        .when(c.digits_style == 2)
        .then(random_digits)
        .otherwise(pl.lit(""))
    )
    rows = cols["has_email"].arg_true()
    emails: list[str] = (
        cols.lazy()
        .filter(c.has_email)
        .select(pl.concat_str([local, digits, pl.lit("@"), c.domain]))
        .collect()
        .to_series()
        .to_list()
    )
    # Common names collide; people then add a number, and so do we: the second
    # "annguyen1990@gmail.com" becomes "annguyen19902@gmail.com". One pass over the few
    # hundred thousand emails beats any number of vectorised rounds.
    seen: set[str] = set()
    next_suffix: dict[str, int] = {}
    for i, email in enumerate(emails):
        if email in seen:
            k = next_suffix.get(email, 2)
            local_part, _, domain = email.partition("@")
            while (candidate := f"{local_part}{k}@{domain}") in seen:
                k += 1
            next_suffix[email] = k + 1
            emails[i] = email = candidate
        seen.add(email)
    return pl.Series([None] * cols.height, dtype=pl.String).scatter(rows, emails)


# --- orders -----------------------------------------------------------------------------


def generate_orders(contacts: pl.DataFrame, m: int, *, seed: int, now: date) -> pl.DataFrame:
    """m purchases by the given contacts over the HISTORY_DAYS before `now`, oldest first."""
    n = contacts.height
    if m == 0 or n == 0:
        return pl.DataFrame(schema=dict.fromkeys(ORDER_COLUMNS, pl.String)).with_columns(
            pl.col("amount_vnd").cast(pl.Int64)
        )
    d = _Draws(seed, "orders")
    c = pl.col
    cat_weights = [w for _, w, _, _ in vn.CATEGORIES]
    people = pl.DataFrame(
        {
            "active": d.uniform(n) < ACTIVE_SHARE,
            "appetite": (1.0 - d.uniform(n))
            .pow(-1.0 / PARETO_ALPHA)
            .clip(upper_bound=MAX_APPETITE),
            "start_ago": d.uniform(n) * HISTORY_DAYS,
            "lapsed": d.uniform(n) < LAPSED_SHARE,
            "lapse_after": -(1.0 - d.uniform(n)).log() * LAPSED_MEAN_DAYS,
            "favourite": d.index(n, cat_weights),
            "wholesale": contacts[KIND] == WHOLESALE,
        }
    ).with_columns(
        tenure=pl.when(c.lapsed)
        .then(pl.min_horizontal(c.start_ago, c.lapse_after))
        .otherwise(c.start_ago),
    )
    people = people.select(
        c.start_ago,
        end_ago=c.start_ago - c.tenure,
        favourite=c.favourite,
        wholesale=c.wholesale,
        weight=pl.when(c.active)
        .then(
            c.appetite
            * pl.when(c.wholesale).then(WHOLESALE_APPETITE).otherwise(1.0)
            * (c.tenure + 7.0)
        )
        .otherwise(0.0),
    )
    cum_weight = people["weight"].cum_sum()
    total = cum_weight[-1]
    if not total > 0:  # a tiny book may have no active customer: then anyone may buy
        cum_weight = pl.Series(range(1, n + 1), dtype=pl.Float64)
        total = float(n)
    # Searching u * total (never the normalised sums) keeps customers of weight 0 unpicked.
    # Sorted targets make the million binary searches cache-friendly (3x faster); which
    # order owners come in does not matter, as every other draw per order is independent.
    targets = (d.uniform(m) * total).sort()
    owner = cum_weight.search_sorted(targets, side="right").clip(upper_bound=n - 1)
    del targets, cum_weight

    # Column by column, so that a million-row intermediate lives only as long as it must.
    start, end = people["start_ago"].gather(owner), people["end_ago"].gather(owner)
    day_ago = (end + d.uniform(m) * (start - end)).floor().cast(pl.Int64).clip(0, HISTORY_DAYS - 1)
    del start, end
    local_s = (
        ((now - EPOCH).days - 1 - day_ago) * 86400
        + d.index(m, HOUR_WEIGHTS).cast(pl.Int64) * 3600
        + (d.uniform(m) * 3600).floor().cast(pl.Int64)
    )
    del day_ago
    favourite = d.uniform(m) < FAVOURITE_SHARE
    category = pl.select(
        pl.when(favourite)
        .then(people["favourite"].gather(owner))
        .otherwise(d.index(m, cat_weights))
    ).to_series()
    del favourite
    # Box-Muller: a standard normal from two uniforms, for a log-normal basket.
    z = (-2.0 * (1.0 - d.uniform(m)).log()).sqrt() * (2.0 * math.pi * d.uniform(m)).cos()
    median = pl.Series([float(med) for _, _, med, _ in vn.CATEGORIES]).gather(category)
    sigma = pl.Series([s for _, _, _, s in vn.CATEGORIES]).gather(category)
    basket = pl.select(
        pl.when(people["wholesale"].gather(owner)).then(WHOLESALE_BASKET).otherwise(1.0)
    ).to_series()
    amount = (
        (median * (sigma * z).exp() * basket).clip(MIN_AMOUNT_VND, MAX_AMOUNT_VND) / 1000
    ).round(0) * 1000
    del z, median, sigma, basket, people

    width = max(6, len(str(m)))
    names = pl.Series([name for name, _, _, _ in vn.CATEGORIES], dtype=pl.String)
    ordered = pl.DataFrame(
        {"local_s": local_s, "owner": owner, "category": category, "amount": amount}
    ).sort("local_s", maintain_order=True)
    return ordered.select(
        pl.concat_str(
            [pl.lit("DH"), pl.int_range(1, m + 1).cast(pl.String).str.zfill(width)]
        ).alias("order_id"),
        pl.lit(contacts[PHONE]).gather(c.owner).alias("phone"),
        pl.lit("purchase").alias("type"),
        # Vietnam time is UTC+7 all year, so local seconds with a fixed suffix are exact.
        pl.from_epoch(c.local_s, time_unit="s")
        .dt.strftime("%Y-%m-%dT%H:%M:%S+07:00")
        .alias("occurred_at"),
        c.amount.cast(pl.Int64).alias("amount_vnd"),
        pl.lit(names).gather(c.category).alias("category"),
    )


# --- damage -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DamageKind:
    """One way spreadsheets damage a row, what an importer should conclude, and its name."""

    code: str
    effect: Effect
    share: float
    label: Msg


DAMAGE_KINDS: Final[tuple[DamageKind, ...]] = (
    DamageKind(
        "intl_spaced",
        "valid",
        0.010,
        Msg("sample.intl_spaced", "Số dạng +84 có dấu cách", "Written +84 with spaces"),
    ),
    DamageKind(
        "intl_plain", "valid", 0.008, Msg("sample.intl_plain", "Số dạng 84…", "Written 84…")
    ),
    DamageKind("dotted", "valid", 0.008, Msg("sample.dotted", "Số có dấu chấm", "With dots")),
    DamageKind(
        "parens",
        "valid",
        0.005,
        Msg("sample.parens", "Số có ngoặc và gạch nối", "With brackets and a dash"),
    ),
    DamageKind(
        "fullwidth", "valid", 0.003, Msg("sample.fullwidth", "Chữ số toàn khổ", "Full-width digits")
    ),
    DamageKind(
        "stripped_zero",
        "valid",
        0.015,
        Msg("sample.stripped_zero", "Excel bỏ số 0 đầu", "Leading zero lost in Excel"),
    ),
    DamageKind(
        "trailing_dot_zero",
        "valid",
        0.007,
        Msg(
            "sample.trailing_dot_zero", "Excel bỏ số 0 đầu, thêm .0", "Leading zero lost, .0 added"
        ),
    ),
    DamageKind(
        "legacy_11_digit",
        "valid",
        0.006,
        Msg("sample.legacy_11_digit", "Số cũ 11 chữ số (01xx)", "Old 11-digit number (01xx)"),
    ),
    DamageKind(
        "landline",
        "invalid_phone",
        0.004,
        Msg("sample.landline", "Số cố định, không nhận SMS", "Landline, cannot receive SMS"),
    ),
    DamageKind("empty", "invalid_phone", 0.004, Msg("sample.empty", "Ô trống", "Empty")),
    DamageKind(
        "not_a_number",
        "invalid_phone",
        0.003,
        Msg("sample.not_a_number", "Chữ thay cho số", "Text instead of a number"),
    ),
    DamageKind(
        "too_short", "invalid_phone", 0.003, Msg("sample.too_short", "Số quá ngắn", "Too short")
    ),
    DamageKind(
        "scientific",
        "invalid_phone",
        0.003,
        Msg("sample.scientific", "Dạng 8.49E+10, mất chữ số", "8.49E+10 form, digits lost"),
    ),
    DamageKind(
        "duplicate",
        "duplicate",
        0.006,
        Msg(
            "sample.duplicate",
            "Trùng số của dòng trước, viết khác",
            "Repeats an earlier row's number, written differently",
        ),
    ),
    DamageKind(
        "bad_date", "invalid_date", 0.005, Msg("sample.bad_date", "Ngày sinh sai", "Bad birthday")
    ),
)
DAMAGE_BY_CODE: Final = {k.code: k for k in DAMAGE_KINDS}
# Below this many rows one of each kind would exceed ~10%, so kinds are dealt one row each.
_ONE_OF_EACH_FROM_ROWS: Final = 200
_TINY_DAMAGE_SHARE: Final = 0.09

_FULLWIDTH: Final = str.maketrans("0123456789", "０１２３４５６７８９")
# "032" -> "0162": the 2018 table read backwards, from the phone rules that convert it.
_NEW_TO_LEGACY: Final = {f"0{new}": f"0{old}" for old, new in LEGACY_PREFIXES.items()}
_NOT_A_NUMBER: Final = ("abc", "không có", "chưa cập nhật", "N/A", "xxx")
_DUPLICATE_FORMS: Final = ("intl_spaced", "intl_plain", "dotted", "stripped_zero")


def damage_counts(rows: int) -> dict[str, int]:
    """How many rows of each kind --messy damages in a file of `rows` rows."""
    if rows >= _ONE_OF_EACH_FROM_ROWS:
        return {k.code: max(1, round(k.share * rows)) for k in DAMAGE_KINDS}
    budget = round(_TINY_DAMAGE_SHARE * rows)
    return {k.code: int(i < budget) for i, k in enumerate(DAMAGE_KINDS)}


def rewrite_phone(kind: str, phone: str, rng: random.Random) -> str:
    """A clean '0xxxxxxxxx' number as a row damaged by `kind` shows it."""
    nine = phone[1:]
    match kind:
        case "intl_spaced":
            return f"+84 {nine[:3]} {nine[3:6]} {nine[6:]}"
        case "intl_plain":
            return f"84{nine}"
        case "dotted":
            return f"{phone[:4]}.{phone[4:7]}.{phone[7:]}"
        case "parens":
            return f"({phone[:3]}) {phone[3:6]}-{phone[6:]}"
        case "fullwidth":
            return phone.translate(_FULLWIDTH)
        case "stripped_zero":
            return nine
        case "trailing_dot_zero":
            return f"{nine}.0"
        case "legacy_11_digit":
            return _NEW_TO_LEGACY[phone[:3]] + phone[3:]
        case "landline":
            area, digits = rng.choice(vn.LANDLINE_AREAS)
            rest = "3" + "".join(str(rng.randrange(10)) for _ in range(digits - 1))
            return f"{area} {rest[:-4]} {rest[-4:]}"
        case "empty":
            return ""
        case "not_a_number":
            return rng.choice(_NOT_A_NUMBER)
        case "too_short":
            return phone[: rng.randint(4, 7)]
        case "scientific":
            return f"{int('84' + nine):.5E}"
    raise ValueError(kind)


def bad_birthday(birthday: str | None, rng: random.Random) -> str:
    """A birthday no calendar has, or none at all, as people type them."""
    year = int(birthday[-4:]) if birthday else rng.randint(1970, 2000)
    return rng.choice((f"31/02/{year}", f"{year}-13-{rng.randint(1, 28):02d}", "không rõ"))


def damage_contacts(
    contacts: pl.DataFrame, orders: pl.DataFrame, *, seed: int, encoding: Encoding
) -> tuple[pl.DataFrame, dict[str, list[int]], dict[int, int]]:
    """The contacts with --messy damage; the 1-based rows of each kind; duplicate row -> source.

    A row gets at most one kind. Rows the importer keeps out (invalid or duplicate) are
    customers without orders, so every order still names a contact an importer keeps.
    """
    n = contacts.height
    d = _Draws(seed, "messy")
    rng = d.rng
    phone = contacts[PHONE]
    # Rows in a random order, with what each kind asks of a row, in that order.
    order = _permutation(d.uniform(n))
    # Clean phones are all digits: comparing them as integers is five times faster.
    bought = orders["phone"].cast(pl.Int64).unique().implode()
    buyer = phone.cast(pl.Int64).is_in(bought).gather(order)
    legacy_ok = phone.str.slice(0, 3).is_in(list(_NEW_TO_LEGACY)).gather(order)
    not_first = order != 0
    taken = pl.Series([False] * n)
    picked: dict[str, list[int]] = {}
    for kind, count in damage_counts(n).items():
        effect = DAMAGE_BY_CODE[kind].effect
        if kind == "fullwidth" and encoding == "cp1258":
            count = 0  # Windows-1258 has no full-width digits
        ok = ~taken
        if effect in ("invalid_phone", "duplicate", "invalid_date"):
            ok &= ~buyer
        if kind == "duplicate":
            ok &= not_first
        if kind == "legacy_11_digit":
            ok &= legacy_ok
        positions = ok.arg_true().head(count)
        taken = taken.scatter(positions, True)
        picked[kind] = order.gather(positions).sort().to_list()

    sources: dict[int, int] = {}
    used = set(order.filter(taken).to_list())
    for j in picked["duplicate"]:
        tries = (rng.randrange(j) for _ in range(30))
        source = next((i for i in tries if i not in used), None)
        if source is None:
            source = next((i for i in range(j - 1, -1, -1) if i not in used), None)
        if source is None:
            continue
        used.add(source)
        sources[j] = source
    picked["duplicate"] = sorted(sources)

    wanted = sorted({i for rows in picked.values() for i in rows} | set(sources.values()))
    phone_of = dict(zip(wanted, phone.gather(wanted).to_list(), strict=True))
    birthday_of = dict(zip(wanted, contacts[BIRTHDAY].gather(wanted).to_list(), strict=True))
    new_phones: dict[int, str] = {}
    for kind, rows in picked.items():
        if kind not in ("duplicate", "bad_date"):
            for i in rows:
                new_phones[i] = rewrite_phone(kind, phone_of[i], rng)
    for j, i in sources.items():
        new_phones[j] = rewrite_phone(rng.choice(_DUPLICATE_FORMS), phone_of[i], rng)
    new_birthdays = {i: bad_birthday(birthday_of[i], rng) for i in picked["bad_date"]}

    damaged = contacts.with_columns(
        _scatter(phone, new_phones), _scatter(contacts[BIRTHDAY], new_birthdays)
    )
    rows_1based = {kind: [i + 1 for i in rows] for kind, rows in picked.items()}
    return damaged, rows_1based, {j + 1: i + 1 for j, i in sorted(sources.items())}


def _permutation(u: pl.Series) -> pl.Series:
    """0..n-1 in the order of the uniform numbers `u`; equal numbers keep their places."""
    # Value and position packed in one Int64: one plain sort, and ties break by position.
    n = u.len()
    shift = max(1, n.bit_length())
    key = (u * 4294967296.0).cast(pl.Int64) * (1 << shift) + pl.int_range(n, eager=True)
    return (key.sort() % (1 << shift)).cast(pl.Int64)


def _scatter(column: pl.Series, values: dict[int, str]) -> pl.Series:
    if not values:
        return column
    keys = sorted(values)
    return column.scatter(keys, [values[k] for k in keys])


# --- whole samples ----------------------------------------------------------------------


def generate(spec: SampleSpec, progress: Progress | None = None) -> Sample:
    """Contacts, orders and manifest for `spec`; the same spec gives the same sample."""
    step = progress or (lambda stage, done, total: None)
    step("generate", 0, 3)
    contacts = generate_contacts(spec.contacts, seed=spec.seed, now=spec.now)
    step("generate", 1, 3)
    orders = generate_orders(contacts, spec.orders, seed=spec.seed, now=spec.now)
    step("generate", 2, 3)
    damage: dict[str, list[int]] = {k.code: [] for k in DAMAGE_KINDS}
    sources: dict[int, int] = {}
    if spec.messy:
        contacts, damage, sources = damage_contacts(
            contacts, orders, seed=spec.seed, encoding=spec.encoding
        )
    step("generate", 3, 3)
    return Sample(contacts, orders, _manifest(spec, orders.height, damage, sources))


def _manifest(
    spec: SampleSpec, orders: int, damage: dict[str, list[int]], sources: dict[int, int]
) -> dict[str, Any]:
    def count(effect: Effect) -> int:
        return sum(len(damage[k.code]) for k in DAMAGE_KINDS if k.effect == effect)

    invalid = count("invalid_phone")
    duplicates = count("duplicate")
    return {
        "format": MANIFEST_FORMAT,
        "seed": spec.seed,
        "now": spec.now.isoformat(),
        "messy": spec.messy,
        "encoding": spec.encoding,
        "files": {"contacts": CONTACTS_FILE, "orders": ORDERS_FILE},
        "rows": spec.contacts,
        "orders": orders,
        # A row is imported whole or not at all: a bad birthday keeps the row out too.
        "expected_valid_unique_contacts": spec.contacts
        - invalid
        - count("invalid_date")
        - duplicates,
        "duplicates": duplicates,
        "invalid_rows": invalid,
        "invalid_rows_by_kind": {
            k.code: len(damage[k.code]) for k in DAMAGE_KINDS if k.effect == "invalid_phone"
        },
        "invalid_dates": count("invalid_date"),
        "damaged_rows": sum(len(rows) for rows in damage.values()),
        "effects": {k.code: k.effect for k in DAMAGE_KINDS},
        "damage": damage,
        "duplicate_of": {str(j): i for j, i in sources.items()},
    }


def write_sample(spec: SampleSpec, out_dir: Path, progress: Progress | None = None) -> SampleFiles:
    """Generate `spec` and write contacts.csv, orders.csv and manifest.json into `out_dir`."""
    step = progress or (lambda stage, done, total: None)
    sample = generate(spec, step)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = SampleFiles(
        out_dir / CONTACTS_FILE, out_dir / ORDERS_FILE, out_dir / MANIFEST_FILE, sample.manifest
    )
    write_csv(
        sample.contacts, files.contacts, spec.encoding, lambda d: step("contacts", d, spec.contacts)
    )
    write_csv(
        sample.orders, files.orders, "utf-8", lambda d: step("orders", d, sample.orders.height)
    )
    files.manifest.write_text(manifest_json(sample.manifest) + "\n", encoding="utf-8")
    step("manifest", 1, 1)
    return files


# --- files ------------------------------------------------------------------------------


_TONE_MARKS: Final = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook, dot below


def _cp1258_form(ch: str) -> str | None:
    # Windows-1258 holds the vowels with their shape marks (ê, ơ, ư, ă...) but most toned
    # letters only as that vowel followed by a combining tone mark, the way Windows writes it.
    try:
        ch.encode("cp1258")
        return None
    except UnicodeEncodeError:
        pass
    parts = unicodedata.normalize("NFD", ch)
    base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in _TONE_MARKS))
    form = base + "".join(p for p in parts if p in _TONE_MARKS)
    try:
        form.encode("cp1258")
    except UnicodeEncodeError:
        return None
    return form


_CP1258: Final = {
    ch: form
    for code in (*range(0x00C0, 0x0250), *range(0x1EA0, 0x1F00))
    if (form := _cp1258_form(ch := chr(code))) is not None
}


def to_cp1258_text(text: str) -> str:
    """Vietnamese text in the decomposed form Windows-1258 can hold (NFC undoes it)."""
    return "".join(_CP1258.get(ch, ch) for ch in text)


def write_csv(
    frame: pl.DataFrame,
    path: Path,
    encoding: Encoding,
    on_rows: Callable[[int], None] | None = None,
) -> None:
    """Write `frame` as CSV with a header in `encoding`, a chunk at a time; empty cells bare."""
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    frame = frame.with_columns(pl.when(pl.col(s) != "").then(pl.col(s)).alias(s) for s in strings)
    if encoding == "cp1258":
        frame = frame.with_columns(pl.col(strings).str.replace_many(_CP1258)).rename(
            {name: to_cp1258_text(name) for name in frame.columns}
        )
    with path.open("wb") as fh:
        if encoding == "utf-8-sig":
            fh.write(codecs.BOM_UTF8)
        elif encoding == "utf-16":
            # Excel's "Unicode" files: little-endian with a BOM, whatever the machine.
            fh.write(codecs.BOM_UTF16_LE)
        for start in range(0, max(frame.height, 1), CHUNK_ROWS):
            chunk = frame.slice(start, CHUNK_ROWS)
            buf = io.BytesIO()
            chunk.write_csv(buf, include_header=start == 0, null_value="")
            data = buf.getvalue()
            if encoding == "utf-16":
                data = data.decode("utf-8").encode("utf-16-le")
            elif encoding == "cp1258":
                data = data.decode("utf-8").encode("cp1258")
            fh.write(data)
            if on_rows:
                on_rows(start + chunk.height)


def manifest_json(manifest: dict[str, Any]) -> str:
    """The manifest as JSON, one key per line and each list of rows on one line."""

    def dump(value: Any, indent: int) -> str:
        if isinstance(value, dict) and value:
            pad = "  " * (indent + 1)
            items = [
                f"{pad}{json.dumps(k, ensure_ascii=False)}: {dump(v, indent + 1)}"
                for k, v in value.items()
            ]
            return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    return dump(manifest, 0)
