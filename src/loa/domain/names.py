"""Vietnamese names and header words: greeting names, accent folding for matching."""

from __future__ import annotations

import unicodedata

_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "D"})


def fold_accents(text: str) -> str:
    """'Số điện thoại' -> 'So dien thoai': for matching words, never for display."""
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD_EXTRA))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def header_key(header: str) -> str:
    """A spreadsheet header reduced to lower-case ASCII letters and digits."""
    return "".join(ch for ch in fold_accents(header).lower() if ch.isalnum())


def given_name(full_name: str | None) -> str | None:
    """The name a Vietnamese greeting uses: the last word ('Nguyễn Văn An' -> 'An')."""
    if not full_name:
        return None
    words = full_name.split()
    return words[-1] if words else None
