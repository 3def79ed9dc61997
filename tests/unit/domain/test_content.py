"""Content safety: the exact reasons, naming the domain or word, for what a message carries."""

from __future__ import annotations

import pytest

from loa.domain.compliance.content import (
    check_advertising_format,
    check_content,
    check_links,
    check_sender,
    check_wording,
    find_links,
    skeleton,
    workspace_brand,
)
from loa.domain.compliance.packs import load_pack
from loa.domain.compliance.reasons import Reason

VN = load_pack("vn")
HIJACK = "Tai khoan cua ban se bi khoa, dang nhap tai https://vietcombank-secure.top"


def codes(reasons: list[Reason]) -> list[str]:
    return [r.code for r in reasons]


def test_hijack_message_is_refused_naming_the_domain() -> None:
    reasons = check_links(HIJACK, sender="VCB", verified_domains=["vietcombank.com.vn"])
    assert codes(reasons) == ["link_not_verified", "lookalike_domain", "risky_tld"]
    assert reasons[0].render() == (
        "Liên kết tới 'vietcombank-secure.top' không thuộc tên miền đã xác minh của brandname "
        "'VCB' (vietcombank.com.vn)."
    )
    assert reasons[1].render("en") == (
        "The domain 'vietcombank-secure.top' imitates Vietcombank "
        "(its real domain: vietcombank.com.vn)."
    )
    assert reasons[1].params["kind"] == "extra_words"
    assert reasons[2].render("en") == (
        "The domain 'vietcombank-secure.top' uses .top, a suffix common in scams."
    )


@pytest.mark.parametrize(
    ("host", "brand", "kind"),
    [
        ("vietcornbank.com", "Vietcombank", "homoglyph"),  # rn reads as m
        ("vietc0mbank.vn", "Vietcombank", "homoglyph"),
        ("vіetcombank.com", "Vietcombank", "homoglyph"),  # Cyrillic і
        ("vietcombnk.com", "Vietcombank", "typo"),
        ("vcb-login.top", "Vietcombank", "extra_words"),
        ("login.vietcombank.help", "Vietcombank", "extra_words"),
        ("vietcombank.help", "Vietcombank", "same_name"),
        ("techcombank-vn.xyz", "Techcombank", "extra_words"),
        ("momo.vn-khuyenmai.top", "MoMo", "extra_words"),
        ("agrlbank.com", "Agribank", "homoglyph"),  # l for i
    ],
)
def test_lookalike_domains(host: str, brand: str, kind: str) -> None:
    reasons = check_links(f"Xem https://{host}/x", sender="SHOP", verified_domains=["shop.vn"])
    found = [r for r in reasons if r.code == "lookalike_domain"]
    assert [(r.params["domain"], r.params["brand"], r.params["kind"]) for r in found] == [
        (host, brand, kind)
    ]


def test_lookalike_of_the_workspace_own_brand() -> None:
    own = [workspace_brand("SHOPABC", ["shopabc.vn"])]
    reasons = check_links(
        "Nhan qua tai https://shopabc-qua.top", sender="SHOPABC",
        verified_domains=["shopabc.vn"], brands=own,
    )  # fmt: skip
    found = [r for r in reasons if r.code == "lookalike_domain"]
    assert [(r.params["domain"], r.params["brand"]) for r in found] == [
        ("shopabc-qua.top", "SHOPABC")
    ]


def test_verified_subdomain_over_https_is_allowed() -> None:
    assert (
        check_links("Sale https://m.shop.vn/sale", sender="SHOP", verified_domains=["shop.vn"])
        == []
    )


def test_plain_http_is_refused_even_on_a_verified_domain() -> None:
    reasons = check_links("Xem http://shop.vn ngay", sender="SHOP", verified_domains=["shop.vn"])
    assert codes(reasons) == ["insecure_link"]
    assert (
        reasons[0].render()
        == "Liên kết 'http://shop.vn' không dùng https; hãy đổi thành https://shop.vn."
    )


def test_a_bank_domain_is_not_a_lookalike_of_itself() -> None:
    reasons = check_links(
        "https://digibank.vietcombank.com.vn", sender="SHOP", verified_domains=["shop.vn"]
    )
    assert codes(reasons) == ["link_not_verified"]


@pytest.mark.parametrize(
    ("text", "code", "domain"),
    [
        ("Vao bit.ly/abc123 de nhan qua", "shortener", "bit.ly"),
        ("Xem https://tinyurl.com/x", "shortener", "tinyurl.com"),
        ("Dang nhap http://103.21.5.7/login", "raw_ip", "103.21.5.7"),
        ("Vao 103.21.5.7/vcb", "raw_ip", "103.21.5.7"),
    ],
)
def test_shorteners_and_raw_ips(text: str, code: str, domain: str) -> None:
    reasons = check_links(text, sender="SHOP", verified_domains=["shop.vn"])
    assert [r.params["domain"] for r in reasons if r.code == code] == [domain]


def test_userinfo_trick_is_judged_by_the_real_host() -> None:
    reasons = check_links(
        "https://vietcombank.com.vn@evil.top/login", sender="VCB",
        verified_domains=["vietcombank.com.vn"],
    )  # fmt: skip
    assert [(r.code, r.params["domain"]) for r in reasons] == [
        ("link_not_verified", "evil.top"),
        ("risky_tld", "evil.top"),
    ]


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("Gia 1.500.000d, con 2.000.000.000d", []),
        ("Email cskh@shop.vn de duoc ho tro", []),
        ("TP.HCM, Q.1 v.v.", []),
        ("Chi tiet: shop.vn/sale, hoac www.shop.vn.", ["shop.vn", "www.shop.vn"]),
        ("Vao abc.com.Vui long", ["abc.com"]),
        ("HTTPS://SHOP.VN/A", ["shop.vn"]),
    ],
)
def test_find_links(text: str, hosts: list[str]) -> None:
    assert [link.host for link in find_links(text)] == hosts


def test_bare_verified_domain_is_allowed() -> None:
    assert check_links("Chi tiet tai shop.vn", sender="SHOP", verified_domains=["shop.vn"]) == []


def test_credential_wording_outside_an_otp_template() -> None:
    reasons = check_wording("Vui long cung cap mã OTP và mật khẩu de xac minh")
    assert [r.params["word"] for r in reasons] == ["mã OTP", "mật khẩu"]
    assert reasons[0].render("en") == (
        "The message mentions 'mã OTP' (OTP, password…) but is not a registered OTP template."
    )
    assert check_wording("Ma OTP cua ban la 123456", otp_template=True) == []


@pytest.mark.parametrize(
    "text", ["Pin sac du phong giam 30%", "Cap nhat phan mem OTPX", "Ma don hang 12345"]
)
def test_wording_that_is_not_a_credential_request(text: str) -> None:
    assert check_wording(text) == []


@pytest.mark.parametrize(
    ("sender", "brand"),
    [("VIETC0MBANK", "Vietcombank"), ("VCB-SECURE", "Vietcombank"), ("MOMO QUA", "MoMo")],
)
def test_lookalike_senders(sender: str, brand: str) -> None:
    reasons = check_sender(sender)
    assert [(r.code, r.params["brand"]) for r in reasons] == [("lookalike_sender", brand)]
    assert reasons[0].render() == f"Brandname '{sender}' giả dạng {brand}."


@pytest.mark.parametrize("sender", ["Vietcombank", "VCB", "SHOPABC", "MoMo"])
def test_real_senders_pass(sender: str) -> None:
    assert check_sender(sender) == []


def test_skeleton() -> None:
    assert skeleton("vietcornbank") == skeleton("VIETC0MBANK") == skeleton("vietcombank")


GOOD_QC = "[QC] Giam 50% tai https://shop.vn. Tu choi QC soan TC gui 6020, goi 1900 1234."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD_QC, []),
        ("[AD] Sale 50%. TC gui 6020 hoac goi 19001234", []),
        ("Giam 50%. Tu choi soan TC gui 6020, goi 1900 1234.", ["missing_label"]),
        ("[QC] Giam 50%. Tu choi soan TC gui 6020.", ["missing_optout"]),  # no call
        ("[QC] Tu choi soan TC gui 6020, goi 19001234. Giam 50% hom nay!", ["missing_optout"]),
        ("Giam 50%", ["missing_label", "missing_optout"]),
    ],
)
def test_advertising_label_first_and_refusal_last(text: str, expected: list[str]) -> None:
    assert codes(check_advertising_format(text, VN)) == expected


def test_brand_refusal_keyword_counts() -> None:
    text = "[QC] Giam 50%. Soan HUYABC gui 6020 hoac goi 19001234"
    assert codes(check_advertising_format(text, VN)) == ["missing_optout"]
    assert check_advertising_format(text, VN, ["HUYABC"]) == []


def test_check_content_in_order() -> None:
    reasons = check_content(
        "Nhap mat khau tai http://vcb-login.top", cls="qc", pack=VN, sender="VCB",
        verified_domains=["vietcombank.com.vn"],
    )  # fmt: skip
    assert codes(reasons) == [
        "missing_label",
        "missing_optout",
        "insecure_link",
        "link_not_verified",
        "lookalike_domain",
        "risky_tld",
        "credential_request",
    ]
