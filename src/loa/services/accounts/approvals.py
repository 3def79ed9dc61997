"""Four eyes: risky campaigns wait for a second person's approval before they can start."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from loa.domain.links import find_links
from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.services.accounts.settings import WorkspaceSettings, get_settings
from loa.store.tables import approvals, campaigns, outbox

NEEDS_APPROVAL = Msg(
    "approvals.needed",
    "Chiến dịch #{id} cần người thứ hai duyệt trước khi gửi ({reasons}); nhờ chủ sở hữu hoặc "
    "quản trị viên duyệt trong bảng điều khiển hoặc qua POST /api/v1/campaigns/{id}/approve.",
    "Campaign #{id} needs a second person's approval before it is sent ({reasons}); ask an "
    "owner or admin to approve it in the dashboard or with POST /api/v1/campaigns/{id}/approve.",
)
SELF_APPROVAL = Msg(
    "approvals.self",
    "Người yêu cầu gửi không thể tự duyệt; cần một người khác có quyền duyệt.",
    "The person who asked to send cannot approve it; another person with approval rights must.",
)
NOTHING_PENDING = Msg(
    "approvals.nothing_pending",
    "Chiến dịch #{id} không có yêu cầu duyệt nào đang chờ.",
    "Campaign #{id} has no approval request waiting.",
)
REASONS = {
    "recipients": Msg(
        "approvals.reason.recipients",
        "{n} người nhận, trên ngưỡng {limit}",
        "{n} recipients, above the limit of {limit}",
    ),
    "new_domain": Msg(
        "approvals.reason.new_domain",
        "đường dẫn tới tên miền mới: {domains}",
        "links to a new domain: {domains}",
    ),
    "hours": Msg(
        "approvals.reason.hours",
        "gửi lúc {hour}h, ngoài giờ thường lệ {start}h–{end}h",
        "sent at {hour}:00, outside the usual hours {start}:00–{end}:00",
    ),
}


def _domains(texts: list[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        for link in find_links(text):
            url = link.url if "//" in link.url else f"https://{link.url}"
            host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
            if host:
                found.add(host)
    return found


def approval_reasons(
    conn: Connection,
    *,
    workspace_id: int,
    campaign_id: int,
    settings: WorkspaceSettings | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Why a campaign needs a second person's approval; empty when it does not."""
    settings = settings or get_settings(conn, workspace_id)
    if not settings.approvals:
        return []
    when = now or datetime.now(UTC)
    row = conn.execute(
        select(campaigns.c.variants, campaigns.c.schedule).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id
        )
    ).one()
    reasons: list[dict[str, Any]] = []
    recipients = conn.execute(
        select(func.count())
        .select_from(outbox)
        .where(
            outbox.c.workspace_id == workspace_id,
            outbox.c.campaign_id == campaign_id,
            outbox.c.decision.in_(("send", "defer")),
        )
    ).scalar_one()
    if recipients > settings.approval_min_recipients:
        reasons.append(
            {"code": "recipients", "n": int(recipients), "limit": settings.approval_min_recipients}
        )
    if settings.approval_new_domain:
        mine = _domains([v["text"] for v in row.variants])
        earlier = conn.execute(
            select(campaigns.c.variants).where(
                campaigns.c.workspace_id == workspace_id,
                campaigns.c.id != campaign_id,
                campaigns.c.state.in_(("scheduled", "running", "paused", "completed")),
            )
        ).scalars()
        known = _domains([v["text"] for variants in earlier for v in variants])
        new = sorted(mine - known)
        if new:
            reasons.append({"code": "new_domain", "domains": ", ".join(new)})
    at = when
    schedule = row.schedule or {}
    if schedule.get("mode") == "at" and schedule.get("at"):
        at = datetime.fromisoformat(schedule["at"])
    hour = at.astimezone(ZoneInfo(settings.timezone)).hour
    if not settings.usual_hours_start <= hour < settings.usual_hours_end:
        reasons.append(
            {
                "code": "hours",
                "hour": hour,
                "start": settings.usual_hours_start,
                "end": settings.usual_hours_end,
            }
        )
    return reasons


def describe(reasons: list[dict[str, Any]], lang: str | None = None) -> str:
    """The reasons in words, e.g. '12000 recipients, above the limit of 10000'."""
    return "; ".join(
        REASONS[r["code"]].render(
            "en" if lang == "en" else "vi" if lang == "vi" else None,
            **{k: v for k, v in r.items() if k != "code"},
        )
        for r in reasons
    )


def _planned_at(conn: Connection, campaign_id: int) -> datetime | None:
    return conn.execute(
        select(campaigns.c.planned_at).where(campaigns.c.id == campaign_id)
    ).scalar()


def _latest(conn: Connection, workspace_id: int, campaign_id: int) -> Any:
    return conn.execute(
        select(approvals)
        .where(approvals.c.workspace_id == workspace_id, approvals.c.campaign_id == campaign_id)
        .order_by(approvals.c.id.desc())
        .limit(1)
    ).first()


def is_approved(conn: Connection, *, workspace_id: int, campaign_id: int) -> bool:
    """True when a second person approved the campaign's current plan."""
    row = _latest(conn, workspace_id, campaign_id)
    return (
        row is not None
        and row.status == "approved"
        and row.planned_at == _planned_at(conn, campaign_id)
    )


def gate(
    conn: Connection, *, workspace_id: int, campaign_id: int, now: datetime | None = None
) -> None:
    """Raise unless the campaign may start: approved, or nothing about it needs approval."""
    reasons = approval_reasons(conn, workspace_id=workspace_id, campaign_id=campaign_id, now=now)
    if reasons and not is_approved(conn, workspace_id=workspace_id, campaign_id=campaign_id):
        raise LoaError(NEEDS_APPROVAL, id=campaign_id, reasons=describe(reasons))


def request_approval(
    conn: Connection,
    *,
    workspace_id: int,
    campaign_id: int,
    actor: str,
    reasons: list[dict[str, Any]],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Ask for approval of the campaign's current plan (once: a second ask returns the first)."""
    when = now or datetime.now(UTC)
    planned_at = _planned_at(conn, campaign_id)
    row = _latest(conn, workspace_id, campaign_id)
    if row is None or row.planned_at != planned_at or row.status == "rejected":
        conn.execute(
            insert(approvals).values(
                workspace_id=workspace_id,
                campaign_id=campaign_id,
                reasons=reasons,
                planned_at=planned_at,
                requested_by=actor,
                requested_at=when,
                status="pending",
            )
        )
        audit.record(
            conn,
            workspace_id=workspace_id,
            actor=actor,
            action="approval.request",
            target=f"campaign:{campaign_id}",
            details={"reasons": reasons},
            now=when,
        )
        row = _latest(conn, workspace_id, campaign_id)
    return dict(row._mapping)


def decide(
    conn: Connection,
    *,
    workspace_id: int,
    campaign_id: int,
    actor: str,
    approve: bool,
    note: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Approve or reject the waiting request; the requester cannot decide their own."""
    when = now or datetime.now(UTC)
    row = _latest(conn, workspace_id, campaign_id)
    if row is None or row.status != "pending":
        raise LoaError(NOTHING_PENDING, id=campaign_id)
    if row.requested_by == actor:
        raise LoaError(SELF_APPROVAL)
    status = "approved" if approve else "rejected"
    conn.execute(
        update(approvals)
        .where(approvals.c.id == row.id, approvals.c.status == "pending")
        .values(status=status, decided_by=actor, decided_at=when, note=note)
    )
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action=f"approval.{status}",
        target=f"campaign:{campaign_id}",
        details={"requested_by": row.requested_by, "note": note, "ip": ip},
        now=when,
    )
    return dict(_latest(conn, workspace_id, campaign_id)._mapping)


def list_approvals(
    conn: Connection, *, workspace_id: int, status: str | None = None
) -> list[dict[str, Any]]:
    """Approval requests, newest first."""
    query = select(approvals).where(approvals.c.workspace_id == workspace_id)
    if status:
        query = query.where(approvals.c.status == status)
    return [dict(r._mapping) for r in conn.execute(query.order_by(approvals.c.id.desc()))]
