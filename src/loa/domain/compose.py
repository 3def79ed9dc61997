"""Message classes and the carriers' rules: framing QC messages, limits and prices per carrier.

Advertising (QC) SMS carry the `[QC]` label first and the refusal instructions last (Decree
91/2020): both are part of what each recipient gets, so both count in the parts and the price.
The refusal text is accent-free so it never forces a message into UCS-2. Customer-care (CSKH)
and public-service messages are sent as written.

Carrier limits and prices are data (`loa/data/carriers.toml`, defaults to edit).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, get_args

from loa.domain.templates import Template
from loa.domain.text import UCS2, SegmentCount
from loa.i18n import Lang, LoaError, Msg

MessageClass = Literal["qc", "cskh", "public"]
CLASSES: Final[tuple[MessageClass, ...]] = get_args(MessageClass)
QC_LABELS: Final = ("[QC]", "[AD]")

UNKNOWN_CLASS = Msg(
    "compose.unknown_class",
    "Loại tin '{cls}' không có: chọn qc (quảng cáo), cskh (chăm sóc khách hàng) hoặc public "
    "(dịch vụ công).",
    "There is no message class '{cls}': choose qc (advertising), cskh (customer care) or public "
    "(public service).",
)
QC_NEEDS_OPTOUT = Msg(
    "compose.qc_needs_optout",
    "Tin quảng cáo của brandname '{sender}' phải kết thúc bằng hướng dẫn từ chối qua SMS và qua "
    "điện thoại, nhưng brandname chưa có {missing}: khai báo cho brandname rồi thử lại.",
    "Advertising from the brandname '{sender}' must end with how to refuse by SMS and by phone, "
    "but the brandname has no {missing}: set it on the brandname and try again.",
)
OVER_MAX_PARTS = Msg(
    "compose.over_max_parts",
    "Tin nhắn dài {parts} tin, vượt giới hạn {max_parts} tin của {carrier}: rút gọn nội dung "
    "hoặc bỏ dấu.",
    "The message takes {parts} parts, over {carrier}'s limit of {max_parts} parts: shorten it "
    "or drop the accents.",
)
UCS2_NOT_ALLOWED = Msg(
    "compose.ucs2_not_allowed",
    "{carrier} không nhận tin brandname có dấu (UCS-2): gửi không dấu (--unaccent).",
    "{carrier} does not accept brandname SMS with accents (UCS-2): send it without accents "
    "(--unaccent).",
)
BAD_CARRIERS_FILE = Msg(
    "compose.bad_carriers_file",
    "Tệp nhà mạng {path} sai ở '{carrier}': {error}.",
    "The carriers file {path} is wrong at '{carrier}': {error}.",
)
_FIELD_NAMES: Final = {
    "optout_keyword": ("từ khoá từ chối (optout_keyword)", "refusal keyword (optout_keyword)"),
    "optout_shortcode": ("đầu số nhận từ chối (optout_shortcode)", "short code (optout_shortcode)"),
    "hotline": ("số hotline (hotline)", "hotline (hotline)"),
}


def parse_class(value: str) -> MessageClass:
    """A message class from what the user typed ('QC', 'cskh', ...)."""
    cleaned = value.strip().lower()
    for cls in CLASSES:
        if cleaned == cls:
            return cls
    raise LoaError(UNKNOWN_CLASS, cls=value)


@dataclass(frozen=True, slots=True)
class OptOut:
    """How a recipient refuses a brandname's advertising: an SMS keyword to a number, a call."""

    keyword: str | None
    shortcode: str | None
    hotline: str | None

    def text(self, lang: Lang = "vi") -> str:
        """The refusal instructions, accent-free so they stay GSM-7."""
        if lang == "vi":
            return f"Tu choi QC soan {self.keyword} gui {self.shortcode}, goi {self.hotline}"
        return f"To opt out text {self.keyword} to {self.shortcode} or call {self.hotline}"

    def check(self, sender: str) -> OptOut:
        """Itself when every field is set; else a LoaError naming the missing ones."""
        missing = [
            name
            for name, value in (
                ("optout_keyword", self.keyword),
                ("optout_shortcode", self.shortcode),
                ("hotline", self.hotline),
            )
            if not (value and value.strip())
        ]
        if missing:
            vi = ", ".join(_FIELD_NAMES[m][0] for m in missing)
            en = ", ".join(_FIELD_NAMES[m][1] for m in missing)
            raise LoaError(_bilingual(QC_NEEDS_OPTOUT, vi=vi, en=en), sender=sender)
        return self


def _bilingual(msg: Msg, *, vi: str, en: str) -> Msg:
    """`msg` with its {missing} filled in each language (the list itself is bilingual)."""
    return Msg(msg.code, msg.vi.replace("{missing}", vi), msg.en.replace("{missing}", en))


def _has_label(text: str) -> bool:
    head = text.lstrip()[:4].upper()
    return head in QC_LABELS


def frame_parts(
    text_start: str,
    text_end: str,
    cls: MessageClass,
    optout: OptOut | None,
    lang: Lang = "vi",
    sender: str = "",
) -> tuple[str, str]:
    """(prefix, suffix) that frame a message starting with `text_start`, ending with `text_end`.

    For QC: `[QC] ` unless a label is already first, and the refusal instructions last unless
    already there. Nothing for the other classes.
    """
    if cls != "qc":
        return "", ""
    refusal = (optout or OptOut(None, None, None)).check(sender).text(lang)
    prefix = "" if _has_label(text_start) else "[QC] "
    stripped = text_end.rstrip()
    if stripped.endswith(refusal):
        return prefix, ""
    if not stripped:
        joiner = ""
    elif stripped[-1] in ".!?":
        joiner = " "
    else:
        joiner = ". "
    return prefix, joiner + refusal


def frame(
    text: str,
    cls: MessageClass,
    optout: OptOut | None = None,
    lang: Lang = "vi",
    sender: str = "",
) -> str:
    """The message as sent: for QC, label first and refusal instructions last.

    A QC message needs the sender's refusal keyword, short code and hotline: a LoaError names
    the missing ones.
    """
    prefix, suffix = frame_parts(text, text, cls, optout, lang, sender)
    return prefix + (text.rstrip() if suffix else text) + suffix


def frame_template(
    template: Template,
    cls: MessageClass,
    optout: OptOut | None = None,
    lang: Lang = "vi",
    sender: str = "",
) -> Template:
    """`frame` applied to a template's literal text, so every recipient's copy is framed."""
    literals = list(template.literals)
    prefix, suffix = frame_parts(literals[0], literals[-1], cls, optout, lang, sender)
    if not prefix and not suffix:
        return template
    # A template that starts with a variable gets the label before it.
    literals[0] = prefix + literals[0]
    if suffix:
        literals[-1] = literals[-1].rstrip() + suffix
    return Template(template.source, literals, list(template.slots))


# --- carriers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Carrier:
    """A carrier's limits for brandname SMS and its price per part by message class."""

    key: str
    name: str
    max_parts: int
    ucs2_allowed: bool
    price_vnd: dict[str, int]

    def price_per_part_vnd(self, cls: MessageClass) -> int:
        """The price of one part of a message of class `cls`."""
        return self.price_vnd[cls]

    def cost_vnd(self, parts: int, cls: MessageClass) -> int:
        """What a message of `parts` parts costs on this carrier."""
        return parts * self.price_vnd[cls]

    def refusal(self, count: SegmentCount) -> LoaError | None:
        """Why this carrier would refuse the message, naming the limit; None when it accepts."""
        if count.encoding == UCS2 and not self.ucs2_allowed:
            return LoaError(UCS2_NOT_ALLOWED, carrier=self.name)
        if count.segments > self.max_parts:
            return LoaError(
                OVER_MAX_PARTS, parts=count.segments, max_parts=self.max_parts, carrier=self.name
            )
        return None

    def check(self, count: SegmentCount) -> None:
        """Nothing when the carrier accepts the message; else the LoaError naming the limit."""
        problem = self.refusal(count)
        if problem is not None:
            raise problem


def _carrier(path: str, key: str, data: Any) -> Carrier:
    def fail(error: str) -> LoaError:
        return LoaError(BAD_CARRIERS_FILE, path=path, carrier=key, error=error)

    if not isinstance(data, dict):
        raise fail("expected a table")
    prices = data.get("price_vnd")
    if not isinstance(prices, dict) or any(
        not isinstance(prices.get(cls), int) or prices[cls] < 0 for cls in CLASSES
    ):
        raise fail("price_vnd needs a whole, non-negative price for qc, cskh and public")
    max_parts = data.get("max_parts")
    if not isinstance(max_parts, int) or isinstance(max_parts, bool) or max_parts < 1:
        raise fail("max_parts must be a whole number from 1")
    ucs2 = data.get("ucs2_allowed")
    if not isinstance(ucs2, bool):
        raise fail("ucs2_allowed must be true or false")
    name = data.get("name", key)
    return Carrier(key, str(name), max_parts, ucs2, {cls: prices[cls] for cls in CLASSES})


def load_carriers(path: Path | None = None) -> dict[str, Carrier]:
    """The carriers by key (lower-case name), from `path` or the shipped defaults."""
    if path is None:
        source = resources.files("loa.data").joinpath("carriers.toml")
        shown, data = "loa/data/carriers.toml", tomllib.loads(source.read_text("utf-8"))
    else:
        shown, data = str(path), tomllib.loads(path.read_text("utf-8"))
    return {key.lower(): _carrier(shown, key, value) for key, value in data.items()}


def find_carrier(carriers: dict[str, Carrier], name: str | None) -> Carrier | None:
    """The carrier a contact's carrier column names ('Viettel', 'viettel'), if known."""
    return carriers.get(name.strip().lower()) if name else None
