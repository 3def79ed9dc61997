"""Message classes and carrier rules: QC framing counted in parts and price, limits named."""

from __future__ import annotations

from pathlib import Path

import pytest

from loa.domain.compose import (
    OptOut,
    find_carrier,
    frame,
    frame_template,
    load_carriers,
    parse_class,
)
from loa.domain.templates import parse
from loa.domain.text import count_segments
from loa.i18n import LoaError

SHOP = OptOut("TC", "9029", "19001234")


def test_qc_gets_label_first_and_refusal_last() -> None:
    assert frame("Giảm 20% hôm nay", "qc", SHOP, sender="SHOP") == (
        "[QC] Giảm 20% hôm nay. Tu choi QC soan TC gui 9029, goi 19001234"
    )
    assert frame("Sale 20%!", "qc", SHOP, "en", sender="SHOP") == (
        "[QC] Sale 20%! To opt out text TC to 9029 or call 19001234"
    )


def test_qc_framing_is_not_repeated() -> None:
    once = frame("[qc] Giảm 20%", "qc", SHOP)
    assert once == "[qc] Giảm 20%. Tu choi QC soan TC gui 9029, goi 19001234"
    assert frame(once, "qc", SHOP) == once
    assert frame("[AD] Sale", "qc", SHOP).startswith("[AD] Sale. Tu choi")


@pytest.mark.parametrize("cls", ["cskh", "public"])
def test_care_and_public_messages_are_sent_as_written(cls: str) -> None:
    assert frame("Đơn 4711 đã giao", parse_class(cls)) == "Đơn 4711 đã giao"


def test_framing_counts_in_the_parts() -> None:
    text = "Chao ban, giam 20% cho don tu 500.000d tai tat ca cua hang den het 30/06."
    assert count_segments(text) == ("GSM-7", 1, 73)
    framed = frame(text, "qc", SHOP)
    # "[QC] " takes 7 septets ('[' and ']' take two each), " Tu choi ..." 42: 122 in all.
    assert count_segments(framed) == ("GSM-7", 1, 122)
    # Without a closing full stop the refusal is joined with ". ": 37 more characters fit in
    # the one part, 38 make two.
    assert count_segments(frame(text + "x" * 37, "qc", SHOP)) == ("GSM-7", 1, 160)
    assert count_segments(frame(text + "x" * 38, "qc", SHOP)) == ("GSM-7", 2, 161)


def test_qc_needs_every_refusal_field() -> None:
    with pytest.raises(LoaError) as caught:
        frame("Sale", "qc", OptOut("TC", None, " "), sender="SHOP")
    assert caught.value.code == "compose.qc_needs_optout"
    assert caught.value.render("en") == (
        "Advertising from the brandname 'SHOP' must end with how to refuse by SMS and by phone, "
        "but the brandname has no short code (optout_shortcode), hotline (hotline): set it on "
        "the brandname and try again."
    )
    assert caught.value.render("vi") == (
        "Tin quảng cáo của brandname 'SHOP' phải kết thúc bằng hướng dẫn từ chối qua SMS và qua "
        "điện thoại, nhưng brandname chưa có đầu số nhận từ chối (optout_shortcode), số hotline "
        "(hotline): khai báo cho brandname rồi thử lại."
    )


def test_template_framing_frames_every_copy() -> None:
    template = frame_template(parse("{{ name }} ơi, giảm 20%"), "qc", SHOP)
    assert template.render_all([{"name": "Lan"}]) == [
        "[QC] Lan ơi, giảm 20%. Tu choi QC soan TC gui 9029, goi 19001234"
    ]


def test_unknown_class() -> None:
    with pytest.raises(LoaError) as caught:
        parse_class("promo")
    assert caught.value.render("en") == (
        "There is no message class 'promo': choose qc (advertising), cskh (customer care) or "
        "public (public service)."
    )


def test_shipped_carriers() -> None:
    carriers = load_carriers()
    assert sorted(carriers) == [
        "gmobile", "itel", "mobifone", "reddi", "vietnamobile", "viettel", "vinaphone",
    ]  # fmt: skip
    viettel = find_carrier(carriers, "Viettel")
    assert viettel is not None
    assert (viettel.max_parts, viettel.ucs2_allowed) == (4, True)
    assert viettel.cost_vnd(3, "qc") == 3 * 800
    assert viettel.cost_vnd(3, "cskh") == 3 * 600
    assert find_carrier(carriers, "Beeline") is None
    assert find_carrier(carriers, None) is None


def test_limits_are_named_when_refused() -> None:
    carriers = load_carriers()
    long_text = "x" * 620  # five GSM-7 parts
    with pytest.raises(LoaError) as caught:
        carriers["viettel"].check(count_segments(long_text))
    assert caught.value.render("vi") == (
        "Tin nhắn dài 5 tin, vượt giới hạn 4 tin của Viettel: rút gọn nội dung hoặc bỏ dấu."
    )
    assert carriers["viettel"].refusal(count_segments("x" * 600)) is None
    problem = carriers["gmobile"].refusal(count_segments("Chào bạn"))
    assert problem is not None
    assert problem.render("en") == (
        "Gmobile does not accept brandname SMS with accents (UCS-2): send it without accents "
        "(--unaccent)."
    )


def test_carriers_file_errors_name_the_carrier(tmp_path: Path) -> None:
    path = tmp_path / "carriers.toml"
    path.write_text(
        "[viettel]\nmax_parts = 0\nucs2_allowed = true\n"
        "price_vnd = { qc = 1, cskh = 1, public = 1 }\n"
    )
    with pytest.raises(LoaError) as caught:
        load_carriers(path)
    assert caught.value.render("en") == (
        f"The carriers file {path} is wrong at 'viettel': max_parts must be a whole number from 1."
    )
