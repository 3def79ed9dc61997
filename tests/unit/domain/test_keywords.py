"""Reading inbound replies: a table of what customers type and what Loa understands."""

from __future__ import annotations

import pytest

from loa.domain.compliance.keywords import KeywordMatch, match_reply, normalize_reply
from loa.domain.compliance.packs import load_pack

VN = load_pack("vn")
US = load_pack("us")
BRANDS = {"SHOPABC": None, "Shop XYZ": None, "NHAKHOA": "HUYNK"}


@pytest.mark.parametrize(
    ("reply", "keyword"),
    [
        ("TC", "TC"),
        ("tc", "TC"),
        (" T C ", "TC"),
        ("Từ chối", "TU CHOI"),
        ("tu choi", "TU CHOI"),
        ("TU CHOI QC", "TU CHOI QC"),
        ("Từ chối quảng cáo", "TU CHOI"),
        ("TUCHOI", "TU CHOI"),  # the same keyword written without its space
        ("tu chui", "TU CHOI"),  # one slip in a long keyword
        ("TUCHOJ", "TU CHOI"),
        ("Huỷ", "HUY"),
        ("Hủy", "HUY"),
        ("HUY QC", "HUY QC"),
        ("stop.", "STOP"),
        ("STOP!!!", "STOP"),
        ("Stop all", "STOP"),
        ("Ngừng", "NGUNG"),
        ("tc qc", "TC"),
    ],
)
def test_opt_out_replies(reply: str, keyword: str) -> None:
    assert match_reply(reply, VN, BRANDS) == KeywordMatch("opt_out", keyword)


@pytest.mark.parametrize(
    "reply",
    [
        "Tôi muốn mua",
        "Huỷ đơn hàng",  # cancel the order, not the advertising
        "TC có giảm giá không?",
        "DK DNC",  # meant for 5656, not for us
        "ok",
        "TV",  # one slip from TC, but an everyday word
        "HAY",
        "SHOP",
        "Nhưng",  # one slip from NGUNG
        "",
        "   ",
        "😀",
        "TC SHOPDEF",  # not a brandname of the workspace
    ],
)
def test_replies_that_do_nothing(reply: str) -> None:
    assert match_reply(reply, VN, BRANDS) == KeywordMatch("none")


@pytest.mark.parametrize(
    ("reply", "brandname"),
    [
        ("TC SHOPABC", "SHOPABC"),
        ("tc shopabc", "SHOPABC"),
        ("Từ chối QC shop xyz", "Shop XYZ"),
        ("HUY SHOP XYZ", "Shop XYZ"),
        ("huynk", "NHAKHOA"),  # the brand's own refusal keyword
    ],
)
def test_brand_scoped_opt_out(reply: str, brandname: str) -> None:
    found = match_reply(reply, VN, BRANDS)
    assert (found.intent, found.brandname) == ("opt_out", brandname)


@pytest.mark.parametrize(
    ("reply", "pack", "intent", "keyword"),
    [
        ("DK", VN, "opt_in", "DK"),
        ("Đồng ý", VN, "opt_in", "DONG Y"),
        ("HELP", VN, "help", "HELP"),
        ("Trợ giúp", VN, "help", "TRO GIUP"),
        ("START", US, "opt_in", "START"),
        ("unsubscribe", US, "opt_out", "UNSUBSCRIBE"),
        ("Unsubscribr", US, "opt_out", "UNSUBSCRIBE"),
        ("info", US, "help", "INFO"),
        ("TC", US, "none", None),  # Vietnamese keywords mean nothing in the US pack
    ],
)
def test_other_intents_and_packs(reply: str, pack: object, intent: str, keyword: str) -> None:
    found = match_reply(reply, pack, {})  # type: ignore[arg-type]
    assert (found.intent, found.keyword) == (intent, keyword)


def test_normalize_reply() -> None:
    assert normalize_reply("  Từ   chối, QC! ") == "TU CHOI QC"
    assert normalize_reply("Đừng") == "DUNG"
