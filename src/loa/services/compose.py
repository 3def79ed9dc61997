"""Composition over an audience: what every recipient's personalised copy takes and costs.

`preview_compose` renders a template for every contact of a segment (streamed in chunks, so a
million contacts never sit in memory at once), frames it for its class, shortens its links, and
reports the encoding mix, the parts histogram, the shortest / typical / longest copy, the cost
per carrier, the same figures without accents side by side, and the recipients whose copy
could not be rendered. `render_chunk` is what the campaign planner calls per chunk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, insert, select

from loa.domain.compose import (
    Carrier,
    MessageClass,
    OptOut,
    find_carrier,
    frame_template,
    load_carriers,
)
from loa.domain.links import (
    IssuedLink,
    LinkedTemplate,
    LinkOptions,
    issue_links,
    link_template,
    new_code,
)
from loa.domain.names import given_name
from loa.domain.templates import Template, parse
from loa.domain.text import GSM7, UCS2, SegmentCount, validate_brandname
from loa.i18n import Lang, LoaError, Msg
from loa.services.segments import segment_members
from loa.store.tables import brandnames, contacts, short_links

CHUNK_ROWS: Final = 20_000
MAX_ERRORS_SHOWN: Final = 10
UNKNOWN_CARRIER: Final = "unknown"

UNKNOWN_SENDER = Msg(
    "compose.unknown_sender",
    "Chưa có brandname '{sender}' trong workspace: đăng ký nó trước (loa brandnames add). "
    "Brandname hiện có: {known}.",
    "There is no brandname '{sender}' in this workspace: add it first (loa brandnames add). "
    "Existing brandnames: {known}.",
)
QC_NEEDS_SENDER = Msg(
    "compose.qc_needs_sender",
    "Tin quảng cáo cần brandname gửi (--sender) để ghi hướng dẫn từ chối ở cuối tin.",
    "An advertising message needs its sender brandname (--sender) for the refusal instructions "
    "at its end.",
)
NONE_KNOWN = Msg("compose.none_known", "(chưa có)", "(none)")

CONTACT_COLUMNS: Final = (
    "id",
    "phone",
    "name",
    "given_name",
    "email",
    "gender",
    "birthday",
    "province",
    "carrier",
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One recipient's copy as it would be sent."""

    contact: str
    text: str
    encoding: str
    parts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "contact": self.contact,
            "text": self.text,
            "encoding": self.encoding,
            "parts": self.parts,
        }


@dataclass(slots=True)
class CarrierLine:
    """The recipients on one carrier: their parts and what they cost; those it would refuse."""

    carrier: str
    name: str
    recipients: int = 0
    parts: int = 0
    price_per_part_vnd: int = 0
    cost_vnd: int = 0
    refused: int = 0
    refusal: str | None = None  # why, for the first refused copy (the limit named)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "carrier": self.carrier,
            "name": self.name,
            "recipients": self.recipients,
            "parts": self.parts,
            "price_per_part_vnd": self.price_per_part_vnd,
            "cost_vnd": self.cost_vnd,
            "refused": self.refused,
            "refusal": self.refusal,
        }


@dataclass(slots=True)
class Variant:
    """The figures of one version of the message (with or without accents)."""

    encodings: Counter[str] = field(default_factory=Counter)
    parts: Counter[int] = field(default_factory=Counter)
    carriers: dict[str, CarrierLine] = field(default_factory=dict)
    shortest: Sample | None = None
    typical: Sample | None = None
    longest: Sample | None = None
    # (parts, characters) -> how many copies, and the first copy of that size.
    _sizes: Counter[tuple[int, int]] = field(default_factory=Counter)
    _examples: dict[tuple[int, int], Sample] = field(default_factory=dict)

    @property
    def total_parts(self) -> int:
        """Parts of the copies the carriers accept."""
        return sum(line.parts for line in self.carriers.values())

    @property
    def total_cost_vnd(self) -> int:
        """What the copies the carriers accept cost."""
        return sum(line.cost_vnd for line in self.carriers.values())

    @property
    def refused(self) -> int:
        """Copies a carrier would refuse (over its limits)."""
        return sum(line.refused for line in self.carriers.values())

    def finish(self) -> None:
        """Pick the shortest, typical (median) and longest copy once every copy is counted."""
        if not self._sizes:
            return
        sizes = sorted(self._sizes)
        self.shortest = self._examples[sizes[0]]
        self.longest = self._examples[sizes[-1]]
        middle = (sum(self._sizes.values()) - 1) // 2
        seen = 0
        for size in sizes:
            seen += self._sizes[size]
            if seen > middle:
                self.typical = self._examples[size]
                break

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""

        def sample(s: Sample | None) -> dict[str, Any] | None:
            return None if s is None else s.to_dict()

        return {
            "encodings": {enc: self.encodings.get(enc, 0) for enc in (GSM7, UCS2)},
            "parts_histogram": {str(k): v for k, v in sorted(self.parts.items())},
            "shortest": sample(self.shortest),
            "typical": sample(self.typical),
            "longest": sample(self.longest),
            "carriers": [line.to_dict() for line in self.carriers.values()],
            "total_parts": self.total_parts,
            "total_cost_vnd": self.total_cost_vnd,
            "refused": self.refused,
        }


@dataclass(frozen=True, slots=True)
class RowError:
    """A recipient whose copy could not be rendered."""

    contact: str
    variable: str
    message: str


@dataclass(slots=True)
class ComposePreview:
    """What a message would be across its audience, before it is sent."""

    cls: MessageClass
    sender: str | None
    template: str
    variables: list[str]
    links: int
    audience: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    with_accents: Variant = field(default_factory=Variant)
    without_accents: Variant = field(default_factory=Variant)
    unaccent: bool = False
    links_issued: int = 0

    @property
    def chosen(self) -> Variant:
        """The version that would be sent."""
        return self.without_accents if self.unaccent else self.with_accents

    def to_dict(self) -> dict[str, Any]:
        """JSON form (`loa compose preview --json`)."""
        return {
            "class": self.cls,
            "sender": self.sender,
            "template": self.template,
            "variables": self.variables,
            "links_per_message": self.links,
            "links_issued": self.links_issued,
            "audience": self.audience,
            "rendered": self.audience - self.failed,
            "failed": self.failed,
            "errors": [
                {"contact": e.contact, "variable": e.variable, "message": e.message}
                for e in self.errors
            ],
            "unaccent": self.unaccent,
            "with_accents": self.with_accents.to_dict(),
            "without_accents": self.without_accents.to_dict(),
        }


def sender_optout(conn: Connection, *, workspace_id: int, sender: str) -> OptOut:
    """The refusal keyword, short code and hotline registered for a brandname."""
    validate_brandname(sender)
    b = brandnames.c
    row = conn.execute(
        select(b.optout_keyword, b.optout_shortcode, b.hotline).where(
            b.workspace_id == workspace_id, b.name == sender
        )
    ).first()
    if row is None:
        known = conn.execute(
            select(b.name).where(b.workspace_id == workspace_id).order_by(b.name)
        ).scalars()
        raise LoaError(UNKNOWN_SENDER, sender=sender, known=", ".join(known) or NONE_KNOWN.render())
    return OptOut(row.optout_keyword, row.optout_shortcode, row.hotline)


def contact_row(
    values: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A contact as template variables: `extra` < custom attributes (also as `attrs.KEY`) <
    the contact's own columns; `given_name` falls back to the last word of the name."""
    attrs = values.get("attrs") or {}
    row: dict[str, Any] = {**(extra or {}), **attrs, **values, "attrs": attrs}
    if not row.get("given_name"):
        row["given_name"] = given_name(row.get("name"))
    return row


def _label(row: Mapping[str, Any]) -> str:
    return f"#{row['id']} ({row['phone']})"


def _contact_chunks(
    conn: Connection,
    workspace_id: int,
    segment: str | None,
    chunk_rows: int,
) -> Iterator[list[dict[str, Any]]]:
    where = (
        segment_members(conn, workspace_id=workspace_id, segment=segment)
        if segment is not None
        else contacts.c.workspace_id == workspace_id
    )
    columns = [contacts.c[name] for name in CONTACT_COLUMNS] + [contacts.c.attrs]
    # Pages by id (keyset), as listmonk does: plain queries that work alike on SQLite and
    # PostgreSQL and leave the connection free for writing short links between pages.
    last_id = 0
    while True:
        page = conn.execute(
            select(*columns)
            .where(where, contacts.c.id > last_id)
            .order_by(contacts.c.id)
            .limit(chunk_rows)
        ).mappings()
        rows = [dict(r) for r in page]
        if not rows:
            return
        yield rows
        last_id = rows[-1]["id"]


def _count(
    variant: Variant,
    texts: Sequence[str | None],
    counts: Sequence[SegmentCount | None],
    rows: Sequence[Mapping[str, Any]],
    carriers: dict[str, Carrier],
    cls: MessageClass,
) -> None:
    worst = max(
        (c.price_per_part_vnd(cls) for c in carriers.values()),
        default=0,
    )
    for text, count, row in zip(texts, counts, rows, strict=True):
        if text is None or count is None:
            continue
        variant.encodings[count.encoding] += 1
        variant.parts[count.segments] += 1
        size = (count.segments, len(text))
        variant._sizes[size] += 1
        if size not in variant._examples:
            variant._examples[size] = Sample(_label(row), text, count.encoding, count.segments)
        carrier = find_carrier(carriers, row.get("carrier"))
        key = carrier.key if carrier else UNKNOWN_CARRIER
        line = variant.carriers.get(key)
        if line is None:
            # An unknown carrier is priced at the dearest one: a preview never under-promises.
            price = carrier.price_per_part_vnd(cls) if carrier else worst
            line = variant.carriers[key] = CarrierLine(
                key, carrier.name if carrier else UNKNOWN_CARRIER, price_per_part_vnd=price
            )
        line.recipients += 1
        problem = carrier.refusal(count) if carrier else None
        if problem is not None:
            line.refused += 1
            if line.refusal is None:
                line.refusal = problem.render()
            continue
        line.parts += count.segments
        line.cost_vnd += count.segments * line.price_per_part_vnd


def prepare(
    text: str,
    *,
    cls: MessageClass,
    optout: OptOut | None,
    sender: str | None,
    links: LinkOptions,
    footer_lang: Lang = "vi",
) -> LinkedTemplate:
    """The template parsed, framed for its class and with its links found: ready to render."""
    framed = frame_template(parse(text), cls, optout, footer_lang, sender or "")
    return link_template(framed, links)


def render_chunk(template: str | Template, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each row's message (rows map variables to values); a LoaError names the first failure."""
    compiled = parse(template) if isinstance(template, str) else template
    return compiled.render_all(rows)


def _write_links(
    conn: Connection,
    *,
    workspace_id: int,
    linked: LinkedTemplate,
    rows: list[dict[str, Any]],
    campaign_id: int | None,
) -> int:
    """Issue codes for a chunk's links and store them; codes already taken are drawn again."""
    taken: set[str] = set()

    def issue(length: int) -> str:
        code = new_code(length)
        while code in taken:
            code = new_code(length)
        taken.add(code)
        return code

    while True:
        issued = issue_links(linked, rows, issue=issue)
        codes = [link.code for links in issued for link in links]
        clash = set(
            conn.execute(select(short_links.c.code).where(short_links.c.code.in_(codes))).scalars()
        )
        if not clash:
            break
        # Astronomically rare (56^7 codes): draw the whole chunk again, avoiding those.
        taken = clash
    values = [
        {
            "code": link.code,
            "workspace_id": workspace_id,
            "destination": link.destination,
            "campaign_id": campaign_id,
            "contact_id": row["id"],
        }
        for row, links in zip(rows, issued, strict=True)
        for link in links
    ]
    if values:
        conn.execute(insert(short_links), values)
    return len(values)


def preview_compose(
    conn: Connection,
    *,
    workspace_id: int,
    text: str,
    segment: str | None = None,
    cls: MessageClass = "qc",
    sender: str | None = None,
    links: LinkOptions | None = None,
    unaccent: bool = False,
    variables: Mapping[str, Any] | None = None,
    footer_lang: Lang = "vi",
    materialize: bool = False,
    campaign_id: int | None = None,
    carriers: dict[str, Carrier] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ComposePreview:
    """Render `text` for every contact of `segment` (None: all contacts) and report.

    With `materialize`, each recipient's links get real codes, stored in `short_links` in the
    caller's transaction; otherwise the preview writes nothing and shows the placeholder.
    """
    link_options = links or LinkOptions()
    optout = None
    if cls == "qc":
        if not sender:
            raise LoaError(QC_NEEDS_SENDER)
        optout = sender_optout(conn, workspace_id=workspace_id, sender=sender).check(sender)
    elif sender:
        validate_brandname(sender)
    linked = prepare(
        text, cls=cls, optout=optout, sender=sender, links=link_options, footer_lang=footer_lang
    )
    carriers = carriers if carriers is not None else load_carriers()
    accented = linked.issuing if materialize else linked.preview
    bare = accented.unaccented()
    report = ComposePreview(
        cls=cls,
        sender=sender,
        template=text,
        variables=parse(text).variables,
        links=len(linked.destinations),
        unaccent=unaccent,
    )
    for chunk in _contact_chunks(conn, workspace_id, segment, chunk_rows):
        rows = [contact_row(values, variables) for values in chunk]
        labels = [_label(row) for row in rows]
        if materialize and linked.destinations:
            report.links_issued += _write_links(
                conn,
                workspace_id=workspace_id,
                linked=linked,
                rows=rows,
                campaign_id=campaign_id,
            )
        result, counts = accented.render_counted(rows, labels)
        report.audience += len(rows)
        report.failed += sum(1 for t in result.texts if t is None)
        for error in result.errors:
            if len(report.errors) < MAX_ERRORS_SHOWN:
                report.errors.append(RowError(error.label, error.variable, error.error.render()))
        _count(report.with_accents, result.texts, counts, rows, carriers, cls)
        bare_result, bare_counts = bare.render_counted(rows, labels)
        _count(report.without_accents, bare_result.texts, bare_counts, rows, carriers, cls)
    report.with_accents.finish()
    report.without_accents.finish()
    return report


__all__ = [
    "CarrierLine",
    "ComposePreview",
    "IssuedLink",
    "RowError",
    "Sample",
    "Variant",
    "contact_row",
    "prepare",
    "preview_compose",
    "render_chunk",
    "sender_optout",
]
