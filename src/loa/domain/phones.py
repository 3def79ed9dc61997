"""Phone numbers: parse, validate and normalise to E.164; original carrier by prefix.

PROVISIONAL: a correct-but-slow version built on `phonenumbers`; the fast path, legacy
01xx conversion and Excel-damage handling replace it.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
import polars as pl

from loa.i18n import Lang, Msg

REASONS: dict[str, Msg] = {
    "empty": Msg("phone.empty", "Ô trống", "Empty"),
    "not_a_number": Msg("phone.not_a_number", "Không phải số điện thoại", "Not a phone number"),
    "invalid": Msg("phone.invalid", "Số không hợp lệ", "Invalid number"),
}


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """The verdict on one input. `reason` is a code in REASONS, None when valid."""

    input: str
    valid: bool
    e164: str | None
    type: str | None
    carrier: str | None
    legacy_converted: bool
    reason: str | None

    def reason_text(self, lang: Lang | None = None) -> str | None:
        """The reason in the user's language."""
        return REASONS[self.reason].render(lang) if self.reason else None


def parse_phone(text: str, default_region: str = "VN") -> PhoneResult:
    """Parse one number as people write it."""
    if not text.strip():
        return PhoneResult(text, False, None, None, None, False, "empty")
    try:
        num = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return PhoneResult(text, False, None, None, None, False, "not_a_number")
    valid = phonenumbers.is_valid_number(num)
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    kind = phonenumbers.number_type(num)
    type_name = next(
        k for k, v in vars(phonenumbers.PhoneNumberType).items() if v == kind and k.isupper()
    ).lower()
    return PhoneResult(text, valid, e164, type_name, None, False, None if valid else "invalid")


COLUMNS = ("e164", "valid", "type", "carrier", "legacy_converted", "reason")


def normalize_column(values: pl.Series, default_region: str = "VN") -> pl.DataFrame:
    """Normalise a whole column; one output row per input row, in order."""
    rows = [parse_phone(v or "", default_region) for v in values.cast(pl.Utf8).to_list()]
    return pl.DataFrame(
        {
            "e164": [r.e164 for r in rows],
            "valid": [r.valid for r in rows],
            "type": [r.type for r in rows],
            "carrier": [r.carrier for r in rows],
            "legacy_converted": [r.legacy_converted for r in rows],
            "reason": [r.reason for r in rows],
        },
        schema={
            "e164": pl.Utf8,
            "valid": pl.Boolean,
            "type": pl.Utf8,
            "carrier": pl.Utf8,
            "legacy_converted": pl.Boolean,
            "reason": pl.Utf8,
        },
    )
