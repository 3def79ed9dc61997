"""Prices per SMS part by carrier and class: the shipped defaults (`loa/data/carriers.toml`)
overridden by the workspace's own rows in `prices`, so a price list is edited, not coded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from loa.domain.compose import CLASSES, load_carriers
from loa.i18n import LoaError, Msg
from loa.store.tables import prices

UNKNOWN_CARRIER = Msg(
    "prices.unknown_carrier",
    "Không có nhà mạng '{carrier}'. Có: {known}.",
    "There is no carrier '{carrier}'. Known: {known}.",
)
BAD_CLASS = Msg(
    "prices.bad_class",
    "Loại tin '{cls}' không hợp lệ; dùng: {known}.",
    "Message class '{cls}' is not valid; use: {known}.",
)
BAD_PRICE = Msg(
    "prices.bad_price",
    "Giá mỗi tin phải là số đồng không âm (đang là {price}).",
    "The price per part must be a non-negative number of đồng (it is {price}).",
)


@dataclass(frozen=True, slots=True)
class Price:
    """One carrier's price per part for one class, and whether the workspace set it."""

    carrier: str
    cls: str
    price_vnd: int
    custom: bool


def list_prices(conn: Connection, *, workspace_id: int) -> list[Price]:
    """Every carrier × class price in effect for the workspace."""
    custom = {
        (row.carrier, row._mapping["class"]): int(row.price_vnd)
        for row in conn.execute(select(prices).where(prices.c.workspace_id == workspace_id))
    }
    out = []
    for key, carrier in load_carriers().items():
        for cls in CLASSES:
            own = custom.get((key, cls))
            out.append(
                Price(
                    carrier.name,
                    cls,
                    own if own is not None else carrier.price_per_part_vnd(cls),
                    own is not None,
                )
            )
    return out


def price_table(conn: Connection, *, workspace_id: int) -> dict[tuple[str, str], int]:
    """(carrier name as contacts carry it, class) → price per part in VND."""
    return {(p.carrier, p.cls): p.price_vnd for p in list_prices(conn, workspace_id=workspace_id)}


def set_price(
    conn: Connection, *, workspace_id: int, carrier: str, cls: str, price_vnd: int
) -> Price:
    """Set the workspace's price per part for a carrier and class."""
    carriers = load_carriers()
    key = carrier.strip().lower()
    if key not in carriers:
        known = ", ".join(c.name for c in carriers.values())
        raise LoaError(UNKNOWN_CARRIER, carrier=carrier, known=known)
    if cls not in CLASSES:
        raise LoaError(BAD_CLASS, cls=cls, known=", ".join(CLASSES))
    if price_vnd < 0:
        raise LoaError(BAD_PRICE, price=price_vnd)
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(prices).values(
        workspace_id=workspace_id,
        carrier=key,
        **{"class": cls},
        price_vnd=price_vnd,
        updated_at=datetime.now(UTC),
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["workspace_id", "carrier", "class"],
            set_={"price_vnd": price_vnd, "updated_at": statement.excluded.updated_at},
        )
    )
    return Price(carriers[key].name, cls, price_vnd, True)
