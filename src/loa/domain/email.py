"""Email: a personalised HTML message with a plain-text alternative and one-click unsubscribe.

Templates are Jinja2 in a sandbox (no attribute tricks, no file access) with autoescape in the
HTML, `StrictUndefined` (a missing variable is an error that names it, never an empty gap), and
the same filters as SMS text (`loa.domain.templates.FILTERS`: vnd, ddmm, greeting, given, ...).

CSS in `<style>` blocks is inlined into `style` attributes (css-inline), because many mail
clients drop `<style>`; `@media` rules stay in a `<style>` block for the clients that read it.
Remote stylesheets are never fetched. The plain-text part, when not given, is derived from the
final HTML with inscriptis (Apache-2.0; html2text would be simpler but is GPL).

Every message carries an unsubscribe link in its body (added at the end when the template has
none) and the `List-Unsubscribe` + `List-Unsubscribe-Post: List-Unsubscribe=One-Click` headers
of RFC 8058, which Gmail and Yahoo require of bulk senders. With an idempotency key the
Message-ID is derived from it, so a retried send is the same message to the receiving side.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Final
from urllib.parse import quote, urlsplit

import css_inline
from inscriptis import get_text  # type: ignore[import-untyped]
from inscriptis.model.config import ParserConfig  # type: ignore[import-untyped]
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from loa.domain.templates import FILTERS, FilterValueError
from loa.i18n import Lang, LoaError, Msg, current_lang

IDEMPOTENCY_HEADER: Final = "X-Loa-Idempotency-Key"

# --- messages -------------------------------------------------------------------------------

BAD_ADDRESS = Msg(
    "email.bad_address",
    "Địa chỉ {field} '{value}' không hợp lệ: cần dạng 'ten@mien.vn' hoặc 'Tên <ten@mien.vn>'.",
    "The {field} address '{value}' is not valid: use 'name@domain.com' or "
    "'Name <name@domain.com>'.",
)
BAD_UNSUBSCRIBE = Msg(
    "email.bad_unsubscribe",
    "Đường dẫn hủy đăng ký '{url}' phải là https (RFC 8058 không chấp nhận http).",
    "The unsubscribe link '{url}' must be https (RFC 8058 accepts no http).",
)
EMPTY_PART = Msg(
    "email.empty_part",
    "Mẫu {part} của email đang trống: cần có nội dung.",
    "The email's {part} template is empty: it needs content.",
)
MISSING_VARIABLE = Msg(
    "email.missing_variable",
    "Thiếu giá trị của biến '{variable}' trong mẫu {part} của email: bổ sung dữ liệu, hoặc khai "
    'báo giá trị mặc định, ví dụ {{{{ {variable} | default("bạn") }}}}.',
    "The variable '{variable}' has no value in the email's {part} template: add the data, or "
    "declare a "
    'default, for example {{{{ {variable} | default("there") }}}}.',
)
SYNTAX = Msg(
    "email.syntax",
    "Mẫu {part} của email sai cú pháp ở dòng {line}: {error}.",
    "The email's {part} template has a syntax error on line {line}: {error}.",
)
UNSAFE = Msg(
    "email.unsafe",
    "Mẫu {part} của email dùng một thao tác không được phép: {error}. Chỉ dùng biến và bộ lọc.",
    "The email's {part} template uses an operation that is not allowed: {error}. Use only "
    "variables and filters.",
)
BAD_FILTER_VALUE = Msg(
    "email.bad_filter_value",
    "Một bộ lọc trong mẫu {part} của email không dùng được với giá trị đã cho: cần {expected}.",
    "A filter in the email's {part} template cannot take the value given: it needs {expected}.",
)
BAD_CSS = Msg(
    "email.bad_css",
    "Không gộp được CSS vào HTML của email: {error}.",
    "Cannot inline the email's CSS: {error}.",
)
# Parts are named as the template fields and CLI flags are (--subject, --html, --text).
PART_SUBJECT = "subject"
PART_HTML = "HTML"
PART_TEXT = "text"
FOOTER_TEXT = Msg(
    "email.footer_text",
    "Không muốn nhận email này nữa? Hủy đăng ký: {url}",
    "Don't want these emails? Unsubscribe: {url}",
)
FOOTER_LINK = Msg("email.footer_link", "Hủy đăng ký", "Unsubscribe")
FOOTER_LEAD = Msg("email.footer_lead", "Không muốn nhận email này nữa?", "Don't want these emails?")

# --- rendering ------------------------------------------------------------------------------


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined)
    env.filters.update(FILTERS)
    return env


_HTML_ENV: Final = _environment(autoescape=True)
_TEXT_ENV: Final = _environment(autoescape=False)
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_UNDEFINED_ATTR = re.compile(r"has no attribute '([^']+)'$")
_INLINER: Final = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
_TEXT_CONFIG: Final = ParserConfig(display_links=True)


def _render(env: SandboxedEnvironment, source: str, context: Mapping[str, Any], where: str) -> str:
    try:
        return env.from_string(source).render(context)
    except TemplateSyntaxError as exc:
        raise LoaError(SYNTAX, part=where, line=exc.lineno, error=exc.message) from None
    except UndefinedError as exc:
        text = str(exc)
        found = _UNDEFINED_NAME.search(text) or _UNDEFINED_ATTR.search(text)
        variable = found.group(1) if found else text
        raise LoaError(MISSING_VARIABLE, variable=variable, part=where) from None
    except SecurityError as exc:
        raise LoaError(UNSAFE, part=where, error=exc) from None
    except FilterValueError as exc:
        raise LoaError(BAD_FILTER_VALUE, part=where, expected=exc.expected.render()) from None


def inline_css(html: str) -> str:
    """The HTML with its `<style>` rules moved into `style` attributes (no network access)."""
    try:
        return _INLINER.inline(html)
    except css_inline.InlineError as exc:
        raise LoaError(BAD_CSS, error=exc) from exc


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML email; links kept as '[text](url)'."""
    text = get_text(html, _TEXT_CONFIG)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def _with_html_footer(html: str, url: str, lang: Lang) -> str:
    if url in html or html_lib.escape(url) in html:
        return html
    footer = (
        '<p style="font-size:12px;color:#666">'
        f"{html_lib.escape(FOOTER_LEAD.render(lang))} "
        f'<a href="{html_lib.escape(url)}">{html_lib.escape(FOOTER_LINK.render(lang))}</a></p>'
    )
    at = html.lower().rfind("</body>")
    return f"{html[:at]}{footer}{html[at:]}" if at >= 0 else html + footer


def _with_text_footer(text: str, url: str, lang: Lang) -> str:
    if url in text:
        return text
    return f"{text.rstrip()}\n\n-- \n{FOOTER_TEXT.render(lang, url=url)}\n"


def _address(value: str, field: str) -> Address:
    name, addr = parseaddr(value)
    if not addr or "@" not in addr or any(c.isspace() for c in addr):
        raise LoaError(BAD_ADDRESS, field=field, value=value)
    local, _, domain = addr.rpartition("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise LoaError(BAD_ADDRESS, field=field, value=value)
    try:
        return Address(display_name=name, username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise LoaError(BAD_ADDRESS, field=field, value=value) from exc


def _message_id(idempotency_key: str | None, domain: str) -> str:
    if idempotency_key is None:
        return make_msgid(domain=domain)
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    """What the marketer writes: a subject, HTML, and optionally the plain-text part."""

    subject: str
    html: str
    text: str | None = None


def build_email(
    template: EmailTemplate,
    *,
    sender: str,
    to: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None = None,
    context: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    lang: Lang | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The message ready for SMTP: headers, a text/plain part and its text/html alternative.

    `unsubscribe_url` (https) is available to the template as `{{ unsubscribe_url }}`; when
    neither part uses it, a one-line footer with the link is added to it."""
    lang = lang or current_lang()
    from_addr = _address(sender, "From")
    to_addr = _address(to, "To")
    if urlsplit(unsubscribe_url).scheme != "https" or not urlsplit(unsubscribe_url).netloc:
        raise LoaError(BAD_UNSUBSCRIBE, url=unsubscribe_url)
    mailto = _address(unsubscribe_mailto, "List-Unsubscribe") if unsubscribe_mailto else None
    values = {**(context or {}), "unsubscribe_url": unsubscribe_url}

    subject = " ".join(_render(_TEXT_ENV, template.subject, values, PART_SUBJECT).split())
    if not subject:
        raise LoaError(EMPTY_PART, part=PART_SUBJECT)
    if not template.html.strip():
        raise LoaError(EMPTY_PART, part=PART_HTML)
    body_html = _render(_HTML_ENV, template.html, values, PART_HTML)
    body_html = inline_css(_with_html_footer(body_html, unsubscribe_url, lang))
    if template.text is not None and template.text.strip():
        body_text = _render(_TEXT_ENV, template.text, values, PART_TEXT)
    else:
        body_text = html_to_text(body_html)
    body_text = _with_text_footer(body_text, unsubscribe_url, lang)

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = from_addr
    message["To"] = to_addr
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = _message_id(idempotency_key, from_addr.domain)
    targets = [f"<{unsubscribe_url}>"]
    if mailto is not None:
        targets.insert(0, f"<mailto:{mailto.addr_spec}?subject={quote('unsubscribe')}>")
    message["List-Unsubscribe"] = ", ".join(targets)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if idempotency_key is not None:
        message[IDEMPOTENCY_HEADER] = idempotency_key
    message.set_content(body_text, cte="quoted-printable")
    message.add_alternative(body_html, subtype="html", cte="quoted-printable")
    return message


def parts_of(message: EmailMessage) -> tuple[str, str]:
    """The (plain text, HTML) bodies of a message built by `build_email`."""
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert isinstance(text_part, EmailMessage) and isinstance(html_part, EmailMessage)
    return str(text_part.get_content()), str(html_part.get_content())
