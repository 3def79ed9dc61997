"""Vietnamese and English for everything a user reads; Vietnamese by default.

A message is a `Msg` constant defined next to the rule that uses it, so a reader finds the
words beside the logic. `str.format` placeholders fill in the details (row, column, value).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

Lang = Literal["vi", "en"]

_current: ContextVar[Lang] = ContextVar("loa_lang", default="vi")


def set_lang(lang: Lang) -> None:
    """Choose the language for messages rendered from now on in this context."""
    _current.set(lang)


def current_lang() -> Lang:
    """The language messages are rendered in."""
    return _current.get()


@dataclass(frozen=True, slots=True)
class Msg:
    """A user-facing message: a stable code for machines and the words in both languages."""

    code: str
    vi: str
    en: str

    def render(self, lang: Lang | None = None, **params: Any) -> str:
        """The message in `lang` (default: the current language) with its placeholders filled."""
        text = self.vi if (lang or _current.get()) == "vi" else self.en
        return text.format(**params) if params else text


class LoaError(Exception):
    """A domain error a user can act on: it names what is wrong and how to fix it."""

    def __init__(self, msg: Msg, **params: Any) -> None:
        self.msg = msg
        self.params = params
        super().__init__(msg.render("en", **params))

    @property
    def code(self) -> str:
        return self.msg.code

    def render(self, lang: Lang | None = None) -> str:
        """The error in the user's language."""
        return self.msg.render(lang, **self.params)
