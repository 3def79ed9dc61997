"""SMS text: encoding (GSM-7 or UCS-2), parts, smart encoding, "không dấu", brandnames.

The counting follows Twilio's message-segment-calculator, the reference the industry checks
against (see tests/data/SOURCES.md): a GSM-7 message takes 160 septets in one part or 153 per part
when split, an extension character (`^ { } \\ [ ~ ] | €`, form feed) takes two septets and is never
split from its escape; a UCS-2 message takes 70 UTF-16 units in one part or 67 per part, and a
grapheme (an emoji, a flag, a ZWJ sequence, a letter with its marks) is never split across parts.
The text is NFC-normalised first, so Vietnamese typed in decomposed form costs what it looks like.

Analysing millions of messages is a planner's daily work, so the common cases take a fast path of
C-level string operations: a single-part message, or one whose characters are each one grapheme,
is split by arithmetic; only a multi-part message with characters that join into graphemes
(combining marks, emoji, ZWJ, ...) is split grapheme by grapheme.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import regex

from loa.i18n import LoaError, Msg

Encoding = Literal["GSM-7", "UCS-2"]
GSM7: Encoding = "GSM-7"
UCS2: Encoding = "UCS-2"

GSM7_SINGLE_PART_SEPTETS = 160
GSM7_MULTI_PART_SEPTETS = 153
UCS2_SINGLE_PART_UNITS = 70
UCS2_MULTI_PART_UNITS = 67

# GSM 03.38 basic character set (the escape 0x1B is not a character) and its extension table.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"

_NON_GSM = re.compile("[^" + re.escape(GSM7_BASIC + GSM7_EXTENSION) + "]")
_GSM7_CHARS = frozenset(GSM7_BASIC + GSM7_EXTENSION)
_EXTENSION_CHARS = frozenset(GSM7_EXTENSION)
_BASIC_ASCII = bytes(sorted(ord(c) for c in GSM7_BASIC if c.isascii()))
_EXTENSION_ASCII = bytes(ord(c) for c in GSM7_EXTENSION if c.isascii())

_GRAPHEME = regex.compile(r"\X")
# Unicode 15.1 (GB9c) joins Indic conjuncts into one grapheme; the reference calculator's
# splitter predates that rule, so a conjunct is split back to keep the counts the same.
_CONJUNCT = regex.compile(r"(?<=[\p{InCB=Linker}\p{InCB=Extend}])(?=\p{InCB=Consonant})")
# Characters that can join a neighbour into a grapheme of more than one code point.
_JOINING = regex.compile(
    r"[\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=SpacingMark}\p{GCB=Prepend}\p{GCB=L}\p{GCB=V}\p{GCB=T}]"
)


def _simple_ranges() -> str:
    """The BMP characters that never join a neighbour, as `re` set ranges.

    Between two such "simple" characters there is always a grapheme boundary, so only the runs
    around the other characters need the costly grapheme rules. The set comes from the `regex`
    module's grapheme properties (so it follows the same Unicode version as `\\X`), compiled
    into a plain `re` set, which tests a BMP character in constant time.
    """
    bmp = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x10000)))
    ranges: list[str] = []
    start = 0
    for run in regex.finditer(f"{_JOINING.pattern}+", bmp):
        first, last = ord(bmp[run.start()]), ord(bmp[run.end() - 1])
        if first > start:
            ranges.append(f"\\u{start:04x}-\\u{first - 1:04x}")
        start = last + 1
    ranges.append(f"\\u{start:04x}-\\uffff")
    return "".join(ranges)


# Compiled on first use: parsing the sets costs 60 ms, which a CLI that never counts text
# should not pay at import.
_all_simple: re.Pattern[str] | None = None
_joined_run: re.Pattern[str] | None = None
_linkers: frozenset[str] = frozenset()


def _grapheme_sets() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(text whose every code point is a grapheme of one UTF-16 unit, a joined run).

    A joined run is a run of other characters, with a simple character between two of them and
    one after them (an emoji a ZWJ joins); the one before, a base its marks attach to, is added
    by the caller, because a pattern that starts with a set is searched much faster.
    """
    global _all_simple, _joined_run, _linkers
    if _all_simple is None or _joined_run is None:
        ranges = _simple_ranges()
        simple, other = f"[{ranges}]", f"[^{ranges}]"
        _all_simple = re.compile(f"{simple}*")
        _joined_run = re.compile(f"{other}(?:{other}|{simple}(?={other}))*{simple}?")
        # Indic viramas; every script that has one is in the first two planes.
        planes = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x20000)))
        _linkers = frozenset(regex.findall(r"\p{InCB=Linker}", planes))
    return _all_simple, _joined_run


class SegmentCount(NamedTuple):
    """How a text would be sent, without the parts themselves: what a cost preview needs."""

    encoding: Encoding
    segments: int
    units: int


# NamedTuple's own constructor is Python code; on the hot path the C one is a third of the cost.
_new_count: Callable[[tuple[Encoding, int, int]], SegmentCount] = functools.partial(
    tuple.__new__, SegmentCount
)


@dataclass(frozen=True, slots=True)
class SmsAnalysis:
    """A text as it would be sent: its encoding, its parts and what each part holds."""

    text: str
    encoding: Encoding
    segments: int
    units: int
    chars_per_segment: list[int]
    parts: list[str]
    units_left_in_last_part: int
    replaced: list[tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        """The fields `loa text info --json` prints."""
        return {
            "text": self.text,
            "encoding": self.encoding,
            "segments": self.segments,
            "units": self.units,
            "chars_per_segment": list(self.chars_per_segment),
            "replaced": [list(pair) for pair in self.replaced],
        }


@dataclass(frozen=True, slots=True)
class AccentComparison:
    """The same text with and without Vietnamese accents, side by side, so the UI can offer the
    cheaper one; the accents are never dropped without the user choosing it."""

    with_accents: SmsAnalysis
    without_accents: SmsAnalysis

    @property
    def has_accents(self) -> bool:
        """Whether dropping the accents changes the text at all."""
        return self.with_accents.text != self.without_accents.text

    @property
    def segments_saved(self) -> int:
        """Parts saved per recipient by sending without accents."""
        return self.with_accents.segments - self.without_accents.segments


# --- counting -----------------------------------------------------------------------------------


def _gsm_scan(text: str) -> tuple[int, str]:
    """(septets the text takes in GSM-7 or -1 when GSM-7 cannot carry it, the characters in it
    that are not basic ASCII: the extension ones among them cost a second septet)."""
    # Vietnamese with accents shows a non-GSM letter early: a short look settles most texts.
    if not text.isascii() and _NON_GSM.search(text, 0, 64) is not None:
        return -1, ""
    # Deleting the basic ASCII characters from the UTF-8 bytes, at C speed, leaves the few
    # characters that need a closer look.
    odd = text.encode().translate(None, _BASIC_ASCII).decode()
    if not odd:
        return len(text), odd
    # `odd` is short: set operations beat a regular expression's set-up cost here.
    if not _GSM7_CHARS.issuperset(odd):
        return -1, odd
    escapes = len(odd) if odd.isascii() else sum(1 for c in odd if c in _EXTENSION_CHARS)
    return len(text) + escapes, odd


def _gsm_layout(text: str, odd: str) -> tuple[list[int], int]:
    """Where each part of a multi-part GSM-7 text ends, and the septets in its last part.

    Parts are filled greedily; an escape sequence is never split: a part that would end between
    the escape and its character ends before the escape.
    """
    escapes: list[int] = []
    for char in _EXTENSION_CHARS.intersection(odd):
        at = text.find(char)
        while at >= 0:
            escapes.append(at)
            at = text.find(char, at + 1)
    escapes.sort()
    escapes.append(len(text))  # the end, as a last stop that costs nothing
    capacity = GSM7_MULTI_PART_SEPTETS
    ends: list[int] = []
    used = placed = 0  # septets in the open part; characters placed so far
    for at in escapes:
        run = at - placed  # one-septet characters before the next escape
        while run > capacity - used:
            run -= capacity - used
            ends.append(at - run)
            used = 0
        used += run
        if at == len(text):
            break
        if used + 2 > capacity:
            ends.append(at)
            used = 0
        used += 2
        placed = at + 1
    ends.append(len(text))
    return ends, used


def _legacy_graphemes(run: str) -> list[str]:
    """The graphemes of a joined run as the reference calculator sees them: no Indic conjuncts.

    (A run never holds two simple characters in a row, so never a CR LF, which the reference
    counts as two characters where Unicode makes it one grapheme.)
    """
    if not _linkers:
        _grapheme_sets()
    out: list[str] = []
    for cluster in _GRAPHEME.findall(run):
        if len(cluster) > 1 and not _linkers.isdisjoint(cluster):
            out += _CONJUNCT.split(cluster)
        else:
            out.append(cluster)
    return out


def _utf16_units(piece: str) -> int:
    return len(piece.encode("utf-16-le")) >> 1


def _grapheme_count(text: str) -> int:
    """Graphemes in a UCS-2 text (the reference calculator's "characters")."""
    joined = 0
    for run in _grapheme_sets()[1].finditer(text):
        start = run.start() - 1 if run.start() else 0
        joined += run.end() - start - len(_legacy_graphemes(text[start : run.end()]))
    return len(text) - joined


def _ucs2_layout(text: str) -> tuple[list[int], list[int], int]:
    """Part ends, graphemes per part and units in the last part of a multi-part UCS-2 text.

    Parts are filled greedily, grapheme by grapheme; a run of simple characters is cut by
    arithmetic wherever the part is full.
    """
    capacity = UCS2_MULTI_PART_UNITS
    ends: list[int] = []
    counts: list[int] = []
    used = count = pos = 0  # units and graphemes in the open part; code points placed so far

    def place_simple(run: int) -> None:
        nonlocal used, count, pos
        while run > capacity - used:
            take = capacity - used
            pos += take
            run -= take
            ends.append(pos)
            counts.append(count + take)
            used = count = 0
        used += run
        count += run
        pos += run

    def place(piece: str, size: int) -> None:
        nonlocal used, count, pos
        if used + size > capacity:
            ends.append(pos)
            counts.append(count)
            used = count = 0
        used += size
        count += 1
        pos += len(piece)

    for run in _grapheme_sets()[1].finditer(text):
        start = run.start() - 1 if run.start() > pos else run.start()
        place_simple(start - pos)
        for grapheme in _legacy_graphemes(text[start : run.end()]):
            size = _utf16_units(grapheme)
            if size <= capacity:
                place(grapheme, size)
            else:
                # A grapheme longer than a part (hundreds of stacked marks) cannot stay whole:
                # it is split between code points, which still never splits a surrogate pair.
                for char in grapheme:
                    place(char, _utf16_units(char))
    place_simple(len(text) - pos)
    ends.append(pos)
    counts.append(count)
    return ends, counts, used


def _gsm_parts(text: str, septets: int, odd: str) -> int:
    """Parts of a multi-part GSM-7 text."""
    fewest = -(-septets // GSM7_MULTI_PART_SEPTETS)
    # A part ends short of 153 septets only to keep an escape whole, so by one septet at most:
    # one more part than the fewest would need more than 152 septets in each of those.
    if septets == len(text) or septets <= (GSM7_MULTI_PART_SEPTETS - 1) * fewest:
        return fewest
    return len(_gsm_layout(text, odd)[0])


def count_segments(text: str, *, nfc: bool = True) -> SegmentCount:
    """Encoding, parts and units of a text, without building the parts: the fast path."""
    # The common cases are written out here: on this path a function call costs as much as the
    # work itself.
    if text.isascii():
        size = len(text)
        escapes = text.encode().translate(None, _BASIC_ASCII)
        if escapes and escapes.translate(None, _EXTENSION_ASCII):
            # A backtick or a control character: UCS-2, one unit per ASCII character.
            return _new_count((UCS2, 1 if size <= 70 else -(-size // 67), size))
        septets = size + len(escapes)
        if septets <= GSM7_SINGLE_PART_SEPTETS:
            return _new_count((GSM7, 1, septets))
        return _new_count((GSM7, _gsm_parts(text, septets, escapes.decode()), septets))
    if nfc:
        text = unicodedata.normalize("NFC", text)
    # Vietnamese with accents shows a non-GSM letter early: a short look settles most texts.
    if _NON_GSM.search(text, 0, 64) is None:
        septets, odd = _gsm_scan(text)
        if septets >= 0:
            if septets <= GSM7_SINGLE_PART_SEPTETS:
                return _new_count((GSM7, 1, septets))
            return _new_count((GSM7, _gsm_parts(text, septets, odd), septets))
    size = len(text)
    if (_all_simple or _grapheme_sets()[0]).fullmatch(text) is not None:
        return _new_count((UCS2, 1 if size <= 70 else -(-size // 67), size))
    units = len(text.encode("utf-16-le")) >> 1
    segments = 1 if units <= UCS2_SINGLE_PART_UNITS else len(_ucs2_layout(text)[0])
    return _new_count((UCS2, segments, units))


def count_many(texts: Iterable[str], *, nfc: bool = True) -> list[SegmentCount]:
    """`count_segments` for each text: the planner's batch."""
    return [count_segments(text, nfc=nfc) for text in texts]


# --- full analysis ------------------------------------------------------------------------------


def _slices(text: str, ends: list[int]) -> list[str]:
    parts: list[str] = []
    start = 0
    for end in ends:
        parts.append(text[start:end])
        start = end
    return parts


def _analysis(text: str, replaced: list[tuple[str, str]]) -> SmsAnalysis:
    size = len(text)
    septets, odd = _gsm_scan(text)
    if septets >= 0:
        if septets <= GSM7_SINGLE_PART_SEPTETS:
            left = GSM7_SINGLE_PART_SEPTETS - septets
            return SmsAnalysis(text, GSM7, 1, septets, [size], [text], left, replaced)
        if septets == size:
            ends = [*range(GSM7_MULTI_PART_SEPTETS, size, GSM7_MULTI_PART_SEPTETS), size]
            last = size - (ends[-2] if len(ends) > 1 else 0)
        else:
            ends, last = _gsm_layout(text, odd)
        parts = _slices(text, ends)
        counts = [len(part) for part in parts]
        left = GSM7_MULTI_PART_SEPTETS - last
        return SmsAnalysis(text, GSM7, len(parts), septets, counts, parts, left, replaced)

    if (_all_simple or _grapheme_sets()[0]).fullmatch(text) is not None:
        if size <= UCS2_SINGLE_PART_UNITS:
            left = UCS2_SINGLE_PART_UNITS - size
            return SmsAnalysis(text, UCS2, 1, size, [size], [text], left, replaced)
        ends = [*range(UCS2_MULTI_PART_UNITS, size, UCS2_MULTI_PART_UNITS), size]
        parts = _slices(text, ends)
        counts = [len(part) for part in parts]
        left = UCS2_MULTI_PART_UNITS - counts[-1]
        return SmsAnalysis(text, UCS2, len(parts), size, counts, parts, left, replaced)

    units = len(text.encode("utf-16-le")) >> 1
    if units <= UCS2_SINGLE_PART_UNITS:
        left = UCS2_SINGLE_PART_UNITS - units
        return SmsAnalysis(text, UCS2, 1, units, [_grapheme_count(text)], [text], left, replaced)
    ends, counts, last = _ucs2_layout(text)
    parts = _slices(text, ends)
    left = UCS2_MULTI_PART_UNITS - last
    return SmsAnalysis(text, UCS2, len(parts), units, counts, parts, left, replaced)


def analyze(
    text: str, *, smart_encoding: bool = False, unaccent: bool = False, nfc: bool = True
) -> SmsAnalysis:
    """The text as it would be sent, with its encoding and parts.

    `unaccent` drops the Vietnamese accents first (the user's choice, never a default).
    `smart_encoding` replaces look-alike characters (curly quotes, dashes, odd spaces, ...) with
    GSM-7 ones, but only when that makes the whole text GSM-7: in UCS-2 they cost nothing, and
    some replacements (`…` to `...`) would cost more. `nfc=False` counts the text exactly as given.
    """
    if nfc and not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if unaccent:
        text = strip_accents(text)
    replaced: list[tuple[str, str]] = []
    if smart_encoding and _gsm_scan(text)[0] < 0:
        candidate = text.translate(_SMART_TABLE)
        if candidate != text and _gsm_scan(candidate)[0] >= 0:
            replaced = [(c, SMART_ENCODING[c]) for c in dict.fromkeys(text) if c in SMART_ENCODING]
            text = candidate
    return _analysis(text, replaced)


def analyze_many(
    texts: Iterable[str], *, smart_encoding: bool = False, unaccent: bool = False
) -> list[SmsAnalysis]:
    """`analyze` for each text, with the same options."""
    return [analyze(t, smart_encoding=smart_encoding, unaccent=unaccent) for t in texts]


def non_gsm_characters(text: str) -> list[str]:
    """The distinct characters, in order of appearance, that force a text into UCS-2."""
    text = unicodedata.normalize("NFC", text)
    return list(dict.fromkeys(m.group() for m in _NON_GSM.finditer(text)))


# --- Vietnamese without accents -----------------------------------------------------------------

# Only the Latin diacritics block: Vietnamese tone and vowel marks all live there, while the marks
# of emoji (variation selectors, keycaps) and of other scripts must survive.
_DROP_ACCENTS: dict[int, str | None] = dict.fromkeys(range(0x0300, 0x0370))
# Ð (eth) stands in for Đ in text converted from the old VNI/TCVN3 encodings.
_DROP_ACCENTS.update({ord("đ"): "d", ord("Đ"): "D", ord("Ð"): "D"})


def strip_accents(text: str) -> str:
    """Vietnamese "không dấu": decompose, drop the marks, đ→d, Đ→D."""
    bare = unicodedata.normalize("NFD", text).translate(_DROP_ACCENTS)
    return unicodedata.normalize("NFC", bare)


def compare_accents(text: str, *, smart_encoding: bool = False) -> AccentComparison:
    """The analysis with and without accents, for the UI to offer the cheaper one."""
    return AccentComparison(
        analyze(text, smart_encoding=smart_encoding),
        analyze(text, smart_encoding=smart_encoding, unaccent=True),
    )


# --- smart encoding -----------------------------------------------------------------------------

# Look-alikes with a GSM-7 stand-in, after Twilio's Smart Encoding. Combining marks are left out
# on purpose: after NFC the ones left belong to letters, and `◌̂` turned into `^` changes the word.
_LOOK_ALIKES: dict[str, str] = {
    **dict.fromkeys("«»“”„‟″‶ʺ˝ˮ❝❞〝〞", '"'),
    **dict.fromkeys("‘’‚‛′‵´`ʹʻʼʽˈˊˋ❛❜", "'"),
    "‹": "<",
    "›": ">",
    **dict.fromkeys("‐‑‒–—―−⁃⎼⎽•", "-"),
    "…": "...",
    "‼": "!!",
    "⁇": "??",
    "⁈": "?!",
    "⁉": "!?",
    **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008", " "),
    **dict.fromkeys("\u2009\u200a\u202f\u205f\u3000\t\v", " "),
    "\u2028": "\n",
    "\u2029": "\n",
    # Invisible: a zero-width space, a word joiner, a byte-order mark, a soft hyphen.
    **dict.fromkeys("\u200b\u2060\ufeff\u00ad", ""),
    **dict.fromkeys("÷⁄∕⧸", "/"),
    **dict.fromkeys("⧵⧹∖", "\\"),
    "¼": "1/4",
    "½": "1/2",
    "¾": "3/4",
    "×": "x",
    **dict.fromkeys("∣⎸⎹⏐⎜⎟", "|"),
    "‗": "_",
    **dict.fromkeys("⁎∗⊛✢✣✤✥✱✲✳✺✻✼✽❃❉❊❋⧆", "*"),
    **dict.fromkeys("ː˸꞉⦂", ":"),
    "⁏": ";",
    "˖": "+",
    **dict.fromkeys("˜˷∼", "~"),
    "ˆ": "^",
    "、": ",",
    "。": ".",
    **dict.fromkeys("❨❪⟮⦅", "("),
    **dict.fromkeys("❩❫⟯⦆", ")"),
    "❴": "{",
    "❵": "}",
    **dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "ABCDEFGHIJKLMNOPRSTUVWYZ", strict=True)),
}
# Control characters have no glyph: dropping them changes nothing a reader sees.
_LOOK_ALIKES.update(
    dict.fromkeys((chr(cp) for cp in (*range(0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0))), "")
)


def _compatibility_forms() -> dict[str, str]:
    """Fullwidth, small and vertical forms of ASCII punctuation, by their NFKC equivalents."""
    forms: dict[str, str] = {}
    look_alikes = str.maketrans(_LOOK_ALIKES)
    for cp in (*range(0xFE10, 0xFE1A), *range(0xFE50, 0xFE6C), *range(0xFF01, 0xFF66)):
        char = chr(cp)
        plain = unicodedata.normalize("NFKC", char).translate(look_alikes)
        if plain != char and plain and _NON_GSM.search(plain) is None:
            forms[char] = plain
    return forms


SMART_ENCODING: dict[str, str] = {**_compatibility_forms(), **_LOOK_ALIKES}
_SMART_TABLE = str.maketrans(SMART_ENCODING)


# --- brandnames ---------------------------------------------------------------------------------

BRANDNAME_MAX_CHARS = 11
_BRANDNAME_CHAR = re.compile(r"[A-Za-z0-9 ._-]")
_RULE_VI = "chữ cái không dấu A–Z, a–z, chữ số 0–9, dấu cách, '-', '_' và '.'"
_RULE_EN = "unaccented letters A–Z, a–z, digits 0–9, space, '-', '_' and '.'"

BRANDNAME_EMPTY = Msg(
    "text.brandname_empty",
    f"Brandname đang để trống: hãy nhập 1–11 ký tự gồm {_RULE_VI}.",
    f"The brandname is empty: enter 1–11 characters of {_RULE_EN}.",
)
BRANDNAME_BAD_CHARS = Msg(
    "text.brandname_bad_chars",
    f"Brandname '{{name}}' có ký tự không được phép: {{chars}}. Chỉ dùng {_RULE_VI}.",
    f"Brandname '{{name}}' has characters that are not allowed: {{chars}}. Use only {_RULE_EN}.",
)
BRANDNAME_BAD_CHARS_SUGGEST = Msg(
    "text.brandname_bad_chars",
    f"Brandname '{{name}}' có ký tự không được phép: {{chars}}. Chỉ dùng {_RULE_VI}; "
    "ví dụ '{suggestion}'.",
    f"Brandname '{{name}}' has characters that are not allowed: {{chars}}. Use only {_RULE_EN}; "
    "for example '{suggestion}'.",
)
BRANDNAME_TOO_LONG = Msg(
    "text.brandname_too_long",
    "Brandname '{name}' dài {length} ký tự, quá giới hạn 11 ký tự: hãy rút gọn còn tối đa 11.",
    "Brandname '{name}' is {length} characters long, over the limit of 11: shorten it to 11 "
    "or fewer.",
)
BRANDNAME_ALL_DIGITS = Msg(
    "text.brandname_all_digits",
    "Brandname '{name}' chỉ có chữ số: hãy thêm ít nhất một chữ cái.",
    "Brandname '{name}' is all digits: add at least one letter.",
)


def _shown(char: str) -> str:
    return f"'{char}'" if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def _is_valid_brandname(name: str) -> bool:
    return (
        bool(name.strip())
        and len(name) <= BRANDNAME_MAX_CHARS
        and not name.isdigit()
        and all(_BRANDNAME_CHAR.fullmatch(c) for c in name)
    )


def validate_brandname(name: str) -> str:
    """The sender name unchanged if a carrier can register it; else a LoaError naming the fix."""
    if not name.strip():
        raise LoaError(BRANDNAME_EMPTY)
    bad = [c for c in dict.fromkeys(name) if not _BRANDNAME_CHAR.fullmatch(c)]
    if bad:
        chars = ", ".join(_shown(c) for c in bad)
        suggestion = "".join(_BRANDNAME_CHAR.findall(strip_accents(name)))
        if _is_valid_brandname(suggestion):
            raise LoaError(
                BRANDNAME_BAD_CHARS_SUGGEST, name=name, chars=chars, suggestion=suggestion
            )
        raise LoaError(BRANDNAME_BAD_CHARS, name=name, chars=chars)
    if len(name) > BRANDNAME_MAX_CHARS:
        raise LoaError(BRANDNAME_TOO_LONG, name=name, length=len(name))
    if name.isdigit():
        raise LoaError(BRANDNAME_ALL_DIGITS, name=name)
    return name
