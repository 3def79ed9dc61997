"""What may be shown of personal data in logs and the audit trail."""

from __future__ import annotations

import hashlib


def mask_phone(e164: str) -> str:
    """'+84912345678' -> '+8491****678': enough to recognise, not enough to call."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return f"{e164[:5]}{'*' * (len(e164) - 8)}{e164[-3:]}"


def phone_fingerprint(e164: str) -> str:
    """A stable one-way token for an erased number, so the audit trail can refer to it."""
    return hashlib.sha256(e164.encode()).hexdigest()[:16]
