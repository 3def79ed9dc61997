"""Logs never carry a whole phone number: a filter masks them in every record."""

from __future__ import annotations

import logging
import re

from loa.domain.privacy import mask_phone

# Vietnamese and international numbers as people and URLs write them: +84…, 84…, 0…;
# digits only, or with spaces, dots or dashes between groups (%2B is a URL-encoded '+').
PHONE = re.compile(r"(?<![\w])(?:\+|%2B)?(?:84[ .\-]?|0)\d(?:[ .\-]?\d){7,10}(?!\w)")


def mask_phones(text: str) -> str:
    """`text` with every phone-like number masked ('+84912345678' -> '+8491****678')."""

    def one(match: re.Match[str]) -> str:
        raw = match.group()
        plus = raw.startswith(("+", "%2B"))
        digits = re.sub(r"\D", "", raw[3:] if raw.startswith("%2B") else raw)
        if not plus and digits.startswith("0"):
            digits = "84" + digits[1:]  # a national number: shown in the E.164 form
        return mask_phone("+" + digits)

    return PHONE.sub(one, text)


class PhoneMasking(logging.Filter):
    """Rewrites a record's message (with its arguments filled in) with phones masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install(level: int = logging.INFO) -> None:
    """Log to stderr through the masking filter (uvicorn's loggers propagate to it)."""
    handler = logging.StreamHandler()
    handler.addFilter(PhoneMasking())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
