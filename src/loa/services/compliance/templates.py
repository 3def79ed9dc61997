"""Message templates as registered with the carriers: customer care (CSKH) must render from one
that is approved, and only a registered OTP template may ask for a one-time code.

A sent text matches a template when its static parts appear in order and the variables
(`{{ ... }}`, and `{% ... %}` blocks) cover whatever lies between them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from loa.domain.compliance.content import check_promotion
from loa.domain.compliance.packs import Pack
from loa.i18n import LoaError, Msg
from loa.services import audit
from loa.services.compliance.brandnames import parse_carriers, workspace_pack
from loa.store.db import Store
from loa.store.tables import message_templates

TemplateClass = Literal["qc", "cskh", "public"]
CLASSES: tuple[TemplateClass, ...] = ("qc", "cskh", "public")
_SLOT = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_SPACE = re.compile(r"\s+")

EXISTS = Msg(
    "templates.exists",
    "Mẫu '{name}' đã có. Thêm --replace để cập nhật.",
    "Template '{name}' already exists. Add --replace to update it.",
)
UNKNOWN = Msg(
    "templates.unknown",
    "Không có mẫu '{name}'. Xem danh sách: loa templates list.",
    "There is no template '{name}'. See the list: loa templates list.",
)
BAD_CLASS = Msg(
    "templates.bad_class",
    "Loại tin '{value}' không hợp lệ; dùng qc, cskh hoặc public.",
    "Message class '{value}' is not valid; use qc, cskh or public.",
)
EMPTY_TEXT = Msg(
    "templates.empty_text",
    "Nội dung mẫu '{name}' đang trống; hãy nhập --text.",
    "Template '{name}' has no text; give --text.",
)
UNCLOSED = Msg(
    "templates.unclosed",
    "Mẫu '{name}' có '{{{{' chưa đóng bằng '}}}}'.",
    "Template '{name}' has a '{{{{' without its '}}}}'.",
)
PROMOTION = Msg(
    "templates.cskh_promotion",
    "Mẫu CSKH '{name}' có nội dung quảng cáo: {words}. Tin chăm sóc khách hàng không được quảng "
    "cáo: hãy đăng ký mẫu này là QC (--class qc, có [QC] ở đầu và hướng dẫn từ chối ở cuối), "
    "hoặc bỏ các từ đó.",
    "The CSKH template '{name}' carries promotion: {words}. Customer care may not advertise: "
    "register it as QC (--class qc, with [QC] first and the opt-out line last), or remove the "
    "wording.",
)


@dataclass(frozen=True, slots=True)
class Template:
    """A registered template: its class, text, and approval."""

    name: str
    cls: str
    text: str
    approved: bool
    approved_carriers: tuple[str, ...] | None
    otp: bool

    def to_dict(self) -> dict[str, Any]:
        """As `--json` prints it."""
        return {
            "name": self.name,
            "class": self.cls,
            "text": self.text,
            "approved": self.approved,
            "approved_carriers": (
                list(self.approved_carriers) if self.approved_carriers is not None else None
            ),
            "otp": self.otp,
        }


@dataclass(frozen=True)
class _Pattern:
    text: str

    @cached_property
    def regex(self) -> re.Pattern[str]:
        parts = _SLOT.split(_normalize(self.text))
        return re.compile(".*?".join(re.escape(p) for p in parts), re.DOTALL)


def _normalize(text: str) -> str:
    # Carriers compare the rendered text with the template loosely on whitespace.
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def matches(template_text: str, text: str) -> bool:
    """True when `text` could have been rendered from `template_text`."""
    return _Pattern(template_text).regex.fullmatch(_normalize(text)) is not None


def match_template(text: str, templates: Iterable[Template]) -> Template | None:
    """The first template `text` renders from: approved ones first, then by name."""
    for template in sorted(templates, key=lambda t: (not t.approved, t.name)):
        if matches(template.text, text):
            return template
    return None


def _row(row: Any) -> Template:
    return Template(
        name=row.name,
        cls=row._mapping["class"],
        text=row.text,
        approved=bool(row.approved),
        approved_carriers=(
            tuple(row.approved_carriers) if row.approved_carriers is not None else None
        ),
        otp=bool(row.otp),
    )


def workspace_templates(conn: Connection, workspace_id: int) -> list[Template]:
    """Every template of the workspace, by name."""
    rows = conn.execute(
        select(message_templates)
        .where(message_templates.c.workspace_id == workspace_id)
        .order_by(message_templates.c.name)
    )
    return [_row(r) for r in rows]


def find_template(conn: Connection, workspace_id: int, name: str) -> Template:
    """The template called `name`; a clear error when there is none."""
    row = conn.execute(
        select(message_templates).where(
            message_templates.c.workspace_id == workspace_id,
            message_templates.c.name == name,
        )
    ).first()
    if row is None:
        raise LoaError(UNKNOWN, name=name)
    return _row(row)


def check_class(value: str) -> TemplateClass:
    """The message class named by `value` (qc, cskh, public)."""
    cls = value.strip().lower()
    for known in CLASSES:
        if cls == known:
            return known
    raise LoaError(BAD_CLASS, value=value)


def _refuse_promotion(name: str, text: str, pack: Pack) -> None:
    # Judged on the words the carrier approves, not on what the {{ variables }} will hold.
    found = check_promotion(_SLOT.sub(" ", text), pack)
    if found:
        words = ", ".join(f"'{r.params['word']}'" for r in found)
        raise LoaError(PROMOTION, name=name, words=words)


def add_template(
    store: Store,
    name: str,
    *,
    cls: str,
    text: str,
    approved: bool = False,
    carriers: Sequence[str] | None = None,
    otp: bool = False,
    replace: bool = False,
    actor: str = "cli",
) -> Template:
    """Register (or with `replace`, update) a template; `carriers` names who approved it."""
    name = name.strip()
    kind = check_class(cls)
    if not text.strip():
        raise LoaError(EMPTY_TEXT, name=name)
    if text.count("{{") != text.count("}}"):
        raise LoaError(UNCLOSED, name=name)
    approved_by = parse_carriers(carriers)
    now = datetime.now(UTC)
    values = {
        "class": kind,
        "text": text.strip(),
        "approved": approved or approved_by is not None,
        "approved_carriers": list(approved_by) if approved_by is not None else None,
        "otp": otp,
        "updated_at": now,
    }
    with store.engine.begin() as conn:
        if kind == "cskh":
            _refuse_promotion(name, text, workspace_pack(conn, store.workspace_id))
        exists = conn.execute(
            select(message_templates.c.id).where(
                message_templates.c.workspace_id == store.workspace_id,
                message_templates.c.name == name,
            )
        ).first()
        if exists and not replace:
            raise LoaError(EXISTS, name=name)
        if exists:
            conn.execute(
                update(message_templates)
                .where(message_templates.c.id == exists.id)
                .values(**values)
            )
        else:
            conn.execute(
                insert(message_templates).values(
                    workspace_id=store.workspace_id, name=name, created_at=now, **values
                )
            )
        audit.record(
            conn,
            workspace_id=store.workspace_id,
            actor=actor,
            action="template.replace" if exists else "template.add",
            target=name,
            details={"class": kind, "approved": values["approved"], "otp": otp},
            now=now,
        )
        return find_template(conn, store.workspace_id, name)


def list_templates(store: Store) -> list[Template]:
    """Every template of the workspace, by name."""
    with store.engine.connect() as conn:
        return workspace_templates(conn, store.workspace_id)
