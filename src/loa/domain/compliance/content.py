"""Message-level content checks: the first line of brand protection.

A brandname's messages may link only to its verified domains over https, so a hijacked account
cannot send "your account will be locked, log in at https://vietcombank-secure.top". Beyond
that rule each link is judged for what scammers use: look-alikes of the workspace's brands and
of well-known Vietnamese banks and wallets (homoglyphs, typos, extra words), risky suffixes,
shorteners and raw IP addresses. Wording that asks for credentials (OTP, mật khẩu, CVV…) is
refused outside a registered OTP template, advertising must carry its label first and the
refusal instructions last, and customer care (CSKH) may carry no promotion ("khuyến mãi",
"giảm 50%", "voucher": the words are the pack's data). Each reason names the offending domain
or word.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Final

import tldextract
from rapidfuzz.distance import Levenshtein

from loa.domain.compliance.packs import Pack
from loa.domain.compliance.reasons import Reason
from loa.domain.names import fold_accents

# The Public Suffix List snapshot that ships with tldextract: never fetched at run time.
_EXTRACT: Final = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

LONG_KEY_LETTERS: Final = 6  # shorter brand keys match whole words only, never by distance


@dataclass(frozen=True, slots=True)
class Brand:
    """A brand to protect: its name, the words that name it, its senders and own domains."""

    name: str
    keys: tuple[str, ...]
    senders: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in a message, as written and as understood."""

    written: str
    scheme: str | None  # "http", "https", or None for a bare "shop.vn/sale"
    host: str  # lower case, IDN labels decoded
    registered: str  # "vietcombank-secure.top"; the address itself for a raw IP
    suffix: str  # "top", "com.vn"; empty for a raw IP
    is_ip: bool


@dataclass(frozen=True, slots=True)
class _Risk:
    brands: tuple[Brand, ...]
    tlds: frozenset[str]
    shorteners: frozenset[str]


@cache
def _risk() -> _Risk:
    raw = tomllib.loads((resources.files("loa.data") / "known_brands.toml").read_text("utf-8"))
    brands = tuple(
        Brand(
            b["name"],
            tuple(b["keys"]),
            tuple(b.get("senders", ())),
            tuple(d.lower() for d in b.get("domains", ())),
        )
        for b in raw["brand"]
    )
    return _Risk(brands, frozenset(raw["risk"]["tlds"]), frozenset(raw["risk"]["shorteners"]))


def known_brands() -> tuple[Brand, ...]:
    """The banks and wallets shipped in `loa/data/known_brands.toml`."""
    return _risk().brands


def workspace_brand(name: str, domains: Sequence[str]) -> Brand:
    """A workspace's brandname as a brand to protect: its name and its domains' names."""
    keys = {_alnum(name)} | {_EXTRACT(d).domain for d in domains}
    return Brand(name, tuple(sorted(k for k in keys if len(k) >= 3)), (name,), tuple(domains))


# --- look-alikes --------------------------------------------------------------------------------

# Characters read as another; the skeleton of a name maps each to the Latin letter it imitates
# (after the Unicode TR39 idea), so "vietcornbank" and "vіetcombank" (Cyrillic і) both become
# the skeleton of "vietcombank". Written here rather than taken from `confusable-homoglyphs`:
# that library finds non-Latin look-alikes only, while scams on Vietnamese banks mostly use
# ASCII tricks (rn→m, 0→o, 1→l), and forty lines are easier to review than its 6,000 entries.
_CONFUSABLE: Final = str.maketrans(
    {
        "0": "o", "1": "l", "3": "e", "5": "s", "$": "s", "@": "a", "|": "l", "!": "l",
        "i": "l", "ı": "l", "ɡ": "g",
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "і": "l", "ї": "l", "ј": "j", "к": "k",
        "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x",
        "ѕ": "s", "ԁ": "d", "ӏ": "l", "ԛ": "q", "ԝ": "w", "һ": "h", "ь": "b", "п": "n",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "l", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    }
)  # fmt: skip
_SEQUENCES: Final = (("rn", "m"), ("vv", "w"))
_SEPARATORS: Final = re.compile(r"[-_. ]+")


@lru_cache(maxsize=65_536)
def skeleton(text: str) -> str:
    """'VIETC0MBANK', 'vietcornbank', 'vіetcombank' -> the skeleton of 'vietcombank'."""
    shape = fold_accents(unicodedata.normalize("NFKC", text)).lower().translate(_CONFUSABLE)
    for seq, replacement in _SEQUENCES:
        shape = shape.replace(seq, replacement)
    return shape


def _alnum(text: str) -> str:
    return "".join(ch for ch in fold_accents(text).lower() if ch.isalnum())


def _max_distance(key: str) -> int:
    return 1 if len(key) < 9 else 2


def _resemblance(words: Sequence[str], brand: Brand) -> str | None:
    """How `words` (a name cut at dots, hyphens and spaces) imitate `brand`, or None.

    Kinds: `homoglyph` (same skeleton, other letters), `extra_words` (the brand's name plus
    more: "vietcombank-secure", "vcb-login"), `typo` (one or two letters off a long name),
    `same_name` (the name itself on a domain that is not the brand's).
    """
    tokens = [w for w in words if w] + ["".join(words)]
    for key in brand.keys:
        key_shape = skeleton(key)
        for token in tokens:
            shape = skeleton(token)
            if shape == key_shape:
                if _alnum(token) != key:
                    return "homoglyph"
                return "extra_words" if len(words) > 1 else "same_name"
            if len(key_shape) < LONG_KEY_LETTERS:
                continue
            if key_shape in shape:
                return "extra_words"
            limit = _max_distance(key_shape)
            if Levenshtein.distance(shape, key_shape, score_cutoff=limit) <= limit:
                return "typo"
    return None


def _owns(brand: Brand, host: str) -> bool:
    return any(host == d or host.endswith("." + d) for d in brand.domains)


def lookalike_brand(host: str, brands: Iterable[Brand]) -> tuple[Brand, str] | None:
    """The brand a domain imitates and how, or None (a brand's own domains imitate nothing)."""
    parts = _EXTRACT(host)
    labels = [*parts.subdomain.split("."), parts.domain] if parts.subdomain else [parts.domain]
    words = [w for label in labels for w in _SEPARATORS.split(label)]
    for brand in brands:
        if _owns(brand, host):
            continue
        kind = _resemblance(words, brand)
        if kind:
            return brand, kind
    return None


def check_sender(sender: str, brands: Iterable[Brand] | None = None) -> list[Reason]:
    """A sender name that imitates a bank or wallet ('VIETC0MBANK', 'VCB-SECURE') is refused;
    the brand's own sender names are not."""
    own = _alnum(sender)
    for brand in known_brands() if brands is None else brands:
        if own in {_alnum(s) for s in brand.senders} | set(brand.keys):
            continue
        kind = _resemblance(_SEPARATORS.split(sender.strip()), brand)
        if kind:
            return [
                Reason("lookalike_sender", {"sender": sender, "brand": brand.name, "kind": kind})
            ]
    return []


# --- links --------------------------------------------------------------------------------------

_WITH_SCHEME: Final = re.compile(r"(?i)\b(https?)://([^\s/?#<>\"']+)([^\s<>\"']*)")
# A bare name with at least one dot, not inside an e-mail address or another URL.
_BARE: Final = re.compile(r"(?<![\w@.\-/])((?:[\w\-]+\.)+[\w\-]+)((?:[/:?#][^\s<>\"']*)?)")
_TRAILING: Final = ".,;:!?)]}'\"…"


def _decode_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if "xn--" in host:
        try:
            return host.encode("ascii").decode("idna")
        except UnicodeError:  # not valid punycode: judge it as written
            return host
    return host


def _link(written: str, scheme: str | None, host: str) -> Link | None:
    host = _decode_host(host)
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return Link(written, scheme, host, host, "", True)
    labels = host.split(".")
    # "abc.com.Vui long" reads as "abc.com.vui": drop trailing labels until a suffix is known.
    while len(labels) >= 2:
        parts = _EXTRACT(".".join(labels))
        if parts.suffix and parts.domain:
            return Link(written, scheme, ".".join(labels), parts.top_domain_under_public_suffix,
                        parts.suffix, False)  # fmt: skip
        labels.pop()
    return None


def _looks_like_price(host: str, path: str) -> bool:
    """'1.100.100.100' is 1.1 billion đồng, not an address: groups of three digits after the
    first, and nothing after it that only an address would have."""
    groups = host.split(".")
    return all(g.isdigit() for g in groups) and (
        (all(len(g) == 3 for g in groups[1:]) and not path) or len(groups) != 4
    )


def find_links(text: str) -> list[Link]:
    """Every link in a message: with a scheme, or bare ('vcb-login.top', 'shop.vn/sale')."""
    text = unicodedata.normalize("NFKC", text)
    found: list[Link] = []
    taken: list[tuple[int, int]] = []
    for m in _WITH_SCHEME.finditer(text):
        authority = m.group(2).rsplit("@", 1)[-1]  # "https://bank.vn@evil.top" goes to evil.top
        host = authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
        link = _link(m.group(0).rstrip(_TRAILING), m.group(1).lower(), host.rstrip(_TRAILING))
        taken.append(m.span())
        if link:
            found.append(link)
    for m in _BARE.finditer(text):
        if any(start <= m.start() < end for start, end in taken):
            continue
        host = m.group(1).rstrip(_TRAILING + "-")
        if _looks_like_price(host, m.group(2)):
            continue
        link = _link((m.group(1) + m.group(2)).rstrip(_TRAILING), None, host)
        if link:
            found.append(link)
    return found


def _is_verified(host: str, domains: Sequence[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def check_links(
    text: str,
    *,
    sender: str | None,
    verified_domains: Sequence[str] | None,
    brands: Sequence[Brand] = (),
) -> list[Reason]:
    """Reasons against the links of a message under `sender`. `verified_domains` None means
    the market needs no brandname, so only the scam patterns are judged."""
    risk = _risk()
    domains = [d.lower() for d in verified_domains or ()]
    reasons: list[Reason] = []
    seen: set[tuple[str, str | None]] = set()
    for link in find_links(text):
        if (link.host, link.scheme) in seen:
            continue
        seen.add((link.host, link.scheme))
        verified = _is_verified(link.host, domains)
        if link.scheme == "http":
            reasons.append(Reason("insecure_link", {"url": link.written, "domain": link.host}))
        if verified:
            continue
        if verified_domains is not None:
            allowed = ", ".join(domains) or "—"
            reasons.append(
                Reason(
                    "link_not_verified",
                    {"domain": link.host, "sender": sender or "", "allowed": allowed},
                )
            )
        if link.is_ip:
            reasons.append(Reason("raw_ip", {"domain": link.host}))
            continue
        if link.registered in risk.shorteners:
            reasons.append(Reason("shortener", {"domain": link.host}))
            continue
        imitated = lookalike_brand(link.host, [*risk.brands, *brands])
        if imitated:
            brand, kind = imitated
            official = brand.domains[0] if brand.domains else brand.name
            params = {"domain": link.host, "brand": brand.name, "official": official, "kind": kind}
            reasons.append(Reason("lookalike_domain", params))
        tld = link.suffix.rsplit(".", 1)[-1]
        if tld in risk.tlds:
            reasons.append(Reason("risky_tld", {"domain": link.host, "tld": tld}))
    return reasons


# --- wording ------------------------------------------------------------------------------------

# Asked for by scammers, never by a brand outside its OTP messages. Bare "PIN" is left out: in
# Vietnamese it is also a battery ("pin sạc dự phòng").
CREDENTIAL_WORDS: Final = (
    "ma otp", "smart otp", "otp", "mat khau", "password", "passcode", "cvv", "cvc", "ma pin",
    "pin code", "ma bao mat", "ma xac thuc",
)  # fmt: skip
_CREDENTIAL_RE: Final = re.compile(
    r"(?<![a-z0-9])("
    + "|".join(w.replace(" ", r"\s+") for w in sorted(CREDENTIAL_WORDS, key=len, reverse=True))
    + r")(?![a-z0-9])"
)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    folded = fold_accents(ch)
    return folded if len(folded) == 1 else ch


def _aligned_fold(text: str) -> str:
    """Lower-case, accents off, one character per character of `text` (so spans line up)."""
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text)).lower()


def check_wording(text: str, *, otp_template: bool = False) -> list[Reason]:
    """A request for an OTP, password, CVV or PIN outside a registered OTP template."""
    if otp_template:
        return []
    text = unicodedata.normalize("NFC", text)
    words: dict[str, None] = {}
    for m in _CREDENTIAL_RE.finditer(_aligned_fold(text)):
        words.setdefault(text[m.start() : m.end()], None)
    return [Reason("credential_request", {"word": w}) for w in words]


# --- advertising format -------------------------------------------------------------------------

_CALL: Final = re.compile(
    r"(?<![a-z])(?:goi|call|hotline|lh|lien he|tong dai|dt|tel)(?![a-z])\D{0,12}?"
    r"(\+?\d[\d .-]{4,14}\d)"
)


def _sms_instruction(keywords: Iterable[str]) -> re.Pattern[str]:
    words = "|".join(re.escape(k.lower()) for k in sorted(set(keywords), key=len, reverse=True))
    return re.compile(
        rf"(?<![a-z0-9])({words})\s*(?:gui|den|toi|to|send to|->|:)?\s*(\d{{3,6}})(?!\d)"
    )


def check_advertising_format(
    text: str, pack: Pack, optout_keywords: Iterable[str] = ()
) -> list[Reason]:
    """Advertising starts with a label of the pack and ends with the refusal instructions: an
    SMS keyword with its number and a number to call."""
    reasons: list[Reason] = []
    body = unicodedata.normalize("NFC", text).strip()
    if pack.qc_labels and not any(body.upper().startswith(lb.upper()) for lb in pack.qc_labels):
        reasons.append(Reason("missing_label", {"labels": " / ".join(pack.qc_labels)}))
    if pack.optout_instructions_required:
        folded = _aligned_fold(body)
        sms = list(_sms_instruction([*pack.optout_keywords, *optout_keywords]).finditer(folded))
        call = list(_CALL.finditer(folded))
        end = len(folded.rstrip(_TRAILING + " "))
        if not sms or not call or max(sms[-1].end(), call[-1].end()) < end:
            reasons.append(Reason("missing_optout"))
    return reasons


# --- customer care carries no promotion ---------------------------------------------------------


@cache
def pack_extras(code: str) -> dict[str, Any]:
    """A pack's TOML as written, for the keys `Pack` does not carry (yet): the CSKH promotion
    words and the authority's number. An unknown code has none."""
    path = resources.files("loa.domain.compliance") / "packs" / f"{code}.toml"
    if not path.is_file():
        return {}
    return tomllib.loads(path.read_text("utf-8"))


_NUMBER: Final = r"\d+(?:[.,]\d+)?"
_WORD: Final = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class _Phrase:
    written: str  # as in the pack, with accents
    words: tuple[str, ...]  # its words, lower case, accents kept
    regex: re.Pattern[str]  # matches the accent-folded, lower-case text


def _phrase(entry: str) -> _Phrase:
    canonical = unicodedata.normalize("NFC", entry.strip().lower())
    tokens = []
    for token in _aligned_fold(canonical).split():
        pattern = re.escape(token).replace("\\#", _NUMBER).replace("%", r"\s*%")
        tokens.append(pattern)
    regex = re.compile(r"(?<![a-z0-9])" + r"\s+".join(tokens) + r"(?![a-z0-9])")
    return _Phrase(canonical, tuple(_WORD.findall(canonical)), regex)


@cache
def _promo_phrases(code: str) -> tuple[tuple[_Phrase, ...], tuple[_Phrase, ...]]:
    extras = pack_extras(code)
    words = sorted(extras.get("cskh_promo_words", ()), key=len, reverse=True)
    allowed = extras.get("cskh_promo_allowed", ())
    return tuple(_phrase(w) for w in words), tuple(_phrase(w) for w in allowed)


def _same_accents(phrase: _Phrase, written: str) -> bool:
    """Each word as the phrase spells it, or with no accents at all: "giam gia" may mean
    "giảm giá", but "chị hôm nay" (older sister, today) is not "chỉ hôm nay" (today only)."""
    words = _WORD.findall(written.lower())
    if len(words) != len(phrase.words):
        return False
    return all(w == p or w.isascii() for w, p in zip(words, phrase.words, strict=True))


def check_promotion(text: str, pack: Pack) -> list[Reason]:
    """Advertising wording in a customer-care message ("khuyến mãi", "giảm 50%", "voucher"),
    each word named once as written, in the order it appears."""
    phrases, allowed = _promo_phrases(pack.code)
    if not phrases:
        return []
    text = unicodedata.normalize("NFC", text)
    folded = _aligned_fold(text)
    care = [m.span() for p in allowed for m in p.regex.finditer(folded)]
    taken: list[tuple[int, int]] = []
    for phrase in phrases:
        for m in phrase.regex.finditer(folded):
            start, end = m.span()
            if any(a <= start and end <= b for a, b in care):
                continue
            if any(start < b and a < end for a, b in taken):
                continue
            if _same_accents(phrase, text[start:end]):
                taken.append((start, end))
    words: dict[str, None] = {}
    for start, end in sorted(taken):
        words.setdefault(text[start:end], None)
    return [Reason("cskh_promotion", {"word": w}) for w in words]


# --- everything ---------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _sender_reasons(sender: str) -> tuple[Reason, ...]:
    # The same few senders are judged for every message (the event path: one per event).
    return tuple(check_sender(sender))


def check_content(
    text: str,
    *,
    cls: str,
    pack: Pack,
    sender: str | None,
    verified_domains: Sequence[str] | None,
    brands: Sequence[Brand] = (),
    optout_keywords: Iterable[str] = (),
    otp_template: bool = False,
) -> list[Reason]:
    """Every message-level content reason for `text` as it would leave, in a stable order."""
    reasons: list[Reason] = []
    if cls == "qc":
        reasons += check_advertising_format(text, pack, optout_keywords)
    if cls == "cskh":
        reasons += check_promotion(text, pack)
    if sender:
        reasons += _sender_reasons(sender)
    reasons += check_links(text, sender=sender, verified_domains=verified_domains, brands=brands)
    reasons += check_wording(text, otp_template=otp_template)
    return reasons
