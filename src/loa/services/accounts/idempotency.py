"""Idempotency keys: the first answer to a POST is kept and replayed to every retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from loa.i18n import LoaError, Msg
from loa.store.tables import idempotency_keys

IN_PROGRESS = 0  # status_code while the first request is still being answered

KEY_REUSED = Msg(
    "idempotency.key_reused",
    "Idempotency-Key '{key}' đã dùng cho một yêu cầu khác; mỗi yêu cầu mới cần một khoá mới.",
    "The Idempotency-Key '{key}' was used for a different request; use a new key for each "
    "new request.",
)
STILL_RUNNING = Msg(
    "idempotency.in_progress",
    "Yêu cầu với Idempotency-Key '{key}' đang được xử lý; thử lại sau giây lát.",
    "The request with Idempotency-Key '{key}' is still being handled; retry in a moment.",
)
BAD_KEY = Msg(
    "idempotency.bad_key",
    "Idempotency-Key cần 1–200 ký tự.",
    "The Idempotency-Key needs 1–200 characters.",
)


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored first answer."""

    status_code: int
    body: str


def claim(engine: Engine, *, workspace_id: int, key: str, request_hash: str) -> Replay | None:
    """Claim `key` for this request (None: go ahead), or the stored answer to replay."""
    if not 1 <= len(key) <= 200:
        raise LoaError(BAD_KEY)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(idempotency_keys).values(
                    workspace_id=workspace_id,
                    key=key,
                    request_hash=request_hash,
                    status_code=IN_PROGRESS,
                    body="",
                    created_at=datetime.now(UTC),
                )
            )
        return None
    except IntegrityError:
        pass
    with engine.connect() as conn:
        row = conn.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.workspace_id == workspace_id, idempotency_keys.c.key == key
            )
        ).one()
    if row.request_hash != request_hash:
        raise LoaError(KEY_REUSED, key=key)
    if row.status_code == IN_PROGRESS:
        raise LoaError(STILL_RUNNING, key=key)
    return Replay(int(row.status_code), str(row.body))


def complete(engine: Engine, *, workspace_id: int, key: str, status_code: int, body: str) -> None:
    """Keep the answer for retries."""
    with engine.begin() as conn:
        conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.workspace_id == workspace_id, idempotency_keys.c.key == key)
            .values(status_code=status_code, body=body)
        )


def release(engine: Engine, *, workspace_id: int, key: str) -> None:
    """Forget a claim whose request failed unexpectedly, so a retry can run it."""
    with engine.begin() as conn:
        conn.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.workspace_id == workspace_id,
                idempotency_keys.c.key == key,
                idempotency_keys.c.status_code == IN_PROGRESS,
            )
        )
