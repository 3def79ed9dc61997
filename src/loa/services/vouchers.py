"""Vouchers: issue single-use codes to a batch, redeem each at most once, list and count them.

Redemption is one `UPDATE ... WHERE code = :c AND redeemed_at IS NULL AND not expired`: the
database lets exactly one of two concurrent redemptions change the row, so a coupon cannot be
spent twice even when two tills scan it in the same second. Only when that update changes
nothing does Loa read the row, to tell the user why (unknown, already used, expired).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY

from loa.domain.vouchers import check_prefix, new_code, new_codes, normalize_code
from loa.i18n import LoaError, Msg
from loa.services.audit import record
from loa.services.segments import segment_members
from loa.store.bulk import copy_rows
from loa.store.tables import contacts, vouchers

VN: Final = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_COUNT: Final = 1_000_000
BATCH_MAX_CHARS: Final = 100
VALUE_MAX_CHARS: Final = 100
BY_MAX_CHARS: Final = 200
_LOOKUP_CHUNK: Final = 1_000
_COLLISION_ROUNDS: Final = 5
_COPY_MIN_ROWS: Final = 1_000
_COPY_SCHEMA: Final = pl.Schema(
    {
        "workspace_id": pl.Int64(),
        "code": pl.String(),
        "batch": pl.String(),
        "campaign_id": pl.Int64(),
        "contact_id": pl.Int64(),
        "value": pl.String(),
        "issued_at": pl.Datetime("us", "UTC"),
        "expires_at": pl.Datetime("us", "UTC"),
    }
)

# --- messages -------------------------------------------------------------------------------

BAD_BATCH = Msg(
    "vouchers.bad_batch",
    "Tên đợt phát hành cần 1–{max} ký tự, ví dụ 'tet-2026'.",
    "The batch name needs 1–{max} characters, e.g. 'tet-2026'.",
)
BAD_VALUE = Msg(
    "vouchers.bad_value",
    "Giá trị phiếu (--value) dài tối đa {max} ký tự, ví dụ '50.000đ' hoặc 'Giảm 10%'.",
    "The voucher value (--value) is at most {max} characters, e.g. '50.000đ' or '10% off'.",
)
BAD_COUNT = Msg(
    "vouchers.bad_count",
    "Số mã cần phát hành phải từ 1 đến {max}, đang là {count}.",
    "The number of codes to issue must be 1 to {max}; it is {count}.",
)
NO_TARGET = Msg(
    "vouchers.no_target",
    "Cần đúng một trong hai: --segment (mỗi khách một mã) hoặc --count (N mã chưa gán).",
    "Give exactly one of --segment (one code per contact) or --count (N unassigned codes).",
)
EXPIRY_PAST = Msg(
    "vouchers.expiry_past",
    "Hạn dùng đến {expires} đã qua: chọn một ngày từ hôm nay trở đi.",
    "The validity until {expires} has passed: choose today or a later day.",
)
BAD_BY = Msg(
    "vouchers.bad_by",
    "Người/nơi đổi mã (--by) cần 1–{max} ký tự, ví dụ 'cua-hang-q1'.",
    "Who redeems (--by) needs 1–{max} characters, e.g. 'store-d1'.",
)
UNKNOWN = Msg(
    "vouchers.unknown",
    "Không có mã '{code}' trong workspace này. Mã đúng định dạng nhưng chưa được phát hành ở "
    "đây: kiểm tra workspace (--workspace) hoặc hỏi bên phát hành.",
    "There is no code '{code}' in this workspace. It is well formed but was not issued here: "
    "check the workspace (--workspace) or ask who issued it.",
)
ALREADY_USED = Msg(
    "vouchers.already_used",
    "Mã '{code}' đã được dùng lúc {when} (giờ Việt Nam) bởi {by}. Mỗi mã chỉ dùng được một lần.",
    "The code '{code}' was already used at {when} (Vietnam time) by {by}. Each code can be used "
    "only once.",
)
EXPIRED = Msg(
    "vouchers.expired",
    "Mã '{code}' đã hết hạn: chỉ dùng được đến {when} (giờ Việt Nam).",
    "The code '{code}' has expired: it could be used until {when} (Vietnam time).",
)
UNKNOWN_BY = Msg("vouchers.unknown_by", "(không rõ)", "(unknown)")


def vn_time(moment: datetime) -> str:
    """'31/01/2026 23:59' in Vietnam time: how a till shows a moment."""
    return moment.astimezone(VN).strftime("%d/%m/%Y %H:%M")


def valid_until(expires_at: datetime) -> str:
    """The last minute a code can be used, as a till shows it: '01/02/2026 23:59'."""
    return vn_time(expires_at - timedelta(minutes=1))


def expiry_from_date(day: date) -> datetime:
    """A code valid through `day` (Vietnam time) expires at the start of the next day."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=VN).astimezone(UTC)


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueReport:
    """What `issue_vouchers` did."""

    batch: str
    issued: int
    already_held: int  # segment members who already had a code in this batch
    codes: list[str]


@dataclass(frozen=True, slots=True)
class Voucher:
    """One code as stored, with its holder's phone when it was issued to a contact."""

    code: str
    batch: str
    value: str | None
    contact_id: int | None
    phone: str | None
    issued_at: datetime
    expires_at: datetime | None
    redeemed_at: datetime | None
    redeemed_by: str | None


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """Counts for one batch as of a moment."""

    batch: str
    value: str | None
    issued: int
    redeemed: int
    expired: int
    expires_at: datetime | None


_VOUCHER_COLUMNS = (
    vouchers.c.code,
    vouchers.c.batch,
    vouchers.c.value,
    vouchers.c.contact_id,
    contacts.c.phone,
    vouchers.c.issued_at,
    vouchers.c.expires_at,
    vouchers.c.redeemed_at,
    vouchers.c.redeemed_by,
)


def _voucher(row: Any) -> Voucher:
    return Voucher(*row)


def _select_vouchers() -> Any:
    return select(*_VOUCHER_COLUMNS).select_from(
        vouchers.outerjoin(contacts, contacts.c.id == vouchers.c.contact_id)
    )


# --- issuing --------------------------------------------------------------------------------


def _taken(conn: Connection, workspace_id: int, codes: Sequence[str]) -> set[str]:
    if conn.dialect.name == "postgresql":
        # One array parameter: a thousand-item IN list per 1,000 codes costs ten times more.
        by_array = sql_text(
            "SELECT code FROM vouchers WHERE workspace_id = :ws AND code = ANY(:codes)"
        ).bindparams(bindparam("codes", type_=ARRAY(String)))
        return set(conn.execute(by_array, {"ws": workspace_id, "codes": list(codes)}).scalars())
    found: set[str] = set()
    for start in range(0, len(codes), _LOOKUP_CHUNK):
        chunk = codes[start : start + _LOOKUP_CHUNK]
        query = select(vouchers.c.code).where(
            vouchers.c.workspace_id == workspace_id, vouchers.c.code.in_(chunk)
        )
        found.update(conn.execute(query).scalars())
    return found


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_MIN_ROWS:
        # COPY: 100,000 codes in well under a second, where executemany takes seconds.
        frame = pl.DataFrame(rows, schema=_COPY_SCHEMA).with_columns(
            pl.col("issued_at", "expires_at").dt.replace_time_zone(None)
        )
        copy_rows(conn, "vouchers", frame)
    else:
        conn.execute(insert(vouchers), rows)


def _fresh_codes(conn: Connection, workspace_id: int, count: int, prefix: str | None) -> list[str]:
    """`count` codes no row of the workspace holds yet (a collision is rare: 54 bits each)."""
    codes = new_codes(count, prefix)
    for _ in range(_COLLISION_ROUNDS):
        taken = _taken(conn, workspace_id, codes)
        if not taken:
            return codes
        fresh = set(codes) - taken
        while len(fresh) < count:
            fresh.add(new_code(prefix))
        codes = list(fresh)
    raise AssertionError("no free voucher codes after repeated draws")  # 1 in 10^80


def issue_vouchers(
    conn: Connection,
    *,
    workspace_id: int,
    batch: str,
    segment: str | Mapping[str, Any] | None = None,
    count: int | None = None,
    value: str | None = None,
    expires_at: datetime | None = None,
    prefix: str | None = None,
    campaign_id: int | None = None,
    actor: str,
    now: datetime | None = None,
) -> IssueReport:
    """Issue one code per member of `segment`, or `count` unassigned codes, into `batch`.

    Issuing a batch to a segment again gives codes only to members who have none in it yet."""
    now = now or datetime.now(UTC)
    batch = batch.strip()
    if not 1 <= len(batch) <= BATCH_MAX_CHARS:
        raise LoaError(BAD_BATCH, max=BATCH_MAX_CHARS)
    if value is not None and len(value) > VALUE_MAX_CHARS:
        raise LoaError(BAD_VALUE, max=VALUE_MAX_CHARS)
    if (segment is None) == (count is None):
        raise LoaError(NO_TARGET)
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise LoaError(BAD_COUNT, max=f"{MAX_COUNT:,}".replace(",", "."), count=count)
    if expires_at is not None and expires_at <= now:
        raise LoaError(EXPIRY_PAST, expires=valid_until(expires_at))
    prefix = check_prefix(prefix) if prefix else None

    holders: list[int | None]
    already = 0
    if segment is not None:
        members = segment_members(conn, workspace_id=workspace_id, segment=segment, now=now)
        held = exists().where(
            vouchers.c.workspace_id == workspace_id,
            vouchers.c.batch == batch,
            vouchers.c.contact_id == contacts.c.id,
        )
        holders = list(
            conn.execute(
                select(contacts.c.id).where(members, ~held).order_by(contacts.c.id)
            ).scalars()
        )
        already = int(
            conn.execute(
                select(func.count()).select_from(contacts).where(members, held)
            ).scalar_one()
        )
    else:
        assert count is not None
        holders = [None] * count

    codes = _fresh_codes(conn, workspace_id, len(holders), prefix) if holders else []
    rows = [
        {
            "workspace_id": workspace_id,
            "code": code,
            "batch": batch,
            "campaign_id": campaign_id,
            "contact_id": contact_id,
            "value": value,
            "issued_at": now,
            "expires_at": expires_at,
        }
        for code, contact_id in zip(codes, holders, strict=True)
    ]
    if rows:
        _insert(conn, rows)
    record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="vouchers.issue",
        target=batch,
        details={
            "issued": len(rows),
            "already_held": already,
            "segment": segment if isinstance(segment, str) else None,
            "value": value,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
        now=now,
    )
    return IssueReport(batch=batch, issued=len(rows), already_held=already, codes=codes)


# --- redeeming ------------------------------------------------------------------------------


def find_voucher(conn: Connection, *, workspace_id: int, code: str) -> Voucher:
    """The stored voucher for a typed code; mistyped and unknown codes are told apart."""
    canonical = normalize_code(code)
    row = conn.execute(
        _select_vouchers().where(
            vouchers.c.workspace_id == workspace_id, vouchers.c.code == canonical
        )
    ).first()
    if row is None:
        raise LoaError(UNKNOWN, code=canonical)
    return _voucher(row)


def _refuse(
    conn: Connection, workspace_id: int, actor: str, typed: str, by: str, error: LoaError
) -> LoaError:
    record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="vouchers.redeem_refused",
        target=typed[:200],
        details={"reason": error.code, "by": by},
    )
    return error


def redeem_voucher(
    conn: Connection,
    *,
    workspace_id: int,
    code: str,
    by: str,
    actor: str,
    now: datetime | None = None,
) -> Voucher:
    """Mark a code used, or refuse it (mistyped, unknown, expired, already used).

    Refusals are audited too, on `conn`: commit before letting the LoaError end the unit of
    work if the refusal should be kept (repeated refusals are how guessing shows)."""
    now = now or datetime.now(UTC)
    by = by.strip()
    if not 1 <= len(by) <= BY_MAX_CHARS:
        raise LoaError(BAD_BY, max=BY_MAX_CHARS)
    try:
        canonical = normalize_code(code)
    except LoaError as exc:
        raise _refuse(conn, workspace_id, actor, code.strip(), by, exc) from None
    # The first statement of the transaction is the write: on SQLite it waits for the lock
    # (busy timeout) instead of failing on a stale snapshot, on PostgreSQL the loser re-checks
    # the WHERE after the winner commits.
    changed = conn.execute(
        update(vouchers)
        .where(
            vouchers.c.workspace_id == workspace_id,
            vouchers.c.code == canonical,
            vouchers.c.redeemed_at.is_(None),
            or_(vouchers.c.expires_at.is_(None), vouchers.c.expires_at > now),
        )
        .values(redeemed_at=now, redeemed_by=by)
        .returning(vouchers.c.id)
    ).first()
    if changed is None:
        row = conn.execute(
            _select_vouchers().where(
                vouchers.c.workspace_id == workspace_id, vouchers.c.code == canonical
            )
        ).first()
        if row is None:
            error = LoaError(UNKNOWN, code=canonical)
        else:
            found = _voucher(row)
            if found.redeemed_at is not None:
                error = LoaError(
                    ALREADY_USED,
                    code=canonical,
                    when=vn_time(found.redeemed_at),
                    by=found.redeemed_by or UNKNOWN_BY.render(),
                )
            else:
                assert found.expires_at is not None
                error = LoaError(EXPIRED, code=canonical, when=valid_until(found.expires_at))
        raise _refuse(conn, workspace_id, actor, canonical, by, error)
    voucher = _voucher(conn.execute(_select_vouchers().where(vouchers.c.id == changed[0])).one())
    record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="vouchers.redeem",
        target=canonical,
        details={"batch": voucher.batch, "by": by},
        now=now,
    )
    return voucher


# --- reading --------------------------------------------------------------------------------


def list_vouchers(
    conn: Connection, *, workspace_id: int, batch: str, limit: int | None = None
) -> list[Voucher]:
    """The codes of a batch, in the order they were issued."""
    query = (
        _select_vouchers()
        .where(vouchers.c.workspace_id == workspace_id, vouchers.c.batch == batch)
        .order_by(vouchers.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_voucher(row) for row in conn.execute(query)]


def batch_summaries(
    conn: Connection, *, workspace_id: int, now: datetime | None = None
) -> list[BatchSummary]:
    """Issued, redeemed and expired-unused counts per batch, newest batch first."""
    now = now or datetime.now(UTC)
    expired = and_(
        vouchers.c.redeemed_at.is_(None),
        vouchers.c.expires_at.is_not(None),
        vouchers.c.expires_at <= now,
    )
    query = (
        select(
            vouchers.c.batch,
            func.max(vouchers.c.value),
            func.count(),
            func.count(vouchers.c.redeemed_at),
            func.sum(case((expired, 1), else_=0)),
            func.max(vouchers.c.expires_at),
        )
        .where(vouchers.c.workspace_id == workspace_id)
        .group_by(vouchers.c.batch)
        .order_by(func.max(vouchers.c.id).desc())
    )
    return [
        BatchSummary(
            batch=row[0],
            value=row[1],
            issued=int(row[2]),
            redeemed=int(row[3]),
            expired=int(row[4] or 0),
            expires_at=_as_utc(row[5]),
        )
        for row in conn.execute(query)
    ]


def _as_utc(value: Any) -> datetime | None:
    # max() over a UtcDateTime column loses the type decorator on SQLite: it comes back raw.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
