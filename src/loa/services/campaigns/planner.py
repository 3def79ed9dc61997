"""The planner: turns a campaign into one outbox row per recipient before anything is spent.

For every member of the audience: the holdout/variant draw (seeded, so re-planning draws the
same), the rendered and framed text, its encoding and parts, the carrier and price, the send
instant (the audience spread over the schedule at the route speed), and the compliance decision
with its reasons. Then the budget cut, by score when there is one, else by the seeded draw —
never by import order. The rows replace the campaign's previous plan in one transaction, keyed
`c<campaign>:<contact>`, so a plan never holds a recipient twice and a re-plan sends nothing.

Columnar throughout (Polars), because a national audience is millions of rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import polars as pl
from sqlalchemy import Connection, Select, delete, func, or_, select, text, update

from loa.domain.compliance.decide import MESSAGE_REASON_CLASSES
from loa.domain.compliance.reasons import Reason
from loa.domain.compose import OptOut, frame_template, load_carriers
from loa.domain.links import LinkedTemplate, LinkOptions, issue_links, link_template, slug
from loa.domain.schedule import Window, intervals, preset, spread
from loa.domain.templates import Template, parse
from loa.i18n import Lang, LoaError, Msg
from loa.services.campaigns.pricing import price_table
from loa.services.campaigns.service import Campaign, change_state, get_campaign
from loa.services.compliance.brandnames import find_brandname
from loa.services.compliance.check import check_message
from loa.services.compliance.decisions import decide_batch
from loa.services.segments.service import segment_members
from loa.store.bulk import attached_scratch, copy_rows, sqlite_rows
from loa.store.db import Store
from loa.store.tables import campaigns, contact_stats, contacts, outbox, short_links, workspaces

Progress = Callable[[str, int, int], None]

# The route speed assumed when neither the campaign nor a route says (messages/s).
DEFAULT_TPS: Final = 100
CHUNK: Final = 100_000
HOLDOUT: Final = "control"

CANNOT_REPLAN = Msg(
    "campaigns.cannot_replan",
    "Chiến dịch #{id} đang ở trạng thái '{state}': chỉ lập lại kế hoạch được khi còn nháp hoặc "
    "đã lập kế hoạch (chưa bắt đầu gửi).",
    "Campaign #{id} is '{state}': it can be planned again only while draft or planned (before "
    "sending starts).",
)


@dataclass(slots=True)
class PlanReport:
    """What the marketer sees before anything is spent."""

    campaign_id: int
    audience: int = 0
    holdout: int = 0
    by_decision: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    by_variant: dict[str, int] = field(default_factory=dict)
    by_carrier: dict[str, dict[str, int]] = field(default_factory=dict)
    parts_total: int = 0
    cost_vnd: int = 0
    cost_unaccented_vnd: int = 0
    parts_unaccented: int = 0
    encodings: dict[str, int] = field(default_factory=dict)
    budget_cut: int = 0
    first_at: str | None = None
    last_at: str | None = None
    sending_time_s: float = 0.0
    rate_per_s: float = 0.0
    shortest: dict[str, Any] | None = None
    longest: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as `loa campaigns plan --json` prints it and the campaign stores it."""
        return {k: getattr(self, k) for k in self.__slots__}


# --- audience ---------------------------------------------------------------------------------


# What every plan reads, and the columns templates may name (read only when one does).
BASE_COLUMNS: Final = ("contact_id", "phone", "carrier", "invalid_reason", "score")
COLUMN_TYPES: Final[dict[str, pl.DataType]] = {
    "contact_id": pl.Int64(),
    "phone": pl.String(),
    "carrier": pl.String(),
    "invalid_reason": pl.String(),
    "score": pl.Int64(),
    "name": pl.String(),
    "given_name": pl.String(),
    "gender": pl.String(),
    "birthday": pl.Date(),
    "province": pl.String(),
    "email": pl.String(),
    "attrs": pl.String(),
}


def template_columns(campaign: Campaign) -> tuple[str, ...]:
    """The contact columns the campaign's templates use."""
    used: set[str] = set()
    for v in campaign.variants:
        used.update(slot.path[0] for slot in parse(v.text).slots)
    return tuple(c for c in TEMPLATE_FIELDS if c in used and c not in BASE_COLUMNS)


def _audience(
    conn: Connection, workspace_id: int, campaign: Campaign, now: datetime, extra: tuple[str, ...]
) -> Select[Any]:
    include = [
        segment_members(conn, workspace_id=workspace_id, segment=name, now=now)
        for name in campaign.include
    ]
    where = or_(*include)
    for name in campaign.exclude:
        where = where & ~segment_members(conn, workspace_id=workspace_id, segment=name, now=now)
    c, s = contacts.c, contact_stats.c
    # RFM total as the budget score; contacts without purchases score 0.
    score = func.coalesce(s.r_score + s.f_score + s.m_score, 0)
    return (
        select(
            c.id.label("contact_id"),
            c.phone,
            c.carrier,
            c.invalid_reason,
            score.label("score"),
            *(c[name] for name in extra),
        )
        .select_from(contacts.outerjoin(contact_stats, s.contact_id == c.id))
        .where(where)
        .order_by(c.id)
    )


def load_audience(
    conn: Connection, workspace_id: int, campaign: Campaign, now: datetime
) -> pl.DataFrame:
    """The campaign's recipients with what its templates and rules need, by contact id."""
    extra = template_columns(campaign)
    query = _audience(conn, workspace_id, campaign, now, extra)
    schema = {name: COLUMN_TYPES[name] for name in (*BASE_COLUMNS, *extra)}
    if conn.dialect.name == "sqlite":
        return _read_sqlite(conn, query, schema)
    rows = conn.execute(query).all()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    data = {}
    for (name, dtype), values in zip(schema.items(), columns, strict=True):
        if name == "attrs":  # kept as JSON text; parsed only for templates that use it
            values = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
        data[name] = pl.Series(name, values, dtype=dtype)
    return pl.DataFrame(data)


def _read_sqlite(
    conn: Connection, query: Select[Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """Read through the raw sqlite3 cursor: plain tuples, without SQLAlchemy's per-row work."""
    rows = sqlite_rows(conn, query)
    frame = pl.DataFrame(rows, schema=list(schema), orient="row")
    return frame.select(
        pl.col(name).cast(pl.String).str.to_date()
        if dtype == pl.Date() and frame[name].dtype == pl.String
        else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
    )


def _attrs(value: str | None) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(value) if value else {}
    return loaded


# --- draws ------------------------------------------------------------------------------------


def uniform_draw(contact_ids: np.ndarray[Any, Any], seed: int) -> np.ndarray[Any, Any]:
    """A uniform number in [0, 1) per contact, fixed by the campaign's seed (SplitMix64)."""
    with np.errstate(over="ignore"):
        z = contact_ids.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign_groups(frame: pl.DataFrame, campaign: Campaign) -> pl.DataFrame:
    """Add `u` (the seeded draw) and `variant` (a variant name, or `control` for the holdout).

    The holdout takes the lowest draws; the rest are split by the variants' shares, so growing
    the holdout never moves someone from one variant to another by chance alone.
    """
    u = uniform_draw(frame["contact_id"].to_numpy(), campaign.seed)
    holdout = campaign.holdout_pct / 100
    names = [v.name for v in campaign.variants] or ["A"]
    shares = np.array([v.share_pct for v in campaign.variants] or [100], dtype=np.float64)
    edges = np.cumsum(shares) / shares.sum()
    rest = (u - holdout) / (1 - holdout) if holdout < 1 else u
    index = np.minimum(np.searchsorted(edges, rest, side="right"), len(names) - 1)
    variant = np.where(u < holdout, HOLDOUT, np.array(names, dtype=object)[index])
    return frame.with_columns(pl.Series("u", u), pl.Series("variant", variant, dtype=pl.String))


# --- schedule ---------------------------------------------------------------------------------


def send_instants(
    count: int, campaign: Campaign, *, now: datetime, zone: str, rate_per_s: float
) -> tuple[np.ndarray[Any, Any], int]:
    """When each of `count` messages (in priority order) leaves, and how many do not fit."""
    s = campaign.schedule
    start = max(s.at or now, now)
    windows: tuple[Window, ...] | None = None
    if s.mode == "golden" and s.preset:
        windows = preset(s.preset).windows
    elif s.mode == "window":
        windows = tuple(Window.parse(w) for w in s.windows)
    spans = intervals(start, windows, zone=zone, end=s.until, holidays=s.holidays)
    return spread(count, spans, rate_per_s=rate_per_s)


# --- the plan ---------------------------------------------------------------------------------


def _zone(conn: Connection, workspace_id: int) -> tuple[str, str]:
    from loa.domain.compliance.packs import load_pack

    code = conn.execute(
        select(workspaces.c.policy_pack).where(workspaces.c.id == workspace_id)
    ).scalar_one()
    pack = load_pack(code)
    zone = pack.timezone if pack.timezone != "recipient" else "UTC"
    return code, zone


def _summary(frame: pl.DataFrame, report: PlanReport) -> None:
    report.audience = frame.height
    report.holdout = frame.filter(pl.col("variant") == HOLDOUT).height
    report.by_decision = dict(frame.group_by("decision").len().sort("decision").iter_rows())
    reasons = frame.filter(pl.col("decision") != "holdout").select(
        pl.col("reasons").list.first().alias("reason")
    )
    report.by_reason = dict(
        reasons.drop_nulls().group_by("reason").len().sort("reason").iter_rows()
    )
    report.by_variant = dict(frame.group_by("variant").len().sort("variant").iter_rows())
    billed = frame.filter(pl.col("decision").is_in(["send", "defer"]))
    report.parts_total = int(billed["parts"].sum() or 0)
    report.cost_vnd = int(billed["price_vnd"].sum() or 0)
    report.parts_unaccented = int(billed["parts_unaccented"].sum() or 0)
    report.cost_unaccented_vnd = int(billed["price_unaccented_vnd"].sum() or 0)
    report.encodings = dict(billed.group_by("encoding").len().sort("encoding").iter_rows())
    by_carrier = (
        billed.group_by(pl.col("carrier").fill_null("unknown"))
        .agg(
            pl.len().alias("messages"),
            pl.col("parts").sum().alias("parts"),
            pl.col("price_vnd").sum().alias("cost_vnd"),
        )
        .sort("carrier")
    )
    report.by_carrier = {
        row["carrier"]: {k: int(row[k]) for k in ("messages", "parts", "cost_vnd")}
        for row in by_carrier.iter_rows(named=True)
    }
    if billed.height:
        times = billed["scheduled_at"]
        report.first_at = times.min().isoformat()  # type: ignore[union-attr]
        report.last_at = times.max().isoformat()  # type: ignore[union-attr]
        lengths = billed.select(pl.col("text").str.len_chars().alias("n"), "text", "parts")
        short = lengths.sort("n").row(0, named=True)
        long = lengths.sort("n", descending=True).row(0, named=True)
        report.shortest = {"text": short["text"], "parts": short["parts"]}
        report.longest = {"text": long["text"], "parts": long["parts"]}


def plan_campaign(
    store: Store,
    campaign_id: int,
    *,
    actor: str,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> PlanReport:
    """Plan (or re-plan) a campaign: write its outbox rows and return the plan report."""
    when = now or datetime.now(UTC)
    ws = store.workspace_id
    with store.engine.connect() as conn:
        campaign = get_campaign(conn, workspace_id=ws, campaign_id=campaign_id)
        if campaign.state not in ("draft", "planned"):
            raise LoaError(CANNOT_REPLAN, id=campaign_id, state=campaign.state)
        frame = load_audience(conn, ws, campaign, when)
        pack_code, zone = _zone(conn, ws)
        prices = price_table(conn, workspace_id=ws)
    report = PlanReport(campaign_id=campaign_id)
    lang: Lang = "vi" if pack_code == "vn" else "en"
    step = progress or (lambda _step, _done, _total: None)
    step("audience", frame.height, frame.height)
    frame = assign_groups(frame, campaign)
    frame, links, samples = _render(store, campaign, frame, report, lang)
    step("render", frame.height, frame.height)
    frame = _carrier_limits(frame)
    frame = _price(frame, campaign, prices)
    frame = _order_and_time(frame, campaign, when, zone, report)
    frame = _decide(store, campaign, frame, samples, report, when)
    step("compliance", frame.height, frame.height)
    frame = _budget(frame, campaign, report)
    _summary(frame, report)
    _write(store, campaign, frame, links, report, actor=actor, now=when)
    step("outbox", frame.height, frame.height)
    return report


# Columns of `contacts` a template may name directly; anything else is an error naming it.
TEMPLATE_FIELDS: Final = (
    "phone",
    "name",
    "given_name",
    "gender",
    "birthday",
    "province",
    "carrier",
    "email",
    "attrs",
)


@dataclass(slots=True)
class _Composed:
    template: Template  # as sent: framed, links shortened per recipient
    unaccented: Template  # the same without accents, for the side-by-side cost
    checked: Template  # framed, links as written: what the content checks judge
    linked: LinkedTemplate | None


def _compose(
    conn: Connection, workspace_id: int, campaign: Campaign, lang: Lang
) -> dict[str, _Composed]:
    """Each variant's template, framed for its class (label and refusal instructions counted
    in its parts), and its links made trackable when the campaign has a short domain."""
    brand = find_brandname(conn, workspace_id, campaign.sender)
    optout = OptOut(
        brand.optout_keyword if brand else None,
        brand.optout_shortcode if brand else None,
        brand.hotline if brand else None,
    )
    composed = {}
    for v in campaign.variants:
        template = parse(v.text)
        # An unregistered sender has no refusal instructions to add: the compliance engine
        # suppresses every recipient for it, and the report says so.
        framed = (
            frame_template(template, campaign.cls, optout, lang, campaign.sender)
            if brand is not None
            else template
        )
        linked = None
        if campaign.short_domain:
            options = LinkOptions(short_domain=campaign.short_domain, campaign=slug(campaign.name))
            linked = link_template(framed, options)
            if not linked.destinations:
                linked = None
        shown = linked.issuing if linked else framed
        plain = (linked.preview if linked else framed).unaccented()
        composed[v.name] = _Composed(shown, plain, framed, linked)
    return composed


def _rows(chunk: pl.DataFrame, template: Template) -> list[dict[str, Any]]:
    wanted = {slot.path[0] for slot in template.slots} & set(TEMPLATE_FIELDS)
    if not wanted:
        return [{} for _ in range(chunk.height)]
    rows = chunk.select(sorted(wanted)).to_dicts()
    if "attrs" in wanted:
        for row in rows:
            row["attrs"] = _attrs(row["attrs"])
    return rows


def _render(
    store: Store, campaign: Campaign, frame: pl.DataFrame, report: PlanReport, lang: Lang
) -> tuple[pl.DataFrame, list[dict[str, Any]], dict[str, str]]:
    """Render, frame and count every targeted recipient's message, a chunk at a time.

    Also returns the short links issued (written with the plan) and, per variant, one copy as
    it reads before its links are shortened: the copy the content checks judge."""
    with store.engine.connect() as conn:
        composed = _compose(conn, store.workspace_id, campaign, lang)
    n = frame.height
    texts = np.full(n, None, dtype=object)
    errors = np.full(n, None, dtype=object)
    encodings = np.full(n, None, dtype=object)
    parts = np.zeros(n, dtype=np.int64)
    parts_plain = np.zeros(n, dtype=np.int64)
    links: list[dict[str, Any]] = []
    samples: dict[str, str] = {}
    indexed = frame.with_row_index("_pos")
    for name, c in composed.items():
        members = indexed.filter(pl.col("variant") == name)
        positions = members["_pos"].to_numpy()
        for start in range(0, members.height, CHUNK):
            chunk = members.slice(start, CHUNK)
            where = positions[start : start + chunk.height]
            rows = _rows(chunk, c.template)
            labels = chunk["phone"].to_list()
            if name not in samples:
                first = c.checked.render_rows(rows[:1], labels[:1]).texts
                if first and first[0] is not None:
                    samples[name] = first[0]
            if c.linked is not None:
                ids = chunk["contact_id"].to_list()
                for i, found in enumerate(issue_links(c.linked, rows)):
                    links.extend(
                        {
                            "code": link.code,
                            "destination": link.destination,
                            "contact_id": ids[i],
                            "variant": name,
                        }
                        for link in found
                    )
            result, counts = c.template.render_counted(rows, labels)
            _, plain_counts = c.unaccented.render_counted(rows, labels)
            for error in result.errors:
                errors[where[error.row]] = error.error.render()
                if len(report.warnings) < 5:
                    report.warnings.append(error.error.render())
            texts[where] = result.texts
            encodings[where] = [k.encoding if k else None for k in counts]
            parts[where] = [k.segments if k else 0 for k in counts]
            parts_plain[where] = [k.segments if k else 0 for k in plain_counts]
    rendered = frame.with_columns(
        pl.Series("text", texts.tolist(), dtype=pl.String),
        pl.Series("render_error", errors.tolist(), dtype=pl.String),
        pl.Series("encoding", encodings.tolist(), dtype=pl.String),
        pl.Series("parts", parts),
        pl.Series("parts_unaccented", parts_plain),
    )
    return rendered, links, samples


def _price(
    frame: pl.DataFrame, campaign: Campaign, prices: dict[tuple[str, str], int]
) -> pl.DataFrame:
    table = pl.DataFrame(
        {
            "carrier": [k[0] for k in prices if k[1] == campaign.cls],
            "unit_price": [v for k, v in prices.items() if k[1] == campaign.cls],
        },
        schema={"carrier": pl.String, "unit_price": pl.Int64},
    )
    fallback = max((v for k, v in prices.items() if k[1] == campaign.cls), default=0)
    return (
        frame.join(table, on="carrier", how="left", maintain_order="left")
        .with_columns(
            (pl.col("parts") * pl.col("unit_price").fill_null(fallback)).alias("price_vnd"),
            (pl.col("parts_unaccented") * pl.col("unit_price").fill_null(fallback)).alias(
                "price_unaccented_vnd"
            ),
        )
        .drop("unit_price")
    )


def _order_and_time(
    frame: pl.DataFrame, campaign: Campaign, now: datetime, zone: str, report: PlanReport
) -> pl.DataFrame:
    # Priority: the best customers first (RFM total), ties by the seeded draw. The order decides
    # who leaves first and who is kept under a budget.
    frame = frame.sort(["score", "u"], descending=[True, False])
    targets = frame["variant"] != HOLDOUT
    count = int(targets.sum())
    rate = float(campaign.max_tps or DEFAULT_TPS)
    instants, left = send_instants(count, campaign, now=now, zone=zone, rate_per_s=rate)
    report.rate_per_s = rate
    report.sending_time_s = count / rate
    if left:
        report.warnings.append("schedule_full")
    at = np.full(frame.height, -1, dtype=np.int64)
    at[targets.to_numpy()] = instants
    series = pl.Series("at_us", at).replace(-1, None)
    return frame.with_columns(
        series.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("at")
    )


def _message_reasons(
    store: Store, campaign: Campaign, samples: dict[str, str], report: PlanReport
) -> list[Reason]:
    """What stops the message itself, judged on one rendered copy of each variant as it would
    leave; fine-grained content findings are kept for the report and count as content_blocked."""
    found: dict[str, Reason] = {}
    for variant, sample in samples.items():
        checked = check_message(
            store, sample, campaign.sender, campaign.cls, template=campaign.template
        )
        for reason in checked.reasons:
            report.warnings.append(f"{variant}: {reason.render()}")
            if reason.code in MESSAGE_REASON_CLASSES:
                found.setdefault(reason.code, reason)
            else:
                found.setdefault(
                    "content_blocked", Reason("content_blocked", {"detail": reason.render()})
                )
    return list(found.values())


def _decide(
    store: Store,
    campaign: Campaign,
    frame: pl.DataFrame,
    samples: dict[str, str],
    report: PlanReport,
    now: datetime,
) -> pl.DataFrame:
    """The compliance decision for every timed recipient; holdout, unrendered and unscheduled
    recipients are settled here without the engine."""
    reasons = _message_reasons(store, campaign, samples, report)
    judged = frame.filter(pl.col("at").is_not_null())
    decided = pl.DataFrame(
        schema={
            "contact_id": pl.Int64,
            "decision": pl.String,
            "scheduled_at": pl.Datetime("us", "UTC"),
            "reasons": pl.List(pl.String),
        }
    )
    if judged.height:
        result = decide_batch(
            store,
            judged.select("phone", "at"),
            cls=campaign.cls,
            sender=campaign.sender,
            allow_defer=campaign.allow_defer,
            message_reasons=reasons,
            now=now,
            exclude_campaign_id=campaign.id,
        )
        decided = pl.DataFrame(
            {
                "contact_id": judged["contact_id"],
                "decision": result.frame["decision"],
                "scheduled_at": result.frame["scheduled_at"],
                "reasons": result.frame["reasons"],
            }
        )
    out = frame.join(decided, on="contact_id", how="left", maintain_order="left")
    holdout = pl.col("variant") == HOLDOUT
    unscheduled = pl.col("decision").is_null() & ~holdout
    failed = pl.col("render_error").is_not_null() & (pl.col("decision") != "suppress")
    over_limit = pl.col("carrier_problem").is_not_null() & (pl.col("decision") != "suppress")
    return out.with_columns(
        pl.when(holdout)
        .then(pl.lit("holdout"))
        .when(unscheduled | failed | over_limit)
        .then(pl.lit("suppress"))
        .otherwise(pl.col("decision"))
        .alias("decision"),
        pl.when(holdout)
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .when(unscheduled)
        .then(pl.lit(["schedule_full"]))
        .when(failed)
        .then(pl.lit(["render_failed"]))
        .when(over_limit)
        .then(pl.lit(["carrier_limit"]))
        .otherwise(pl.col("reasons"))
        .alias("reasons"),
        pl.when(holdout | unscheduled | failed | over_limit)
        .then(None)
        .otherwise(pl.col("scheduled_at"))
        .alias("scheduled_at"),
    )


def _carrier_limits(frame: pl.DataFrame) -> pl.DataFrame:
    """`carrier_problem`: why the recipient's carrier would refuse the message, if it would."""
    carriers = {c.name: c for c in load_carriers().values()}
    table = pl.DataFrame(
        {
            "carrier": list(carriers),
            "max_parts": [c.max_parts for c in carriers.values()],
            "ucs2_allowed": [c.ucs2_allowed for c in carriers.values()],
        }
    )
    joined = frame.join(table, on="carrier", how="left", maintain_order="left")
    problem = (
        pl.when(pl.col("text").is_null())
        .then(None)
        .when((pl.col("encoding") == "UCS-2") & (pl.col("ucs2_allowed") == False))  # noqa: E712
        .then(pl.format("{} does not deliver Unicode (UCS-2) brandname SMS", pl.col("carrier")))
        .when(pl.col("parts") > pl.col("max_parts"))
        .then(
            pl.format(
                "{} parts, over {}'s limit of {}",
                pl.col("parts"),
                pl.col("carrier"),
                pl.col("max_parts"),
            )
        )
        .otherwise(None)
    )
    return joined.with_columns(problem.alias("carrier_problem")).drop("max_parts", "ucs2_allowed")


def _budget(frame: pl.DataFrame, campaign: Campaign, report: PlanReport) -> pl.DataFrame:
    if campaign.budget_vnd is None:
        return frame
    billed = pl.col("decision").is_in(["send", "defer"])
    spent = pl.when(billed).then(pl.col("price_vnd")).otherwise(0).cum_sum()
    over = billed & (spent > campaign.budget_vnd)
    report.budget_cut = int(frame.select(over.sum()).item())
    return frame.with_columns(
        pl.when(over).then(pl.lit("suppress")).otherwise(pl.col("decision")).alias("decision"),
        pl.when(over)
        .then(pl.concat_list(pl.lit(["budget"]), pl.col("reasons")))
        .otherwise(pl.col("reasons"))
        .alias("reasons"),
        pl.when(over).then(None).otherwise(pl.col("scheduled_at")).alias("scheduled_at"),
    )


_OUTBOX_COLUMNS: Final = (
    "idempotency_key",
    "contact_id",
    "phone",
    "variant",
    "text",
    "encoding",
    "parts",
    "carrier",
    "price_vnd",
    "decision",
    "reasons",
    "scheduled_at",
    "status",
)
_INSERT_PLAN = """
INSERT INTO outbox (workspace_id, campaign_id, channel, class, sender, attempts, created_at,
    updated_at, {columns})
SELECT :ws, :campaign, :channel, :cls, :sender, 0, :now, :now, {selected}
FROM {stage} WHERE true
ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
"""
_PG_STAGE_DDL: Final = (
    "CREATE TEMP TABLE loa_plan_stage (idempotency_key text, contact_id bigint, phone text, "
    "variant text, text text, encoding text, parts smallint, carrier text, price_vnd integer, "
    "decision text, reasons text, scheduled_at timestamp, status text) ON COMMIT DROP"
)
# Statuses a plan writes; only these are replaced by a re-plan.
PLAN_STATUSES: Final = ("planned", "suppressed", "holdout")


def _outbox_rows(frame: pl.DataFrame, campaign: Campaign) -> pl.DataFrame:
    """The plan as outbox columns, datetimes written the way SQLAlchemy stores them."""
    status = (
        pl.when(pl.col("decision") == "holdout")
        .then(pl.lit("holdout"))
        .when(pl.col("decision") == "suppress")
        .then(pl.lit("suppressed"))
        .otherwise(pl.lit("planned"))
    )
    return frame.select(
        (pl.lit(f"c{campaign.id}:") + pl.col("contact_id").cast(pl.String)).alias(
            "idempotency_key"
        ),
        "contact_id",
        "phone",
        "variant",
        "text",
        "encoding",
        pl.col("parts").cast(pl.Int16),
        "carrier",
        pl.col("price_vnd").cast(pl.Int32),
        "decision",
        pl.col("reasons")
        .list.eval(pl.lit('"') + pl.element() + pl.lit('"'))
        .list.join(",")
        .map_batches(lambda s: "[" + s + "]", return_dtype=pl.String)
        .alias("reasons"),
        pl.col("scheduled_at")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
        .dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
        .alias("scheduled_at"),
        status.alias("status"),
    )


def _write(
    store: Store,
    campaign: Campaign,
    frame: pl.DataFrame,
    links: list[dict[str, Any]],
    report: PlanReport,
    *,
    actor: str,
    now: datetime,
) -> None:
    """Replace the campaign's plan with `frame` and store the report, in one transaction."""
    rows = _outbox_rows(frame, campaign)
    params = {
        "ws": store.workspace_id,
        "campaign": campaign.id,
        "channel": campaign.channel,
        "cls": campaign.cls,
        "sender": campaign.sender,
        "now": now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    columns = ", ".join(_OUTBOX_COLUMNS)
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql(_PG_STAGE_DDL)
            copy_rows(conn, "loa_plan_stage", rows)
            selected = columns.replace("reasons", "CAST(reasons AS jsonb)")
            statement = _INSERT_PLAN.format(
                columns=columns, selected=selected, stage="loa_plan_stage"
            )
            _replace(conn, campaign, statement, params, links, report, actor=actor, now=now)
        else:
            with attached_scratch(conn, "loa_plan", {"rows": rows}):
                statement = _INSERT_PLAN.format(
                    columns=columns, selected=columns, stage="loa_plan.rows"
                )
                _replace(conn, campaign, statement, params, links, report, actor=actor, now=now)


def _replace(
    conn: Connection,
    campaign: Campaign,
    statement: str,
    params: dict[str, Any],
    links: list[dict[str, Any]],
    report: PlanReport,
    *,
    actor: str,
    now: datetime,
) -> None:
    ws = params["ws"]
    # Links of an earlier plan were never sent (a plan is replaced only before sending).
    conn.execute(
        delete(short_links).where(
            short_links.c.workspace_id == ws, short_links.c.campaign_id == campaign.id
        )
    )
    if links:
        conn.execute(
            short_links.insert(),
            [
                {**link, "workspace_id": ws, "campaign_id": campaign.id, "created_at": now}
                for link in links
            ],
        )
    conn.execute(
        delete(outbox).where(
            outbox.c.workspace_id == ws,
            outbox.c.campaign_id == campaign.id,
            outbox.c.status.in_(PLAN_STATUSES),
        )
    )
    conn.execute(text(statement), params)
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign.id)
        .values(plan_summary=report.to_json(), planned_at=now, updated_at=now)
    )
    change_state(conn, workspace_id=ws, campaign_id=campaign.id, to="planned", actor=actor, now=now)
    conn.commit()
