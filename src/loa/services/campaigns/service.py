"""Campaign use cases: create, get, list, and the state machine with its history.

draft → planned → scheduled → running ⇄ paused → completed; any state before completed can be
cancelled. Every change is recorded with who and when (`campaign_changes`) and in the audit log.
Plain functions taking the connection; the caller owns the transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from sqlalchemy import Connection, insert, select, update

from loa.config import Settings
from loa.domain.schedule import HolidayRule, Window, preset
from loa.domain.text import validate_brandname
from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.services.segments.service import get_segment
from loa.store.tables import campaign_changes, campaigns, outbox

MessageClass = Literal["qc", "cskh", "public"]
CLASSES: Final = ("qc", "cskh", "public")
STATES: Final = ("draft", "planned", "scheduled", "running", "paused", "completed", "cancelled")
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "draft": frozenset({"planned", "cancelled"}),
    "planned": frozenset({"planned", "scheduled", "cancelled"}),
    "scheduled": frozenset({"running", "paused", "cancelled", "completed"}),
    "running": frozenset({"paused", "completed", "cancelled"}),
    "paused": frozenset({"scheduled", "running", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}
MAX_HOLDOUT_PCT: Final = 50

UNKNOWN_CAMPAIGN = Msg(
    "campaigns.unknown",
    "Không có chiến dịch #{id} trong workspace này (xem: loa campaigns list).",
    "There is no campaign #{id} in this workspace (see: loa campaigns list).",
)
NAME_TAKEN = Msg(
    "campaigns.name_taken",
    "Đã có chiến dịch tên '{name}'; chọn tên khác.",
    "A campaign named '{name}' already exists; choose another name.",
)
BAD_CLASS = Msg(
    "campaigns.bad_class",
    "Loại tin '{value}' không hợp lệ: dùng qc (quảng cáo), cskh (chăm sóc khách hàng) hoặc "
    "public (dịch vụ công).",
    "Message class '{value}' is not valid: use qc (advertising), cskh (customer care) or public "
    "(public service).",
)
NO_AUDIENCE = Msg(
    "campaigns.no_audience",
    "Chiến dịch cần ít nhất một phân khúc người nhận (--segment).",
    "A campaign needs at least one audience segment (--segment).",
)
NO_TEXT = Msg(
    "campaigns.no_text",
    "Chiến dịch cần nội dung tin nhắn (--text), hoặc một mẫu đã duyệt (--template).",
    "A campaign needs a message text (--text), or an approved template (--template).",
)
BAD_HOLDOUT = Msg(
    "campaigns.bad_holdout",
    "Nhóm đối chứng phải từ 0 đến {max}% (đang là {value}%).",
    "The holdout group must be 0 to {max}% (it is {value}%).",
)
BAD_SHARES = Msg(
    "campaigns.bad_shares",
    "Tỉ lệ các phiên bản phải cộng lại bằng 100% (đang là {total}%).",
    "The variants' shares must add up to 100% (they add up to {total}%).",
)
BAD_BUDGET = Msg(
    "campaigns.bad_budget",
    "Ngân sách phải là số đồng dương (đang là {value}).",
    "The budget must be a positive number of đồng (it is {value}).",
)
BAD_TPS = Msg(
    "campaigns.bad_tps",
    "Giới hạn tốc độ phải lớn hơn 0 tin/giây (đang là {value}).",
    "The throughput cap must be above 0 messages/s (it is {value}).",
)
BAD_TRANSITION = Msg(
    "campaigns.bad_transition",
    "Chiến dịch #{id} đang ở trạng thái '{state}', không thể chuyển sang '{to}'. Được phép: "
    "{allowed}.",
    "Campaign #{id} is '{state}' and cannot become '{to}'. Allowed: {allowed}.",
)
NAIVE_TIME = Msg(
    "campaigns.naive_time",
    "Thời điểm '{value}' cần có múi giờ, ví dụ 2026-12-01T09:00+07:00.",
    "The time '{value}' needs a time zone, e.g. 2026-12-01T09:00+07:00.",
)


@dataclass(frozen=True, slots=True)
class Variant:
    """One version of the message and the share of the (non-holdout) audience that gets it."""

    name: str
    text: str
    share_pct: int


@dataclass(frozen=True, slots=True)
class Schedule:
    """When to send: now, at a time, inside a window, or in an industry's golden hours."""

    mode: Literal["now", "at", "window", "golden"] = "now"
    at: datetime | None = None
    until: datetime | None = None
    preset: str | None = None
    windows: tuple[str, ...] = ()
    holidays: HolidayRule = "any"
    # Each person at their own best hour (learned from their clicks and orders) where the
    # schedule opens it; the rest by the schedule above.
    best_hour: bool = False

    def to_json(self) -> dict[str, Any]:
        """The form stored in `campaigns.schedule`."""
        return {
            "mode": self.mode,
            "at": self.at.isoformat() if self.at else None,
            "until": self.until.isoformat() if self.until else None,
            "preset": self.preset,
            "windows": list(self.windows),
            "holidays": self.holidays,
            "best_hour": self.best_hour,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Schedule:
        """The stored form back."""
        return cls(
            mode=raw["mode"],
            at=datetime.fromisoformat(raw["at"]) if raw.get("at") else None,
            until=datetime.fromisoformat(raw["until"]) if raw.get("until") else None,
            preset=raw.get("preset"),
            windows=tuple(raw.get("windows") or ()),
            holidays=raw.get("holidays", "any"),
            best_hour=bool(raw.get("best_hour", False)),
        )


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What a marketer gives to create a campaign."""

    name: str
    cls: str
    sender: str
    include: tuple[str, ...]
    variants: tuple[Variant, ...]
    exclude: tuple[str, ...] = ()
    template: str | None = None
    holdout_pct: int = 0
    schedule: Schedule = field(default_factory=Schedule)
    budget_vnd: int | None = None
    max_tps: int | None = None
    attribution_days: int = 7
    allow_defer: bool = True
    short_domain: str | None = None
    goal: dict[str, Any] | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Campaign:
    """A stored campaign."""

    id: int
    name: str
    cls: MessageClass
    channel: str
    sender: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    variants: tuple[Variant, ...]
    template: str | None
    holdout_pct: int
    schedule: Schedule
    budget_vnd: int | None
    max_tps: int | None
    attribution_days: int
    allow_defer: bool
    short_domain: str | None
    goal: dict[str, Any] | None
    seed: int
    state: str
    plan_summary: dict[str, Any] | None
    created_by: str
    created_at: datetime
    planned_at: datetime | None


def equal_variants(texts: list[str]) -> tuple[Variant, ...]:
    """Variants A, B, C… sharing the audience equally (the first takes the remainder)."""
    n = len(texts)
    shares = [100 // n] * n
    shares[0] += 100 - sum(shares)
    return tuple(
        Variant(chr(ord("A") + i), t, s) for i, (t, s) in enumerate(zip(texts, shares, strict=True))
    )


def _validate(conn: Connection, workspace_id: int, spec: CampaignSpec) -> None:
    if spec.cls not in CLASSES:
        raise LoaError(BAD_CLASS, value=spec.cls)
    validate_brandname(spec.sender)
    if not spec.include:
        raise LoaError(NO_AUDIENCE)
    for name in (*spec.include, *spec.exclude):
        get_segment(conn, workspace_id=workspace_id, name=name)
    if not spec.variants and not spec.template:
        raise LoaError(NO_TEXT)
    if spec.variants and sum(v.share_pct for v in spec.variants) != 100:
        raise LoaError(BAD_SHARES, total=sum(v.share_pct for v in spec.variants))
    if not 0 <= spec.holdout_pct <= MAX_HOLDOUT_PCT:
        raise LoaError(BAD_HOLDOUT, max=MAX_HOLDOUT_PCT, value=spec.holdout_pct)
    if spec.budget_vnd is not None and spec.budget_vnd <= 0:
        raise LoaError(BAD_BUDGET, value=spec.budget_vnd)
    if spec.max_tps is not None and spec.max_tps <= 0:
        raise LoaError(BAD_TPS, value=spec.max_tps)
    s = spec.schedule
    for instant in (s.at, s.until):
        if instant is not None and instant.tzinfo is None:
            raise LoaError(NAIVE_TIME, value=instant.isoformat())
    if s.preset:
        preset(s.preset)
    for w in s.windows:
        Window.parse(w)


def create_campaign(
    conn: Connection,
    *,
    workspace_id: int,
    spec: CampaignSpec,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Store a new draft campaign and return its id; every field is checked first."""
    _validate(conn, workspace_id, spec)
    taken = conn.execute(
        select(campaigns.c.id).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.name == spec.name
        )
    ).first()
    if taken is not None:
        raise LoaError(NAME_TAKEN, name=spec.name)
    when = now or datetime.now(UTC)
    variants = [{"name": v.name, "text": v.text, "share_pct": v.share_pct} for v in spec.variants]
    if not variants and spec.template:
        # A customer-care campaign sends its approved template's words, nothing else.
        from loa.services.compliance.templates import find_template

        found = find_template(conn, workspace_id, spec.template)
        variants = [{"name": "A", "text": found.text, "share_pct": 100}]
    new_id = conn.execute(
        insert(campaigns)
        .values(
            workspace_id=workspace_id,
            name=spec.name,
            goal=spec.goal,
            **{"class": spec.cls},
            sender=spec.sender,
            audience={"include": list(spec.include), "exclude": list(spec.exclude)},
            variants=variants,
            template=spec.template,
            holdout_pct=spec.holdout_pct,
            schedule=spec.schedule.to_json(),
            budget_vnd=spec.budget_vnd,
            max_tps=spec.max_tps,
            attribution_days=spec.attribution_days,
            allow_defer=spec.allow_defer,
            short_domain=spec.short_domain,
            # 53 bits: exact in a JSON number and in both databases' bigint.
            seed=spec.seed if spec.seed is not None else secrets.randbits(53),
            state="draft",
            created_by=actor,
            created_at=when,
            updated_at=when,
        )
        .returning(campaigns.c.id)
    ).scalar_one()
    conn.execute(
        insert(campaign_changes).values(
            campaign_id=new_id, at=when, actor=actor, from_state=None, to_state="draft"
        )
    )
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="campaign.create",
        target=f"campaign:{new_id}",
        details={"name": spec.name, "class": spec.cls, "sender": spec.sender},
        now=when,
    )
    return int(new_id)


def _from_row(row: Any) -> Campaign:
    return Campaign(
        id=int(row.id),
        name=row.name,
        cls=row._mapping["class"],
        channel=row.channel,
        sender=row.sender,
        include=tuple(row.audience.get("include", ())),
        exclude=tuple(row.audience.get("exclude", ())),
        variants=tuple(Variant(v["name"], v["text"], int(v["share_pct"])) for v in row.variants),
        template=row.template,
        holdout_pct=int(row.holdout_pct),
        schedule=Schedule.from_json(row.schedule),
        budget_vnd=row.budget_vnd,
        max_tps=row.max_tps,
        attribution_days=int(row.attribution_days),
        allow_defer=bool(row.allow_defer),
        short_domain=row.short_domain,
        goal=row.goal,
        seed=int(row.seed),
        state=row.state,
        plan_summary=row.plan_summary,
        created_by=row.created_by,
        created_at=row.created_at,
        planned_at=row.planned_at,
    )


def get_campaign(conn: Connection, *, workspace_id: int, campaign_id: int) -> Campaign:
    """A campaign of this workspace, or a clear error."""
    row = conn.execute(
        select(campaigns).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id
        )
    ).first()
    if row is None:
        raise LoaError(UNKNOWN_CAMPAIGN, id=campaign_id)
    return _from_row(row)


def list_campaigns(conn: Connection, *, workspace_id: int) -> list[Campaign]:
    """The workspace's campaigns, newest first."""
    rows = conn.execute(
        select(campaigns)
        .where(campaigns.c.workspace_id == workspace_id)
        .order_by(campaigns.c.id.desc())
    ).all()
    return [_from_row(r) for r in rows]


def history(conn: Connection, *, workspace_id: int, campaign_id: int) -> list[dict[str, Any]]:
    """Every state change of a campaign, oldest first."""
    get_campaign(conn, workspace_id=workspace_id, campaign_id=campaign_id)
    c = campaign_changes.c
    rows = conn.execute(
        select(c.at, c.actor, c.from_state, c.to_state, c.note)
        .where(c.campaign_id == campaign_id)
        .order_by(c.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def change_state(
    conn: Connection,
    *,
    workspace_id: int,
    campaign_id: int,
    to: str,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> Campaign:
    """Move a campaign to `to` if its state machine allows it, and record who and when.

    The update is conditional on the state read, so two people acting at once cannot both win.
    """
    campaign = get_campaign(conn, workspace_id=workspace_id, campaign_id=campaign_id)
    allowed = TRANSITIONS[campaign.state]
    if to not in allowed:
        raise LoaError(
            BAD_TRANSITION,
            id=campaign_id,
            state=campaign.state,
            to=to,
            allowed=", ".join(sorted(allowed)) or "—",
        )
    when = now or datetime.now(UTC)
    if to == "scheduled" and campaign.state == "planned":
        # Four eyes: no path (API, CLI, automation) starts a campaign that awaits approval.
        from loa.services.accounts.approvals import gate

        gate(conn, workspace_id=workspace_id, campaign_id=campaign_id, now=when)
    done = conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.state == campaign.state)
        .values(state=to, updated_at=when)
    ).rowcount
    if done != 1:  # somebody else changed it in between: report against the fresh state
        return change_state(
            conn,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            to=to,
            actor=actor,
            note=note,
            settings=settings,
        )
    conn.execute(
        insert(campaign_changes).values(
            campaign_id=campaign_id,
            at=when,
            actor=actor,
            from_state=campaign.state,
            to_state=to,
            note=note,
        )
    )
    if to == "cancelled":
        # Nothing not yet handed to a carrier may leave after a cancel.
        conn.execute(
            update(outbox)
            .where(
                outbox.c.workspace_id == workspace_id,
                outbox.c.campaign_id == campaign_id,
                outbox.c.status.in_(("planned", "queued")),
            )
            .values(status="cancelled", done_at=when, updated_at=when)
        )
    if to == "scheduled":
        conn.execute(
            update(outbox)
            .where(
                outbox.c.workspace_id == workspace_id,
                outbox.c.campaign_id == campaign_id,
                outbox.c.status == "planned",
                outbox.c.decision.in_(("send", "defer")),
            )
            .values(status="queued", updated_at=when)
        )
        if settings is not None:
            # The copy of every advertisement the authority asks for (5656), when the
            # workspace is set to send it; queued with the campaign, once.
            from loa.services.compliance.authority import authority_copies

            authority_copies(
                conn,
                workspace_id=workspace_id,
                campaign_id=campaign_id,
                settings=settings,
                now=when,
            )
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action=f"campaign.{to}",
        target=f"campaign:{campaign_id}",
        details={"from": campaign.state, "note": note} if note else {"from": campaign.state},
        now=when,
    )
    return get_campaign(conn, workspace_id=workspace_id, campaign_id=campaign_id)
