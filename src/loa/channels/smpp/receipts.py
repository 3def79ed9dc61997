"""Delivery receipts: the text form of SMPP v3.4 Appendix B and the receipt TLVs.

A receipt comes as a deliver_sm whose esm_class says "SMSC delivery receipt" (or that carries a
receipted_message_id TLV). Its text is vendor specific but nearly always

    id:IIIIIIIIII sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
    err:000 text:...

with fields missing, in other cases or with seconds in the dates. When the TLVs
(receipted_message_id, message_state, network_error_code) are present they win: they are typed,
the text is a convention.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from loa.channels.base import Receipt, ReceiptState
from loa.channels.smpp.pdu import (
    ESM_DELIVERY_RECEIPT,
    ESM_TYPE_MASK,
    TAG_MESSAGE_STATE,
    TAG_NETWORK_ERROR_CODE,
    TAG_RECEIPTED_MESSAGE_ID,
    ShortMessage,
)

# stat: values (Appendix B) and message_state values (5.2.28).
STAT_STATES: dict[str, ReceiptState] = {
    "DELIVRD": "delivered",
    "DELIVERED": "delivered",
    "UNDELIV": "undelivered",
    "UNDELIVERABLE": "undelivered",
    "DELETED": "undelivered",
    "EXPIRED": "expired",
    "REJECTD": "rejected",
    "REJECTED": "rejected",
    "ACCEPTD": "unknown",
    "ENROUTE": "unknown",
    "UNKNOWN": "unknown",
}
MESSAGE_STATES: dict[int, ReceiptState] = {
    1: "unknown",  # ENROUTE
    2: "delivered",
    3: "expired",
    4: "undelivered",  # DELETED
    5: "undelivered",  # UNDELIVERABLE
    6: "unknown",  # ACCEPTED
    7: "unknown",
    8: "rejected",
}
MESSAGE_STATE_CODES: dict[ReceiptState, int] = {
    "delivered": 2,
    "expired": 3,
    "undelivered": 5,
    "unknown": 7,
    "rejected": 8,
}
STATE_STATS: dict[ReceiptState, str] = {
    "delivered": "DELIVRD",
    "undelivered": "UNDELIV",
    "expired": "EXPIRED",
    "rejected": "REJECTD",
    "unknown": "UNKNOWN",
}

_FIELD = re.compile(
    r"(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s*:\s*"
    r"(.*?)(?=\s+(?:id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s*:|\s*$)",
    re.IGNORECASE | re.DOTALL,
)


def is_receipt(sm: ShortMessage) -> bool:
    """Whether a deliver_sm is a delivery receipt rather than a message from a phone."""
    return (
        sm.esm_class & ESM_TYPE_MASK
    ) == ESM_DELIVERY_RECEIPT or TAG_RECEIPTED_MESSAGE_ID in sm.tlvs


def parse_fields(text: str) -> dict[str, str]:
    """The receipt text's fields by lower-case name ("submit date", "stat", ...)."""
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(text):
        name = match.group(1).lower().replace("_", " ")
        fields.setdefault(name, match.group(2).strip())
    return fields


def _receipt_time(value: str | None) -> datetime | None:
    """YYMMDDhhmm or YYMMDDhhmmss, taken as UTC (the sandbox's clock; SMSCs do not say)."""
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    try:
        layout = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
        return datetime.strptime(value, layout).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_receipt(sm: ShortMessage, *, to: str | None = None) -> Receipt | None:
    """The Receipt a deliver_sm carries, or None when it names no message id."""
    raw = sm.short_message.decode("latin-1") if sm.short_message else ""
    fields = parse_fields(raw) if raw else {}
    provider_id = fields.get("id")
    tlv_id = sm.tlvs.get(TAG_RECEIPTED_MESSAGE_ID)
    if tlv_id:
        provider_id = tlv_id.split(b"\0", 1)[0].decode("latin-1")
    if not provider_id:
        return None
    state: ReceiptState = STAT_STATES.get(fields.get("stat", "").upper(), "unknown")
    code = fields.get("err")
    tlv_state = sm.tlvs.get(TAG_MESSAGE_STATE)
    if tlv_state:
        state = MESSAGE_STATES.get(tlv_state[0], "unknown")
    tlv_error = sm.tlvs.get(TAG_NETWORK_ERROR_CODE)
    if tlv_error is not None and len(tlv_error) == 3:
        # network_type, then the error code: shown the way the text form writes err:.
        code = f"{int.from_bytes(tlv_error[1:], 'big'):03d}"
    if not raw:
        raw = (
            f"receipted_message_id={provider_id} message_state={tlv_state[0] if tlv_state else '-'}"
        )
    return Receipt(
        provider_id=provider_id,
        state=state,
        to=to,
        code=code or None,
        done_at=_receipt_time(fields.get("done date")),
        raw=raw,
    )


def receipt_stamp(at: datetime) -> str:
    """A receipt's date: YYMMDDhhmm."""
    return at.strftime("%y%m%d%H%M")


def format_receipt(
    message_id: str, state: ReceiptState, err: str, submitted: str, done: str, text: str
) -> str:
    """The Appendix B text of a receipt from its parts, the dates already as receipt stamps."""
    delivered = "001" if state == "delivered" else "000"
    return (
        f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{submitted} done date:{done} "
        f"stat:{STATE_STATS[state]} err:{err} text:{text[:20]}"
    )


def receipt_text(
    message_id: str,
    state: ReceiptState,
    *,
    err: str = "000",
    submitted_at: datetime,
    done_at: datetime,
    text: str = "",
) -> str:
    """The Appendix B text of a receipt, as the sandbox sends it."""
    return format_receipt(
        message_id, state, err, receipt_stamp(submitted_at), receipt_stamp(done_at), text
    )
