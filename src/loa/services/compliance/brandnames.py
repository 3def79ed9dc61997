"""Brandnames: the registered sender names of a workspace and the domains they may link to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import tldextract
from sqlalchemy import Connection, func, insert, select, update

from loa.domain.compliance.content import check_sender
from loa.domain.compliance.packs import Pack, load_pack
from loa.domain.privacy import mask_phone
from loa.domain.text import validate_brandname
from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.store.db import Store
from loa.store.tables import brandnames, workspaces

CARRIER_NAMES = ("Viettel", "MobiFone", "VinaPhone", "Vietnamobile", "Gmobile", "Itel", "Reddi")
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
_SCHEME = re.compile(r"^[a-z]+://", re.IGNORECASE)

EXISTS = Msg(
    "brandnames.exists",
    "Brandname '{name}' đã có. Thêm --replace để cập nhật.",
    "Brandname '{name}' already exists. Add --replace to update it.",
)
UNKNOWN = Msg(
    "brandnames.unknown",
    "Chưa đăng ký brandname '{name}'. Xem danh sách: loa brandnames list.",
    "There is no brandname '{name}'. See the list: loa brandnames list.",
)
BAD_DOMAIN = Msg(
    "brandnames.bad_domain",
    "'{domain}' không phải tên miền hợp lệ; ví dụ đúng: shop.vn, m.shop.vn.",
    "'{domain}' is not a valid domain; for example: shop.vn, m.shop.vn.",
)
BAD_CARRIER = Msg(
    "brandnames.bad_carrier",
    "Không biết nhà mạng '{carrier}'. Dùng: {known}.",
    "Unknown carrier '{carrier}'. Use: {known}.",
)
LOOKALIKE = Msg(
    "brandnames.lookalike",
    "Brandname '{name}' giả dạng {brand}; không thể thêm.",
    "Brandname '{name}' imitates {brand}; it cannot be added.",
)
BAD_DATES = Msg(
    "brandnames.bad_dates",
    "Ngày hết hạn {expires} phải sau ngày đăng ký {registered}.",
    "The expiry date {expires} must come after the registration date {registered}.",
)


@dataclass(frozen=True, slots=True)
class Brandname:
    """A registered sender name of the workspace."""

    name: str
    domains: tuple[str, ...]
    carriers: tuple[str, ...] | None
    registered_on: date | None
    expires_on: date | None
    optout_keyword: str | None
    optout_shortcode: str | None
    hotline: str | None

    def to_dict(self) -> dict[str, Any]:
        """As `--json` prints it."""
        return {
            "name": self.name,
            "domains": list(self.domains),
            "carriers": list(self.carriers) if self.carriers is not None else None,
            "registered_on": self.registered_on.isoformat() if self.registered_on else None,
            "expires_on": self.expires_on.isoformat() if self.expires_on else None,
            "optout_keyword": self.optout_keyword,
            "optout_shortcode": self.optout_shortcode,
            "hotline": self.hotline,
        }


def workspace_pack(conn: Connection, workspace_id: int) -> Pack:
    """The policy pack the workspace follows."""
    code = conn.execute(
        select(workspaces.c.policy_pack).where(workspaces.c.id == workspace_id)
    ).scalar_one()
    return load_pack(str(code))


def normalize_domain(value: str) -> str:
    """'https://Shop.vn/' -> 'shop.vn'; a clear error for anything that is not a domain."""
    host = _SCHEME.sub("", value.strip()).split("/", 1)[0].rstrip(".").lower()
    parts = _EXTRACT(host)
    if not host or not parts.suffix or not parts.domain or parts.ipv4 or " " in host:
        raise LoaError(BAD_DOMAIN, domain=value.strip())
    return host


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def parse_carriers(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """Carrier names as Loa spells them; None (all carriers) stays None."""
    if values is None:
        return None
    by_key = {c.lower(): c for c in CARRIER_NAMES}
    found = []
    for value in values:
        carrier = by_key.get(value.strip().lower())
        if carrier is None:
            raise LoaError(BAD_CARRIER, carrier=value.strip(), known=", ".join(CARRIER_NAMES))
        found.append(carrier)
    return tuple(dict.fromkeys(found))


def _row(row: Any) -> Brandname:
    return Brandname(
        name=row.name,
        domains=tuple(row.domains or ()),
        carriers=tuple(row.carriers) if row.carriers is not None else None,
        registered_on=row.registered_on,
        expires_on=row.expires_on,
        optout_keyword=row.optout_keyword,
        optout_shortcode=row.optout_shortcode,
        hotline=row.hotline,
    )


def find_brandname(conn: Connection, workspace_id: int, name: str) -> Brandname | None:
    """The brandname called `name` (not case-sensitive, as carriers treat it), or None."""
    row = conn.execute(
        select(brandnames).where(
            brandnames.c.workspace_id == workspace_id,
            func.lower(brandnames.c.name) == name.strip().lower(),
        )
    ).first()
    return _row(row) if row else None


def workspace_brandnames(conn: Connection, workspace_id: int) -> list[Brandname]:
    """Every brandname of the workspace, by name."""
    rows = conn.execute(
        select(brandnames)
        .where(brandnames.c.workspace_id == workspace_id)
        .order_by(brandnames.c.name)
    )
    return [_row(r) for r in rows]


def add_brandname(
    store: Store,
    name: str,
    *,
    domains: Sequence[str],
    carriers: Sequence[str] | None = None,
    registered_on: date | None = None,
    expires_on: date | None = None,
    optout_keyword: str | None = None,
    optout_shortcode: str | None = None,
    hotline: str | None = None,
    replace: bool = False,
    actor: str = "cli",
) -> Brandname:
    """Register (or with `replace`, update) a brandname with its verified link domains."""
    name = validate_brandname(name.strip())
    lookalike = check_sender(name)
    if lookalike:
        raise LoaError(LOOKALIKE, name=name, brand=lookalike[0].params["brand"])
    clean_domains = tuple(dict.fromkeys(normalize_domain(d) for d in domains if d.strip()))
    clean_carriers = parse_carriers(carriers)
    with store.engine.begin() as conn:
        if expires_on is None and registered_on is not None:
            years = workspace_pack(conn, store.workspace_id).brandname_validity_years
            if years:
                expires_on = _add_years(registered_on, years)
        if registered_on and expires_on and expires_on <= registered_on:
            raise LoaError(BAD_DATES, expires=expires_on, registered=registered_on)
        values = {
            "name": name,
            "domains": list(clean_domains),
            "carriers": list(clean_carriers) if clean_carriers is not None else None,
            "registered_on": registered_on,
            "expires_on": expires_on,
            "optout_keyword": optout_keyword.strip().upper() if optout_keyword else None,
            "optout_shortcode": optout_shortcode.strip() if optout_shortcode else None,
            "hotline": hotline.strip() if hotline else None,
        }
        existing = find_brandname(conn, store.workspace_id, name)
        if existing and not replace:
            raise LoaError(EXISTS, name=existing.name)
        if existing:
            conn.execute(
                update(brandnames)
                .where(
                    brandnames.c.workspace_id == store.workspace_id,
                    brandnames.c.name == existing.name,
                )
                .values(**values)
            )
        else:
            conn.execute(insert(brandnames).values(workspace_id=store.workspace_id, **values))
        audit.record(
            conn,
            workspace_id=store.workspace_id,
            actor=actor,
            action="brandname.replace" if existing else "brandname.add",
            target=name,
            details={
                "domains": list(clean_domains),
                "hotline": mask_phone(hotline.strip()) if hotline else None,
            },
            now=datetime.now(UTC),
        )
        added = find_brandname(conn, store.workspace_id, name)
    assert added is not None
    return added


def list_brandnames(store: Store) -> list[Brandname]:
    """Every brandname of the workspace, by name."""
    with store.engine.connect() as conn:
        return workspace_brandnames(conn, store.workspace_id)
