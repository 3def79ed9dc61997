"""The decision engine: for every planned message, `send` (at a time), `defer` (to the next
legal time) or `suppress`, with the reason codes that decided it.

Columnar on purpose: a national campaign is millions of recipients judged against a year of
send history, so every rule is a Polars expression over whole columns, and the rolling 24-hour
counts come from two binary searches per recipient on one sorted array of (recipient, instant)
keys — no Python loop per recipient. `windows.py` holds the same rules one instant at a time;
property tests hold the two to the same answers.

Reasons are bits of one integer per recipient, in precedence order: the lowest bit set is "the
rule that decided it", and the list a user reads is every bit set, lowest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import polars as pl

from loa.domain.compliance import windows
from loa.domain.compliance.packs import Pack
from loa.domain.compliance.reasons import REASONS, Reason
from loa.domain.phones import REASONS as PHONE_REASONS
from loa.i18n import Lang, LoaError, Msg

MessageClass = Literal["qc", "cskh", "public"]
CLASSES: tuple[MessageClass, ...] = ("qc", "cskh", "public")

# Precedence: what decides when several rules hold. A broken number or a message that may not
# leave at all outranks anything about the person; hours and caps come last because they only
# say "not now".
BITS: tuple[str, ...] = (
    "invalid_number",
    "message",  # every message-level reason of the batch, in the order the checks gave them
    "opted_out",
    "dnc",
    "registration_refused",
    "no_consent",
    "no_legal_hour",
    "quiet_hours_expired",
    "frequency_cap",
    "min_gap",  # the workspace's own spacing between advertising messages to one person
    "quiet_hours",  # the one reason that defers rather than suppresses
)
BIT: dict[str, int] = {code: 1 << i for i, code in enumerate(BITS)}
DEFER_MASK = BIT["quiet_hours"]
SUPPRESS_MASK = (1 << len(BITS)) - 1 - DEFER_MASK

# Message-level reasons are worked out once per message by the brandname and content checks
# (any code in REASONS that is not about the recipient). Most stop every class (a scam link is
# a scam link in a public announcement too); these stop only the classes named.
MESSAGE_REASON_CLASSES: dict[str, frozenset[MessageClass]] = {
    "template_not_approved": frozenset({"cskh"}),
    "missing_label": frozenset({"qc"}),
    "missing_optout": frozenset({"qc"}),
}
RECIPIENT_REASONS = frozenset(BITS) - {"message"} | {
    "registration_already_sent",
}

UNKNOWN_CLASS = Msg(
    "compliance.unknown_class",
    "Loại tin '{cls}' không có. Chọn một trong: {known}.",
    "There is no message class '{cls}'. Choose one of: {known}.",
)
NOT_A_MESSAGE_REASON = Msg(
    "compliance.not_message_reason",
    "'{code}' không phải lý do ở mức tin nhắn. Có: {known}.",
    "'{code}' is not a message-level reason. Known: {known}.",
)
MISSING_COLUMN = Msg(
    "compliance.missing_column",
    "Thiếu cột '{column}' trong danh sách người nhận.",
    "The recipients have no '{column}' column.",
)
DUPLICATE_PHONE = Msg(
    "compliance.duplicate_phone",
    "Số {phone} xuất hiện nhiều lần trong cùng một lượt: mỗi số chỉ một tin mỗi lượt.",
    "The number {phone} appears more than once in one batch: one message per number per batch.",
)

UTC_DT = pl.Datetime("us", "UTC")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_S = 1_000_000
DAY_US = windows.DAY_S * US_PER_S
# Keys for the cap search are recipient * span + offset; they must stay inside int64.
_KEY_LIMIT = 1 << 62

# Optional columns and their defaults (a missing column means "no such fact").
DEFAULTS: dict[str, tuple[pl.DataType, Any]] = {
    "invalid_reason": (pl.String(), None),
    "zone": (pl.String(), None),
    "dnc": (pl.Boolean(), False),
    "opted_out_at": (UTC_DT, None),
    "consent": (pl.Boolean(), False),
    "registration": (pl.String(), None),  # None (never sent) / accept / refuse / pending
    "max_qc_per_24h": (pl.Int32(), None),  # an agreement's cap; 0 = no cap
    "hours_start_s": (pl.Int32(), None),  # an agreement's own QC hours
    "hours_end_s": (pl.Int32(), None),
}


@dataclass(frozen=True, slots=True)
class Rules:
    """What the pack and the class switch on, resolved once per batch."""

    pack: Pack
    cls: MessageClass
    allow_defer: bool
    message_reasons: tuple[Reason, ...]
    # The workspace's minimum time between two advertising messages to one number (0: none),
    # on top of the pack's legal cap: no other QC message within this much before or after.
    min_gap_s: int = 0

    @property
    def message_mask(self) -> int:
        """The bit every recipient carries when the message itself may not leave."""
        return BIT["message"] if self.message_reasons else 0

    @property
    def hours(self) -> windows.Hours:
        """The class's allowed hours under the pack (customer care: any hour)."""
        if self.cls == "qc":
            return windows.hours_of(self.pack.qc_hours)
        if self.cls == "public":
            return windows.hours_of(self.pack.public_hours)
        return windows.ANY_HOUR


def rules_for(
    pack: Pack,
    cls: str,
    *,
    allow_defer: bool = True,
    message_reasons: Sequence[Reason] = (),
    min_gap_s: int = 0,
) -> Rules:
    """Check the class and the message-level reasons once for a whole batch."""
    if cls not in CLASSES:
        raise LoaError(UNKNOWN_CLASS, cls=cls, known=", ".join(CLASSES))
    kept: list[Reason] = []
    for reason in message_reasons:
        if reason.code not in REASONS or reason.code in RECIPIENT_REASONS:
            known = sorted(set(REASONS) - RECIPIENT_REASONS)
            raise LoaError(NOT_A_MESSAGE_REASON, code=reason.code, known=", ".join(known))
        if cls not in MESSAGE_REASON_CLASSES.get(reason.code, CLASSES):
            continue
        if reason.code in ("unregistered_brandname", "brandname_expired") and not (
            pack.brandname_required
        ):
            continue
        if reason.code == "template_not_approved" and not pack.cskh_template_required:
            continue
        if all(r.code != reason.code for r in kept):
            kept.append(reason)
    return Rules(pack, cls, allow_defer, tuple(kept), max(0, min_gap_s))


def _with_defaults(recipients: pl.DataFrame, pack: Pack) -> pl.DataFrame:
    for column in ("phone", "at"):
        if column not in recipients.columns:
            raise LoaError(MISSING_COLUMN, column=column)
    frame = recipients.with_columns(pl.col("at").cast(UTC_DT))
    missing = [
        pl.lit(default, dtype).alias(name)
        for name, (dtype, default) in DEFAULTS.items()
        if name not in frame.columns
    ]
    frame = frame.with_columns(missing) if missing else frame
    if pack.timezone != windows.RECIPIENT:
        frame = frame.with_columns(pl.col("zone").fill_null(pack.timezone))
    return frame.with_columns(pl.col("opted_out_at").cast(UTC_DT))


def _offsets_us(t_us: pl.Series, zone_name: str) -> pl.Series:
    """Each instant's UTC offset in `zone_name`, in microseconds.

    Offsets change a few times a year at most, so they are looked up once per distinct minute
    (a two-hour campaign has 120) with `zoneinfo`; a minute that holds a change (its first and
    last microsecond disagree) is looked up row by row."""
    tz = windows.zone(zone_name)
    minute = t_us // (60 * US_PER_S)
    lookup: dict[int, int | None] = {}
    for m in minute.unique().to_list():
        first = (EPOCH + timedelta(minutes=m)).astimezone(tz).utcoffset()
        last = (EPOCH + timedelta(minutes=m + 1, microseconds=-1)).astimezone(tz).utcoffset()
        lookup[m] = _us(first) if first == last else None
    offsets = minute.replace_strict(lookup, return_dtype=pl.Int64)
    if offsets.null_count():
        rows = offsets.is_null().arg_true()
        exact = [
            _us((EPOCH + timedelta(microseconds=v)).astimezone(tz).utcoffset())
            for v in t_us.gather(rows).to_list()
        ]
        offsets = offsets.scatter(rows, pl.Series(exact, dtype=pl.Int64))
    return offsets


def _us(delta: timedelta | None) -> int:
    assert delta is not None
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def _zone_step(
    t_us: pl.Series, start_s: pl.Series, end_s: pl.Series, zone_name: str
) -> tuple[pl.Series, pl.Series]:
    """For one zone: whether each instant (UTC microseconds) is inside its row's hours, and the
    row's next legal instant (itself when inside)."""
    frame = pl.DataFrame(
        {
            "t": t_us,
            "off": _offsets_us(t_us, zone_name),
            "start": start_s.cast(pl.Int64) * US_PER_S,
            "end": end_s.cast(pl.Int64) * US_PER_S,
        }
    )
    local = pl.col("t") + pl.col("off")
    tod = local.mod(DAY_US)
    plain = pl.col("start") < pl.col("end")
    inside = (
        pl.when(pl.col("start") == pl.col("end"))
        .then(True)
        .when(plain)
        .then((tod >= pl.col("start")) & (tod < pl.col("end")))
        .otherwise((tod >= pl.col("start")) | (tod < pl.col("end")))
    )
    # Outside a plain window: before the start today, or past the end (start tomorrow). A
    # wrapping window's gap lies inside one day, so its start is always today.
    tomorrow = (plain & (tod >= pl.col("start"))).cast(pl.Int64) * DAY_US
    wall = local - tod + tomorrow + pl.col("start")
    out = frame.select(
        inside.alias("inside"), pl.when(inside).then(None).otherwise(wall).alias("w")
    )
    # Few distinct opening wall times (one per day and start), each turned into an instant by
    # the one-at-a-time rule, which knows daylight-saving gaps and repeated hours.
    opens: dict[int, int] = {}
    for w in out["w"].drop_nulls().unique().to_list():
        naive = EPOCH.replace(tzinfo=None) + timedelta(microseconds=w)
        day = naive.replace(hour=0, minute=0, second=0, microsecond=0)
        start = windows.local_start(day, zone_name, int((naive - day).total_seconds()))
        opens[w] = _us(start - EPOCH)
    nxt = frame.select(
        pl.when(out["inside"])
        .then(pl.col("t"))
        .otherwise(out["w"].replace_strict(opens, default=None, return_dtype=pl.Int64))
    ).to_series()
    return out["inside"], nxt


def _windows(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns `legal` (the intended instant is inside the hours) and `next_at` (the next legal
    instant; null when the number's zones never share an allowed hour)."""
    keys = frame["zone"].unique().to_list()
    parts: list[pl.DataFrame] = []
    for key in sorted(keys, key=lambda k: (k is None, k or "")):
        part = frame if len(keys) == 1 else frame.filter(pl.col("zone").eq_missing(key))
        zones = windows.split_key(key) if key else ("UTC",)
        start_s, end_s = part["start_s"], part["end_s"]
        current = part["at"].dt.epoch("us")
        legal: pl.Series | None = None
        settled = pl.Series([False] * part.height)
        for _ in range(windows.MAX_ZONE_STEPS):
            inside_all, moved = _zone_step(current, start_s, end_s, zones[0])
            for z in zones[1:]:
                inside, nxt = _zone_step(current, start_s, end_s, z)
                inside_all = inside_all & inside
                moved = pl.select(pl.max_horizontal(moved, nxt)).to_series()
            if legal is None:
                legal = inside_all
            settled = inside_all
            if bool(settled.all()):
                break
            current = moved
        assert legal is not None
        parts.append(
            part.select("_row").with_columns(
                legal.alias("legal"),
                pl.when(settled).then(current).otherwise(None).cast(UTC_DT).alias("next_at"),
            )
        )
    joined = parts[0] if len(parts) == 1 else pl.concat(parts).sort("_row")
    return joined.drop("_row")


def _cap_counts(
    judged: pl.Series,
    phones: pl.Series,
    history: pl.DataFrame,
    active: pl.Series,
    *,
    before_us: int = DAY_US,
    after_us: int = 0,
    name: str = "count_24h",
) -> pl.Series:
    """For each recipient, its sends in (judged − before, judged + after] (the cap: the last
    24 hours): two binary searches on sorted keys recipient * span + offset_us."""
    n = judged.len()
    counted = judged.filter(active)
    if counted.len() == 0 or history.height == 0:
        return pl.Series(name, [0] * n, dtype=pl.Int64)
    t_us = judged.dt.epoch("us")
    base_us = int(counted.dt.epoch("us").min()) - before_us  # type: ignore[arg-type]
    top_us = int(counted.dt.epoch("us").max()) + after_us  # type: ignore[arg-type]
    # Microsecond keys overflow int64 once recipients x spread passes 2^62 (a million
    # recipients over ~50 days); then the search works in milliseconds, exact to that unit.
    unit = 1
    while (n + 1) * ((top_us - base_us) // unit + 2) >= _KEY_LIMIT:
        unit *= 1000
    span = (top_us - base_us) // unit + 2
    rows = pl.DataFrame({"phone": phones, "_row": pl.int_range(n, eager=True, dtype=pl.Int64)})
    at_us = pl.col("at").cast(UTC_DT).dt.epoch("us")
    keys = (
        history.lazy()
        .filter((at_us > base_us) & (at_us <= top_us))
        .join(rows.lazy(), on="phone", how="inner")
        .select(pl.col("_row") * span + (at_us - base_us) // unit)
        .collect()
        .to_series()
        .sort()
    )
    own = pl.int_range(n, eager=True, dtype=pl.Int64) * span
    offset = (t_us - base_us) // unit
    hi = keys.search_sorted(own + (offset + after_us // unit).clip(lower_bound=0), side="right")
    lo = keys.search_sorted(own + (offset - before_us // unit).clip(lower_bound=0), side="right")
    counts = pl.Series(name, hi.cast(pl.Int64) - lo.cast(pl.Int64))
    return pl.select(pl.when(active).then(counts).otherwise(0)).to_series().alias(name)


def decide(recipients: pl.DataFrame, history: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Decide every recipient of one message; the rows come back in the order given.

    `recipients`: `phone` (E.164), `at` (the intended instant, UTC) and any of the facts in
    `DEFAULTS`; `zone` is a `windows.zone_key` (the pack's own zone when it has one, else UTC
    when missing). `history`: the workspace's QC messages, `phone` and `at`, in any order.
    Out: `phone`, `at`, `decision` (send / defer / suppress), `scheduled_at` (UTC; null when
    suppressed), `reasons` (codes, the deciding one first), `mask`, and the facts reasons quote
    (`count_24h`, `limit`, `opted_out_at`, `invalid_reason`, `zone`, `start_s`, `end_s`)."""
    pack, cls = rules.pack, rules.cls
    frame = _with_defaults(recipients, pack).with_row_index("_row")
    # Hashes first: finding duplicates among a million strings costs ten times more.
    if frame["phone"].hash(7).is_duplicated().any():
        dup = frame["phone"].is_duplicated()
        if dup.any():
            raise LoaError(DUPLICATE_PHONE, phone=frame["phone"].filter(dup)[0])
    qc = cls == "qc"
    hours = rules.hours
    start = pl.lit(hours.start_s, pl.Int32)
    end = pl.lit(hours.end_s, pl.Int32)
    if qc:  # an agreement may set a person's own advertising hours
        start = pl.coalesce(pl.col("hours_start_s"), start)
        end = pl.coalesce(pl.col("hours_end_s"), end)
    frame = frame.with_columns(start.alias("start_s"), end.alias("end_s"))
    timed = _windows(frame) if qc or not hours.any_hour else None
    if timed is None:
        frame = frame.with_columns(pl.lit(True).alias("legal"), pl.col("at").alias("next_at"))
    else:
        frame = frame.with_columns(timed)

    # A deferred message is judged (opt-outs, the cap) at its deferred instant.
    defers = ~pl.col("legal") & pl.col("next_at").is_not_null() & rules.allow_defer
    frame = frame.with_columns(
        pl.when(defers).then(pl.col("next_at")).otherwise(pl.col("at")).alias("judged")
    )

    def bit(code: str, when: pl.Expr) -> pl.Expr:
        return pl.when(when).then(pl.lit(BIT[code], pl.UInt32)).otherwise(pl.lit(0, pl.UInt32))

    outside = ~pl.col("legal")
    no_hour = outside & pl.col("next_at").is_null()
    terms = [
        pl.lit(rules.message_mask, pl.UInt32),
        bit("invalid_number", pl.col("invalid_reason").is_not_null()),
        bit("no_legal_hour", no_hour),
    ]
    if rules.allow_defer:
        terms.append(bit("quiet_hours", outside & ~no_hour))
    else:
        terms.append(bit("quiet_hours_expired", outside & ~no_hour))
    if qc:
        terms += [
            bit(
                "opted_out",
                pl.col("opted_out_at").is_not_null() & (pl.col("opted_out_at") <= pl.col("judged")),
            ),
        ]
        if pack.dnc_enforced:
            terms.append(bit("dnc", pl.col("dnc")))
        if pack.registration_sms:
            terms.append(
                bit("registration_refused", pl.col("registration").is_in(["refuse", "pending"]))
            )
        if pack.consent_required:
            terms.append(bit("no_consent", ~pl.col("consent")))
    frame = frame.with_columns(pl.sum_horizontal(terms).cast(pl.UInt32).alias("mask"))
    judged = frame["judged"]
    limit = pl.coalesce(pl.col("max_qc_per_24h"), pl.lit(pack.max_qc_per_24h, pl.Int32))
    frame = frame.with_columns(limit.cast(pl.Int32).alias("limit"))
    if qc and (pack.max_qc_per_24h > 0 or frame["max_qc_per_24h"].is_not_null().any()):
        active = frame["limit"] > 0
        frame = frame.with_columns(_cap_counts(judged, frame["phone"], history, active))
        frame = frame.with_columns(
            (
                pl.col("mask")
                | bit(
                    "frequency_cap",
                    (pl.col("limit") > 0) & (pl.col("count_24h") >= pl.col("limit")),
                )
            ).alias("mask")
        )
    else:
        frame = frame.with_columns(pl.lit(0, pl.Int64).alias("count_24h"))
    if qc and rules.min_gap_s > 0:
        # Any other advertising message within the gap, before or after (planned ones too).
        gap_us = rules.min_gap_s * US_PER_S
        near = _cap_counts(
            judged,
            frame["phone"],
            history,
            pl.repeat(True, frame.height, eager=True),
            before_us=gap_us,
            after_us=gap_us - 1,
            name="near",
        )
        frame = frame.with_columns(
            (pl.col("mask") | bit("min_gap", pl.lit(near) > 0)).alias("mask")
        )
    suppressed = (pl.col("mask") & SUPPRESS_MASK) != 0
    deferred = (pl.col("mask") & DEFER_MASK) != 0
    # A suppressed message is not deferred: only the rules that stop it are its reasons.
    frame = frame.with_columns(
        pl.when(suppressed)
        .then(pl.col("mask") & SUPPRESS_MASK)
        .otherwise(pl.col("mask"))
        .alias("mask")
    )
    return frame.select(
        "phone",
        "at",
        pl.when(suppressed)
        .then(pl.lit("suppress"))
        .when(deferred)
        .then(pl.lit("defer"))
        .otherwise(pl.lit("send"))
        .alias("decision"),
        pl.when(suppressed).then(None).otherwise(pl.col("next_at")).alias("scheduled_at"),
        _codes(frame["mask"], rules),
        pl.col("mask"),
        "count_24h",
        "limit",
        "opted_out_at",
        "invalid_reason",
        "zone",
        "start_s",
        "end_s",
    )


def codes_of(mask: int, rules: Rules) -> list[str]:
    """The reason codes of a bit mask, lowest bit (the deciding rule) first."""
    codes: list[str] = []
    for code in BITS:
        if not mask & BIT[code]:
            continue
        if code == "message":
            codes.extend(r.code for r in rules.message_reasons)
        else:
            codes.append(code)
    return codes


def _codes(mask: pl.Series, rules: Rules) -> pl.Series:
    # A batch holds few distinct masks: spell each once, then look the rows up.
    distinct = mask.unique().sort()
    spelled = pl.DataFrame(
        {"mask": distinct, "reasons": [codes_of(m, rules) for m in distinct.to_list()]},
        schema={"mask": pl.UInt32, "reasons": pl.List(pl.String)},
    )
    found = mask.to_frame("mask").join(spelled, on="mask", how="left", maintain_order="left")
    return found["reasons"]


def _when(at: datetime | None, zone_name: str) -> str:
    if at is None:
        return ""
    return at.astimezone(windows.zone(zone_name)).strftime("%Y-%m-%d %H:%M")


def reasons_of(row: Mapping[str, Any], rules: Rules, lang: Lang | None = None) -> list[Reason]:
    """The reasons of one decided row (a dict of `decide`'s columns) with the details their
    words quote: counts, limits, local times."""
    key = row.get("zone") or "UTC"
    zone_name = windows.split_key(key)[0]
    hours = windows.Hours(int(row["start_s"]), int(row["end_s"]))
    start, end = hours.label()
    given = {r.code: r for r in rules.message_reasons}
    out: list[Reason] = []
    for code in row["reasons"]:
        if code in given:
            out.append(given[code])
        elif code == "invalid_number":
            detail = row.get("invalid_reason") or ""
            msg = PHONE_REASONS.get(detail)
            # The phone reason is a sentence of its own; the reason's words add the full stop.
            text = msg.render(lang).rstrip(".") if msg else detail
            out.append(Reason(code, {"detail": text}))
        elif code == "opted_out":
            out.append(Reason(code, {"when": _when(row.get("opted_out_at"), zone_name)}))
        elif code == "frequency_cap":
            out.append(Reason(code, {"count": row["count_24h"], "limit": row["limit"]}))
        elif code == "min_gap":
            hours_apart = rules.min_gap_s / 3600
            shown = int(hours_apart) if hours_apart.is_integer() else round(hours_apart, 1)
            out.append(Reason(code, {"hours": shown}))
        elif code == "quiet_hours":
            until = _when(row.get("scheduled_at"), zone_name)
            out.append(Reason(code, {"start": start, "end": end, "until": until}))
        elif code == "quiet_hours_expired":
            out.append(Reason(code, {"start": start, "end": end}))
        elif code == "no_legal_hour":
            out.append(Reason(code, {"zones": ", ".join(windows.split_key(key))}))
        else:
            out.append(Reason(code))
    return out


def utc(at: datetime) -> datetime:
    """`at` as an aware UTC instant (naive values are taken as UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
