"""Policy packs: one TOML file per market under `packs/`, loaded into a frozen `Pack`.

The law is data here so a new market, or a changed decree, is a file rather than a code path.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from datetime import time
from functools import cache
from importlib import resources

from loa.i18n import LoaError, Msg

UNKNOWN_PACK = Msg(
    "compliance.unknown_pack",
    "Không có bộ quy định '{code}'. Có: {known}.",
    "There is no policy pack '{code}'. Known: {known}.",
)


@dataclass(frozen=True, slots=True)
class Pack:
    """One market's rules."""

    code: str
    name_vi: str
    name_en: str
    timezone: str  # an IANA zone, or "recipient" for the recipient's own zone
    qc_hours: tuple[time, time] | None  # advertising allowed in [start, end); None = any hour
    public_hours: tuple[time, time] | None
    max_qc_per_24h: int  # 0 = no legal cap
    qc_labels: tuple[str, ...]
    optout_instructions_required: bool
    consent_required: bool
    dnc_enforced: bool
    registration_sms: bool
    cskh_template_required: bool
    brandname_required: bool
    brandname_validity_years: int
    dnc_max_age_days: int
    optout_keywords: tuple[str, ...]
    optin_keywords: tuple[str, ...]
    help_keywords: tuple[str, ...]
    confirmation_vi: str
    confirmation_en: str
    help_vi: str
    help_en: str


def _hours(value: list[str]) -> tuple[time, time] | None:
    if not value:
        return None
    start, end = value
    return time.fromisoformat(start), time.fromisoformat(end)


def known_packs() -> tuple[str, ...]:
    """The codes of the packs shipped with Loa."""
    folder = resources.files("loa.domain.compliance") / "packs"
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )


@cache
def load_pack(code: str) -> Pack:
    """The pack for a market code (`vn`, `us`, `eu`); a clear error for an unknown code."""
    if code not in known_packs():
        raise LoaError(UNKNOWN_PACK, code=code, known=", ".join(known_packs()))
    raw = tomllib.loads(
        (resources.files("loa.domain.compliance") / "packs" / f"{code}.toml").read_text("utf-8")
    )
    values: dict[str, object] = {}
    for f in fields(Pack):
        value = raw[f.name]
        if f.name in ("qc_hours", "public_hours"):
            value = _hours(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return Pack(**values)  # type: ignore[arg-type]
