"""Tracked links: each URL in a message becomes `https://<short-domain>/<code>`.

A code has a fixed length (7 by default), so a message's parts are known before any code is
issued: a preview puts a placeholder of the same length where the code will be. Codes come from
`secrets` over an alphabet without look-alike characters (no 0/O/o, 1/l/I), all GSM-7, so a link
never turns a message into UCS-2. The destination keeps its own query and gets UTM parameters
(the ones already there are kept: the marketer set them on purpose).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from loa.domain.templates import Slot, Template
from loa.domain.text import strip_accents
from loa.i18n import LoaError, Msg

CODE_ALPHABET: Final = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
DEFAULT_CODE_LENGTH: Final = 7
PLACEHOLDER_CHAR: Final = "x"

# A URL runs from its scheme (or "www.") to the next space or quote; closing punctuation right
# after it belongs to the sentence ("Xem https://shop.vn/sale.").
_URL: Final = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_TRAILING: Final = ".,;:!?)]}…"
_HOST: Final = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

INSECURE_LINK = Msg(
    "links.insecure",
    "Liên kết '{url}' dùng http:// không mã hoá: đổi sang https://, hoặc cho phép rõ ràng "
    "(--allow-http).",
    "The link '{url}' uses unencrypted http://: change it to https://, or allow it explicitly "
    "(--allow-http).",
)
BAD_SHORT_DOMAIN = Msg(
    "links.bad_short_domain",
    "Tên miền rút gọn '{domain}' không hợp lệ: ghi tên miền, ví dụ 'loa.vn' (không có "
    "https:// và đường dẫn).",
    "The short-link domain '{domain}' is not valid: give a domain name such as 'loa.vn' "
    "(without https:// or a path).",
)
BAD_CODE_LENGTH = Msg(
    "links.bad_code_length",
    "Độ dài mã liên kết {length} không hợp lệ: chọn từ 4 đến 16 ký tự.",
    "The link code length {length} is not valid: choose 4 to 16 characters.",
)


@dataclass(frozen=True, slots=True)
class LinkOptions:
    """How a message's links are shortened and tagged."""

    short_domain: str = "loa.vn"
    code_length: int = DEFAULT_CODE_LENGTH
    campaign: str = "loa"
    source: str = "loa"
    medium: str = "sms"
    allow_http: bool = False

    def __post_init__(self) -> None:
        domain = self.short_domain.strip().lower().removeprefix("https://").rstrip("/")
        if not _HOST.match(domain):
            raise LoaError(BAD_SHORT_DOMAIN, domain=self.short_domain)
        object.__setattr__(self, "short_domain", domain)
        if not 4 <= self.code_length <= 16:
            raise LoaError(BAD_CODE_LENGTH, length=self.code_length)

    def short_url(self, code: str) -> str:
        """The link the recipient sees."""
        return f"https://{self.short_domain}/{code}"

    @property
    def placeholder(self) -> str:
        """A short link as long as a real one, for previews."""
        return self.short_url(PLACEHOLDER_CHAR * self.code_length)


@dataclass(frozen=True, slots=True)
class Link:
    """A URL found in a message: where it is and where it leads."""

    start: int
    end: int
    url: str


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A short code issued for one recipient, and its tagged destination."""

    code: str
    destination: str


@dataclass(frozen=True, slots=True)
class Shortened:
    """A message with its links shortened, and the codes issued for it (none in a preview)."""

    text: str
    links: list[IssuedLink]


def find_links(text: str) -> list[Link]:
    """The URLs in a message (with a scheme, or starting with 'www.'), in order."""
    found: list[Link] = []
    for match in _URL.finditer(text):
        url = match.group()
        while url and url[-1] in _TRAILING:
            # A closing bracket that closes one opened inside the URL is part of it.
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        if "." not in url.split("//", 1)[-1]:
            continue
        found.append(Link(match.start(), match.start() + len(url), url))
    return found


def slug(name: str) -> str:
    """A campaign name as a UTM value: 'Tết 2026 – VIP' -> 'tet-2026-vip'."""
    bare = strip_accents(name).lower()
    return re.sub(r"[^a-z0-9]+", "-", bare).strip("-") or "loa"


def check_destination(url: str, *, allow_http: bool = False) -> str:
    """The destination with a scheme ('www.' gets https://); plain http:// only when allowed."""
    if url[:4].lower() == "www.":
        return "https://" + url
    if url[:7].lower() == "http://" and not allow_http:
        raise LoaError(INSECURE_LINK, url=url)
    return url


def with_utm(url: str, *, campaign: str, source: str = "loa", medium: str = "sms") -> str:
    """The URL with utm_source/medium/campaign added; its own parameters, UTM ones too, kept."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    for key, value in (("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign)):
        if key not in present:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:")))


def new_code(length: int = DEFAULT_CODE_LENGTH) -> str:
    """A random code of `length` characters without look-alikes."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def shorten(
    text: str,
    options: LinkOptions,
    *,
    issue: Callable[[int], str] | None = None,
) -> Shortened:
    """The message with each link replaced by a short one.

    With `issue` (a function from a code length to a fresh code, e.g. `new_code`) each link gets
    a code and its tagged destination is returned; without it (a preview) each link gets the
    placeholder and nothing is issued. Links already on the short domain are left alone.
    """
    out: list[str] = []
    issued: list[IssuedLink] = []
    done = 0
    for link in find_links(text):
        host = urlsplit(check_destination(link.url, allow_http=True)).hostname or ""
        if host == options.short_domain:
            continue
        destination = check_destination(link.url, allow_http=options.allow_http)
        out.append(text[done : link.start])
        if issue is None:
            out.append(options.placeholder)
        else:
            code = issue(options.code_length)
            tagged = with_utm(
                destination, campaign=options.campaign, source=options.source, medium=options.medium
            )
            issued.append(IssuedLink(code, tagged))
            out.append(options.short_url(code))
        done = link.end
    if not out:
        return Shortened(text, [])
    out.append(text[done:])
    return Shortened("".join(out), issued)


# --- links in templates -------------------------------------------------------------------------

# Private-use characters stand for the template's slots while its links are looked for: a URL
# may run through a slot (`https://shop.vn/don/{{ order.id }}`) and then leads somewhere
# different for each recipient.
_SLOT_MARK: Final = 0xE000


@dataclass(frozen=True, slots=True)
class LinkedTemplate:
    """A template whose links become short links.

    `preview` renders every link as the placeholder (the same length as a real short link);
    `destinations` are each link's destination as a template of its own (a link that runs
    through a slot leads somewhere different for each recipient); `issuing` renders link k from
    the row variable `_link<k>`, which `issue_links` fills in.
    """

    preview: Template
    destinations: list[Template]
    issuing: Template
    options: LinkOptions


def link_template(template: Template, options: LinkOptions) -> LinkedTemplate:
    """The template's links found once, for previews and for issuing codes per recipient."""
    marks = [chr(_SLOT_MARK + i) for i in range(len(template.slots))]
    skeleton = "".join(
        part + (marks[i] if i < len(marks) else "") for i, part in enumerate(template.literals)
    )
    links = [
        link
        for link in find_links(skeleton)
        if (urlsplit(_plain(link.url)).hostname or "") != options.short_domain
    ]
    if not links:
        return LinkedTemplate(template, [], template, options)
    destinations: list[Template] = []
    preview_parts: list[str | int] = []
    issuing_parts: list[str | int | tuple[str, ...]] = []
    done = 0
    for k, link in enumerate(links):
        if not _has_marks(link.url):
            check_destination(link.url, allow_http=options.allow_http)
        elif link.url[:7].lower() == "http://" and not options.allow_http:
            raise LoaError(INSECURE_LINK, url=_shown_url(link.url, template))
        before = _pieces(skeleton[done : link.start])
        preview_parts += [*before, options.placeholder]
        issuing_parts += [*before, (f"_link{k}",)]
        destinations.append(_assemble(template, _pieces(link.url), template.source))
        done = link.end
    rest = _pieces(skeleton[done:])
    return LinkedTemplate(
        _assemble(template, [*preview_parts, *rest], template.source),
        destinations,
        _assemble(template, [*issuing_parts, *rest], template.source),
        options,
    )


def issue_links(
    linked: LinkedTemplate,
    rows: list[dict[str, Any]],
    *,
    issue: Callable[[int], str] = new_code,
) -> list[list[IssuedLink]]:
    """Codes and tagged destinations for each row's links, written into the rows as `_link<k>`
    for `linked.issuing` to render. Rows whose destination cannot be rendered get none."""
    options = linked.options
    issued: list[list[IssuedLink]] = [[] for _ in rows]
    for k, destination in enumerate(linked.destinations):
        rendered = destination.render_rows(rows)
        for i, url in enumerate(rendered.texts):
            if url is None:
                continue
            url = check_destination(url, allow_http=options.allow_http)
            tagged = with_utm(
                url, campaign=options.campaign, source=options.source, medium=options.medium
            )
            code = issue(options.code_length)
            issued[i].append(IssuedLink(code, tagged))
            rows[i][f"_link{k}"] = options.short_url(code)
    return issued


def _plain(url: str) -> str:
    return check_destination(url, allow_http=True)


def _has_marks(text: str) -> bool:
    return any(_SLOT_MARK <= ord(c) < _SLOT_MARK + 0x1000 for c in text)


def _pieces(text: str) -> list[str | int]:
    """Text with slot marks as literal strings and slot numbers."""
    out: list[str | int] = []
    start = 0
    for i, char in enumerate(text):
        if _SLOT_MARK <= ord(char) < _SLOT_MARK + 0x1000:
            if i > start:
                out.append(text[start:i])
            out.append(ord(char) - _SLOT_MARK)
            start = i + 1
    if start < len(text):
        out.append(text[start:])
    return out


def _assemble(
    template: Template, parts: Sequence[str | int | tuple[str, ...]], source: str
) -> Template:
    """A template from literal strings, slot numbers of `template` and new slot paths."""
    literals = [""]
    slots: list[Slot] = []
    for part in parts:
        if isinstance(part, str):
            literals[-1] += part
        else:
            slots.append(template.slots[part] if isinstance(part, int) else Slot(part))
            literals.append("")
    return Template(source, literals, slots)


def _shown_url(url: str, template: Template) -> str:
    """A URL from the skeleton with its slots written back as `{{ variable }}`."""
    return "".join(
        p if isinstance(p, str) else "{{ " + template.slots[p].variable + " }}"
        for p in _pieces(url)
    )
