"""Judging one message as it would leave: brandname, template and content, nothing added.

Message-level only: who receives it (opt-outs, DNC, consent, hours, caps) is judged per
recipient by the decision engine, which takes these reasons as its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from loa.domain.compliance.content import check_content, workspace_brand
from loa.domain.compliance.packs import Pack
from loa.domain.compliance.reasons import Reason
from loa.i18n import Lang
from loa.services.compliance.brandnames import (
    Brandname,
    find_brandname,
    workspace_brandnames,
    workspace_pack,
)
from loa.services.compliance.templates import (
    Template,
    TemplateClass,
    check_class,
    find_template,
    match_template,
    matches,
    workspace_templates,
)
from loa.store.db import Store


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on a message: allowed when there is no reason against it."""

    allowed: bool
    reasons: list[Reason] = field(default_factory=list)
    template: str | None = None  # the template it matched, if any

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        """`{"allowed": ..., "reasons": [{"code": ..., "message": ...}]}` as printed."""
        return {
            "allowed": self.allowed,
            "reasons": [r.to_dict(lang) for r in self.reasons],
            "template": self.template,
        }


def check_message(
    store: Store,
    text: str,
    sender: str | None,
    cls: str,
    template: str | None = None,
    *,
    today: date | None = None,
) -> CheckResult:
    """Judge exactly `text` under `sender` as class `cls` (qc, cskh, public)."""
    kind = check_class(cls)
    with store.engine.connect() as conn:
        pack = workspace_pack(conn, store.workspace_id)
        brand = find_brandname(conn, store.workspace_id, sender) if sender else None
        own_brands = workspace_brandnames(conn, store.workspace_id)
        named: Template | None = (
            find_template(conn, store.workspace_id, template) if template else None
        )
        templates = workspace_templates(conn, store.workspace_id)
    return judge_message(
        text,
        sender,
        kind,
        pack,
        brand,
        own_brands,
        named,
        templates,
        template=template,
        today=today,
    )


def judge_message(
    text: str,
    sender: str | None,
    kind: TemplateClass,
    pack: Pack,
    brand: Brandname | None,
    own_brands: Sequence[Brandname],
    named: Template | None,
    templates: Sequence[Template],
    *,
    template: str | None = None,
    today: date | None = None,
) -> CheckResult:
    """`check_message` on facts already read: the sender's brandname, the workspace's
    brandnames and templates (the event path reads them once for many messages)."""
    reasons: list[Reason] = []
    if brand is None and (sender or pack.brandname_required):
        reasons.append(Reason("unregistered_brandname", {"sender": sender or ""}))
    if brand is not None and brand.expires_on is not None:
        zone = ZoneInfo("UTC" if pack.timezone == "recipient" else pack.timezone)
        today = today or datetime.now(zone).date()
        if brand.expires_on < today:
            reasons.append(
                Reason(
                    "brandname_expired",
                    {"sender": brand.name, "expires": brand.expires_on.strftime("%d/%m/%Y")},
                )
            )

    # The template the text renders from: the one named, else the first it fits (approved first).
    if named is not None:
        matched = named if matches(named.text, text) else None
    else:
        matched = match_template(text, templates)
    approved_cskh = matched is not None and matched.approved and matched.cls == "cskh"
    if kind == "cskh" and pack.cskh_template_required and not approved_cskh:
        reasons.append(Reason("template_not_approved", {"template": template or ""}))

    if brand is not None:
        verified: list[str] | None = list(brand.domains)
    else:
        verified = [] if pack.brandname_required else None
    reasons += check_content(
        text,
        cls=kind,
        pack=pack,
        sender=brand.name if brand else sender,
        verified_domains=verified,
        brands=[workspace_brand(b.name, b.domains) for b in own_brands],
        optout_keywords=[brand.optout_keyword] if brand and brand.optout_keyword else [],
        otp_template=matched is not None and matched.otp,
    )
    return CheckResult(not reasons, reasons, matched.name if matched else None)
