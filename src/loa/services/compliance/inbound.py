"""Inbound replies (SMPP deliver_sm, HTTP webhooks, `loa inbound`): record each, read its
keyword, and act at once.

An opt-out stops advertising from the moment it is handled and is confirmed exactly once, with
no advertising, stating when it was received and when sending stopped: the confirmation is an
outbox row whose idempotency key names the opt-out, so no retry or replay can write a second.
A repeated "TC" from a number already opted out changes nothing and is not confirmed again.
A provider's message id makes a redelivered reply a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, or_, select, update

from loa.domain.compliance.keywords import Intent, KeywordMatch, match_reply
from loa.domain.compliance.packs import Pack
from loa.domain.names import fold_accents
from loa.domain.phones import parse_phone
from loa.domain.privacy import mask_phone
from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.services.compliance.brandnames import (
    Brandname,
    workspace_brandnames,
    workspace_pack,
)
from loa.store.db import Store
from loa.store.tables import (
    channel_states,
    consents,
    contacts,
    inbound_messages,
    opt_outs,
    outbox,
    registration_requests,
    workspaces,
)

Source = Literal["sms", "webhook", "cli", "api"]
SOURCES: tuple[Source, ...] = ("sms", "webhook", "cli", "api")

BAD_PHONE = Msg(
    "inbound.bad_phone",
    "Số gửi đến '{phone}' không hợp lệ: {reason}",
    "The sender's number '{phone}' is not valid: {reason}",
)
NAIVE_TIME = Msg(
    "inbound.naive_time",
    "Thời điểm nhận phải có múi giờ (ví dụ 2025-06-15T10:00+07:00).",
    "The received time needs a time zone (e.g. 2025-06-15T10:00+07:00).",
)
BAD_SOURCE = Msg(
    "inbound.bad_source",
    "Nguồn '{source}' không hợp lệ; dùng: {known}.",
    "Unknown source '{source}'; use: {known}.",
)
# What happened, as `loa inbound` tells it.
DONE_OPT_OUT = Msg(
    "inbound.opted_out",
    "{phone} đã từ chối quảng cáo ({scope}) lúc {effective}; đã xếp 1 tin xác nhận.",
    "{phone} opted out of advertising ({scope}) at {effective}; 1 confirmation queued.",
)
DONE_ALREADY = Msg(
    "inbound.already",
    "{phone} đã từ chối từ trước ({scope}); không gửi xác nhận lần hai.",
    "{phone} had already opted out ({scope}); no second confirmation.",
)
DONE_OPT_IN = Msg(
    "inbound.opted_in",
    "{phone} đăng ký nhận lại quảng cáo; đã bỏ {count} yêu cầu từ chối.",
    "{phone} opted back in; {count} opt-outs revoked.",
)
DONE_HELP = Msg(
    "inbound.help",
    "{phone} hỏi trợ giúp; đã xếp 1 tin hướng dẫn.",
    "{phone} asked for help; 1 help reply queued.",
)
DONE_NONE = Msg(
    "inbound.none",
    "Đã ghi nhận tin của {phone}; không phải từ khoá nào, không làm gì thêm.",
    "Recorded the message from {phone}; no keyword, nothing else done.",
)
DONE_DUPLICATE = Msg(
    "inbound.duplicate",
    "Tin {provider_id} đã được xử lý trước đó; bỏ qua.",
    "Message {provider_id} was handled before; ignored.",
)
SCOPE_ALL = Msg("inbound.scope_all", "mọi quảng cáo", "all advertising")
SCOPE_BRAND = Msg("inbound.scope_brand", "brandname {brand}", "brandname {brand}")


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What one inbound reply did."""

    inbound_id: int
    phone: str
    intent: Intent
    keyword: str | None = None
    scope: Literal["all", "brand"] | None = None
    brandname: str | None = None
    duplicate: bool = False
    provider_id: str | None = None
    opt_out_id: int | None = None
    already_opted_out: bool = False
    revoked: int = 0
    reply_id: int | None = None  # the outbox row answering it (confirmation or help)
    reply_text: str | None = None
    received_at: datetime | None = None
    effective_at: datetime | None = None
    effective_local: str | None = None  # the stop time as the confirmation states it

    def summary(self) -> str:
        """One line for the user."""
        phone = mask_phone(self.phone)
        if self.duplicate:
            return DONE_DUPLICATE.render(provider_id=self.provider_id)
        scope = (
            SCOPE_BRAND.render(brand=self.brandname)
            if self.scope == "brand"
            else SCOPE_ALL.render()
        )
        if self.intent == "opt_out" and self.already_opted_out:
            return DONE_ALREADY.render(phone=phone, scope=scope)
        if self.intent == "opt_out":
            return DONE_OPT_OUT.render(phone=phone, scope=scope, effective=self.effective_local)
        if self.intent == "opt_in":
            return DONE_OPT_IN.render(phone=phone, count=self.revoked)
        if self.intent == "help":
            return DONE_HELP.render(phone=phone)
        return DONE_NONE.render(phone=phone)

    def to_dict(self) -> dict[str, Any]:
        """As `--json` prints it."""
        return {
            "inbound_id": self.inbound_id,
            "phone": self.phone,
            "intent": self.intent,
            "keyword": self.keyword,
            "scope": self.scope,
            "brandname": self.brandname,
            "duplicate": self.duplicate,
            "opt_out_id": self.opt_out_id,
            "already_opted_out": self.already_opted_out,
            "revoked": self.revoked,
            "reply_id": self.reply_id,
            "reply_text": self.reply_text,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "effective_at": self.effective_at.isoformat() if self.effective_at else None,
            "message": self.summary(),
        }


def _zone(pack: Pack) -> ZoneInfo:
    return ZoneInfo("UTC" if pack.timezone == "recipient" else pack.timezone)


def _when(moment: datetime, pack: Pack) -> str:
    local = moment.astimezone(_zone(pack))
    suffix = " UTC" if pack.timezone == "recipient" else ""
    return local.strftime("%H:%M:%S %d/%m/%Y") + suffix


def _sending_brand(brands: list[Brandname], to: str | None, named: str | None) -> Brandname | None:
    """The brandname that answers: the one named, else the one owning the short code, else
    the workspace's only brandname."""
    if named:
        return next((b for b in brands if b.name == named), None)
    if to:
        owners = [b for b in brands if b.optout_shortcode == to.strip()]
        if len(owners) == 1:
            return owners[0]
    return brands[0] if len(brands) == 1 else None


def _ascii(text: str) -> str:
    # Confirmations go out in GSM-7: one part, and readable on every handset.
    return fold_accents(text)


def _queue(
    conn: Connection,
    *,
    workspace_id: int,
    key: str,
    phone: str,
    contact_id: int | None,
    sender: str | None,
    text: str,
    now: datetime,
) -> int:
    """Write one confirmation-class outbox row once: the key finds the row already written."""
    found = conn.execute(
        select(outbox.c.id).where(
            outbox.c.workspace_id == workspace_id, outbox.c.idempotency_key == key
        )
    ).scalar_one_or_none()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            insert(outbox)
            .values(
                workspace_id=workspace_id,
                idempotency_key=key,
                contact_id=contact_id,
                phone=phone,
                channel="sms",
                **{"class": "confirmation"},
                sender=sender,
                text=text,
                decision="send",
                reasons=[],
                scheduled_at=now,
                status="queued",
                created_at=now,
                updated_at=now,
            )
            .returning(outbox.c.id)
        ).scalar_one()
    )


def _active_opt_out(
    conn: Connection, workspace_id: int, phone: str, brandname: str | None
) -> int | None:
    """The id of an opt-out in force that already covers the scope asked for."""
    covers = opt_outs.c.scope == "all"
    if brandname is not None:
        covers = or_(covers, opt_outs.c.brandname == brandname)
    found = conn.execute(
        select(opt_outs.c.id)
        .where(
            opt_outs.c.workspace_id == workspace_id,
            opt_outs.c.phone == phone,
            opt_outs.c.channel == "sms",
            opt_outs.c.revoked_at.is_(None),
            covers,
        )
        .limit(1)
    ).scalar_one_or_none()
    return int(found) if found is not None else None


def _set_channel(
    conn: Connection, workspace_id: int, contact_id: int, status: str, now: datetime
) -> None:
    values = {"status": status, "changed_at": now, "method": "reply_keyword"}
    changed = conn.execute(
        update(channel_states)
        .where(channel_states.c.contact_id == contact_id, channel_states.c.channel == "sms")
        .values(**values)
    ).rowcount
    if not changed:
        conn.execute(
            insert(channel_states).values(
                contact_id=contact_id, channel="sms", workspace_id=workspace_id, **values
            )
        )


def _answer_registration(
    conn: Connection, workspace_id: int, phone: str, answer: str, now: datetime
) -> None:
    """A reply to the one DKQC registration message answers it, if it is still open."""
    conn.execute(
        update(registration_requests)
        .where(
            registration_requests.c.workspace_id == workspace_id,
            registration_requests.c.phone == phone,
            registration_requests.c.answer.is_(None),
        )
        .values(answer=answer, answered_at=now)
    )


def _opt_out(
    conn: Connection,
    *,
    store: Store,
    pack: Pack,
    brands: list[Brandname],
    match: KeywordMatch,
    phone: str,
    contact_id: int | None,
    inbound_id: int,
    text: str,
    to: str | None,
    source: str,
    received_at: datetime,
    now: datetime,
) -> InboundResult:
    ws = store.workspace_id
    scope: Literal["all", "brand"] = "brand" if match.brandname else "all"
    base = InboundResult(
        inbound_id, phone, "opt_out", match.keyword, scope, match.brandname, received_at=received_at
    )
    _answer_registration(conn, ws, phone, "refuse", now)
    existing = _active_opt_out(conn, ws, phone, match.brandname)
    if existing is not None:
        return _replace(base, opt_out_id=existing, already_opted_out=True)
    opt_out_id = int(
        conn.execute(
            insert(opt_outs)
            .values(
                workspace_id=ws,
                phone=phone,
                channel="sms",
                scope=scope,
                brandname=match.brandname,
                received_at=received_at,
                effective_at=now,
                source=source,
                text=text,
            )
            .returning(opt_outs.c.id)
        ).scalar_one()
    )
    if contact_id is not None and scope == "all":
        _set_channel(conn, ws, contact_id, "opted_out", now)
        conn.execute(
            update(consents)
            .where(
                consents.c.contact_id == contact_id,
                consents.c.channel == "sms",
                consents.c.purpose == "marketing",
                consents.c.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=now)
        )
    sender = _sending_brand(brands, to, match.brandname)
    workspace_name = conn.execute(
        select(workspaces.c.name).where(workspaces.c.id == ws)
    ).scalar_one()
    brand = sender.name if sender else str(workspace_name)
    vi = pack.code == "vn"
    if scope == "brand":
        scope_words = f"brandname {match.brandname}"
    else:
        names = [b.name for b in brands]
        scope_words = ", ".join(names) if 0 < len(names) <= 3 else ("chung toi" if vi else "us")
    template = pack.confirmation_vi if vi else pack.confirmation_en
    reply = _ascii(
        template.format(
            brand=brand,
            received=_when(received_at, pack),
            effective=_when(now, pack),
            scope=scope_words,
        )
    )
    reply_id = _queue(
        conn,
        workspace_id=ws,
        key=f"optout-confirm:{opt_out_id}",
        phone=phone,
        contact_id=contact_id,
        sender=sender.name if sender else None,
        text=reply,
        now=now,
    )
    conn.execute(
        update(opt_outs).where(opt_outs.c.id == opt_out_id).values(confirmation_id=reply_id)
    )
    audit.record(
        conn,
        workspace_id=ws,
        actor=f"inbound:{source}",
        action="opt_out",
        target=mask_phone(phone),
        details={"scope": scope, "brandname": match.brandname, "inbound_id": inbound_id},
        now=now,
    )
    return _replace(
        base,
        opt_out_id=opt_out_id,
        reply_id=reply_id,
        reply_text=reply,
        effective_at=now,
        effective_local=_when(now, pack),
    )


def _replace(result: InboundResult, **changes: Any) -> InboundResult:
    values = {name: getattr(result, name) for name in InboundResult.__slots__}
    values.update(changes)
    return InboundResult(**values)


def receive_inbound(
    store: Store,
    phone: str,
    text: str,
    *,
    to: str | None = None,
    source: str = "cli",
    provider_id: str | None = None,
    received_at: datetime | None = None,
    now: datetime | None = None,
) -> InboundResult:
    """Record one inbound reply and act on its keyword, all in one transaction."""
    if source not in SOURCES:
        raise LoaError(BAD_SOURCE, source=source, known=", ".join(SOURCES))
    now = now or datetime.now(UTC)
    received_at = received_at or now
    if received_at.tzinfo is None or now.tzinfo is None:
        raise LoaError(NAIVE_TIME)
    parsed = parse_phone(phone)
    if not parsed.valid or parsed.e164 is None:
        raise LoaError(BAD_PHONE, phone=phone, reason=parsed.reason_text() or "")
    e164 = parsed.e164
    ws = store.workspace_id
    with store.engine.begin() as conn:
        if provider_id is not None:
            seen = conn.execute(
                select(inbound_messages.c.id, inbound_messages.c.intent).where(
                    inbound_messages.c.workspace_id == ws,
                    inbound_messages.c.source == source,
                    inbound_messages.c.provider_id == provider_id,
                )
            ).first()
            if seen is not None:
                return InboundResult(
                    int(seen.id), e164, seen.intent or "none", duplicate=True,
                    provider_id=provider_id,
                )  # fmt: skip
        pack = workspace_pack(conn, ws)
        brands = workspace_brandnames(conn, ws)
        match = match_reply(text, pack, {b.name: b.optout_keyword for b in brands})
        inbound_id = int(
            conn.execute(
                insert(inbound_messages)
                .values(
                    workspace_id=ws,
                    phone=e164,
                    to=to,
                    text=text,
                    received_at=received_at,
                    source=source,
                    provider_id=provider_id,
                    intent=match.intent,
                    handled_at=now,
                )
                .returning(inbound_messages.c.id)
            ).scalar_one()
        )
        contact_id = conn.execute(
            select(contacts.c.id).where(contacts.c.workspace_id == ws, contacts.c.phone == e164)
        ).scalar_one_or_none()
        if match.intent == "opt_out":
            return _opt_out(
                conn, store=store, pack=pack, brands=brands, match=match, phone=e164,
                contact_id=contact_id, inbound_id=inbound_id, text=text, to=to, source=source,
                received_at=received_at, now=now,
            )  # fmt: skip
        if match.intent == "opt_in":
            return _opt_in(conn, ws, match, e164, contact_id, inbound_id, text, received_at, now)
        if match.intent == "help":
            sender = _sending_brand(brands, to, None)
            template = pack.help_vi if pack.code == "vn" else pack.help_en
            reply = _ascii(
                template.format(
                    brand=sender.name if sender else "",
                    keyword=(sender.optout_keyword if sender else None) or pack.optout_keywords[0],
                    shortcode=(sender.optout_shortcode if sender else None) or to or "",
                    hotline=(sender.hotline if sender else None) or "",
                )
            ).strip(": ")
            reply_id = _queue(
                conn, workspace_id=ws, key=f"help-reply:{inbound_id}", phone=e164,
                contact_id=contact_id, sender=sender.name if sender else None, text=reply,
                now=now,
            )  # fmt: skip
            return InboundResult(
                inbound_id, e164, "help", match.keyword, reply_id=reply_id, reply_text=reply,
                received_at=received_at,
            )  # fmt: skip
        return InboundResult(inbound_id, e164, "none", received_at=received_at)


def _opt_in(
    conn: Connection,
    ws: int,
    match: KeywordMatch,
    phone: str,
    contact_id: int | None,
    inbound_id: int,
    text: str,
    received_at: datetime,
    now: datetime,
) -> InboundResult:
    """An opt-in keyword (DK, START) lifts the number's opt-outs, answers a DKQC, and is a
    consent given by SMS (Decree 91, Art 11.2), with the reply as its evidence."""
    revoked = conn.execute(
        update(opt_outs)
        .where(
            opt_outs.c.workspace_id == ws,
            opt_outs.c.phone == phone,
            opt_outs.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    ).rowcount
    _answer_registration(conn, ws, phone, "accept", now)
    if contact_id is not None:
        _set_channel(conn, ws, int(contact_id), "subscribed", now)
        conn.execute(
            insert(consents).values(
                workspace_id=ws,
                contact_id=contact_id,
                channel="sms",
                purpose="marketing",
                method="reply_keyword",
                evidence=f"inbound #{inbound_id}: {text}",
                given_at=received_at,
                source="inbound",
                created_at=now,
            )
        )
    audit.record(
        conn,
        workspace_id=ws,
        actor="inbound",
        action="opt_in",
        target=mask_phone(phone),
        details={"revoked": revoked, "inbound_id": inbound_id},
        now=now,
    )
    return InboundResult(
        inbound_id, phone, "opt_in", match.keyword, revoked=revoked, received_at=received_at
    )
