"""Compliance decisions for a workspace: load every fact the rules need for a set of numbers,
hand them to the engine, and report.

Facts are read set-based: the numbers go into a temporary table (a chunk per statement) and
each fact is one query joined to it, the same SQL on SQLite and PostgreSQL; never a query per
recipient:

- contacts: `invalid_reason`, the `dnc` flag; `dnc_numbers`: the national list;
- opt-outs: the earliest refusal that is not revoked, for the channel, scope `all` or scope
  `brand` for this sender; a channel state `opted_out` counts from when it changed;
- consent: a marketing consent for the channel with a method and evidence, given and not
  withdrawn at `now`;
- `registration_requests`: the DKQC answer (none, accept, refuse; unanswered = pending);
- `agreements` in force at `now`: the latest `frequency_cap` and `quiet_hours` per number;
- history: the workspace's QC messages on the channel to those numbers around the batch's
  instants, submitted ones at their submission, planned ones at their scheduled instant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Select,
    String,
    Table,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union_all,
)

from loa.domain.compliance import windows
from loa.domain.compliance.decide import UTC_DT, Rules, decide, reasons_of, rules_for
from loa.domain.compliance.packs import Pack
from loa.domain.compliance.reasons import Reason
from loa.domain.phones import parse_phone
from loa.i18n import Lang, LoaError, Msg
from loa.services.accounts.settings import get_settings
from loa.services.compliance.brandnames import find_brandname, workspace_pack
from loa.store.bulk import attached_scratch, literal_sql, sqlite_frame, sqlite_rows
from loa.store.db import Store
from loa.store.tables import (
    agreements,
    channel_states,
    consents,
    contacts,
    dnc_numbers,
    opt_outs,
    outbox,
    registration_requests,
)

# Numbers written per statement into the staging table.
CHUNK = 5_000
# Deferring moves a message at most about a day (to the next opening); the history read
# covers the instants a batch can land on.
_LOOKAHEAD = timedelta(days=2)

BAD_PHONE = Msg(
    "compliance.bad_phone",
    "'{phone}' không phải số điện thoại hợp lệ: {reason}",
    "'{phone}' is not a valid phone number: {reason}",
)
DECISION_WORDS = {
    "send": Msg("compliance.decision.send", "Gửi", "Send"),
    "defer": Msg("compliance.decision.defer", "Hoãn", "Defer"),
    "suppress": Msg("compliance.decision.suppress", "Không gửi", "Suppress"),
}


@dataclass(frozen=True, slots=True)
class Decisions:
    """A decided batch: the engine's frame (one row per recipient, as given) and its rules."""

    frame: pl.DataFrame
    rules: Rules

    def reasons(self, index: int, lang: Lang | None = None) -> list[Reason]:
        """The reasons of row `index`, with the details their words quote."""
        return reasons_of(self.frame.row(index, named=True), self.rules, lang)


@dataclass(slots=True)
class Summary:
    """A plan report's compliance part."""

    total: int = 0
    by_decision: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)  # the deciding reason
    all_reasons: dict[str, int] = field(default_factory=dict)  # every reason of every row
    deferred_until: dict[str, int] = field(default_factory=dict)  # local hour -> recipients

    def to_dict(self) -> dict[str, Any]:
        """As `--json` prints it."""
        return {
            "total": self.total,
            "by_decision": self.by_decision,
            "by_reason": self.by_reason,
            "all_reasons": self.all_reasons,
            "deferred_until": self.deferred_until,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """One number's decision, every reason, and the facts behind them."""

    phone: str
    cls: str
    sender: str
    at: datetime
    decision: str
    scheduled_at: datetime | None
    reasons: tuple[Reason, ...]
    zone: str
    sent_24h: int
    limit: int

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        """As `--json` prints it: codes for machines, words in the user's language."""
        return {
            "phone": self.phone,
            "class": self.cls,
            "sender": self.sender,
            "at": self.at.isoformat(),
            "decision": self.decision,
            "decision_text": DECISION_WORDS[self.decision].render(lang),
            "scheduled_at": self.scheduled_at.isoformat() if self.scheduled_at else None,
            "zone": self.zone,
            "qc_sent_24h": self.sent_24h,
            "qc_limit_24h": self.limit,
            "reasons": [r.to_dict(lang) for r in self.reasons],
        }


@contextmanager
def _staged(conn: Connection, phones: Sequence[str]) -> Iterator[Select[tuple[str]]]:
    """`phones` in a temporary table for the length of the block, as a subquery to join on.

    Written a chunk at a time; one join per fact beats thousands of IN lists, each of which
    SQLAlchemy would render anew and the database plan anew."""
    staged = Table(
        "loa_decision_phones",
        MetaData(),
        Column("phone", String(20), primary_key=True),
        prefixes=["TEMPORARY"],
    )
    # SQLite does not roll DDL into the caller's transaction the way PostgreSQL does: a block
    # that ended in a rollback can leave the table behind on a pooled connection.
    staged.drop(conn, checkfirst=True)
    staged.create(conn)
    try:
        for start in range(0, len(phones), CHUNK):
            conn.execute(insert(staged), [{"phone": p} for p in phones[start : start + CHUNK]])
        yield select(staged.c.phone)
    finally:
        staged.drop(conn)


def sender_reasons(
    conn: Connection, workspace_id: int, sender: str, pack: Pack, on: date
) -> list[Reason]:
    """Why no message may leave under `sender` on `on`: not a brandname of the workspace, or
    past its expiry (stored, or the pack's validity after registration)."""
    if not pack.brandname_required:
        return []
    found = find_brandname(conn, workspace_id, sender)
    if found is None:
        return [Reason("unregistered_brandname", {"sender": sender})]
    expires = found.expires_on
    if expires is None and found.registered_on is not None and pack.brandname_validity_years:
        registered = found.registered_on
        try:
            expires = registered.replace(year=registered.year + pack.brandname_validity_years)
        except ValueError:  # registered on 29 February
            expires = date(registered.year + pack.brandname_validity_years, 2, 28)
    if expires is not None and expires < on:
        return [Reason("brandname_expired", {"sender": found.name, "expires": expires.isoformat()})]
    return []


def _zone_column(phones: pl.Series, pack: Pack) -> pl.Series:
    if pack.timezone != windows.RECIPIENT:
        return pl.Series("zone", [pack.timezone] * phones.len(), dtype=pl.String)
    # One lookup per distinct number: phonenumbers parses each in Python.
    distinct = phones.unique()
    keys = {p: windows.zone_key(windows.zones_for_number(p, pack)) for p in distinct.to_list()}
    return phones.replace_strict(keys, return_dtype=pl.String).alias("zone")


# A fact table is read whole, once, for a plan when it holds at most this many rows per
# recipient: one scan costs less than an index look-up per recipient (SQLite has no hash join).
SCAN_RATIO = 2

Within = Callable[[Any], Any]


def _everyone(_column: Any) -> Any:
    return true()


@dataclass(frozen=True, slots=True)
class KnownFacts:
    """Facts read once for a caller that decides many batches over much of a book (a campaign's
    plan): each fact table small next to the audience, read whole; None: looked up per batch.
    `consenting` is keyed by contact id, so batches using it must bring their book columns."""

    listed: pl.DataFrame | None = None  # phone: the national DNC list
    opted: pl.DataFrame | None = None  # phone, opted_out_at
    consenting: pl.DataFrame | None = None  # contact_id
    asked: pl.DataFrame | None = None  # phone, registration


_LISTED = {"phone": pl.String}
_OPTED = {"phone": pl.String, "opted_out_at": UTC_DT}
_ASKED = {"phone": pl.String, "registration": pl.String}
_BOOK = {
    "phone": pl.String,
    "contact_id": pl.Int64,
    "invalid_reason": pl.String,
    "flag": pl.Boolean,
}


def _listed_query(ws: int, within: Within) -> Select[Any]:
    return select(dnc_numbers.c.phone).where(
        dnc_numbers.c.workspace_id == ws, within(dnc_numbers.c.phone)
    )


def _opted_query(ws: int, within: Within, channel: str, brand: str) -> Select[Any]:
    refusals = union_all(
        select(opt_outs.c.phone, opt_outs.c.effective_at.label("since")).where(
            opt_outs.c.workspace_id == ws,
            within(opt_outs.c.phone),
            opt_outs.c.channel == channel,
            opt_outs.c.revoked_at.is_(None),
            or_(
                opt_outs.c.scope == "all",
                and_(opt_outs.c.scope == "brand", func.lower(opt_outs.c.brandname) == brand),
            ),
        ),
        select(contacts.c.phone, channel_states.c.changed_at.label("since"))
        .join(contacts, contacts.c.id == channel_states.c.contact_id)
        .where(
            channel_states.c.workspace_id == ws,
            within(contacts.c.phone),
            channel_states.c.channel == channel,
            channel_states.c.status == "opted_out",
        ),
    ).subquery()
    return select(refusals.c.phone, func.min(refusals.c.since)).group_by(refusals.c.phone)


def _consent_terms(ws: int, channel: str, now: datetime) -> list[Any]:
    """A marketing consent for the channel, with a method and evidence, in force at `now`."""
    return [
        consents.c.workspace_id == ws,
        consents.c.channel == channel,
        consents.c.purpose == "marketing",
        func.coalesce(func.trim(consents.c.method), "") != "",
        func.coalesce(func.trim(consents.c.evidence), "") != "",
        consents.c.given_at <= now,
        or_(consents.c.withdrawn_at.is_(None), consents.c.withdrawn_at > now),
    ]


def _asked_query(ws: int, within: Within) -> Select[Any]:
    return select(
        registration_requests.c.phone,
        func.coalesce(registration_requests.c.answer, literal("pending")),
    ).where(registration_requests.c.workspace_id == ws, within(registration_requests.c.phone))


def read_known_facts(
    conn: Connection,
    workspace_id: int,
    audience: int,
    *,
    sender: str,
    channel: str = "sms",
    now: datetime,
) -> KnownFacts:
    """The fact tables worth reading whole for deciding `audience` recipients (see SCAN_RATIO):
    the same conditions `load_facts` applies, without the restriction to a batch's numbers."""
    ws = workspace_id
    fetch = _plain_fetch(conn)
    most = SCAN_RATIO * audience

    def small(table: Table) -> bool:
        count = select(func.count()).select_from(table).where(table.c.workspace_id == ws)
        return int(conn.execute(count).scalar_one()) <= most

    brand = sender.strip().lower()
    opted = None
    if small(opt_outs) and small(channel_states):
        opted = fetch(_opted_query(ws, _everyone, channel, brand), _OPTED)
    return KnownFacts(
        listed=fetch(_listed_query(ws, _everyone), _LISTED) if small(dnc_numbers) else None,
        opted=opted,
        consenting=fetch(
            select(consents.c.contact_id).where(*_consent_terms(ws, channel, now)).distinct(),
            {"contact_id": pl.Int64},
        )
        if small(consents)
        else None,
        asked=fetch(_asked_query(ws, _everyone), _ASKED) if small(registration_requests) else None,
    )


def _plain_fetch(conn: Connection) -> Fetch:
    """Run a query into a frame; on SQLite through a scratch file read as Arrow (whole tables
    of a large workspace: no Python tuple per row), so not inside a write transaction."""

    def fetch(query: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
        if conn.dialect.name == "sqlite":
            frame = sqlite_frame(conn, literal_sql(conn, query), columns=list(schema))
            return _typed(frame, schema)
        rows = conn.execute(query).all()
        return _typed(pl.DataFrame(rows, schema=list(schema), orient="row"), schema)

    return fetch


def _among(known: pl.DataFrame, key: str, values: pl.Series) -> pl.DataFrame:
    return known.filter(pl.col(key).is_in(values.implode()))


def load_facts(
    conn: Connection,
    workspace_id: int,
    phones: Sequence[str],
    *,
    pack: Pack,
    sender: str,
    channel: str = "sms",
    now: datetime,
    known: KnownFacts | None = None,
    book: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every recipient fact the engine reads, one row per distinct number in `phones`.

    Each fact is one set-based query joined to the staged numbers; the answers come back as
    columns and are joined in Polars, so a million recipients cost no Python loop. A caller
    that has them passes `known` (tables read whole once: `known_facts`) and `book` (the
    contacts' `phone`, `contact_id`, `invalid_reason` and DNC `flag`, as stored); only what
    neither holds is looked up."""
    ws = workspace_id
    distinct = pl.DataFrame({"phone": list(dict.fromkeys(phones))}, schema={"phone": pl.String})
    brand = sender.strip().lower()
    known = known or KnownFacts()
    by_contact = known.consenting is not None and book is not None
    probe = (
        book is None
        or known.listed is None
        or known.opted is None
        or not by_contact
        or known.asked is None
    )
    frames: dict[str, pl.DataFrame] = {}
    source = (
        _phone_source(conn, distinct["phone"].to_list())
        if probe
        else nullcontext((select(literal(None)), _plain_fetch(conn)))
    )
    with source as (p, fetch):

        def within(column: Any) -> Any:
            return column.in_(p)

        if book is None:
            book = fetch(
                select(
                    contacts.c.phone, contacts.c.id, contacts.c.invalid_reason, contacts.c.dnc
                ).where(contacts.c.workspace_id == ws, within(contacts.c.phone)),
                _BOOK,
            )
        frames["listed"] = (
            _among(known.listed, "phone", distinct["phone"])
            if known.listed is not None
            else fetch(_listed_query(ws, within), _LISTED)
        )
        frames["opted"] = (
            _among(known.opted, "phone", distinct["phone"])
            if known.opted is not None
            else fetch(_opted_query(ws, within, channel, brand), _OPTED)
        )
        if by_contact:
            assert known.consenting is not None
            ids = _among(known.consenting, "contact_id", book["contact_id"].drop_nulls())
            given = book.filter(pl.col("contact_id").is_in(ids["contact_id"].implode()))
        else:
            given = fetch(
                select(contacts.c.phone)
                .join(consents, consents.c.contact_id == contacts.c.id)
                .where(within(contacts.c.phone), *_consent_terms(ws, channel, now))
                .distinct(),
                {"phone": pl.String},
            )
        frames["asked"] = (
            _among(known.asked, "phone", distinct["phone"])
            if known.asked is not None
            else fetch(_asked_query(ws, within), _ASKED)
        )
        agreed = conn.execute(
            select(agreements.c.phone, agreements.c.rule, agreements.c.value)
            .where(
                agreements.c.workspace_id == ws,
                agreements.c.rule.in_(["frequency_cap", "quiet_hours"]),
                agreements.c.given_at <= now,
                or_(agreements.c.expires_at.is_(None), agreements.c.expires_at > now),
            )
            .order_by(agreements.c.given_at, agreements.c.id)
        ).all()
    book = book.select(*_BOOK).unique("phone", keep="first")
    listed, opted, asked = frames["listed"], frames["opted"], frames["asked"]
    # Agreements are few (one per person who asked): read in Python, the latest in force wins.
    caps: dict[str, int] = {}
    hours: dict[str, tuple[int, int]] = {}
    for phone, rule, value in agreed:
        _agreement(phone, rule, value, caps, hours)
    terms = pl.DataFrame(
        {
            "phone": list({*caps, *hours}),
        },
        schema={"phone": pl.String},
    ).with_columns(
        pl.col("phone")
        .replace_strict(caps, default=None, return_dtype=pl.Int32)
        .alias("max_qc_per_24h"),
        pl.col("phone")
        .replace_strict({k: v[0] for k, v in hours.items()}, default=None, return_dtype=pl.Int32)
        .alias("hours_start_s"),
        pl.col("phone")
        .replace_strict({k: v[1] for k, v in hours.items()}, default=None, return_dtype=pl.Int32)
        .alias("hours_end_s"),
    )
    frame = (
        distinct.join(book, on="phone", how="left", maintain_order="left")
        .join(opted, on="phone", how="left", maintain_order="left")
        .join(asked, on="phone", how="left", maintain_order="left")
        .join(terms, on="phone", how="left", maintain_order="left")
        .with_columns(
            (
                pl.col("flag").fill_null(False) | pl.col("phone").is_in(listed["phone"].implode())
            ).alias("dnc"),
            pl.col("phone").is_in(given["phone"].implode()).alias("consent"),
        )
    )
    # A number not in the book: say why it cannot get messages, if it cannot.
    strangers = frame.filter(pl.col("contact_id").is_null())["phone"].to_list()
    if strangers:
        problems = {phone: _phone_problem(phone) for phone in strangers}
        frame = frame.with_columns(
            pl.when(pl.col("contact_id").is_null())
            .then(pl.col("phone").replace_strict(problems, default=None, return_dtype=pl.String))
            .otherwise(pl.col("invalid_reason"))
            .alias("invalid_reason")
        )
    frame = frame.select(
        "phone",
        "contact_id",
        "invalid_reason",
        "dnc",
        "opted_out_at",
        "consent",
        "registration",
        "max_qc_per_24h",
        "hours_start_s",
        "hours_end_s",
    )
    return frame.with_columns(_zone_column(frame["phone"], pack))


Fetch = Callable[[Select[Any], dict[str, Any]], pl.DataFrame]


@contextmanager
def _phone_source(conn: Connection, phones: list[str]) -> Iterator[tuple[Select[Any], Fetch]]:
    """The numbers as a subquery to join on, and how to run a query into a frame.

    SQLite: the numbers go into a scratch file through ADBC, and the queries run on an ADBC
    connection to the store with that file attached: Arrow columns in and out, no Python object
    per row. It reads what is committed, as every caller does (they only read). PostgreSQL: a
    temporary table on the caller's connection, rows read through SQLAlchemy."""
    if conn.dialect.name != "sqlite":
        with _staged(conn, phones) as p:

            def fetch_rows(query: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
                rows = conn.execute(query).all()
                return _typed(pl.DataFrame(rows, schema=list(schema), orient="row"), schema)

            yield p, fetch_rows
        return
    # Never open the store itself through ADBC: it links its own copy of SQLite, and two
    # copies in one process break each other's file locks. ADBC writes only a scratch file,
    # which this connection (the sqlite3 module's SQLite) attaches and reads.
    staged = Table("phones", MetaData(), Column("phone", String(20)), schema="loa_facts")
    numbers = pl.DataFrame({"phone": phones}, schema={"phone": pl.String})
    with attached_scratch(conn, "loa_facts", {"phones": numbers}):
        conn.exec_driver_sql("CREATE UNIQUE INDEX loa_facts.phones_phone ON phones (phone)")

        def fetch_raw(query: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
            rows = sqlite_rows(conn, query)
            return _typed(pl.DataFrame(rows, schema=list(schema), orient="row"), schema)

        yield select(staged.c.phone), fetch_raw


def _typed(frame: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    """Columns cast to `schema`; stored datetimes (text on SQLite, naive on PostgreSQL) as UTC."""
    out = []
    for name, dtype in schema.items():
        column = pl.col(name)
        if dtype == UTC_DT:
            source = frame.schema[name]
            if source == pl.String:
                column = column.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us")
            elif source == pl.Null or source.is_integer():
                column = column.cast(pl.Datetime("us"))
            column = column.dt.replace_time_zone("UTC") if frame.schema[name] != UTC_DT else column
            out.append(column.cast(UTC_DT).alias(name))
        else:
            out.append(column.cast(dtype).alias(name))
    return frame.select(out)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _phone_problem(phone: str) -> str | None:
    """Why a number that is not in the book cannot get messages (None when it can)."""
    result = parse_phone(phone)
    if not result.valid:
        return result.reason or "not_a_number"
    return None


def _agreement(
    phone: str,
    rule: str,
    value: Any,
    caps: dict[str, int],
    hours: dict[str, tuple[int, int]],
) -> None:
    """Read one agreement: `{"max_per_24h": N}` (null: no cap) or `{"start", "end"}` (null:
    any hour). A value Loa cannot read lifts nothing."""
    if rule == "frequency_cap":
        cap = (value or {}).get("max_per_24h") if isinstance(value, dict | None) else None
        if value is None or cap is None:
            caps[phone] = 0
        elif isinstance(cap, int) and cap >= 0:
            caps[phone] = cap
    elif rule == "quiet_hours":
        if value is None:
            hours[phone] = (0, 0)
        elif isinstance(value, dict) and {"start", "end"} <= value.keys():
            try:
                agreed = windows.parse_hours(str(value["start"]), str(value["end"]))
            except ValueError:
                return
            hours[phone] = (agreed.start_s, agreed.end_s)


def load_history(
    conn: Connection,
    workspace_id: int,
    phones: Sequence[str] | None,
    *,
    after: datetime,
    until: datetime,
    channel: str = "sms",
    exclude_campaign_id: int | None = None,
) -> pl.DataFrame:
    """The workspace's QC messages to `phones` (None: to every number) in (after, until]:
    submitted ones at their submission (failed submissions never reached anyone), planned ones
    at their schedule."""
    sent = and_(
        outbox.c.submitted_at.is_not(None),
        outbox.c.status != "failed",
        outbox.c.submitted_at > after,
        outbox.c.submitted_at <= until,
    )
    planned = and_(
        outbox.c.submitted_at.is_(None),
        outbox.c.status.in_(["planned", "queued"]),
        outbox.c.decision.in_(["send", "defer"]),
        outbox.c.scheduled_at > after,
        outbox.c.scheduled_at <= until,
    )
    query = select(
        outbox.c.phone, func.coalesce(outbox.c.submitted_at, outbox.c.scheduled_at)
    ).where(
        outbox.c.workspace_id == workspace_id,
        outbox.c["class"] == "qc",
        outbox.c.channel == channel,
        or_(sent, planned),
    )
    if exclude_campaign_id is not None:
        query = query.where(
            or_(outbox.c.campaign_id.is_(None), outbox.c.campaign_id != exclude_campaign_id)
        )
    schema = {"phone": pl.String, "at": UTC_DT}
    if phones is None:
        return _plain_fetch(conn)(query.where(outbox.c.phone.is_not(None)), schema)
    with _phone_source(conn, list(dict.fromkeys(phones))) as (p, fetch):
        history = fetch(query.where(outbox.c.phone.in_(p)), schema)
    return history


def decide_batch(
    store: Store,
    recipients: pl.DataFrame,
    *,
    cls: str,
    sender: str,
    allow_defer: bool = True,
    message_reasons: Sequence[Reason] = (),
    channel: str = "sms",
    now: datetime | None = None,
    exclude_campaign_id: int | None = None,
    known_history: pl.DataFrame | None = None,
    known_facts: KnownFacts | None = None,
    book: pl.DataFrame | None = None,
) -> Decisions:
    """Decide one message for every recipient (`phone`, and `at`: the intended instant).

    Sender reasons (unregistered or expired brandname) are found here; content reasons come
    from the caller's checks in `message_reasons`. A caller deciding many batches may pass
    `known_history`: `load_history` for every number over a span covering each batch's
    window (what `history_window` gives), read once instead of once a batch; likewise
    `known_facts` and the recipients' `book` columns (see `load_facts`)."""
    now = now or datetime.now(UTC)
    with store.engine.connect() as conn:
        pack = workspace_pack(conn, store.workspace_id)
        own = sender_reasons(conn, store.workspace_id, sender, pack, now.date())
        gap = min_gap(conn, store.workspace_id)
        rules = rules_for(
            pack,
            cls,
            allow_defer=allow_defer,
            message_reasons=[*own, *(r for r in message_reasons if r.code not in _SENDER)],
            min_gap_s=int(gap.total_seconds()),
        )
        phones = recipients["phone"].to_list()
        facts = load_facts(
            conn,
            store.workspace_id,
            phones,
            pack=pack,
            sender=sender,
            channel=channel,
            now=now,
            known=known_facts,
            book=book,
        )
        batch = recipients.select("phone", pl.col("at").cast(UTC_DT)).join(
            facts, on="phone", how="left", maintain_order="left"
        )
        history = pl.DataFrame(schema={"phone": pl.String, "at": UTC_DT})
        if cls == "qc" and batch.height:
            first, last = batch["at"].min(), batch["at"].max()
            assert isinstance(first, datetime) and isinstance(last, datetime)
            after, until = history_window(first, last, gap)
            if known_history is not None:
                at = pl.col("at")
                history = known_history.filter(
                    (at > after) & (at <= until), pl.col("phone").is_in(batch["phone"].implode())
                )
            else:
                history = load_history(
                    conn,
                    store.workspace_id,
                    phones,
                    after=after,
                    until=until,
                    channel=channel,
                    exclude_campaign_id=exclude_campaign_id,
                )
    decided = decide(batch, history, rules)
    return Decisions(decided.with_columns(batch["contact_id"]), rules)


def history_window(
    first: datetime, last: datetime, gap: timedelta = timedelta(0)
) -> tuple[datetime, datetime]:
    """The span of earlier QC messages that matter to messages sent from `first` to `last`
    (`gap`: the workspace's minimum spacing between advertising messages)."""
    return first - max(windows.DAY, gap), last + _LOOKAHEAD + gap


def min_gap(conn: Connection, workspace_id: int) -> timedelta:
    """The workspace's minimum time between two advertising messages to one person."""
    return timedelta(hours=get_settings(conn, workspace_id).min_gap_hours)


_SENDER = frozenset({"unregistered_brandname", "brandname_expired"})


def summarize(decisions: Decisions) -> Summary:
    """Totals by decision and by reason, and when the deferred messages will leave (by the
    hour, on the pack's clock, or UTC for packs on the recipient's own clock)."""
    frame = decisions.frame
    pack = decisions.rules.pack
    summary = Summary(total=frame.height)
    summary.by_decision = dict(frame.group_by("decision").len().sort("decision").iter_rows())
    deciding = frame.filter(pl.col("reasons").list.len() > 0).select(pl.col("reasons").list.first())
    summary.by_reason = dict(
        deciding.group_by("reasons")
        .len()
        .sort(["len", "reasons"], descending=[True, False])
        .iter_rows()
    )
    every = frame.select(pl.col("reasons").explode().drop_nulls())
    summary.all_reasons = dict(
        every.group_by("reasons")
        .len()
        .sort(["len", "reasons"], descending=[True, False])
        .iter_rows()
    )
    zone_name = "UTC" if pack.timezone == windows.RECIPIENT else pack.timezone
    later = frame.filter(pl.col("decision") == "defer").select(
        pl.col("scheduled_at").dt.convert_time_zone(zone_name).dt.truncate("1h")
    )
    summary.deferred_until = {
        at.isoformat(): count
        for at, count in later.group_by("scheduled_at").len().sort("scheduled_at").iter_rows()
    }
    return summary


def explain(
    store: Store,
    phone: str,
    cls: str,
    sender: str,
    at: datetime | None = None,
    *,
    allow_defer: bool = True,
    message_reasons: Sequence[Reason] = (),
    channel: str = "sms",
) -> Explanation:
    """The decision for one number as if a message of class `cls` from `sender` were planned
    for `at` (default: now), with every reason."""
    parsed = parse_phone(phone)
    if parsed.e164 is None:
        raise LoaError(BAD_PHONE, phone=phone, reason=parsed.reason_text())
    when = (at or datetime.now(UTC)).astimezone(UTC)
    decisions = decide_batch(
        store,
        pl.DataFrame(
            {"phone": [parsed.e164], "at": [when]}, schema={"phone": pl.String, "at": UTC_DT}
        ),
        cls=cls,
        sender=sender,
        allow_defer=allow_defer,
        message_reasons=message_reasons,
        channel=channel,
        now=when,
    )
    row = decisions.frame.row(0, named=True)
    return Explanation(
        phone=parsed.e164,
        cls=cls,
        sender=sender,
        at=when,
        decision=row["decision"],
        scheduled_at=row["scheduled_at"],
        reasons=tuple(reasons_of(row, decisions.rules)),
        zone=row["zone"] or "UTC",
        sent_24h=int(row["count_24h"]),
        limit=int(row["limit"]),
    )
