"""Built-in event types and their ready messages, in Vietnamese and English.

Vietnamese texts are written without accents ("không dấu"): GSM-7 halves the price of a
message and every carrier delivers it under a brandname. Variables: the contact's columns
(`name`, `given_name`, `gender` …), `event.*` (the event's properties, its `value_vnd`, and for
every property holding a time `<prop>_time` (HH:MM) and `<prop>_date` (dd/mm/yyyy) in Vietnam
time), and for daily rules `voucher.code`, `voucher.value`, `voucher.expires`, `years`,
`milestone`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from loa.i18n import Lang, Msg

# Events that name a thing (an appointment, an order) carry its id in this property; runs keep
# it, so a change or a cancellation finds the messages still waiting for that thing.
SUBJECTS: Final[dict[str, str]] = {
    "appointment": "appointment_id",
    "order": "order_id",
    "shipment": "order_id",
    "payment": "bill_id",
    "loan": "loan_id",
    "cart": "cart_id",
}

# An event of these types cancels every message still waiting for the same subject.
CANCELLING: Final[frozenset[str]] = frozenset({"appointment_changed", "appointment_cancelled"})

EVENT_TYPES: Final[dict[str, Msg]] = {
    "account_created": Msg("automations.ev.account_created", "Tạo tài khoản", "Account created"),
    "order_completed": Msg(
        "automations.ev.order_completed", "Đơn hàng hoàn tất", "Order completed"
    ),
    "order_failed": Msg("automations.ev.order_failed", "Đơn hàng thất bại", "Order failed"),
    "payment_due": Msg("automations.ev.payment_due", "Hoá đơn đến hạn", "Payment due"),
    "payment_overdue": Msg("automations.ev.payment_overdue", "Hoá đơn quá hạn", "Payment overdue"),
    "loan_balance": Msg("automations.ev.loan_balance", "Dư nợ khoản vay", "Loan balance"),
    "appointment_booked": Msg(
        "automations.ev.appointment_booked", "Đặt lịch hẹn", "Appointment booked"
    ),
    "appointment_changed": Msg(
        "automations.ev.appointment_changed", "Đổi lịch hẹn", "Appointment changed"
    ),
    "appointment_cancelled": Msg(
        "automations.ev.appointment_cancelled", "Huỷ lịch hẹn", "Appointment cancelled"
    ),
    "shipment_shipped": Msg("automations.ev.shipment_shipped", "Đã gửi hàng", "Shipment shipped"),
    "shipment_out_for_delivery": Msg(
        "automations.ev.shipment_out_for_delivery", "Đang giao hàng", "Out for delivery"
    ),
    "shipment_delivered": Msg(
        "automations.ev.shipment_delivered", "Đã giao hàng", "Shipment delivered"
    ),
    "profile_incomplete": Msg(
        "automations.ev.profile_incomplete", "Hồ sơ chưa đủ", "Profile incomplete"
    ),
    "cart_abandoned": Msg(
        "automations.ev.cart_abandoned", "Giỏ hàng chưa thanh toán", "Cart not finished"
    ),
}

# Rules evaluated once a day over the whole contact book, not on an event.
DAILY_TYPES: Final[dict[str, Msg]] = {
    "daily:birthday": Msg("automations.ev.birthday", "Sinh nhật", "Birthday"),
    "daily:anniversary": Msg(
        "automations.ev.anniversary", "Kỷ niệm ngày trở thành khách hàng", "Customer anniversary"
    ),
    "daily:inactive": Msg("automations.ev.inactive", "Lâu không mua hàng", "No purchase in N days"),
    "daily:milestone": Msg(
        "automations.ev.milestone", "Mốc khách hàng thân thiết", "Loyalty milestone"
    ),
}


@dataclass(frozen=True, slots=True)
class Builtin:
    """A ready message for an event type: its class, texts and default timing."""

    name: str
    event: str
    cls: str
    vi: str
    en: str
    timing: dict[str, Any] = field(default_factory=lambda: {"mode": "now"})
    also: tuple[str, ...] = ()  # further event types the same message answers
    voucher: dict[str, Any] | None = None
    params: dict[str, Any] | None = None

    def text(self, lang: Lang) -> str:
        """The text in `lang`."""
        return self.vi if lang == "vi" else self.en


_WHO_VI = '{{ given_name | default("quy khach") | unaccent }}'
_WHO_EN = '{{ given_name | default("there") }}'
_AT_VI = "{{ event.starts_at_time }} ngay {{ event.starts_at_date }}"
_AT_EN = "{{ event.starts_at_time }} on {{ event.starts_at_date }}"
_BIRTHDAY_VOUCHER: Final = {"value": "20%", "valid_days": 30, "prefix": "SN"}

BUILTINS: Final[dict[str, Builtin]] = {
    b.name: b
    for b in (
        Builtin(
            "welcome",
            "account_created",
            "cskh",
            f"Chao mung {_WHO_VI}! Tai khoan cua ban da duoc tao thanh cong.",
            f"Welcome, {_WHO_EN}! Your account has been created.",
        ),
        Builtin(
            "order_confirmation",
            "order_completed",
            "cskh",
            "Don hang {{ event.order_id }} tri gia {{ event.value_vnd | vnd | unaccent }} da "
            f"duoc xac nhan. Cam on {_WHO_VI}!",
            "Order {{ event.order_id }} of {{ event.value_vnd | vnd }} is confirmed. "
            f"Thank you, {_WHO_EN}!",
        ),
        Builtin(
            "order_failed",
            "order_failed",
            "cskh",
            "Don hang {{ event.order_id }} chua thanh cong: {{ event.reason | unaccent }}. "
            "Vui long hoan tat trong ung dung hoac goi tong dai.",
            "Order {{ event.order_id }} did not go through: {{ event.reason }}. Please finish "
            "it in the app or call us.",
        ),
        Builtin(
            "payment_due",
            "payment_due",
            "cskh",
            "Hoa don {{ event.bill_id }} so tien {{ event.amount | vnd | unaccent }} den han "
            "ngay {{ event.due_date | ddmmyyyy }}.",
            "Bill {{ event.bill_id }} of {{ event.amount | vnd }} is due on "
            "{{ event.due_date | ddmmyyyy }}.",
            timing={"mode": "before", "hours": 72, "prop": "due_date"},
        ),
        Builtin(
            "payment_overdue",
            "payment_overdue",
            "cskh",
            "Hoa don {{ event.bill_id }} so tien {{ event.amount | vnd | unaccent }} da qua han "
            "tu ngay {{ event.due_date | ddmmyyyy }}. Vui long thanh toan som.",
            "Bill {{ event.bill_id }} of {{ event.amount | vnd }} has been overdue since "
            "{{ event.due_date | ddmmyyyy }}. Please pay soon.",
        ),
        Builtin(
            "loan_balance",
            "loan_balance",
            "cskh",
            "Du no khoan vay {{ event.loan_id }}: {{ event.balance | vnd | unaccent }}. Ky "
            "thanh toan tiep theo ngay {{ event.due_date | ddmmyyyy }}.",
            "Loan {{ event.loan_id }} balance: {{ event.balance | vnd }}. Next payment on "
            "{{ event.due_date | ddmmyyyy }}.",
        ),
        Builtin(
            "appointment_booked",
            "appointment_booked",
            "cskh",
            f"Lich hen {{{{ event.appointment_id }}}} luc {_AT_VI} da duoc xac nhan.",
            f"Appointment {{{{ event.appointment_id }}}} at {_AT_EN} is confirmed.",
        ),
        Builtin(
            "appointment_changed",
            "appointment_changed",
            "cskh",
            f"Lich hen {{{{ event.appointment_id }}}} da doi sang {_AT_VI}.",
            f"Appointment {{{{ event.appointment_id }}}} moved to {_AT_EN}.",
        ),
        Builtin(
            "appointment_cancelled",
            "appointment_cancelled",
            "cskh",
            "Lich hen {{ event.appointment_id }} da duoc huy.",
            "Appointment {{ event.appointment_id }} is cancelled.",
        ),
        Builtin(
            "appointment_reminder_24h",
            "appointment_booked",
            "cskh",
            f"Nhac lich: ban co hen luc {_AT_VI} (lich {{{{ event.appointment_id }}}}).",
            f"Reminder: your appointment is at {_AT_EN} ({{{{ event.appointment_id }}}}).",
            timing={"mode": "before", "hours": 24, "prop": "starts_at"},
            also=("appointment_changed",),
        ),
        Builtin(
            "appointment_reminder_2h",
            "appointment_booked",
            "cskh",
            f"Nhac lich: ban co hen luc {_AT_VI} (lich {{{{ event.appointment_id }}}}).",
            f"Reminder: your appointment is at {_AT_EN} ({{{{ event.appointment_id }}}}).",
            timing={"mode": "before", "hours": 2, "prop": "starts_at"},
            also=("appointment_changed",),
        ),
        Builtin(
            "shipment_shipped",
            "shipment_shipped",
            "cskh",
            "Don hang {{ event.order_id }} da duoc gui di, ma van don {{ event.tracking_id }}.",
            "Order {{ event.order_id }} has shipped, tracking number {{ event.tracking_id }}.",
        ),
        Builtin(
            "shipment_out_for_delivery",
            "shipment_out_for_delivery",
            "cskh",
            "Don hang {{ event.order_id }} dang duoc giao den ban hom nay.",
            "Order {{ event.order_id }} is out for delivery today.",
        ),
        Builtin(
            "shipment_delivered",
            "shipment_delivered",
            "cskh",
            "Don hang {{ event.order_id }} da duoc giao thanh cong. Cam on ban!",
            "Order {{ event.order_id }} has been delivered. Thank you!",
        ),
        Builtin(
            "profile_incomplete",
            "profile_incomplete",
            "cskh",
            "Ho so cua ban con thieu thong tin. Vui long cap nhat trong ung dung.",
            "Your profile is missing some details. Please update it in the app.",
            timing={"mode": "delay", "minutes": 1440},
        ),
        Builtin(
            "cart_abandoned",
            "cart_abandoned",
            "cskh",
            "Don hang cua ban chua thanh toan xong. Vui long hoan tat trong ung dung.",
            "Your order is not paid yet. Please finish it in the app.",
            timing={"mode": "delay", "minutes": 60},
        ),
        Builtin(
            "birthday",
            "daily:birthday",
            "qc",
            f"Chuc mung sinh nhat {_WHO_VI}! Tang ban ma {{{{ voucher.code }}}} giam "
            "{{ voucher.value }}, dung den {{ voucher.expires }}.",
            f"Happy birthday, {_WHO_EN}! Here is {{{{ voucher.code }}}} for "
            "{{ voucher.value }} off, valid until {{ voucher.expires }}.",
            timing={"mode": "at", "time": "09:00"},
            voucher=_BIRTHDAY_VOUCHER,
        ),
        Builtin(
            "anniversary",
            "daily:anniversary",
            "qc",
            f"Cam on {_WHO_VI} da dong hanh {{{{ years }}}} nam! Tang ban ma "
            "{{ voucher.code }} giam {{ voucher.value }}, dung den {{ voucher.expires }}.",
            f"Thank you for {{{{ years }}}} years, {_WHO_EN}! Here is {{{{ voucher.code }}}} "
            "for {{ voucher.value }} off, valid until {{ voucher.expires }}.",
            timing={"mode": "at", "time": "09:00"},
            voucher={"value": "15%", "valid_days": 30, "prefix": "KN"},
        ),
        Builtin(
            "reactivation",
            "daily:inactive",
            "qc",
            f"Lau roi khong gap {_WHO_VI}! Tang ban ma {{{{ voucher.code }}}} giam "
            "{{ voucher.value }}, dung truoc {{ voucher.expires }}.",
            f"We miss you, {_WHO_EN}! Here is {{{{ voucher.code }}}} for {{{{ voucher.value }}}} "
            "off, use it before {{ voucher.expires }}.",
            timing={"mode": "at", "time": "10:00"},
            voucher={"value": "10%", "valid_days": 14, "prefix": "QL"},
            params={"days": 90},
        ),
        Builtin(
            "loyalty_milestone",
            "daily:milestone",
            "qc",
            f"Chuc mung {_WHO_VI} da dat {{{{ milestone }}}} don hang! Tang ban ma "
            "{{ voucher.code }} giam {{ voucher.value }}, dung den {{ voucher.expires }}.",
            f"Congratulations, {_WHO_EN}, on {{{{ milestone }}}} orders! Here is "
            "{{ voucher.code }} for {{ voucher.value }} off, valid until {{ voucher.expires }}.",
            timing={"mode": "at", "time": "09:00"},
            voucher={"value": "25%", "valid_days": 30, "prefix": "TT"},
            params={"milestones": [5, 10, 20, 50]},
        ),
    )
}


def subject_prop(event_type: str) -> str | None:
    """The property naming the thing an event of `event_type` is about, if it names one."""
    return SUBJECTS.get(event_type.split("_", 1)[0])


def is_known_event(event_type: str) -> bool:
    """True for a built-in event or daily type (custom event types are allowed too)."""
    return event_type in EVENT_TYPES or event_type in DAILY_TYPES
