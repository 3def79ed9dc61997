"""Push payloads: FCM HTTP v1 and Declarative Web Push, with their size limits."""

from __future__ import annotations

import json

import pytest

from loa.domain.push import (
    FCM_MAX_BYTES,
    WEBPUSH_MAX_BYTES,
    Push,
    fcm_message,
    payload_bytes,
    webpush_payload,
)
from loa.i18n import LoaError

PUSH = Push(
    title="Flash sale 12h",
    body="Giảm 50% áo dài Tết, chỉ 2 giờ!",
    link="https://shop.vn/sale?utm_source=push",
    image="https://cdn.shop.vn/sale.jpg",
    data={"campaign": "c12"},
)


def test_fcm_message_for_a_device_token() -> None:
    assert fcm_message(PUSH, token="dXl0...", collapse_key="sale", ttl_s=3600) == {
        "message": {
            "token": "dXl0...",
            "notification": {
                "title": "Flash sale 12h",
                "body": "Giảm 50% áo dài Tết, chỉ 2 giờ!",
                "image": "https://cdn.shop.vn/sale.jpg",
            },
            "data": {"campaign": "c12", "link": "https://shop.vn/sale?utm_source=push"},
            "android": {"priority": "high", "collapse_key": "sale", "ttl": "3600s"},
            "apns": {
                "payload": {"aps": {"mutable-content": 1}},
                "fcm_options": {"image": "https://cdn.shop.vn/sale.jpg"},
                "headers": {"apns-collapse-id": "sale"},
            },
            "webpush": {"fcm_options": {"link": "https://shop.vn/sale?utm_source=push"}},
        }
    }


def test_fcm_app_deep_link_to_a_topic() -> None:
    push = Push(title="Đơn hàng đã giao", link="shopapp://orders/123")
    message = fcm_message(push, topic="news", android_channel_id="orders")["message"]
    assert message["topic"] == "news"
    assert message["data"] == {"link": "shopapp://orders/123"}
    assert message["android"] == {"priority": "high", "notification": {"channel_id": "orders"}}
    assert "webpush" not in message  # browsers cannot open an app link
    assert message["notification"] == {"title": "Đơn hàng đã giao", "body": ""}


def test_webpush_payload_is_declarative() -> None:
    payload = webpush_payload(PUSH, tag="sale")
    assert payload == {
        "web_push": 8030,
        "notification": {
            "title": "Flash sale 12h",
            "navigate": "https://shop.vn/sale?utm_source=push",
            "body": "Giảm 50% áo dài Tết, chỉ 2 giờ!",
            "image": "https://cdn.shop.vn/sale.jpg",
            "tag": "sale",
            "data": {"campaign": "c12"},
        },
    }
    # Compact JSON in UTF-8: 228 characters; the body's 6 accented letters take 10 more bytes.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    assert (len(text), payload_bytes(payload)) == (228, 238)


def test_sizes_are_checked_against_each_limit() -> None:
    # Vietnamese letters with tone marks are 2-3 bytes each in UTF-8: count bytes, not letters.
    assert (FCM_MAX_BYTES, WEBPUSH_MAX_BYTES) == (4096, 3993)
    base = payload_bytes({"web_push": 8030, "notification": {"title": "T", "navigate": PUSH.link}})
    room = WEBPUSH_MAX_BYTES - base - len(',"body":""')
    fits = Push(title="T", body="ệ" * (room // 3), link=PUSH.link)
    assert payload_bytes(webpush_payload(fits)) == WEBPUSH_MAX_BYTES - room % 3
    over = Push(title="T", body="ệ" * (room // 3 + 1), link=PUSH.link)
    with pytest.raises(LoaError) as err:
        webpush_payload(over)
    size = WEBPUSH_MAX_BYTES - room % 3 + 3
    assert err.value.render() == (
        f"Nội dung Web Push nặng {size} byte, vượt giới hạn 3993 byte (thừa {size - 3993} byte). "
        "Rút ngắn tiêu đề, nội dung hoặc dữ liệu kèm theo."
    )
    with pytest.raises(LoaError) as err:
        fcm_message(Push(title="T", body="x" * 4000), token="t")
    assert err.value.code == "push.too_big"
    assert "over the limit of 4096 bytes" in err.value.render("en")


@pytest.mark.parametrize(
    ("push", "options", "message"),
    [
        (Push(title=" "), {"token": "t"}, "Thông báo đẩy cần tiêu đề (--title)."),
        (
            Push(title="T", link="http://shop.vn"),
            {"token": "t"},
            "Liên kết 'http://shop.vn' không hợp lệ: cần https://... hoặc liên kết vào ứng dụng "
            "dạng tenapp://duong-dan.",
        ),
        (
            Push(title="T", image="http://cdn/a.jpg"),
            {"token": "t"},
            "Ảnh 'http://cdn/a.jpg' phải là một đường dẫn https (FCM và trình duyệt chỉ tải ảnh "
            "qua https).",
        ),
        (Push(title="T"), {}, "FCM cần đúng một nơi nhận: token của thiết bị hoặc topic."),
        (
            Push(title="T"),
            {"topic": "tin tức"},
            "Topic 'tin tức' không hợp lệ: chỉ gồm chữ cái không dấu, chữ số và - _ . ~ %.",
        ),
        (
            Push(title="T", data={"google.x": "1"}),
            {"token": "t"},
            "Khoá dữ liệu 'google.x' bị FCM dành riêng (from, notification, message_type, "
            "google.*, gcm.*): đổi tên khoá.",
        ),
    ],
)
def test_fcm_refusals_say_what_to_fix(push: Push, options: dict[str, str], message: str) -> None:
    with pytest.raises(LoaError) as err:
        fcm_message(push, **options)
    assert err.value.render() == message


def test_webpush_needs_an_https_link() -> None:
    with pytest.raises(LoaError) as err:
        webpush_payload(Push(title="T", link="shopapp://x"))
    assert err.value.render() == "Web Push chỉ mở được liên kết https, không mở được 'shopapp://x'."
