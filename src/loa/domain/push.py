"""App and browser push: one notification (title, body, deep link, image) as the payloads of
FCM HTTP v1 and Web Push, each checked against its size limit before it is queued.

Limits, in bytes of compact UTF-8 JSON:
- FCM: 4,096 for the message payload. We count the whole `message` object except its target
  (`token`/`topic`), so the Android, APNs and Web Push overrides are counted too; APNs' own
  limit is also 4,096, so a message that passes here passes there.
- Web Push: RFC 8030 push services must accept 4,096 bytes of *encrypted* payload. RFC 8291's
  aes128gcm (RFC 8188) spends 86 bytes on the header (16 salt + 4 record size + 1 key id length
  + 65 key id, the sender's public key), 16 on the AEAD tag and at least 1 on the padding
  delimiter: 4,096 - 86 - 16 - 1 = 3,993 bytes of plaintext, the figure RFC 8291 section 4
  gives. We check the JSON against 3,993.

The Web Push JSON is a Declarative Web Push message (W3C Push API: `{"web_push": 8030,
"notification": {...}}`), which Safari shows without a service worker; a service worker in
other browsers reads the same `notification` object and calls `showNotification` with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from loa.i18n import LoaError, Msg

FCM_MAX_BYTES: Final = 4096
WEBPUSH_MAX_BYTES: Final = 3993
WEBPUSH_DECLARATIVE: Final = 8030
LINK_KEY: Final = "link"

Target = Literal["fcm", "webpush"]

EMPTY_TITLE = Msg(
    "push.empty_title",
    "Thông báo đẩy cần tiêu đề (--title).",
    "A push notification needs a title (--title).",
)
BAD_LINK = Msg(
    "push.bad_link",
    "Liên kết '{link}' không hợp lệ: cần https://... hoặc liên kết vào ứng dụng dạng "
    "tenapp://duong-dan.",
    "The link '{link}' is not valid: use https://... or an app link such as myapp://path.",
)
WEB_LINK = Msg(
    "push.web_link",
    "Web Push chỉ mở được liên kết https, không mở được '{link}'.",
    "Web Push can only open https links, not '{link}'.",
)
BAD_IMAGE = Msg(
    "push.bad_image",
    "Ảnh '{image}' phải là một đường dẫn https (FCM và trình duyệt chỉ tải ảnh qua https).",
    "The image '{image}' must be an https URL (FCM and browsers only load images over https).",
)
TARGET_NEEDED = Msg(
    "push.target_needed",
    "FCM cần đúng một nơi nhận: token của thiết bị hoặc topic.",
    "FCM needs exactly one recipient: a device token or a topic.",
)
BAD_TOPIC = Msg(
    "push.bad_topic",
    "Topic '{topic}' không hợp lệ: chỉ gồm chữ cái không dấu, chữ số và - _ . ~ %.",
    "The topic '{topic}' is not valid: only unaccented letters, digits and - _ . ~ %.",
)
BAD_DATA = Msg(
    "push.bad_data",
    "Khoá dữ liệu '{key}' bị FCM dành riêng (from, notification, message_type, google.*, "
    "gcm.*): đổi tên khoá.",
    "The data key '{key}' is reserved by FCM (from, notification, message_type, google.*, "
    "gcm.*): rename it.",
)
TOO_BIG = Msg(
    "push.too_big",
    "Nội dung {target} nặng {size} byte, vượt giới hạn {limit} byte (thừa {over} byte). Rút "
    "ngắn tiêu đề, nội dung hoặc dữ liệu kèm theo.",
    "The {target} payload is {size} bytes, over the limit of {limit} bytes ({over} too many). "
    "Shorten the title, the body or the data.",
)

_TOPIC = re.compile(r"[A-Za-z0-9\-_.~%]{1,900}")
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*")
_RESERVED = ("from", "notification", "message_type")


@dataclass(frozen=True, slots=True)
class Push:
    """A notification as the marketer writes it."""

    title: str
    body: str = ""
    link: str | None = None
    image: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)


def _check(push: Push) -> None:
    if not push.title.strip():
        raise LoaError(EMPTY_TITLE)
    if push.link is not None:
        parts = urlsplit(push.link)
        if not _SCHEME.fullmatch(parts.scheme) or parts.scheme == "http":
            raise LoaError(BAD_LINK, link=push.link)
        if parts.scheme == "https" and not parts.netloc:
            raise LoaError(BAD_LINK, link=push.link)
    if push.image is not None:
        parts = urlsplit(push.image)
        if parts.scheme != "https" or not parts.netloc:
            raise LoaError(BAD_IMAGE, image=push.image)
    for key in push.data:
        if key in _RESERVED or key.startswith(("google.", "gcm.")):
            raise LoaError(BAD_DATA, key=key)


def payload_bytes(payload: Mapping[str, Any]) -> int:
    """The size that counts: compact JSON in UTF-8."""
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def _fit(payload: Mapping[str, Any], target: str, limit: int) -> None:
    size = payload_bytes(payload)
    if size > limit:
        raise LoaError(TOO_BIG, target=target, size=size, limit=limit, over=size - limit)


def fcm_message(
    push: Push,
    *,
    token: str | None = None,
    topic: str | None = None,
    collapse_key: str | None = None,
    ttl_s: int | None = None,
    android_channel_id: str | None = None,
) -> dict[str, Any]:
    """The body of an FCM HTTP v1 `messages:send` request: `{"message": {...}}`.

    The deep link travels in `data.link` (apps open it on tap); Android and iOS get the image
    through their own fields, so it shows on both."""
    _check(push)
    if (token is None) == (topic is None):
        raise LoaError(TARGET_NEEDED)
    if topic is not None and not _TOPIC.fullmatch(topic):
        raise LoaError(BAD_TOPIC, topic=topic)
    notification: dict[str, str] = {"title": push.title, "body": push.body}
    if push.image:
        notification["image"] = push.image
    data = dict(push.data)
    if push.link:
        data[LINK_KEY] = push.link
    android: dict[str, Any] = {"priority": "high"}
    if collapse_key:
        android["collapse_key"] = collapse_key
    if ttl_s is not None:
        android["ttl"] = f"{ttl_s}s"
    if android_channel_id:
        android["notification"] = {"channel_id": android_channel_id}
    apns: dict[str, Any] = {"payload": {"aps": {"mutable-content": 1}}}
    if push.image:
        apns["fcm_options"] = {"image": push.image}
    if collapse_key:
        apns["headers"] = {"apns-collapse-id": collapse_key}
    body: dict[str, Any] = {"notification": notification}
    if data:
        body["data"] = data
    body["android"] = android
    body["apns"] = apns
    if push.link and push.link.startswith("https://"):
        body["webpush"] = {"fcm_options": {"link": push.link}}
    _fit(body, "FCM", FCM_MAX_BYTES)
    target = {"token": token} if token is not None else {"topic": topic}
    return {"message": {**target, **body}}


def webpush_payload(push: Push, *, tag: str | None = None) -> dict[str, Any]:
    """The JSON a Web Push subscription receives (encrypted by the sender): a Declarative Web
    Push message whose `navigate` is the link (Declarative Web Push requires one)."""
    _check(push)
    if push.link is None or urlsplit(push.link).scheme != "https":
        raise LoaError(WEB_LINK, link=push.link or "")
    notification: dict[str, Any] = {"title": push.title, "navigate": push.link}
    if push.body:
        notification["body"] = push.body
    if push.image:
        notification["image"] = push.image
    if tag:
        notification["tag"] = tag
    if push.data:
        notification["data"] = dict(push.data)
    payload = {"web_push": WEBPUSH_DECLARATIVE, "notification": notification}
    _fit(payload, "Web Push", WEBPUSH_MAX_BYTES)
    return payload


def payload_for(target: Target, push: Push, **options: Any) -> dict[str, Any]:
    """The payload for `target` ('fcm' or 'webpush')."""
    return fcm_message(push, **options) if target == "fcm" else webpush_payload(push, **options)
