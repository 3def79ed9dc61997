"""Email: headers for one-click unsubscribe, both parts, inlined CSS, personalization errors."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from loa.domain.email import EmailTemplate, build_email, html_to_text, parts_of
from loa.i18n import LoaError

NOW = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)
HTML = """<html><head><style>
p { color: #c00; }
@media (max-width: 600px) { p { font-size: 18px; } }
</style></head><body>
<h1>{{ gender | greeting }} {{ name | given }}</h1>
<p>Tặng bạn phiếu {{ amount | vnd }} cho <b>{{ item }}</b>, hạn {{ until | ddmm }}.</p>
<p><a href="https://shop.vn/tet">Xem ưu đãi</a></p>
</body></html>"""
CONTEXT = {
    "name": "Nguyễn Thị Thảo",
    "gender": "female",
    "amount": 50000,
    "item": "<hoa & quà>",
    "until": "2026-02-10",
}


def build(**changes: object) -> email.message.EmailMessage:
    options: dict[str, object] = {
        "sender": "Shop Hoa <news@shop.vn>",
        "to": "Thảo <thao@example.com>",
        "unsubscribe_url": "https://shop.vn/u/tk_123",
        "unsubscribe_mailto": "unsubscribe@shop.vn",
        "context": CONTEXT,
        "idempotency_key": "c12:4711",
        "now": NOW,
    }
    template = changes.pop(
        "template", EmailTemplate(subject="{{ name | given }} ơi, quà Tết!", html=HTML)
    )
    options.update(changes)
    return build_email(template, **options)  # type: ignore[arg-type]


def test_headers_carry_one_click_unsubscribe_and_a_stable_message_id() -> None:
    message = build()
    assert message["Subject"] == "Thảo ơi, quà Tết!"
    assert message["From"] == "Shop Hoa <news@shop.vn>"
    assert message["To"] == "Thảo <thao@example.com>"
    assert message["Date"] == "Tue, 20 Jan 2026 02:00:00 +0000"
    assert message["List-Unsubscribe"] == (
        "<mailto:unsubscribe@shop.vn?subject=unsubscribe>, <https://shop.vn/u/tk_123>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Loa-Idempotency-Key"] == "c12:4711"
    # The same key gives the same Message-ID: a retried send is the same message.
    assert message["Message-ID"] == build()["Message-ID"]
    assert message["Message-ID"].endswith("@shop.vn>")
    assert build(idempotency_key="c12:4712")["Message-ID"] != message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    # It survives the wire: parsed back, both parts are there.
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_html_is_personalised_escaped_and_css_inlined() -> None:
    _, html = parts_of(build())
    assert "<h1>Chị Thảo</h1>" in html
    assert '<p style="color: #c00;">Tặng bạn phiếu 50.000đ cho <b>&lt;hoa &amp; quà&gt;</b>' in html
    assert "hạn 10/02." in html
    # @media rules stay in a <style> block for the clients that read them.
    assert "@media (max-width: 600px)" in html
    # No unsubscribe link in the template: a footer with it is added before </body>.
    assert html.endswith(
        '<p style="font-size: 12px;color: #666">Không muốn nhận email này nữa? '
        '<a href="https://shop.vn/u/tk_123">Hủy đăng ký</a></p></body></html>\n'
    )


def test_plain_text_is_derived_from_the_html_when_not_given() -> None:
    text, _ = parts_of(build())
    assert text == (
        "Chị Thảo\n\n"
        "Tặng bạn phiếu 50.000đ cho <hoa & quà>, hạn 10/02.\n\n"
        "[Xem ưu đãi](https://shop.vn/tet)\n\n"
        "Không muốn nhận email này nữa? [Hủy đăng ký](https://shop.vn/u/tk_123)\n"
    )


def test_a_given_text_part_is_used_and_gets_the_unsubscribe_line() -> None:
    template = EmailTemplate(
        subject="Quà Tết", html=HTML, text="Chào {{ name | given }}, quà {{ amount | vnd }}."
    )
    text, _ = parts_of(build(template=template, lang="en"))
    assert text == (
        "Chào Thảo, quà 50.000đ.\n\n-- \nDon't want these emails? Unsubscribe: "
        "https://shop.vn/u/tk_123\n"
    )


def test_a_template_that_places_the_link_itself_gets_no_footer() -> None:
    template = EmailTemplate(
        subject="Tin mới",
        html='<p>Chào {{ name | given }}</p><a href="{{ unsubscribe_url }}">Bỏ theo dõi</a>',
    )
    text, html = parts_of(build(template=template))
    assert html.count("https://shop.vn/u/tk_123") == 1
    assert "Hủy đăng ký" not in html and "Hủy đăng ký" not in text


def test_a_missing_variable_is_named() -> None:
    template = EmailTemplate(subject="Chào {{ given_name }}", html="<p>x</p>")
    with pytest.raises(LoaError) as err:
        build(template=template)
    assert err.value.render() == (
        "Thiếu giá trị của biến 'given_name' trong mẫu subject của email: bổ sung dữ liệu, hoặc "
        'khai báo giá trị mặc định, ví dụ {{ given_name | default("bạn") }}.'
    )
    nested = EmailTemplate(subject="x", html="<p>Đơn {{ order.id }}</p>")
    with pytest.raises(LoaError) as err:
        build(template=nested, context={"order": {}})
    assert err.value.render("en") == (
        "The variable 'id' has no value in the email's HTML template: add the data, or declare "
        'a default, for example {{ id | default("there") }}.'
    )
    # A default makes a missing value fine.
    ok = EmailTemplate(subject='Chào {{ given_name | default("bạn") }}', html="<p>x</p>")
    assert build(template=ok)["Subject"] == "Chào bạn"


def test_syntax_errors_unsafe_templates_and_bad_filter_values_are_explained() -> None:
    with pytest.raises(LoaError) as err:
        build(template=EmailTemplate(subject="x", html="<p>\n{{ name </p>"))
    assert err.value.code == "email.syntax"
    assert err.value.render() == "Mẫu HTML của email sai cú pháp ở dòng 2: unexpected '/'."
    with pytest.raises(LoaError) as err:
        build(template=EmailTemplate(subject="x", html="{{ name.__class__.__mro__ }}"))
    assert err.value.code == "email.unsafe"
    with pytest.raises(LoaError) as err:
        build(template=EmailTemplate(subject="x", html="{{ name | vnd }}"))
    assert err.value.render() == (
        "Một bộ lọc trong mẫu HTML của email không dùng được với giá trị đã cho: cần một số tiền."
    )


@pytest.mark.parametrize(
    ("field", "changes", "message"),
    [
        (
            "to",
            {"to": "thao@"},
            "Địa chỉ To 'thao@' không hợp lệ: cần dạng 'ten@mien.vn' hoặc 'Tên <ten@mien.vn>'.",
        ),
        (
            "sender",
            {"sender": "Shop Hoa"},
            "Địa chỉ From 'Shop Hoa' không hợp lệ: cần dạng 'ten@mien.vn' hoặc "
            "'Tên <ten@mien.vn>'.",
        ),
        (
            "unsubscribe",
            {"unsubscribe_url": "http://shop.vn/u"},
            "Đường dẫn hủy đăng ký 'http://shop.vn/u' phải là https (RFC 8058 không chấp nhận "
            "http).",
        ),
    ],
)
def test_bad_addresses_and_links_are_refused(
    field: str, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(LoaError) as err:
        build(**changes)
    assert err.value.render() == message


def test_html_to_text_keeps_lists_and_links() -> None:
    assert html_to_text("<ul><li>Hoa</li><li>Quà</li></ul><a href='https://a.vn'>Mua</a>") == (
        "  * Hoa\n  * Quà\n[Mua](https://a.vn)\n"
    )
