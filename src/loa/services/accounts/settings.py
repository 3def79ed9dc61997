"""Per-workspace security and approval settings (defaults when none were saved)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, insert, select, update

from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.store.tables import workspace_settings

BAD_SETTING = Msg(
    "accounts.bad_setting",
    "Cài đặt '{field}' không hợp lệ: {value!r}. {hint}",
    "The setting '{field}' is not valid: {value!r}. {hint}",
)


@dataclass(frozen=True, slots=True)
class WorkspaceSettings:
    """What a workspace asks of its people and its campaigns."""

    require_totp: bool = False  # owners and admins must use a second factor
    lockout_after: int = 5  # failed sign-ins in a row before the account locks
    lockout_minutes: int = 15
    session_hours: int = 12
    approvals: bool = False  # four eyes on risky campaigns
    approval_min_recipients: int = 10_000
    approval_new_domain: bool = True
    usual_hours_start: int = 8  # local hour, inclusive
    usual_hours_end: int = 21  # local hour, exclusive
    timezone: str = "Asia/Ho_Chi_Minh"
    # Hours at least between two advertising messages to one person, across campaigns and
    # automations, on top of the legal cap (0: only the cap).
    min_gap_hours: int = 0


HINTS: dict[str, str] = {
    "lockout_after": "1..100",
    "lockout_minutes": "1..10080",
    "session_hours": "1..720",
    "approval_min_recipients": ">= 0",
    "usual_hours_start": "0..23",
    "usual_hours_end": "1..24",
    "min_gap_hours": "0..720 (0 = off)",
}
# What each setting does, for the CLI's settings table (`loa workspaces settings`).
DESCRIPTIONS: dict[str, Msg] = {
    name: Msg(f"accounts.setting.{name}", vi, en)
    for name, vi, en in (
        ("require_totp",
         "Chủ sở hữu và quản trị viên phải dùng xác thực hai lớp (TOTP)",
         "Owners and admins must use a second factor (TOTP)"),
        ("lockout_after",
         "Số lần đăng nhập sai liên tiếp trước khi khoá tài khoản",
         "Failed sign-ins in a row before the account locks"),
        ("lockout_minutes",
         "Số phút tài khoản bị khoá sau khi đăng nhập sai quá nhiều lần",
         "Minutes an account stays locked after too many failed sign-ins"),
        ("session_hours",
         "Số giờ một phiên đăng nhập còn hiệu lực",
         "Hours a sign-in session lasts"),
        ("approvals",
         "Chiến dịch rủi ro (nhiều người nhận, tên miền mới, ngoài giờ thường lệ) cần người "
         "thứ hai duyệt",
         "Risky campaigns (many recipients, a new link domain, outside usual hours) need a "
         "second person's approval"),
        ("approval_min_recipients",
         "Cần duyệt khi chiến dịch có nhiều hơn chừng này người nhận",
         "Approval is needed above this many recipients"),
        ("approval_new_domain",
         "Cần duyệt khi tin có liên kết tới tên miền chưa từng gửi",
         "Approval is needed when a message links to a domain never sent before"),
        ("usual_hours_start",
         "Giờ bắt đầu gửi thường lệ (giờ địa phương, tính cả giờ này); ngoài giờ cần duyệt",
         "Start of the usual sending hours (local, inclusive); outside them needs approval"),
        ("usual_hours_end",
         "Giờ kết thúc gửi thường lệ (giờ địa phương, không tính giờ này)",
         "End of the usual sending hours (local, exclusive)"),
        ("timezone",
         "Múi giờ của giờ gửi thường lệ",
         "Time zone of the usual sending hours"),
        ("min_gap_hours",
         "Khoảng cách tối thiểu (giờ) giữa hai tin quảng cáo tới một người, cộng thêm giới "
         "hạn luật định; 0 = tắt",
         "Minimum hours between two advertising messages to one person, on top of the legal "
         "cap; 0 = off"),
    )
}  # fmt: skip
_RANGES: dict[str, tuple[int, int]] = {
    "lockout_after": (1, 100),
    "lockout_minutes": (1, 10080),
    "session_hours": (1, 720),
    "approval_min_recipients": (0, 10**12),
    "usual_hours_start": (0, 23),
    "usual_hours_end": (1, 24),
    "min_gap_hours": (0, 720),
}


def get_settings(conn: Connection, workspace_id: int) -> WorkspaceSettings:
    """The workspace's settings; unknown stored keys are ignored, missing ones default."""
    raw = conn.execute(
        select(workspace_settings.c.settings).where(
            workspace_settings.c.workspace_id == workspace_id
        )
    ).scalar()
    known = {f.name for f in fields(WorkspaceSettings)}
    return WorkspaceSettings(**{k: v for k, v in (raw or {}).items() if k in known})


def _is_zone(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        return False
    return True


def _validated(current: WorkspaceSettings, changes: dict[str, Any]) -> WorkspaceSettings:
    types = {f.name: f.type for f in fields(WorkspaceSettings)}
    for name, value in changes.items():
        if name not in types:
            raise LoaError(BAD_SETTING, field=name, value=value, hint=", ".join(sorted(types)))
        kind = types[name]
        if kind == "bool" and not isinstance(value, bool):
            raise LoaError(BAD_SETTING, field=name, value=value, hint="true / false")
        if kind == "int":
            low, high = _RANGES[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise LoaError(BAD_SETTING, field=name, value=value, hint=HINTS[name])
        if kind == "str" and not _is_zone(value):
            # The only text setting is the zone approvals read the usual hours in: a typo is
            # refused now rather than failing when a campaign asks for approval.
            raise LoaError(BAD_SETTING, field=name, value=value, hint="Asia/Ho_Chi_Minh")
    result = replace(current, **changes)
    if result.usual_hours_start >= result.usual_hours_end:
        raise LoaError(
            BAD_SETTING,
            field="usual_hours_end",
            value=result.usual_hours_end,
            hint=f"> usual_hours_start ({result.usual_hours_start})",
        )
    return result


def update_settings(
    conn: Connection,
    workspace_id: int,
    changes: dict[str, Any],
    *,
    actor: str,
    ip: str | None = None,
    now: datetime | None = None,
) -> WorkspaceSettings:
    """Change some settings, audited with the old and new values."""
    when = now or datetime.now(UTC)
    current = get_settings(conn, workspace_id)
    result = _validated(current, changes)
    stored = conn.execute(
        select(workspace_settings.c.workspace_id).where(
            workspace_settings.c.workspace_id == workspace_id
        )
    ).first()
    values = {"settings": asdict(result), "updated_at": when}
    if stored:
        conn.execute(
            update(workspace_settings)
            .where(workspace_settings.c.workspace_id == workspace_id)
            .values(**values)
        )
    else:
        conn.execute(insert(workspace_settings).values(workspace_id=workspace_id, **values))
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="settings.change",
        target="workspace",
        details={
            "changes": {k: {"from": getattr(current, k), "to": v} for k, v in changes.items()},
            "ip": ip,
        },
        now=when,
    )
    return result
