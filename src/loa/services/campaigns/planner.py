"""The planner: turns a campaign into one outbox row per recipient before anything is spent.

For every member of the audience: the holdout/variant draw (seeded, so re-planning draws the
same), the rendered and framed text, its encoding and parts, the carrier and price, the send
instant (the audience spread over the schedule at the route speed), and the compliance decision
with its reasons. Then the budget cut, by score when there is one, else by the seeded draw —
never by import order. The rows replace the campaign's previous plan in one transaction, keyed
`c<campaign>:<contact>`, so a plan never holds a recipient twice and a re-plan sends nothing.

Streaming, because a national audience is tens of millions of rows: a first pass reads only
(contact, score) to fix everyone's draw, priority and send instant; then the audience is
planned a chunk at a time in priority order (so the budget is a running sum), each chunk
columnar (Polars) and staged in scratch tables. On PostgreSQL the whole plan is then written
by one statement; on SQLite a writer thread copies the staged chunks into the outbox while the
next ones are planned, all in one transaction (see `_SqliteStage`). A plan is the same
whatever the chunk size.
"""

from __future__ import annotations

import itertools
import json
import queue
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    any_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from loa.domain.compliance.decide import MESSAGE_REASON_CLASSES
from loa.domain.compliance.reasons import Reason
from loa.domain.compose import OptOut, frame_template, load_carriers
from loa.domain.links import LinkedTemplate, LinkOptions, issue_links, link_template, slug
from loa.domain.schedule import (
    Window,
    best_hour_instants,
    hour_slots,
    intervals,
    preset,
    spread,
)
from loa.domain.templates import RenderResult, Template, parse
from loa.domain.text import SegmentCount
from loa.i18n import Lang, LoaError, Msg
from loa.services.campaigns.pricing import price_table
from loa.services.campaigns.service import Campaign, change_state, get_campaign
from loa.services.campaigns.timing import learned_hours
from loa.services.compliance.brandnames import find_brandname
from loa.services.compliance.check import check_message
from loa.services.compliance.decisions import (
    KnownFacts,
    decide_batch,
    history_window,
    load_history,
    min_gap,
    read_known_facts,
)
from loa.services.segments.service import segment_members
from loa.store.bulk import (
    Scratch,
    checkpoint_after,
    copy_rows,
    literal_sql,
    sqlite_frame,
)
from loa.store.db import Store
from loa.store.tables import campaigns, contact_stats, contacts, outbox, short_links, workspaces

Progress = Callable[[str, int, int], None]

# The route speed assumed when neither the campaign nor a route says (messages/s).
DEFAULT_TPS: Final = 100
# Recipients planned at a time: bounds memory (about 1 KB per recipient in flight).
CHUNK_ROWS: Final = 200_000
HOLDOUT: Final = "control"
# Render warnings kept in the report (the rest are counted under render_failed).
MAX_WARNINGS: Final = 5
# Members tried (by contact id) for the copy of each variant that the content checks judge.
SAMPLE_TRIES: Final = 20

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
    best_hour: int = 0  # recipients timed by their own best hour
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


# The columns every chunk reads, and those templates may name (read only when one does).
BASE_COLUMNS: Final = ("phone", "carrier", "invalid_reason", "dnc")
COLUMN_TYPES: Final[dict[str, pl.DataType]] = {
    "contact_id": pl.Int64(),
    "phone": pl.String(),
    "carrier": pl.String(),
    "invalid_reason": pl.String(),
    "dnc": pl.Boolean(),
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


def _audience_ids(
    conn: Connection, workspace_id: int, campaign: Campaign, now: datetime
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Pass one: every recipient's contact id, score (RFM total; 0 without purchases) and
    segment (an index into `campaign.include`: the first included segment that holds them),
    read in batches into arrays: 17 bytes a recipient, whatever the audience size."""
    include = [
        segment_members(conn, workspace_id=workspace_id, segment=name, now=now)
        for name in campaign.include
    ]
    where = or_(*include)
    for name in campaign.exclude:
        where = where & ~segment_members(conn, workspace_id=workspace_id, segment=name, now=now)
    c, s = contacts.c, contact_stats.c
    score = func.coalesce(s.r_score + s.f_score + s.m_score, 0)
    first: Any = (
        case(*((member, index) for index, member in enumerate(include)), else_=0)
        if len(include) > 1
        else literal(0)
    )
    query = (
        select(c.id, score, first)
        .select_from(contacts.outerjoin(contact_stats, s.contact_id == c.id))
        .where(where)
    )
    if conn.dialect.name == "sqlite":
        read = sqlite_frame(conn, literal_sql(conn, query), columns=("id", "score", "segment"))
        return (
            read["id"].cast(pl.Int64).to_numpy(),
            read["score"].cast(pl.Int64).to_numpy(),
            read["segment"].cast(pl.Int8).to_numpy(),
        )
    batches = conn.execution_options(yield_per=100_000).execute(query).partitions()
    empty = np.zeros(0, dtype=np.int64)
    ids, scores, segments = [empty], [empty], [empty.astype(np.int8)]
    for batch in batches:
        triple = np.array(batch, dtype=np.int64).reshape(-1, 3)
        ids.append(triple[:, 0].copy())
        scores.append(triple[:, 1].copy())
        segments.append(triple[:, 2].astype(np.int8))
    return np.concatenate(ids), np.concatenate(scores), np.concatenate(segments)


def _fetch(
    conn: Connection, workspace_id: int, ids: np.ndarray[Any, Any], extra: tuple[str, ...]
) -> pl.DataFrame:
    """The contact columns a plan reads, for the contacts `ids` (in any order)."""
    names = (*BASE_COLUMNS, *extra)
    schema = {name: COLUMN_TYPES[name] for name in ("contact_id", *names)}
    if conn.dialect.name == "sqlite":
        # The ids travel as one JSON parameter: no temporary table, no statement per id. CROSS
        # JOIN makes SQLite look each id up by key instead of scanning the workspace's index.
        # The column names come from the fixed TEMPLATE_FIELDS list, never from input.
        sql = (
            f"SELECT c.id, {', '.join('c.' + name for name in names)} "
            "FROM json_each(?) j CROSS JOIN contacts c WHERE c.id = j.value AND c.workspace_id = ?"
        )
        frame = sqlite_frame(
            conn, sql, (json.dumps(ids.tolist()), workspace_id), columns=list(schema)
        )
        return frame.select(
            pl.col(name).cast(pl.String).str.to_date()
            if dtype == pl.Date() and frame[name].dtype == pl.String
            else pl.col(name).cast(dtype)
            for name, dtype in schema.items()
        )
    wanted = bindparam("ids", ids.tolist(), type_=ARRAY(BigInteger()))
    query = select(contacts.c.id, *(contacts.c[name] for name in names)).where(
        contacts.c.workspace_id == workspace_id, contacts.c.id == any_(wanted)
    )
    found = conn.execute(query).all()
    columns: list[Any] = list(zip(*found, strict=True)) if found else [() for _ in schema]
    data = {}
    for (name, dtype), values in zip(schema.items(), columns, strict=True):
        if name == "attrs":  # kept as JSON text; parsed only for templates that use it
            values = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
        data[name] = pl.Series(name, values, dtype=dtype)
    return pl.DataFrame(data)


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


def variant_names(campaign: Campaign) -> list[str]:
    """The variants' names, in the order their shares are laid out."""
    return [v.name for v in campaign.variants] or ["A"]


def assign_groups(
    contact_ids: np.ndarray[Any, Any], campaign: Campaign
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The seeded draw `u` per contact and its group: an index into `variant_names`, or -1 for
    the holdout.

    The holdout takes the lowest draws; the rest are split by the variants' shares, so growing
    the holdout never moves someone from one variant to another by chance alone.
    """
    u = uniform_draw(contact_ids, campaign.seed)
    holdout = campaign.holdout_pct / 100
    names = variant_names(campaign)
    shares = np.array([v.share_pct for v in campaign.variants] or [100], dtype=np.float64)
    edges = np.cumsum(shares) / shares.sum()
    rest = (u - holdout) / (1 - holdout) if holdout < 1 else u
    index = np.minimum(np.searchsorted(edges, rest, side="right"), len(names) - 1)
    return u, np.where(u < holdout, -1, index).astype(np.int16)


# --- schedule ---------------------------------------------------------------------------------


def schedule_spans(
    campaign: Campaign, *, now: datetime, zone: str
) -> Iterator[tuple[datetime, datetime]]:
    """The campaign's sending intervals from `now` on."""
    s = campaign.schedule
    start = max(s.at or now, now)
    windows: tuple[Window, ...] | None = None
    if s.mode == "golden" and s.preset:
        windows = preset(s.preset).windows
    elif s.mode == "window":
        windows = tuple(Window.parse(w) for w in s.windows)
    return intervals(start, windows, zone=zone, end=s.until, holidays=s.holidays)


def send_instants(
    count: int, campaign: Campaign, *, now: datetime, zone: str, rate_per_s: float
) -> tuple[np.ndarray[Any, Any], int]:
    """When each of `count` messages (in priority order) leaves, and how many do not fit."""
    spans = schedule_spans(campaign, now=now, zone=zone)
    return spread(count, spans, rate_per_s=rate_per_s)


@dataclass(slots=True)
class _Order:
    """Pass one's answer: the audience in priority order, with each recipient's group and send
    instant (epoch µs; -1 for the holdout and for whoever does not fit in the schedule)."""

    ids: np.ndarray[Any, Any]
    group: np.ndarray[Any, Any]
    at_us: np.ndarray[Any, Any]
    segment: np.ndarray[Any, Any]
    unscheduled: int


def _order(
    ids: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any],
    segment: np.ndarray[Any, Any],
    campaign: Campaign,
    *,
    now: datetime,
    zone: str,
    rate_per_s: float,
) -> _Order:
    # Priority: the best customers first (RFM total), ties by the seeded draw. The order decides
    # who leaves first and who is kept under a budget.
    u, group = assign_groups(ids, campaign)
    order = np.lexsort((ids, u, -scores))  # the id only settles a (vanishingly rare) tie
    ids, group, segment = ids[order], group[order], segment[order]
    del order, u
    targets = group >= 0
    instants, left = send_instants(
        int(targets.sum()), campaign, now=now, zone=zone, rate_per_s=rate_per_s
    )
    at_us = np.full(ids.shape[0], -1, dtype=np.int64)
    at_us[targets] = instants
    return _Order(ids, group, at_us, segment, left)


def _best_hours(
    conn: Connection,
    workspace_id: int,
    campaign: Campaign,
    order: _Order,
    *,
    now: datetime,
    zone: str,
) -> int:
    """Move each recipient with a learned best hour to that hour in the schedule (in place);
    how many moved."""
    targets = order.group >= 0
    hours = learned_hours(conn, workspace_id, order.ids[targets], zone=zone, now=now)
    slots = hour_slots(schedule_spans(campaign, now=now, zone=zone), zone=zone)
    rate = float(campaign.max_tps or DEFAULT_TPS)
    at, moved = best_hour_instants(order.at_us[targets], hours, slots, rate_per_s=rate)
    order.at_us[targets] = at
    order.unscheduled = int((at < 0).sum())
    return moved


# --- the plan ---------------------------------------------------------------------------------


def _zone(conn: Connection, workspace_id: int) -> tuple[str, str]:
    from loa.domain.compliance.packs import load_pack

    code = conn.execute(
        select(workspaces.c.policy_pack).where(workspaces.c.id == workspace_id)
    ).scalar_one()
    pack = load_pack(code)
    zone = pack.timezone if pack.timezone != "recipient" else "UTC"
    return code, zone


def plan_campaign(
    store: Store,
    campaign_id: int,
    *,
    actor: str,
    now: datetime | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> PlanReport:
    """Plan (or re-plan) a campaign: write its outbox rows and return the plan report."""
    when = now or datetime.now(UTC)
    ws = store.workspace_id
    step = progress or (lambda _step, _done, _total: None)
    report = PlanReport(campaign_id=campaign_id)
    _statistics(store)
    with store.engine.connect() as conn:
        campaign = get_campaign(conn, workspace_id=ws, campaign_id=campaign_id)
        if campaign.state not in ("draft", "planned"):
            raise LoaError(CANNOT_REPLAN, id=campaign_id, state=campaign.state)
        pack_code, zone = _zone(conn, ws)
        lang: Lang = "vi" if pack_code == "vn" else "en"
        prices = price_table(conn, workspace_id=ws)
        composed = _compose(conn, ws, campaign, lang)
        rate = float(campaign.max_tps or DEFAULT_TPS)
        ids, scores, segment = _audience_ids(conn, ws, campaign, when)
        # The whole fact tables are read meanwhile, on a connection of their own (SQLite and
        # ADBC let go of the GIL while they read).
        with ThreadPoolExecutor(1, thread_name_prefix="loa-plan-facts") as pool:
            reading = pool.submit(_known_facts, store, campaign, ids.shape[0], when)
            order = _order(ids, scores, segment, campaign, now=when, zone=zone, rate_per_s=rate)
            del ids, scores, segment
            if campaign.schedule.best_hour:
                report.best_hour = _best_hours(conn, ws, campaign, order, now=when, zone=zone)
            extra = template_columns(campaign)
            samples = _samples(conn, ws, campaign, composed, order, extra)
            history = _history(conn, ws, campaign, order)
            facts = reading.result()
    total = order.ids.shape[0]
    step("audience", total, total)
    targets = int((order.group >= 0).sum())
    report.rate_per_s = rate
    report.sending_time_s = targets / rate
    render_warnings: list[str] = []
    message_warnings: list[str] = []
    reasons = _message_reasons(store, campaign, samples, message_warnings)
    tally = _Tally()
    spent = 0
    size = max(1, chunk_rows)
    bounds = _chunk_bounds(total, size)
    with _staging(store, campaign, when) as stage, store.engine.connect() as reader:
        for n, (start, stop) in enumerate(bounds, 1):
            chunk = _chunk(reader, ws, campaign, order, start, stop, extra)
            frame, links = _render(campaign, composed, chunk, render_warnings)
            frame = _carrier_limits(frame)
            frame = _price(frame, campaign, prices)
            frame = _decide(store, campaign, frame, reasons, history, facts, when)
            frame, spent = _budget(frame, campaign, spent, report)
            tally.add(frame)
            stage.add(_outbox_rows(frame, campaign), links, chunks_left=len(bounds) - n)
            step("plan", stop, total)
        tally.finish(report)
        report.warnings = [
            *render_warnings,
            *(["schedule_full"] if order.unscheduled else []),
            *message_warnings,
        ]
        stage.write(campaign, report, actor=actor, now=when)
    step("outbox", total, total)
    return report


def _chunk_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """Where the chunks of at most `size` recipients begin and end: the first is a quarter of
    `size`, and so are those of the last `size`, so that the outbox writer starts sooner and
    has less left to copy once the planning is over (a million: 8 chunks)."""
    quarter = max(1, size // 4)
    cuts = [0, min(total, quarter)]
    while total - cuts[-1] > size:
        cuts.append(cuts[-1] + size)
    cuts.extend(range(cuts[-1] + quarter, total, quarter))
    cuts.append(total)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def _known_facts(store: Store, campaign: Campaign, audience: int, now: datetime) -> KnownFacts:
    with store.engine.connect() as conn:
        return read_known_facts(conn, store.workspace_id, audience, sender=campaign.sender, now=now)


def _history(
    conn: Connection, workspace_id: int, campaign: Campaign, order: _Order
) -> pl.DataFrame | None:
    """The workspace's earlier QC messages over the whole sending span, read once for every
    chunk's frequency caps (a query a chunk would scan the same index again each time)."""
    timed = order.at_us[order.at_us >= 0]
    if campaign.cls != "qc" or not timed.shape[0]:
        return None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first, last = (epoch + timedelta(microseconds=int(v)) for v in (timed.min(), timed.max()))
    after, until = history_window(first, last, min_gap(conn, workspace_id))
    return load_history(
        conn, workspace_id, None, after=after, until=until, exclude_campaign_id=campaign.id
    )


def _statistics(store: Store) -> None:
    """SQLite: sampled statistics, so that each chunk's compliance facts are looked up from the
    chunk's numbers instead of by scanning every consent (milliseconds)."""
    if store.dialect != "sqlite":
        return
    with store.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE contacts")
        conn.exec_driver_sql("ANALYZE consents")


def _chunk(
    conn: Connection,
    workspace_id: int,
    campaign: Campaign,
    order: _Order,
    start: int,
    stop: int,
    extra: tuple[str, ...],
) -> pl.DataFrame:
    """Recipients `start`..`stop` of the priority order, with their contact columns."""
    names = variant_names(campaign)
    group = order.group[start:stop]
    at = pl.Series("at_us", order.at_us[start:stop]).replace(-1, None)
    keys = pl.DataFrame(
        {
            "contact_id": order.ids[start:stop],
            "variant": pl.Series(
                np.where(group < 0, HOLDOUT, np.array(names, dtype=object)[group]),
                dtype=pl.String,
            ),
            "at": at.cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "segment": pl.Series(
                np.array(campaign.include or ("",), dtype=object)[order.segment[start:stop]],
                dtype=pl.String,
            ),
        }
    )
    found = _fetch(conn, workspace_id, np.sort(order.ids[start:stop]), extra)
    # A contact erased between the two passes has nothing left to plan.
    return keys.join(found, on="contact_id", how="inner", maintain_order="left")


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


def _samples(
    conn: Connection,
    workspace_id: int,
    campaign: Campaign,
    composed: dict[str, _Composed],
    order: _Order,
    extra: tuple[str, ...],
) -> dict[str, str]:
    """Per variant, one copy as it reads before its links are shortened: the copy the content
    checks judge. It is the first member (by contact id) whose message renders."""
    samples: dict[str, str] = {}
    for index, name in enumerate(variant_names(campaign)):
        if name not in composed:
            continue
        members = order.ids[order.group == index]
        if members.shape[0] > SAMPLE_TRIES:  # the lowest ids, without sorting millions
            members = np.partition(members, SAMPLE_TRIES)[:SAMPLE_TRIES]
        members = np.sort(members)
        if not members.shape[0]:
            continue
        rows_frame = _fetch(conn, workspace_id, members, extra).sort("contact_id")
        rows = _rows(rows_frame, composed[name].checked)
        labels = rows_frame["phone"].to_list()
        texts = composed[name].checked.render_rows(rows, labels).texts
        first = next((t for t in texts if t is not None), None)
        if first is not None:
            samples[name] = first
    return samples


def _render_distinct(
    c: _Composed, members: pl.DataFrame
) -> tuple[RenderResult, list[SegmentCount | None], list[SegmentCount | None]]:
    """`render_counted` of the variant (with and without accents) for `members`, each distinct
    combination of the values its slots read rendered and counted once: without per-recipient
    links a message depends on nothing else (a million recipients share a few thousand given
    names). Combinations that fail are rendered again per recipient, for errors naming each."""
    wanted = sorted({slot.path[0] for slot in c.template.slots} & set(TEMPLATE_FIELDS))
    keys = members.select(wanted) if wanted else pl.DataFrame({"_none": [0] * members.height})
    distinct = keys.unique(maintain_order=True)
    group = (
        keys.join(
            distinct.with_row_index("_group"),
            on=keys.columns,
            how="left",
            maintain_order="left",
            nulls_equal=True,
        )["_group"]
        .to_numpy()
        .astype(np.int64)
    )
    rows = _rows(distinct, c.template) if wanted else [{}]
    once, counts = c.template.render_counted(rows)
    _, plain_counts = c.unaccented.render_counted(rows)
    order = group.tolist()
    result = RenderResult([once.texts[g] for g in order])
    if once.errors:
        failing = np.flatnonzero(np.isin(group, [e.row for e in once.errors]))
        again = _rows(members.select(pl.all().gather(failing)), c.template)
        labels = members["phone"].gather(failing).to_list()
        for error in c.template.render_rows(again, labels).errors:
            result.errors.append(replace(error, row=int(failing[error.row])))
    return result, [counts[g] for g in order], [plain_counts[g] for g in order]


def _render(
    campaign: Campaign, composed: dict[str, _Composed], frame: pl.DataFrame, warnings: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Render, frame and count every targeted recipient's message in the chunk; also the short
    links issued (written with the plan)."""
    n = frame.height
    texts = np.full(n, None, dtype=object)
    errors = np.full(n, None, dtype=object)
    encodings = np.full(n, None, dtype=object)
    parts = np.zeros(n, dtype=np.int64)
    parts_plain = np.zeros(n, dtype=np.int64)
    links: dict[str, list[Any]] = {"code": [], "destination": [], "contact_id": [], "variant": []}
    indexed = frame.with_row_index("_pos")
    for name, c in composed.items():
        members = indexed.filter(pl.col("variant") == name)
        if not members.height:
            continue
        where = members["_pos"].to_numpy()
        if c.linked is None:
            result, counts, plain_counts = _render_distinct(c, members)
        else:
            rows = _rows(members, c.template)
            labels = members["phone"].to_list()
            ids = members["contact_id"].to_list()
            for i, found in enumerate(issue_links(c.linked, rows)):
                for link in found:
                    links["code"].append(link.code)
                    links["destination"].append(link.destination)
                    links["contact_id"].append(ids[i])
                    links["variant"].append(name)
            result, counts = c.template.render_counted(rows, labels)
            _, plain_counts = c.unaccented.render_counted(rows, labels)
        for error in result.errors:
            errors[where[error.row]] = error.error.render()
        texts[where] = result.texts
        encodings[where] = [k.encoding if k else None for k in counts]
        parts[where] = [k.segments if k else 0 for k in counts]
        parts_plain[where] = [k.segments if k else 0 for k in plain_counts]
    # The first few errors in priority order, whatever the chunk size.
    for message in errors[errors != None][: max(0, MAX_WARNINGS - len(warnings))]:  # noqa: E711
        warnings.append(message)
    rendered = frame.with_columns(
        pl.Series("text", texts.tolist(), dtype=pl.String),
        pl.Series("render_error", errors.tolist(), dtype=pl.String),
        pl.Series("encoding", encodings.tolist(), dtype=pl.String),
        pl.Series("parts", parts),
        pl.Series("parts_unaccented", parts_plain),
    )
    issued = pl.DataFrame(
        links,
        schema={
            "code": pl.String,
            "destination": pl.String,
            "contact_id": pl.Int64,
            "variant": pl.String,
        },
    )
    return rendered, issued


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


def _message_reasons(
    store: Store, campaign: Campaign, samples: dict[str, str], warnings: list[str]
) -> list[Reason]:
    """What stops the message itself, judged on one rendered copy of each variant as it would
    leave; fine-grained content findings are kept for the report and count as content_blocked."""
    found: dict[str, Reason] = {}
    for variant, sample in samples.items():
        checked = check_message(
            store, sample, campaign.sender, campaign.cls, template=campaign.template
        )
        for reason in checked.reasons:
            warnings.append(f"{variant}: {reason.render()}")
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
    reasons: list[Reason],
    history: pl.DataFrame | None,
    facts: KnownFacts,
    now: datetime,
) -> pl.DataFrame:
    """The compliance decision for every timed recipient; holdout, unrendered and unscheduled
    recipients are settled here without the engine."""
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
            known_history=history,
            known_facts=facts,
            book=judged.select(
                "phone", "contact_id", "invalid_reason", pl.col("dnc").alias("flag")
            ),
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


def _budget(
    frame: pl.DataFrame, campaign: Campaign, spent: int, report: PlanReport
) -> tuple[pl.DataFrame, int]:
    """Cut whoever the budget no longer covers; `spent` carries the running total (of every
    billed message, kept or cut) from the chunks before, which come first in priority."""
    if campaign.budget_vnd is None:
        return frame, spent
    billed = pl.col("decision").is_in(["send", "defer"])
    price = pl.when(billed).then(pl.col("price_vnd")).otherwise(0)
    running = price.cum_sum() + spent
    over = billed & (running > campaign.budget_vnd)
    cut, total = frame.select(over.sum(), price.sum()).row(0)
    report.budget_cut += int(cut)
    cut_frame = frame.with_columns(
        pl.when(over).then(pl.lit("suppress")).otherwise(pl.col("decision")).alias("decision"),
        pl.when(over)
        .then(pl.concat_list(pl.lit(["budget"]), pl.col("reasons")))
        .otherwise(pl.col("reasons"))
        .alias("reasons"),
        pl.when(over).then(None).otherwise(pl.col("scheduled_at")).alias("scheduled_at"),
    )
    return cut_frame, spent + int(total or 0)


class _Tally:
    """The plan report's figures, added up a chunk at a time."""

    def __init__(self) -> None:
        self.audience = 0
        self.holdout = 0
        self.by_decision: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()
        self.by_variant: Counter[str] = Counter()
        self.encodings: Counter[str] = Counter()
        self.by_carrier: dict[str, Counter[str]] = {}
        self.sums: Counter[str] = Counter()
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None
        # (length, text, parts): the first shortest and first longest in priority order.
        self.shortest: tuple[int, str, int] | None = None
        self.longest: tuple[int, str, int] | None = None

    def add(self, frame: pl.DataFrame) -> None:
        """Count one chunk."""
        self.audience += frame.height
        self.holdout += frame.filter(pl.col("variant") == HOLDOUT).height
        self.by_decision.update(dict(frame.group_by("decision").len().iter_rows()))
        reasons = frame.filter(pl.col("decision") != "holdout").select(
            pl.col("reasons").list.first().alias("reason")
        )
        self.by_reason.update(dict(reasons.drop_nulls().group_by("reason").len().iter_rows()))
        self.by_variant.update(dict(frame.group_by("variant").len().iter_rows()))
        billed = frame.filter(pl.col("decision").is_in(["send", "defer"]))
        if not billed.height:
            return
        for name in ("parts", "price_vnd", "parts_unaccented", "price_unaccented_vnd"):
            self.sums[name] += int(billed[name].sum() or 0)
        self.encodings.update(dict(billed.group_by("encoding").len().iter_rows()))
        by_carrier = billed.group_by(pl.col("carrier").fill_null("unknown")).agg(
            pl.len().alias("messages"),
            pl.col("parts").sum().alias("parts"),
            pl.col("price_vnd").sum().alias("cost_vnd"),
        )
        for row in by_carrier.iter_rows(named=True):
            counter = self.by_carrier.setdefault(row["carrier"], Counter())
            counter.update({k: int(row[k]) for k in ("messages", "parts", "cost_vnd")})
        times = billed["scheduled_at"]
        low, high = times.min(), times.max()
        assert isinstance(low, datetime) and isinstance(high, datetime)
        self.first_at = low if self.first_at is None else min(self.first_at, low)
        self.last_at = high if self.last_at is None else max(self.last_at, high)
        lengths = billed.select(pl.col("text").str.len_chars().alias("n"), "text", "parts")
        n, txt, parts = lengths.sort("n", maintain_order=True).row(0)
        if self.shortest is None or n < self.shortest[0]:
            self.shortest = (n, txt, parts)
        n, txt, parts = lengths.sort("n", descending=True, maintain_order=True).row(0)
        if self.longest is None or n > self.longest[0]:
            self.longest = (n, txt, parts)

    def finish(self, report: PlanReport) -> None:
        """Write the totals into `report`, every breakdown sorted by name."""
        report.audience = self.audience
        report.holdout = self.holdout
        report.by_decision = dict(sorted(self.by_decision.items()))
        report.by_reason = dict(sorted(self.by_reason.items()))
        report.by_variant = dict(sorted(self.by_variant.items()))
        report.encodings = dict(sorted(self.encodings.items()))
        report.by_carrier = {
            name: {k: counts[k] for k in ("messages", "parts", "cost_vnd")}
            for name, counts in sorted(self.by_carrier.items())
        }
        report.parts_total = self.sums["parts"]
        report.cost_vnd = self.sums["price_vnd"]
        report.parts_unaccented = self.sums["parts_unaccented"]
        report.cost_unaccented_vnd = self.sums["price_unaccented_vnd"]
        report.first_at = self.first_at.isoformat() if self.first_at else None
        report.last_at = self.last_at.isoformat() if self.last_at else None
        if self.shortest:
            report.shortest = {"text": self.shortest[1], "parts": self.shortest[2]}
        if self.longest:
            report.longest = {"text": self.longest[1], "parts": self.longest[2]}


_OUTBOX_COLUMNS: Final = (
    "idempotency_key",
    "contact_id",
    "phone",
    "variant",
    "segment",
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
# SQLite: the columns that take few values (a campaign's variants, segments, carriers,
# prices, decisions...) are staged once per combination, a "shape", and each row carries its
# shape's number; the key is put together by SQL. Fewer values for ADBC to write a row at a
# time (about 2.4 s of 5 for a million rows of all 14 columns).
_SHAPE: Final = (
    "variant",
    "segment",
    "encoding",
    "parts",
    "carrier",
    "price_vnd",
    "decision",
    "reasons",
    "status",
)
_INSERT_SHAPED = (
    "INSERT INTO outbox (workspace_id, campaign_id, channel, class, sender, attempts, "
    "created_at, updated_at, idempotency_key, contact_id, phone, text, scheduled_at, "
    + ", ".join(_SHAPE)
    + ") SELECT :ws, :campaign, :channel, :cls, :sender, 0, :now, :now, "
    "'c' || :campaign || ':' || r.contact_id, r.contact_id, r.phone, r.text, r.scheduled_at, "
    + ", ".join(f"s.{c}" for c in _SHAPE)
    # CROSS JOIN: SQLite keeps this order, the rows' (a shape is found by an automatic index).
    + " FROM {stage}.rows AS r CROSS JOIN {stage}.shapes AS s WHERE s.shape = r.shape "
    "ON CONFLICT (workspace_id, idempotency_key) DO NOTHING"
)
_PG_STAGE_DDL: Final = (
    "CREATE TEMP TABLE loa_plan_rows (idempotency_key text, contact_id bigint, phone text, "
    "variant text, segment text, text text, encoding text, parts smallint, carrier text, "
    "price_vnd integer, decision text, reasons text, scheduled_at timestamp, status text) "
    "ON COMMIT DROP"
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
        "segment",
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


_INSERT_LINKS = """
INSERT INTO short_links (code, workspace_id, destination, campaign_id, contact_id, variant,
    created_at)
SELECT code, :ws, destination, :campaign, contact_id, variant, :now FROM {stage}
"""
_PG_LINKS_DDL: Final = (
    "CREATE TEMP TABLE loa_plan_links (code text, destination text, contact_id bigint, "
    "variant text) ON COMMIT DROP"
)


class _Stage:
    """Where the chunks' rows wait until the plan is written. PostgreSQL: temporary tables
    (COPY) on the connection that then writes the whole plan in one transaction at the end."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self.conn = conn
        self.rows = 0
        self.links = 0

    def add(self, rows: pl.DataFrame, links: pl.DataFrame, *, chunks_left: int) -> None:
        """Stage one chunk's outbox rows and short links."""
        for name, frame in (("rows", rows), ("links", links)):
            if frame.height:
                copy_rows(self.conn, f"loa_plan_{name}", frame)
        self.rows += rows.height
        self.links += links.height

    def write(self, campaign: Campaign, report: PlanReport, *, actor: str, now: datetime) -> None:
        """Replace the campaign's plan with the staged rows and store the report; commit."""
        params = _plan_params(self.store, campaign, now)
        _clear_plan(self.conn, self.store.workspace_id, campaign)
        columns = ", ".join(_OUTBOX_COLUMNS)
        selected = columns.replace("reasons", "CAST(reasons AS jsonb)")
        if self.links:
            self.conn.execute(text(_INSERT_LINKS.format(stage="loa_plan_links")), params)
        if self.rows:
            plan = _INSERT_PLAN.format(columns=columns, selected=selected, stage="loa_plan_rows")
            self.conn.execute(text(plan), params)
        _record_plan(self.conn, self.store.workspace_id, campaign, report, actor=actor, now=now)


class _SqliteStage:
    """SQLite: the plan written into the outbox while the next chunks are still computed.

    The chunks' rows go into scratch files (ADBC), each attached to the writing connection
    before its transaction begins (ATTACH cannot run inside one). A background thread opens
    the transaction with the old plan's removal, then copies each scratch file into the outbox
    as soon as it is handed over. A file is handed over after each chunk while there are
    files enough for the chunks still to come, else whenever the thread is idle, so a plan of
    any size needs at most PLAN_SLOTS files (the last takes what is left). The same rows in the
    same order as one statement at the end would write; the main thread commits once every
    file is in, or rolls everything back."""

    def __init__(self, store: Store, conn: Connection, directory: Path, slots: int) -> None:
        self.store = store
        self.conn = conn
        self.files = [Scratch(directory / f"plan{i}.db") for i in range(slots)]
        self.names = [f"loa_plan{i}" for i in range(slots)]
        self.tables: list[set[str]] = [set() for _ in range(slots)]
        self.current = 0
        self.rows = 0
        self.links = 0
        self.shapes = 0
        self.params: dict[str, Any] = {}
        self.campaign: Campaign | None = None
        self._handed: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._pending = 0  # files handed over and not yet copied
        self._lock = threading.Lock()
        self._failed: BaseException | None = None
        self._thread: threading.Thread | None = None

    def add(self, rows: pl.DataFrame, links: pl.DataFrame, *, chunks_left: int) -> None:
        """Stage one chunk's outbox rows and short links; hand the file over when there are
        files enough for every chunk still to come, else when the writer is idle."""
        self._raise_failure()
        file, tables = self.files[self.current], self.tables[self.current]
        shapes = (
            rows.group_by(_SHAPE, maintain_order=True)
            .agg()
            .with_row_index("shape", offset=self.shapes)
        )
        self.shapes += shapes.height
        shaped = rows.join(shapes, on=_SHAPE, how="left", nulls_equal=True, maintain_order="left")
        shaped = shaped.select("contact_id", "phone", "text", "scheduled_at", "shape")
        for name, frame in (("rows", shaped), ("shapes", shapes), ("links", links)):
            if frame.height:
                file.append(name, frame)
                tables.add(name)
        self.rows += rows.height
        self.links += links.height
        with self._lock:
            idle = self._pending == 0
        spare = len(self.files) - 1 - self.current  # files after this one
        if tables and spare and WRITE_WHILE_PLANNING and (idle or spare >= chunks_left):
            self._hand_over()

    def start(self, campaign: Campaign, now: datetime) -> None:
        """Start the writer (it takes the write lock only when the first file comes)."""
        self.campaign = campaign
        self.params = _plan_params(self.store, campaign, now)
        self._thread = threading.Thread(target=self._write_handed, name="loa-plan-writer")
        self._thread.start()

    def write(self, campaign: Campaign, report: PlanReport, *, actor: str, now: datetime) -> None:
        """Copy what is left, store the report; commit."""
        if self.tables[self.current]:
            self._hand_over()
        self._stop()
        self._raise_failure()
        if not self.rows and not self.links:  # an empty plan still replaces the old one
            _clear_plan(self.conn, self.store.workspace_id, campaign)
        _record_plan(self.conn, self.store.workspace_id, campaign, report, actor=actor, now=now)

    def _hand_over(self) -> None:
        self.files[self.current].close()  # ADBC lets go of the file before SQLite reads it
        with self._lock:
            self._pending += 1
        self._handed.put(self.current)
        self.current += 1

    def _stop(self) -> None:
        if self._thread is not None:
            self._handed.put(None)
            self._thread.join()
            self._thread = None

    def _raise_failure(self) -> None:
        if self._failed is not None:
            raise self._failed

    def _write_handed(self) -> None:
        assert self.campaign is not None
        cleared = False
        while (slot := self._handed.get()) is not None:
            try:
                if self._failed is None:
                    if not cleared:
                        _clear_plan(self.conn, self.store.workspace_id, self.campaign)
                        cleared = True
                    self._copy(slot)
            except BaseException as failure:  # raised again in the main thread
                self._failed = failure
            finally:
                with self._lock:
                    self._pending -= 1

    def _copy(self, slot: int) -> None:
        """Copy one scratch file's rows and links into the store (in the open transaction)."""
        name, tables = self.names[slot], self.tables[slot]
        if "links" in tables:
            self.conn.execute(text(_INSERT_LINKS.format(stage=f"{name}.links")), self.params)
        if "rows" in tables:
            self.conn.execute(text(_INSERT_SHAPED.format(stage=name)), self.params)

    def close(self) -> None:
        """Stop the writer if it still runs (after a failure: the caller rolls back)."""
        self._stop()
        for file in self.files:
            file.close()


def _plan_params(store: Store, campaign: Campaign, now: datetime) -> dict[str, Any]:
    return {
        "ws": store.workspace_id,
        "campaign": campaign.id,
        "channel": campaign.channel,
        "cls": campaign.cls,
        "sender": campaign.sender,
        "now": now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }


def _clear_plan(conn: Connection, ws: int, campaign: Campaign) -> None:
    """Remove the campaign's earlier plan: rows not sent yet and their links (a plan is
    replaced only before sending)."""
    conn.execute(
        delete(short_links).where(
            short_links.c.workspace_id == ws, short_links.c.campaign_id == campaign.id
        )
    )
    conn.execute(
        delete(outbox).where(
            # `+ 0`: found by the campaign's index; on workspace_id alone SQLite would pick
            # the history index and walk every message the workspace ever sent.
            outbox.c.workspace_id + 0 == ws,
            outbox.c.campaign_id == campaign.id,
            outbox.c.status.in_(PLAN_STATUSES),
        )
    )


def _record_plan(
    conn: Connection, ws: int, campaign: Campaign, report: PlanReport, *, actor: str, now: datetime
) -> None:
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign.id)
        .values(plan_summary=report.to_json(), planned_at=now, updated_at=now)
    )
    change_state(
        conn,
        workspace_id=ws,
        campaign_id=campaign.id,
        to="planned",
        actor=actor,
        now=now,
    )
    conn.commit()


# False: every chunk waits for the end and the plan is written by one statement then (what
# bench/plan.py compares the overlapped writing against).
WRITE_WHILE_PLANNING = True
# Scratch files the SQLite writer may take in turn (each is attached to its connection, and
# SQLite attaches at most 10 databases).
PLAN_SLOTS: Final = 8


@contextmanager
def _staging(store: Store, campaign: Campaign, now: datetime) -> Iterator[_Stage | _SqliteStage]:
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql(_PG_STAGE_DDL)
            conn.exec_driver_sql(_PG_LINKS_DDL)
            yield _Stage(store, conn)
            return
        # The plan is there once committed; SQLite's copy of it from the WAL into the database
        # file (2-3 s for a million rows) need not hold the answer back. Entered first and left
        # last: the writer thread has stopped before `conn` is used again here.
        with (
            checkpoint_after(conn),
            tempfile.TemporaryDirectory(prefix="loa-plan-") as directory,
        ):
            stage = _SqliteStage(store, conn, Path(directory), PLAN_SLOTS)
            attached: list[str] = []
            try:
                for name, file in zip(stage.names, stage.files, strict=True):
                    conn.exec_driver_sql(f"ATTACH DATABASE ? AS {name}", (str(file.path),))
                    attached.append(name)
                stage.start(campaign, now)
                yield stage
            finally:
                stage.close()
                conn.rollback()  # a no-op after the commit; DETACH needs no transaction
                for name in attached:
                    conn.exec_driver_sql(f"DETACH DATABASE {name}")
