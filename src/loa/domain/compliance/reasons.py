"""Why a message may not leave (or not yet): stable reason codes with words in vi and en.

Every decision Loa stores carries these codes; reports group by them and the user reads the
rendered words. Codes are part of the API: add new ones, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loa.i18n import Lang, Msg


def _m(code: str, vi: str, en: str) -> Msg:
    return Msg(code, vi, en)


REASONS: dict[str, Msg] = {
    m.code: m
    for m in (
        # Recipient-level
        _m(
            "opted_out",
            "Người nhận đã từ chối quảng cáo ({when}).",
            "The recipient opted out ({when}).",
        ),
        _m(
            "dnc",
            "Số nằm trong danh sách không nhận quảng cáo (DNC).",
            "The number is on the do-not-call (DNC) list.",
        ),
        _m(
            "no_consent",
            "Chưa có bản ghi đồng ý nhận quảng cáo kèm cách thức và bằng chứng.",
            "No consent record with method and evidence for advertising.",
        ),
        _m(
            "frequency_cap",
            "Đã nhận {count} tin quảng cáo trong 24 giờ (tối đa {limit}).",
            "Already got {count} advertising messages in 24 hours (limit {limit}).",
        ),
        _m(
            "quiet_hours",
            "Ngoài giờ được phép gửi quảng cáo ({start}–{end}); hoãn đến {until}.",
            "Outside the allowed advertising hours ({start}–{end}); deferred to {until}.",
        ),
        _m(
            "quiet_hours_expired",
            "Ngoài giờ được phép và chiến dịch không cho hoãn ({start}–{end}).",
            "Outside the allowed hours and the campaign does not allow deferring ({start}–{end}).",
        ),
        _m(
            "invalid_number",
            "Số điện thoại không hợp lệ: {detail}.",
            "Invalid phone number: {detail}.",
        ),
        _m(
            "registration_refused",
            "Người nhận đã từ chối (hoặc không trả lời) tin đăng ký DKQC.",
            "The recipient refused (or did not answer) the DKQC registration message.",
        ),
        _m(
            "registration_already_sent",
            "Số này đã nhận tin đăng ký DKQC; chỉ được gửi một lần.",
            "This number already got its one DKQC registration message.",
        ),
        # Message-level
        _m(
            "unregistered_brandname",
            "Brandname '{sender}' chưa được đăng ký cho workspace này.",
            "Brandname '{sender}' is not registered for this workspace.",
        ),
        _m(
            "brandname_expired",
            "Brandname '{sender}' đã hết hạn ngày {expires}.",
            "Brandname '{sender}' expired on {expires}.",
        ),
        _m(
            "template_not_approved",
            "Tin CSKH phải khớp một mẫu đã được duyệt.",
            "A customer-care message must match an approved template.",
        ),
        _m(
            "missing_label",
            "Tin quảng cáo phải bắt đầu bằng {labels}.",
            "An advertising message must start with {labels}.",
        ),
        _m(
            "missing_optout",
            "Tin quảng cáo phải kết thúc bằng hướng dẫn từ chối (SMS và gọi điện).",
            "An advertising message must end with refusal instructions (by SMS and by call).",
        ),
        _m("content_blocked", "Nội dung bị chặn: {detail}.", "Content blocked: {detail}."),
    )
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code with the details that fill its words."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: Lang | None = None) -> str:
        """The reason in the user's language."""
        return REASONS[self.code].render(lang, **self.params)

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        """`{"code": ..., "message": ...}` as the CLI and API print it."""
        return {"code": self.code, "message": self.render(lang)}
