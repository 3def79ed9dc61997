"""Routes: where messages leave, per workspace, carrier and channel, with failover."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, delete, insert, select, update

from loa.channels.base import Channel
from loa.i18n import LoaError, Msg
from loa.store.tables import routes

KINDS: Final[dict[str, str]] = {
    "smpp": "sms",
    "http-sms": "sms",
    "smtp": "email",
    "fcm": "push",
    "webpush": "push",
}
_SECRET_WORDS: Final = ("password", "secret", "token", "private", "service_account")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

BAD_KIND = Msg(
    "routes.bad_kind",
    "Loại tuyến '{kind}' không có; dùng một trong: {known}.",
    "There is no route kind '{kind}'; use one of: {known}.",
)
BAD_NAME = Msg(
    "routes.bad_name",
    "Tên tuyến '{name}' không hợp lệ: chữ thường, số, '-' hoặc '_', tối đa 64 ký tự.",
    "Route name '{name}' is not valid: lowercase letters, digits, '-' or '_', at most 64.",
)
NAME_TAKEN = Msg(
    "routes.name_taken",
    "Đã có tuyến tên '{name}'; xoá nó trước (loa routes remove {name}) hoặc chọn tên khác.",
    "A route named '{name}' already exists; remove it first (loa routes remove {name}) or "
    "choose another name.",
)
UNKNOWN_ROUTE = Msg(
    "routes.unknown",
    "Không có tuyến '{name}' (xem: loa routes list).",
    "There is no route '{name}' (see: loa routes list).",
)
BAD_NUMBER = Msg(
    "routes.bad_number",
    "{field} phải là số nguyên dương, không phải {value}.",
    "{field} must be a positive whole number, not {value}.",
)
UNKNOWN_CARRIER = Msg(
    "routes.unknown_carrier",
    "Không biết nhà mạng '{carrier}'; dùng: {known}.",
    "Unknown carrier '{carrier}'; use: {known}.",
)


@dataclass(frozen=True, slots=True)
class Route:
    id: int
    workspace_id: int
    name: str
    kind: str
    channel: str
    settings: Mapping[str, Any]
    carriers: tuple[str, ...] | None
    tps: int | None
    window: int
    priority: int
    failover: str | None
    enabled: bool
    down_until: datetime | None

    def serves(self, channel: str, carrier: str | None) -> bool:
        if self.channel != channel or not self.enabled:
            return False
        return self.carriers is None or (carrier is not None and carrier.lower() in self.carriers)

    def to_dict(self, *, secrets: bool = False) -> dict[str, Any]:
        settings = dict(self.settings)
        if not secrets:
            for key in list(settings):
                if any(word in key for word in _SECRET_WORDS):
                    settings[key] = "***"
        return {
            "name": self.name,
            "kind": self.kind,
            "channel": self.channel,
            "carriers": list(self.carriers) if self.carriers is not None else None,
            "tps": self.tps,
            "window": self.window,
            "priority": self.priority,
            "failover": self.failover,
            "enabled": self.enabled,
            "settings": settings,
        }


def _route(row: Any) -> Route:
    carriers = row.carriers
    return Route(
        id=int(row.id),
        workspace_id=int(row.workspace_id),
        name=row.name,
        kind=row.kind,
        channel=row.channel,
        settings=dict(row.settings or {}),
        carriers=tuple(c.lower() for c in carriers) if carriers is not None else None,
        tps=row.tps,
        window=int(row.window_size),
        priority=int(row.priority),
        failover=row.failover,
        enabled=bool(row.enabled),
        down_until=row.down_until,
    )


def add_route(
    conn: Connection,
    *,
    workspace_id: int,
    name: str,
    kind: str,
    settings: Mapping[str, Any],
    carriers: Sequence[str] | None = None,
    tps: int | None = None,
    window: int = 50,
    priority: int = 0,
    failover: str | None = None,
    known_carriers: Sequence[str] = (),
) -> Route:
    """Add a route; its settings are checked by building its channel first."""
    if kind not in KINDS:
        raise LoaError(BAD_KIND, kind=kind, known=", ".join(KINDS))
    if not _NAME.match(name):
        raise LoaError(BAD_NAME, name=name)
    for field, value in (("--tps", tps), ("--window", window)):
        if value is not None and value < 1:
            raise LoaError(BAD_NUMBER, field=field, value=value)
    if carriers is not None:
        carriers = [c.lower() for c in carriers]
    if carriers is not None and known_carriers:
        for carrier in carriers:
            if carrier not in known_carriers:
                raise LoaError(UNKNOWN_CARRIER, carrier=carrier, known=", ".join(known_carriers))
    taken = conn.execute(
        select(routes.c.id).where(routes.c.workspace_id == workspace_id, routes.c.name == name)
    ).first()
    if taken is not None:
        raise LoaError(NAME_TAKEN, name=name)
    if failover is not None:
        get_route(conn, workspace_id=workspace_id, name=failover)
    build_channel(kind, dict(settings), window=window, tps=tps)  # refuses bad settings now
    conn.execute(
        insert(routes).values(
            workspace_id=workspace_id,
            name=name,
            kind=kind,
            channel=KINDS[kind],
            settings=dict(settings),
            carriers=list(carriers) if carriers is not None else None,
            tps=tps,
            window_size=window,
            priority=priority,
            failover=failover,
        )
    )
    return get_route(conn, workspace_id=workspace_id, name=name)


def get_route(conn: Connection, *, workspace_id: int, name: str) -> Route:
    row = conn.execute(
        select(routes).where(routes.c.workspace_id == workspace_id, routes.c.name == name)
    ).first()
    if row is None:
        raise LoaError(UNKNOWN_ROUTE, name=name)
    return _route(row)


def list_routes(conn: Connection, *, workspace_id: int | None = None) -> list[Route]:
    query = select(routes).order_by(routes.c.workspace_id, routes.c.priority.desc(), routes.c.name)
    if workspace_id is not None:
        query = query.where(routes.c.workspace_id == workspace_id)
    return [_route(row) for row in conn.execute(query)]


def remove_route(conn: Connection, *, workspace_id: int, name: str) -> None:
    get_route(conn, workspace_id=workspace_id, name=name)
    conn.execute(delete(routes).where(routes.c.workspace_id == workspace_id, routes.c.name == name))


def mark_down(conn: Connection, route_id: int, until: datetime | None) -> None:
    conn.execute(update(routes).where(routes.c.id == route_id).values(down_until=until))


def choose(
    candidates: Sequence[Route], channel: str, carrier: str | None, now: datetime
) -> Route | None:
    """The route a message takes: the highest-priority route serving its channel and carrier
    that is up; when it is down, its failover route, else the next one that serves."""
    serving = sorted(
        (r for r in candidates if r.serves(channel, carrier)), key=lambda r: -r.priority
    )
    by_name = {r.name: r for r in candidates}
    for route in serving:
        if route.down_until is None or route.down_until <= now:
            return route
        spare = by_name.get(route.failover) if route.failover else None
        if (
            spare is not None
            and spare.enabled
            and (spare.down_until is None or spare.down_until <= now)
        ):
            return spare
    return None


def build_channel(kind: str, settings: dict[str, Any], *, window: int, tps: int | None) -> Channel:
    """The channel object for a route (not yet connected)."""
    if kind == "smpp":
        from loa.channels.smpp.client import SmppChannel

        return SmppChannel(**settings, window=window, tps=tps)
    if kind == "http-sms":
        from loa.channels.http_sms import HttpSmsChannel

        return HttpSmsChannel.from_settings({**settings, "window": window})
    if kind == "smtp":
        from loa.channels.smtp import SmtpChannel

        return SmtpChannel.from_settings(settings)
    if kind == "fcm":
        from loa.channels.push import FcmChannel

        return FcmChannel.from_settings(settings)
    if kind == "webpush":
        from loa.channels.push import WebPushChannel

        return WebPushChannel.from_settings(settings)
    raise LoaError(BAD_KIND, kind=kind, known=", ".join(KINDS))
