"""The segments every workspace has without storing them; their names are reserved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from loa.i18n import Msg


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in segment: its display label and its rule (in the rule language)."""

    label: Msg
    rule: dict[str, Any]


_PURCHASE: Final = "purchase"
_WHOLESALE: Final[dict[str, Any]] = {
    "attr": "attrs.customer_type",
    "op": "eq",
    "value": "wholesale",
}

BUILTINS: Final[dict[str, Builtin]] = {
    "all": Builtin(
        Msg("segments.builtin.all", "Tất cả khách hàng", "All contacts"),
        {"all": []},
    ),
    "new": Builtin(
        Msg("segments.builtin.new", "Khách mới (30 ngày)", "New (last 30 days)"),
        {"created_within_days": 30},
    ),
    "potential": Builtin(
        Msg("segments.builtin.potential", "Khách tiềm năng (chưa mua)", "Potential (never bought)"),
        {"event": _PURCHASE, "count": {"eq": 0}},
    ),
    "past_buyers": Builtin(
        Msg("segments.builtin.past_buyers", "Khách đã mua", "Past buyers"),
        {"event": _PURCHASE, "exists": True},
    ),
    "loyal": Builtin(
        Msg("segments.builtin.loyal", "Khách trung thành", "Loyal (frequent buyers)"),
        {"rfm": {"f": {"gte": 4}}},
    ),
    "vip": Builtin(
        Msg("segments.builtin.vip", "Khách VIP (chi tiêu cao nhất)", "VIP (top spenders)"),
        {"rfm": {"m": {"eq": 5}}},
    ),
    "at_risk": Builtin(
        Msg(
            "segments.builtin.at_risk",
            "Khách sắp rời bỏ (mua lần cuối 90–180 ngày trước)",
            "At risk (last bought 90–180 days ago)",
        ),
        {
            "all": [
                {"event": _PURCHASE, "exists": True, "within_days": 180},
                {"event": _PURCHASE, "exists": False, "within_days": 90},
            ]
        },
    ),
    "inactive": Builtin(
        Msg(
            "segments.builtin.inactive",
            "Khách ngủ đông (180 ngày chưa mua lại)",
            "Inactive (no purchase in 180 days)",
        ),
        {
            "all": [
                {"event": _PURCHASE, "exists": True},
                {"event": _PURCHASE, "exists": False, "within_days": 180},
            ]
        },
    ),
    "wholesale": Builtin(
        Msg("segments.builtin.wholesale", "Khách sỉ", "Wholesale"),
        _WHOLESALE,
    ),
    "retail": Builtin(
        Msg("segments.builtin.retail", "Khách lẻ", "Retail"),
        {"not": _WHOLESALE},
    ),
}
