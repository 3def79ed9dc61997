"""Why a message did not arrive, in words: the carriers' and providers' codes as Loa stores
them in `outbox.code` (GSM MAP causes from receipts' err:, SMPP command statuses, Loa's own)."""

from __future__ import annotations

from typing import Final

from loa.i18n import Msg

_WORDS: Final[dict[str, tuple[str, str]]] = {
    # GSM MAP causes, as SMSCs write them in a receipt's err: field.
    "001": ("số không tồn tại", "unknown subscriber (number does not exist)"),
    "005": ("thuê bao không xác định", "unidentified subscriber"),
    "009": ("thuê bao không hợp lệ", "illegal subscriber"),
    "011": ("thuê bao không dùng dịch vụ SMS", "SMS not provisioned for the subscriber"),
    "012": ("máy không hợp lệ", "illegal equipment"),
    "013": ("thuê bao bị chặn nhận tin", "call barred"),
    "021": ("mạng không hỗ trợ", "facility not supported"),
    "027": ("máy tắt hoặc ngoài vùng phủ sóng", "absent subscriber (phone off or out of range)"),
    "031": ("thuê bao bận", "subscriber busy"),
    "032": ("lỗi chuyển tin tới máy", "SMS delivery failure"),
    "034": ("lỗi hệ thống nhà mạng", "carrier system failure"),
    "036": ("thiếu dữ liệu thuê bao", "data missing"),
    # SMPP v3.4 command statuses (submit_sm refused), as `0x%08X`.
    "0x00000001": ("độ dài tin không hợp lệ", "invalid message length"),
    "0x00000008": ("lỗi hệ thống SMSC", "SMSC system error"),
    "0x0000000A": ("brandname không hợp lệ hoặc chưa đăng ký", "invalid source (brandname)"),
    "0x0000000B": ("số nhận không hợp lệ", "invalid destination number"),
    "0x00000014": ("hàng đợi SMSC đầy", "SMSC queue full"),
    "0x00000045": ("SMSC từ chối gửi", "submit failed"),
    "0x00000058": ("gửi quá nhanh (vượt TPS)", "throttled (over the TPS limit)"),
    "0x00000062": ("thời hạn tin không hợp lệ", "invalid validity period"),
    "0x000000FF": ("lỗi không xác định", "unknown error"),
    # Loa's own codes.
    "no-receipt": (
        "không có báo cáo phát trong hạn",
        "no delivery receipt before the validity ended",
    ),
    "not-sent": ("hết hạn trước khi kịp gửi", "expired before it could be sent"),
    "uncertain": ("không rõ nhà cung cấp đã nhận chưa", "unknown whether the provider took it"),
    "no-sender": ("thiếu tên người gửi", "no sender"),
    "no-id": ("nhà cung cấp không trả mã tin", "the provider returned no message id"),
    "bad-address": ("địa chỉ nhận không hợp lệ", "invalid address"),
    "bad-payload": ("nội dung không hợp lệ", "invalid content"),
    "bad-subscription": ("đăng ký nhận push không hợp lệ", "invalid push subscription"),
    "gone": ("người nhận đã huỷ đăng ký push", "the push subscription is gone"),
    "too-big": ("tin quá lớn", "message too large"),
    "connect-timeout": ("không kết nối được nhà cung cấp", "could not reach the provider"),
    "connect-error": ("không kết nối được nhà cung cấp", "could not reach the provider"),
}

_STATUS_WORDS: Final[dict[str, tuple[str, str]]] = {
    "undelivered": ("không đến được máy", "undelivered"),
    "expired": ("hết hạn", "expired"),
    "rejected": ("nhà mạng từ chối", "rejected by the carrier"),
    "failed": ("lỗi khi gửi", "failed when sending"),
    "uncertain": ("không rõ (worker dừng giữa chừng)", "uncertain (worker stopped mid-send)"),
}


def reason_words(status: str, code: str | None) -> Msg:
    """The reason a message did not arrive, in both languages."""
    key = code or ""
    if key.lower().startswith("0x"):
        key = "0x" + key[2:].upper()
    elif key.isdigit():
        key = key.zfill(3)
    words = _WORDS.get(key) or _STATUS_WORDS.get(status) or (status, status)
    vi, en = words
    if code and key not in _WORDS:
        vi, en = f"{vi} (mã {code})", f"{en} (code {code})"
    return Msg(f"tracking.reason.{status}.{code or '-'}", vi, en)
