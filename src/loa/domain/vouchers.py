"""Voucher codes: unguessable, easy to read aloud and type, with a check character.

A code is an optional prefix and twelve characters in groups of four: `TET-7KQ4-M9XA-B3RW`.
The twelve come from a 31-character alphabet that leaves out 0, O, 1, I and L (L passes for
1 or I in many fonts and in handwriting); the first eleven are random and the last is a check
character. 31 is prime, so a weighted sum modulo 31 with distinct weights catches *every*
single wrong character and *every* swap of two characters: a typo is reported as a typo and
never lands on another customer's code.

Entropy: 31^11 ≈ 2.5·10^16 codes (54.5 bits). With a million live codes in a workspace, one
guess in 25 billion succeeds; at 100 guesses a second, far above what a till or the API
allows, a guesser needs about 8 years per hit.
"""

from __future__ import annotations

import io
import re
import secrets
from typing import Final

import segno

from loa.i18n import LoaError, Msg

ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE: Final = len(ALPHABET)  # 31, a prime
RANDOM_CHARS: Final = 11
BODY_CHARS: Final = RANDOM_CHARS + 1
GROUP_CHARS: Final = 4
PREFIX_MAX_CHARS: Final = 8
ENTROPY_BITS: Final = 54.5  # log2(31 ** 11)

_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_PREFIX = re.compile(rf"[A-Z0-9]{{1,{PREFIX_MAX_CHARS}}}")
_SEPARATORS = re.compile(r"[\s\-_.]+")
# Weights 1..12: distinct and non-zero modulo 31, which is what catches every swap.
_CHECK_WEIGHT = BODY_CHARS
_CHECK_INVERSE = pow(_CHECK_WEIGHT, -1, BASE)
_USABLE_BYTES = 256 - 256 % BASE  # 248: bytes at or above it would favour the first letters
_BYTE_TO_CHAR = bytes(ord(ALPHABET[b % BASE]) if b < _USABLE_BYTES else 0 for b in range(256))
_REJECTED = bytes(range(_USABLE_BYTES, 256))

BAD_PREFIX = Msg(
    "vouchers.bad_prefix",
    "Tiền tố '{prefix}' không hợp lệ: dùng 1–{max} chữ cái không dấu hoặc chữ số, ví dụ TET.",
    "The prefix '{prefix}' is not valid: use 1–{max} unaccented letters or digits, e.g. TET.",
)
MISTYPED_LENGTH = Msg(
    "vouchers.mistyped_length",
    "Mã '{code}' bị gõ sai: phần mã cần đúng {expected} ký tự (không kể tiền tố và dấu '-'), "
    "đang có {found}. Kiểm tra lại từng nhóm 4 ký tự.",
    "The code '{code}' is mistyped: it needs exactly {expected} characters after the prefix "
    "(not counting '-'), it has {found}. Check each group of 4 characters.",
)
MISTYPED_CHARS = Msg(
    "vouchers.mistyped_chars",
    "Mã '{code}' bị gõ sai: mã không bao giờ chứa {chars} (Loa không dùng số 0, 1 và chữ O, I, "
    "L vì dễ nhầm). Kiểm tra lại ký tự đó.",
    "The code '{code}' is mistyped: codes never contain {chars} (Loa leaves out 0, 1, O, I and "
    "L because they are easily confused). Check that character.",
)
MISTYPED_CHECK = Msg(
    "vouchers.mistyped_check",
    "Mã '{code}' bị gõ sai: ký tự kiểm tra không khớp, nên có một ký tự sai hoặc hai ký tự bị "
    "đảo chỗ. Đọc lại mã trên phiếu.",
    "The code '{code}' is mistyped: its check character does not match, so one character is "
    "wrong or two are swapped. Read the code on the voucher again.",
)


def check_prefix(prefix: str) -> str:
    """The prefix in upper case; a clear error when it cannot be part of a code."""
    upper = prefix.strip().upper()
    if not _PREFIX.fullmatch(upper):
        raise LoaError(BAD_PREFIX, prefix=prefix, max=PREFIX_MAX_CHARS)
    return upper


def check_character(random_part: str) -> str:
    """The character that makes the weighted sum of the whole body 0 modulo 31."""
    total = sum((i + 1) * _VALUE[c] for i, c in enumerate(random_part))
    return ALPHABET[(-total * _CHECK_INVERSE) % BASE]


def _format(prefix: str | None, body: str) -> str:
    groups = [body[i : i + GROUP_CHARS] for i in range(0, len(body), GROUP_CHARS)]
    return "-".join([prefix, *groups] if prefix else groups)


def _random_chars(count: int) -> str:
    """`count` uniform draws from ALPHABET: CSPRNG bytes below 248 (= 8 x 31), modulo 31."""
    out = bytearray()
    while len(out) < count:
        # A byte is kept with probability 248/256; draw a little more than needed.
        out += secrets.token_bytes(count + count // 16 + 16).translate(_BYTE_TO_CHAR, _REJECTED)
    return out[:count].decode("ascii")


def new_code(prefix: str | None = None) -> str:
    """A fresh random code from the system's CSPRNG, e.g. `TET-7KQ4-M9XA-B3RW`."""
    random_part = _random_chars(RANDOM_CHARS)
    return _format(prefix, random_part + check_character(random_part))


def new_codes(count: int, prefix: str | None = None) -> list[str]:
    """`count` distinct fresh codes."""
    prefix = check_prefix(prefix) if prefix else None
    chars = _random_chars(count * RANDOM_CHARS)
    found = {
        _format(prefix, part + check_character(part))
        for part in (chars[i : i + RANDOM_CHARS] for i in range(0, len(chars), RANDOM_CHARS))
    }
    while len(found) < count:  # two equal draws: 1 in 10^10 for a million codes
        found.add(new_code(prefix))
    return list(found)


def normalize_code(typed: str) -> str:
    """The canonical form of a typed code (any case, spaces or dashes), or why it is mistyped.

    Raises LoaError with MISTYPED_LENGTH, MISTYPED_CHARS or MISTYPED_CHECK."""
    shown = typed.strip()
    compact = _SEPARATORS.sub("", shown).upper()
    groups = [g for g in _SEPARATORS.split(shown) if g]
    if len(groups) in (3, 4) and all(3 <= len(g) <= 5 for g in groups[-3:]):
        # Typed in groups: a group of 3 or 5 is a dropped or doubled character, and saying so
        # beats the check character's "something is wrong".
        found = sum(len(g) for g in groups[-3:])
        if found != BODY_CHARS:
            raise LoaError(MISTYPED_LENGTH, code=shown, expected=BODY_CHARS, found=found)
    if len(compact) < BODY_CHARS:
        raise LoaError(MISTYPED_LENGTH, code=shown, expected=BODY_CHARS, found=len(compact))
    prefix, body = compact[:-BODY_CHARS], compact[-BODY_CHARS:]
    bad = sorted({c for c in body if c not in _VALUE})
    if bad:
        raise LoaError(MISTYPED_CHARS, code=shown, chars=", ".join(f"'{c}'" for c in bad))
    if prefix and not _PREFIX.fullmatch(prefix):
        raise LoaError(MISTYPED_LENGTH, code=shown, expected=BODY_CHARS, found=len(body))
    if check_character(body[:-1]) != body[-1]:
        raise LoaError(MISTYPED_CHECK, code=shown)
    return _format(prefix or None, body)


def qr_png(text: str, *, scale: int = 8) -> bytes:
    """A QR code of `text` as PNG bytes (error correction M, a 4-module quiet zone)."""
    qr = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(text: str, *, scale: int = 8) -> bytes:
    """A QR code of `text` as SVG bytes, for print and email."""
    qr = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=scale, border=4, xmldecl=False)
    return out.getvalue()
