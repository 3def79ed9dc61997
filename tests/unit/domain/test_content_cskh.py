"""Customer care carries no promotion: the exact words found, as written, and the fix."""

from __future__ import annotations

import pytest

from loa.domain.compliance.content import check_content, check_promotion
from loa.domain.compliance.packs import load_pack

VN = load_pack("vn")


def words(text: str) -> list[str]:
    return [r.params["word"] for r in check_promotion(text, VN)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # Vietnamese with accents, without, and in capitals.
        ("Khuyến mãi lớn: giảm 50% cho đơn hàng", ["Khuyến mãi", "giảm 50%"]),
        ("khuyen mai GIAM GIA 30% tai cua hang", ["khuyen mai", "GIAM GIA"]),
        ("Chương trình khuyến mại tháng 12", ["khuyến mại"]),
        ("Ưu Đãi dành riêng cho bạn", ["Ưu Đãi"]),
        ("MUA 1 TANG 1 ca phe sua", ["MUA 1 TANG 1"]),
        ("Chỉ hôm nay!", ["Chỉ hôm nay"]),
        ("Giao hang mien phi toan quoc", ["mien phi"]),
        ("Dùng voucher ABC; mã giảm giá XYZ", ["voucher", "mã giảm giá"]),
        ("giam  50 % cho ban", ["giam  50 %"]),
        # English.
        ("Get 20 % OFF now", ["20 % OFF"]),
        ("Flash sale from 9pm, buy 2 get 1", ["Flash sale", "buy 2 get 1"]),
        ("Free shipping, today only", ["Free", "today only"]),
        # The same word twice is named once.
        ("Sale! Sale! Sale!", ["Sale"]),
        # Care wording.
        ("Don hang DH-1024 da giao thanh cong. Cam on quy khach.", []),
        ("Goi tong dai mien phi 18001234 neu can ho tro", []),
        ("Call our toll-free line 1800 1234", []),
        ("Feel free to call us", []),
        ("Wholesale order DH-9 is ready", []),
        # "chị hôm nay" (madam, today) is not "chỉ hôm nay" (today only); unaccented, it is
        # read as care where the words around it say whose day it is.
        ("Đơn hàng của chị hôm nay đã giao", []),
        ("Don hang cua chi hom nay da giao", []),
        ("CHI HOM NAY: dong gia 99k", ["CHI HOM NAY"]),
    ],
)
def test_promotion_words_in_customer_care(text: str, found: list[str]) -> None:
    assert words(text) == found


def test_the_reason_names_the_word_and_the_fix_in_both_languages() -> None:
    (reason,) = check_promotion("Don hang da giao. Tang voucher 50k cho lan sau.", VN)
    assert reason.code == "cskh_promotion"
    assert reason.render() == (
        "Tin chăm sóc khách hàng (CSKH) không được có nội dung quảng cáo: 'voucher'. Hãy gửi "
        "dưới dạng tin quảng cáo (QC) với [QC] ở đầu và hướng dẫn từ chối ở cuối, hoặc bỏ cụm "
        "từ này."
    )
    assert reason.render("en") == (
        "A customer-care (CSKH) message may not carry promotion: 'voucher'. Send it as "
        "advertising (QC) with [QC] first and the opt-out line last, or remove the wording."
    )


def test_only_customer_care_is_judged_for_promotion() -> None:
    text = "Giam gia 50% hom nay"
    judged = {
        cls: [r.code for r in check_content(
            text, cls=cls, pack=VN, sender=None, verified_domains=None
        )]
        for cls in ("cskh", "public", "qc")
    }  # fmt: skip
    assert judged == {
        "cskh": ["cskh_promotion"],
        "public": [],
        "qc": ["missing_label", "missing_optout"],
    }


def test_a_pack_without_promotion_words_judges_none() -> None:
    assert check_promotion("50% off, today only", load_pack("us")) == []
