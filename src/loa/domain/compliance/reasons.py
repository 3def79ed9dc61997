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
            "min_gap",
            "Đã có tin quảng cáo khác cách chưa tới {hours} giờ (khoảng cách tối thiểu của "
            "doanh nghiệp).",
            "Another advertising message is less than {hours} hours away (the workspace's "
            "minimum gap).",
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
        _m(
            "no_legal_hour",
            "Số này có thể ở nhiều múi giờ ({zones}) và không có giờ nào được phép ở tất cả.",
            "This number may be in several time zones ({zones}) with no hour allowed in all.",
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
        # Message-level, content safety: each names the offending domain or word.
        _m(
            "link_not_verified",
            "Liên kết tới '{domain}' không thuộc tên miền đã xác minh của brandname '{sender}' "
            "({allowed}).",
            "The link to '{domain}' is not on a verified domain of brandname '{sender}' "
            "({allowed}).",
        ),
        _m(
            "insecure_link",
            "Liên kết '{url}' không dùng https; hãy đổi thành https://{domain}.",
            "The link '{url}' is not https; use https://{domain}.",
        ),
        _m(
            "lookalike_domain",
            "Tên miền '{domain}' giả dạng {brand} (tên miền thật: {official}).",
            "The domain '{domain}' imitates {brand} (its real domain: {official}).",
        ),
        _m(
            "lookalike_sender",
            "Brandname '{sender}' giả dạng {brand}.",
            "The brandname '{sender}' imitates {brand}.",
        ),
        _m(
            "risky_tld",
            "Tên miền '{domain}' dùng đuôi .{tld} hay bị dùng để lừa đảo.",
            "The domain '{domain}' uses .{tld}, a suffix common in scams.",
        ),
        _m(
            "shortener",
            "Liên kết rút gọn '{domain}' che giấu địa chỉ thật; hãy dùng liên kết đầy đủ.",
            "The shortened link '{domain}' hides where it goes; use the full link.",
        ),
        _m(
            "raw_ip",
            "Liên kết tới địa chỉ IP '{domain}' thay vì tên miền.",
            "The link goes to the IP address '{domain}' instead of a domain name.",
        ),
        _m(
            "credential_request",
            "Tin nhắn nhắc tới '{word}' (mã OTP, mật khẩu…) nhưng không phải mẫu OTP đã đăng ký.",
            "The message mentions '{word}' (OTP, password…) but is not a registered OTP template.",
        ),
        _m(
            "cskh_promotion",
            "Tin chăm sóc khách hàng (CSKH) không được có nội dung quảng cáo: '{word}'. Hãy gửi "
            "dưới dạng tin quảng cáo (QC) với [QC] ở đầu và hướng dẫn từ chối ở cuối, hoặc bỏ "
            "cụm từ này.",
            "A customer-care (CSKH) message may not carry promotion: '{word}'. Send it as "
            "advertising (QC) with [QC] first and the opt-out line last, or remove the wording.",
        ),
        # Campaign planning
        _m(
            "budget",
            "Vượt ngân sách {budget} đ của chiến dịch.",
            "Over the campaign's budget of {budget} VND.",
        ),
        _m(
            "render_failed",
            "Không cá nhân hoá được tin nhắn: {detail}",
            "The message could not be personalised: {detail}",
        ),
        _m(
            "carrier_limit",
            "Nhà mạng không nhận tin này: {detail}",
            "The carrier does not accept this message: {detail}",
        ),
        _m(
            "schedule_full",
            "Không còn khung giờ gửi trong lịch của chiến dịch.",
            "No sending time is left in the campaign's schedule.",
        ),
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
