"""Tracked short links: exact replaced texts, UTM destinations, refusals."""

from __future__ import annotations

import pytest

from loa.domain.links import (
    CODE_ALPHABET,
    LinkOptions,
    find_links,
    issue_links,
    link_template,
    new_code,
    shorten,
    slug,
    with_utm,
)
from loa.domain.templates import parse
from loa.domain.text import count_segments
from loa.i18n import LoaError

OPTIONS = LinkOptions(short_domain="s.shop.vn", campaign="tet-2026")


def test_finds_links_without_sentence_punctuation() -> None:
    text = "Xem https://shop.vn/sale. Hoặc www.shop.vn/a?b=1, (https://wiki.vn/p_(1)) hay shop.vn"
    assert [link.url for link in find_links(text)] == [
        "https://shop.vn/sale",
        "www.shop.vn/a?b=1",
        "https://wiki.vn/p_(1)",
    ]


def test_preview_uses_a_placeholder_as_long_as_a_code() -> None:
    shortened = shorten("Ưu đãi tại https://shop.vn/tet?ref=zalo!", OPTIONS)
    assert shortened.text == "Ưu đãi tại https://s.shop.vn/xxxxxxx!"
    assert shortened.links == []


def test_issued_links_carry_utm_and_keep_existing_parameters() -> None:
    codes = iter(["abcdefg", "hijkmnp"])
    shortened = shorten(
        "Mua https://shop.vn/tet?ref=zalo&utm_source=fb hoặc www.shop.vn.",
        OPTIONS,
        issue=lambda length: next(codes),
    )
    assert shortened.text == "Mua https://s.shop.vn/abcdefg hoặc https://s.shop.vn/hijkmnp."
    assert [(link.code, link.destination) for link in shortened.links] == [
        (
            "abcdefg",
            "https://shop.vn/tet?ref=zalo&utm_source=fb&utm_medium=sms&utm_campaign=tet-2026",
        ),
        ("hijkmnp", "https://www.shop.vn?utm_source=loa&utm_medium=sms&utm_campaign=tet-2026"),
    ]


def test_plain_http_is_refused_unless_allowed() -> None:
    with pytest.raises(LoaError) as caught:
        shorten("Xem http://shop.vn/sale", OPTIONS)
    assert caught.value.render("vi") == (
        "Liên kết 'http://shop.vn/sale' dùng http:// không mã hoá: đổi sang https://, hoặc cho "
        "phép rõ ràng (--allow-http)."
    )
    allowed = LinkOptions(short_domain="s.shop.vn", allow_http=True)
    assert shorten("Xem http://shop.vn/sale", allowed).text == "Xem https://s.shop.vn/xxxxxxx"


def test_links_already_short_are_left_alone() -> None:
    assert shorten("Xem https://s.shop.vn/abc1234", OPTIONS).text == "Xem https://s.shop.vn/abc1234"


def test_codes_have_fixed_length_and_no_look_alikes() -> None:
    codes = {new_code(7) for _ in range(2_000)}
    assert {len(code) for code in codes} == {7}
    assert set("".join(codes)) <= set(CODE_ALPHABET)
    assert not set("0O1lIo") & set(CODE_ALPHABET)
    # Every code is plain GSM-7: a link never turns a message into UCS-2.
    assert count_segments(CODE_ALPHABET).encoding == "GSM-7"


@pytest.mark.parametrize(
    ("domain", "english"),
    [
        ("https://loa.vn/x", "The short-link domain 'https://loa.vn/x' is not valid: give a domain "
         "name such as 'loa.vn' (without https:// or a path)."),
        ("loa", "The short-link domain 'loa' is not valid: give a domain name such as 'loa.vn' "
         "(without https:// or a path)."),
    ],
)  # fmt: skip
def test_bad_short_domain(domain: str, english: str) -> None:
    with pytest.raises(LoaError) as caught:
        LinkOptions(short_domain=domain)
    assert caught.value.render("en") == english


def test_utm_and_slug() -> None:
    assert slug("Tết 2026 – Khách VIP!") == "tet-2026-khach-vip"
    assert with_utm("https://shop.vn/a#top", campaign="x") == (
        "https://shop.vn/a?utm_source=loa&utm_medium=sms&utm_campaign=x#top"
    )


def test_link_through_a_variable_gets_each_recipients_destination() -> None:
    template = parse("Đơn {{ order.id }}: https://shop.vn/don/{{ order.id }}. Xem www.shop.vn")
    linked = link_template(template, OPTIONS)
    rows = [{"order": {"id": 5}}, {"order": {"id": 6}}]
    assert linked.preview.render_all(rows) == [
        "Đơn 5: https://s.shop.vn/xxxxxxx. Xem https://s.shop.vn/xxxxxxx",
        "Đơn 6: https://s.shop.vn/xxxxxxx. Xem https://s.shop.vn/xxxxxxx",
    ]
    codes = iter(["aaaaaaa", "bbbbbbb", "ccccccc", "ddddddd"])
    issued = issue_links(linked, rows, issue=lambda length: next(codes))
    assert [[(i.code, i.destination) for i in links] for links in issued] == [
        [("aaaaaaa", "https://shop.vn/don/5?utm_source=loa&utm_medium=sms&utm_campaign=tet-2026"),
         ("ccccccc", "https://www.shop.vn?utm_source=loa&utm_medium=sms&utm_campaign=tet-2026")],
        [("bbbbbbb", "https://shop.vn/don/6?utm_source=loa&utm_medium=sms&utm_campaign=tet-2026"),
         ("ddddddd", "https://www.shop.vn?utm_source=loa&utm_medium=sms&utm_campaign=tet-2026")],
    ]  # fmt: skip
    assert linked.issuing.render_all(rows) == [
        "Đơn 5: https://s.shop.vn/aaaaaaa. Xem https://s.shop.vn/ccccccc",
        "Đơn 6: https://s.shop.vn/bbbbbbb. Xem https://s.shop.vn/ddddddd",
    ]


def test_http_link_through_a_variable_is_refused_when_the_template_is_prepared() -> None:
    with pytest.raises(LoaError) as caught:
        link_template(parse("Xem http://shop.vn/{{ path }}"), OPTIONS)
    assert caught.value.params["url"] == "http://shop.vn/{{ path }}"
