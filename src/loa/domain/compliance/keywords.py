"""What an inbound reply asks for: stop advertising, start again, or help.

Replies are matched as a whole, never by a word inside a sentence: "Huỷ đơn hàng" (cancel the
order) or "Tôi muốn mua" must not stop a customer's messages, while "Từ chối", "tu choi qc",
"TUCHOI", "Huỷ" and "stop." must. The reply is reduced to upper-case ASCII words (accents,
punctuation and extra spaces dropped), then compared with the pack's keywords:

- exactly, or with the spaces taken out ("T C", "TUCHOI");
- with a trailing word that only says "advertising" ("TC QC", "HUY QUANG CAO", "STOP ALL");
- followed by a brandname of the workspace ("TC SHOPABC"): that brandname only;
- with one typing slip (edit distance 1) for keywords of six letters or more ("TUCHOJ"):
  shorter keywords ("TC", "HUY", "STOP", "NGUNG") are exact only, since one slip away from
  them are everyday words ("TV", "HAY", "SHOP", "NHUNG").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from rapidfuzz.distance import Levenshtein

from loa.domain.compliance.packs import Pack
from loa.domain.names import fold_accents

Intent = Literal["opt_out", "opt_in", "help", "none"]

# Words that only restate "advertising" after an opt-out keyword.
ADVERTISING_WORDS: Final = ("QC", "QUANG CAO", "TIN QC", "TIN QUANG CAO", "ALL", "TAT CA", "ADS")
FUZZY_MIN_LETTERS: Final = 6
_NOT_WORD = re.compile(r"[^A-Z0-9]+")


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """The reading of one reply: its intent, the pack keyword it matched, and the brandname
    it names (None: every brandname of the workspace)."""

    intent: Intent
    keyword: str | None = None
    brandname: str | None = None


NO_MATCH: Final = KeywordMatch("none")


def normalize_reply(text: str) -> str:
    """'  Từ chối, QC! ' -> 'TU CHOI QC': upper-case ASCII words separated by one space."""
    folded = fold_accents(unicodedata.normalize("NFKC", text)).upper()
    return _NOT_WORD.sub(" ", folded).strip()


def _compact(words: str) -> str:
    return words.replace(" ", "")


def _strip_advertising(words: str) -> str:
    for suffix in sorted(ADVERTISING_WORDS, key=len, reverse=True):
        if words.endswith(" " + suffix):
            return words[: -len(suffix) - 1]
    return words


def _find(words: str, keywords: tuple[str, ...], fuzzy: bool) -> str | None:
    """The keyword `words` says, exactly or without spaces or (if `fuzzy`) with one slip."""
    compact = _compact(words)
    for keyword in keywords:
        if words == keyword or compact == _compact(keyword):
            return keyword
    if fuzzy:
        for keyword in keywords:
            target = _compact(keyword)
            long_enough = min(len(target), len(compact)) >= FUZZY_MIN_LETTERS
            if long_enough and Levenshtein.distance(compact, target, score_cutoff=1) <= 1:
                return keyword
    return None


def match_reply(
    text: str, pack: Pack, brand_keywords: Mapping[str, str | None] | None = None
) -> KeywordMatch:
    """Read a reply for `pack`. `brand_keywords` maps each brandname of the workspace to its
    own refusal keyword (or None); a brand's own keyword opts out of that brand only."""
    words = normalize_reply(text)
    if not words:
        return NO_MATCH
    brands = brand_keywords or {}
    optout = tuple(normalize_reply(k) for k in pack.optout_keywords)

    keyword = _find(words, optout, fuzzy=True) or _find(
        _strip_advertising(words), optout, fuzzy=True
    )
    if keyword is not None:
        return KeywordMatch("opt_out", keyword)

    by_compact = {_compact(normalize_reply(name)): name for name in brands}
    for name, own in brands.items():
        if own and _compact(normalize_reply(own)) == _compact(words):
            return KeywordMatch("opt_out", normalize_reply(own), name)
    # "TC SHOPABC", "TU CHOI QC SHOP ABC": a keyword, then a brandname of the workspace.
    head = ""
    for word in words.split(" ")[:-1]:
        head = f"{head} {word}".strip()
        keyword = _find(_strip_advertising(head), optout, fuzzy=False)
        if keyword is not None:
            rest = _compact(words[len(head) :])
            if rest in by_compact:
                return KeywordMatch("opt_out", keyword, by_compact[rest])

    optin = tuple(normalize_reply(k) for k in pack.optin_keywords)
    keyword = _find(words, optin, fuzzy=False)
    if keyword is not None:
        return KeywordMatch("opt_in", keyword)
    keyword = _find(words, tuple(normalize_reply(k) for k in pack.help_keywords), fuzzy=False)
    if keyword is not None:
        return KeywordMatch("help", keyword)
    return NO_MATCH
