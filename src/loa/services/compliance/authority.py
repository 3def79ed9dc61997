"""The copy of each advertising SMS that Decree 91 (Art 5.2) asks the advertiser to send to
the authority's number 5656 at the same time. Off by default; the planner calls
`copy_to_authority` for each QC outbox row when the workspace turns it on."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from loa.store.tables import outbox

AUTHORITY_NUMBER = "5656"
COPY_CLASS = "authority"


def copy_to_authority(
    conn: Connection, *, workspace_id: int, outbox_id: int, now: datetime | None = None
) -> int | None:
    """Queue the 5656 copy of QC outbox row `outbox_id`, once; None for a row that is not QC
    or not to be sent. Returns the copy's outbox id (the same id when asked again)."""
    original = conn.execute(
        select(outbox).where(outbox.c.workspace_id == workspace_id, outbox.c.id == outbox_id)
    ).first()
    if original is None or original._mapping["class"] != "qc" or original.decision != "send":
        return None
    key = f"copy5656:{original.id}"
    found = conn.execute(
        select(outbox.c.id).where(
            outbox.c.workspace_id == workspace_id, outbox.c.idempotency_key == key
        )
    ).scalar_one_or_none()
    if found is not None:
        return int(found)
    now = now or datetime.now(UTC)
    return int(
        conn.execute(
            insert(outbox)
            .values(
                workspace_id=workspace_id,
                idempotency_key=key,
                campaign_id=original.campaign_id,
                phone=AUTHORITY_NUMBER,
                channel="sms",
                sender=original.sender,
                text=original.text,
                encoding=original.encoding,
                parts=original.parts,
                decision="send",
                reasons=[],
                scheduled_at=original.scheduled_at,
                status="queued",
                created_at=now,
                updated_at=now,
                **{"class": COPY_CLASS},
            )
            .returning(outbox.c.id)
        ).scalar_one()
    )
