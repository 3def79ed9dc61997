"""The copy of each advertising SMS that Decree 91 (Art 5.2) asks the advertiser to send to
the authority's number 5656 at the same time. Off by default (`copy_qc_to_5656`); when a QC
campaign is scheduled, `authority_copies` queues one copy of each of its messages (one per
variant: the recipients get the same advertisement), to leave with the first of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, insert, select

from loa.config import Settings
from loa.domain.compliance.content import pack_extras
from loa.services.compliance.brandnames import workspace_pack
from loa.store.tables import campaigns, outbox

AUTHORITY_NUMBER: Final = "5656"
COPY_CLASS: Final = "authority"
SENDABLE: Final = ("send", "defer")
WAITING: Final = ("planned", "queued")  # not yet handed to a carrier


def _existing(conn: Connection, workspace_id: int, key: str) -> int | None:
    found = conn.execute(
        select(outbox.c.id).where(
            outbox.c.workspace_id == workspace_id, outbox.c.idempotency_key == key
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _queue_copy(
    conn: Connection, original: Any, *, key: str, number: str, status: str, now: datetime
) -> int:
    return int(
        conn.execute(
            insert(outbox)
            .values(
                workspace_id=original.workspace_id,
                idempotency_key=key,
                campaign_id=original.campaign_id,
                phone=number,
                channel="sms",
                sender=original.sender,
                variant=original.variant,
                text=original.text,
                encoding=original.encoding,
                parts=original.parts,
                decision="send",
                reasons=[],
                scheduled_at=original.scheduled_at,
                status=status,
                created_at=now,
                updated_at=now,
                **{"class": COPY_CLASS},
            )
            .returning(outbox.c.id)
        ).scalar_one()
    )


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
    found = _existing(conn, workspace_id, key)
    if found is not None:
        return found
    return _queue_copy(
        conn,
        original,
        key=key,
        number=AUTHORITY_NUMBER,
        status="queued",
        now=now or datetime.now(UTC),
    )


def authority_copies(
    conn: Connection,
    *,
    workspace_id: int,
    campaign_id: int,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Queue the authority's copy of a QC campaign's SMS, once per variant; returns how many
    copies this call queued (0 when they exist already, the setting is off, the campaign is
    not QC by SMS, its pack names no authority number, or nothing of it is to be sent).

    Call it in the transaction that schedules the campaign. The copy is keyed by campaign and
    variant, so scheduling again, or a resumed run, never queues a second one; it carries the
    first recipient's text as it will leave, at the time the first message is due."""
    if not settings.copy_qc_to_5656:
        return 0
    campaign = conn.execute(
        select(campaigns.c["class"], campaigns.c.channel).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id
        )
    ).first()
    if campaign is None or campaign._mapping["class"] != "qc" or campaign.channel != "sms":
        return 0
    number = pack_extras(workspace_pack(conn, workspace_id).code).get("authority_number")
    if not number:
        return 0
    sendable = (
        outbox.c.workspace_id == workspace_id,
        outbox.c.campaign_id == campaign_id,
        outbox.c["class"] == "qc",
        outbox.c.channel == "sms",
        outbox.c.decision.in_(SENDABLE),
        outbox.c.status.in_(WAITING),
    )
    variants = conn.execute(select(outbox.c.variant).where(*sendable).distinct()).scalars().all()
    queued = 0
    now = now or datetime.now(UTC)
    for variant in sorted(variants, key=lambda v: v or ""):
        key = f"copy5656:c{campaign_id}:{variant or '-'}"
        if _existing(conn, workspace_id, key) is not None:
            continue
        same = outbox.c.variant.is_(None) if variant is None else outbox.c.variant == variant
        first = conn.execute(
            select(outbox)
            .where(*sendable, same)
            .order_by(outbox.c.scheduled_at, outbox.c.id)
            .limit(1)
        ).first()
        if first is None:
            continue
        # Same status as the messages it copies: a re-plan replaces a planned copy with them.
        _queue_copy(conn, first, key=key, number=str(number), status=first.status, now=now)
        queued += 1
    return queued
