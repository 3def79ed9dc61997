"""FCM and Web Push against a real local HTTP server playing Google's token endpoint, the FCM
API and a browser push service: the token exchange, the JSON and the encrypted bodies that
arrive, and what each answer means for a message. Keys are generated here, none committed."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.auth import jwt as google_jwt
from py_vapid import Vapid02  # type: ignore[import-untyped]
from tests.integration.http_peers import Answer, HttpPeer, Request, serving

from loa.channels.base import ChannelDown, Outgoing, Submitted
from loa.channels.push import FcmChannel, WebPushChannel
from loa.domain.push import Push, fcm_message
from loa.i18n import LoaError

PROJECT = "loa-shop"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- FCM ------------------------------------------------------------------------------------


@dataclass
class Google:
    """The token endpoint and the FCM API, in one server."""

    public_pem: bytes
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    sent: list[dict[str, Any]] = field(default_factory=list)
    claims: list[Mapping[str, Any]] = field(default_factory=list)
    url: str = ""
    refuse_grant: bool = False

    def __call__(self, request: Request) -> Answer:
        if request.path == "/token":
            form = dict(urllib.parse.parse_qsl(request.body.decode()))
            assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            claims = google_jwt.decode(
                form["assertion"], certs=self.public_pem, audience=self.url + "/token"
            )
            self.claims.append(claims)
            if self.refuse_grant:
                return 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT"}
            token = f"ya29.t{len(self.issued) + 1}"
            self.issued.append(token)
            return 200, {}, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        assert request.path == f"/v1/projects/{PROJECT}/messages:send"
        bearer = request.headers["authorization"].removeprefix("Bearer ")
        if bearer not in self.issued or bearer in self.revoked:
            return 401, {}, fcm_error(401, "UNAUTHENTICATED", None, "Request had invalid token")
        message = request.json()["message"]
        self.sent.append(message)
        token = message["token"]
        if token == "dead":
            return (
                404,
                {},
                fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity not found"),
            )
        if token == "bad":
            return 400, {}, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Bad token")
        if token == "busy":
            return (
                429,
                {"Retry-After": "3"},
                fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded"),
            )
        return 200, {}, {"name": f"projects/{PROJECT}/messages/0:{len(self.sent)}"}


def fcm_error(code: int, status: str, fcm_code: str | None, words: str) -> dict[str, Any]:
    details = []
    if fcm_code:
        details = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        ]
    return {"error": {"code": code, "message": words, "status": status, "details": details}}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def google(rsa_key: rsa.RSAPrivateKey) -> Iterator[tuple[Google, HttpPeer]]:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake = Google(public)
    with serving(fake) as peer:
        fake.url = peer.url
        yield fake, peer


def fcm_settings(rsa_key: rsa.RSAPrivateKey, url: str) -> dict[str, Any]:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": f"loa-sender@{PROJECT}.iam.gserviceaccount.com",
        "token_uri": url + "/token",
    }
    return {"project_id": PROJECT, "service_account": account, "api_base": url}


def push(ref: int, to: str, **extras: Any) -> Outgoing:
    return Outgoing(
        ref=ref,
        key=f"p-{ref}",
        to=to,
        text="Giảm 20% hôm nay",
        extras={"title": "Loa Shop", "link": "https://shop.vn/sale", **extras},
    )


def fcm_send(settings: Mapping[str, Any], *batches: list[Outgoing]) -> tuple[list[Submitted], int]:
    async def run() -> tuple[list[Submitted], int]:
        channel = FcmChannel.from_settings(settings)
        await channel.open()
        answers: list[Submitted] = []
        try:
            for batch in batches:
                answers += await channel.submit(batch)
        finally:
            await channel.close()
        return answers, channel.token_fetches

    return asyncio.run(run())


def test_fcm_exchanges_a_signed_jwt_then_sends_the_domain_payload(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, HttpPeer]
) -> None:
    fake, peer = google
    answers, fetches = fcm_send(
        fcm_settings(rsa_key, peer.url),
        [push(1, "tok-A", data={"order": "123"}), push(2, "tok-B")],
        [push(3, "tok-C")],
    )
    assert answers == [
        Submitted(1, "accepted", provider_id=f"projects/{PROJECT}/messages/0:1"),
        Submitted(2, "accepted", provider_id=f"projects/{PROJECT}/messages/0:2"),
        Submitted(3, "accepted", provider_id=f"projects/{PROJECT}/messages/0:3"),
    ]
    assert fetches == 1  # the token is cached across batches
    claims = fake.claims[0]
    assert claims["iss"] == f"loa-sender@{PROJECT}.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert claims["exp"] - claims["iat"] == 3600
    expected = fcm_message(
        Push(
            title="Loa Shop",
            body="Giảm 20% hôm nay",
            link="https://shop.vn/sale",
            data={"order": "123"},
        ),
        token="tok-A",
    )["message"]
    assert fake.sent[0] == expected
    assert fake.sent[0]["data"] == {"order": "123", "link": "https://shop.vn/sale"}


def test_fcm_error_codes_fail_or_retry_and_name_the_fcm_code(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, HttpPeer]
) -> None:
    _, peer = google
    answers, _ = fcm_send(
        fcm_settings(rsa_key, peer.url),
        [push(1, "dead"), push(2, "bad"), push(3, "busy"), push(4, "ok"), push(5, "x", title="")],
    )
    assert [(a.ref, a.outcome, a.code, a.error, a.retry_after) for a in answers[:3]] == [
        (1, "failed", "UNREGISTERED", "Requested entity not found", None),
        (2, "failed", "INVALID_ARGUMENT", "Bad token", None),
        (3, "retry", "QUOTA_EXCEEDED", "Quota exceeded", 3.0),
    ]
    assert answers[3].outcome == "accepted"
    assert answers[4] == Submitted(
        5, "failed", code="bad-payload", error="Thông báo đẩy thiếu tiêu đề (extras['title'])."
    )


def test_fcm_renews_a_token_it_says_is_no_longer_valid(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, HttpPeer]
) -> None:
    fake, peer = google

    async def run() -> tuple[list[Submitted], int]:
        channel = FcmChannel.from_settings(fcm_settings(rsa_key, peer.url))
        await channel.open()
        first = await channel.submit([push(1, "a")])
        fake.revoked.add(fake.issued[0])
        second = await channel.submit([push(2, "b")])
        await channel.close()
        return first + second, channel.token_fetches

    answers, fetches = asyncio.run(run())
    assert [a.outcome for a in answers] == ["accepted", "accepted"]
    assert fetches == 2


def test_a_refused_service_account_is_a_bilingual_error_on_open_and_channel_down_in_submit(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, HttpPeer]
) -> None:
    fake, peer = google
    fake.refuse_grant = True

    async def run() -> tuple[LoaError, ChannelDown]:
        channel = FcmChannel.from_settings(fcm_settings(rsa_key, peer.url))
        with pytest.raises(LoaError) as opened:
            await channel.open()
        with pytest.raises(ChannelDown) as submitted:
            await channel.submit([push(1, "a"), push(2, "b")])
        await channel.close()
        return opened.value, submitted.value

    opened, down = asyncio.run(run())
    assert opened.render("vi") == (
        f"Máy chủ xác thực của Google từ chối tài khoản dịch vụ 'loa-sender@{PROJECT}.iam."
        "gserviceaccount.com': HTTP 400 invalid_grant: Invalid JWT. Tạo khoá mới cho tài khoản "
        "dịch vụ trong Firebase và cập nhật tuyến."
    )
    assert down.unsent == [1, 2] and down.answered == []


def test_fcm_settings_name_the_bad_field(rsa_key: rsa.RSAPrivateKey) -> None:
    settings = fcm_settings(rsa_key, "http://127.0.0.1:9")
    broken = {**settings, "service_account": {**settings["service_account"], "private_key": "x"}}
    with pytest.raises(LoaError) as caught:
        FcmChannel.from_settings(broken)
    assert caught.value.render("vi").startswith(
        "Cài đặt tuyến FCM sai ở 'service_account': the private_key cannot be read"
    )
    with pytest.raises(LoaError) as missing:
        FcmChannel.from_settings({"service_account": settings["service_account"]})
    assert missing.value.render("en").startswith(
        "The FCM route setting 'project_id' is wrong: Field required."
    )


def test_fcm_reads_the_service_account_from_a_key_file(
    rsa_key: rsa.RSAPrivateKey, google: tuple[Google, HttpPeer], tmp_path: Any
) -> None:
    _, peer = google
    settings = fcm_settings(rsa_key, peer.url)
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(settings["service_account"]))
    answers, _ = fcm_send({**settings, "service_account": str(key_file)}, [push(1, "a")])
    assert answers[0].outcome == "accepted"


# --- Web Push -------------------------------------------------------------------------------


@dataclass
class Browser:
    """A subscription's keys, as a browser keeps them."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Browser:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    def subscription(self, endpoint: str) -> str:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return json.dumps(
            {"endpoint": endpoint, "keys": {"p256dh": b64(public), "auth": b64(self.auth)}}
        )

    def decrypt(self, body: bytes) -> Any:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@dataclass
class PushService:
    browser: Browser
    received: list[tuple[str, Any, Mapping[str, str]]] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __call__(self, request: Request) -> Answer:
        assert request.headers["content-encoding"] == "aes128gcm"
        assert request.headers["ttl"] == "86400"
        authorization = request.headers["authorization"]
        assert authorization.startswith("vapid t=") and Vapid02.verify(authorization)
        self.received.append((request.path, self.browser.decrypt(request.body), request.headers))
        if request.path == "/push/gone":
            return 410, {}, "push subscription has unsubscribed or expired."
        if request.path == "/push/busy":
            return 429, {"Retry-After": "5"}, "slow down"
        return 201, {"Location": f"https://push.example/m/{next(self.ids)}"}, ""


def vapid_settings(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"vapid_private_key": pem, "vapid_subject": "mailto:ops@shop.vn"}


def webpush_send(settings: Mapping[str, Any], batch: list[Outgoing]) -> list[Submitted]:
    async def run() -> list[Submitted]:
        channel = WebPushChannel.from_settings(settings)
        await channel.open()
        try:
            return await channel.submit(batch)
        finally:
            await channel.close()

    return asyncio.run(run())


def test_webpush_sends_an_encrypted_vapid_signed_payload_and_reads_the_answers() -> None:
    browser = Browser.new()
    service = PushService(browser)
    vapid = ec.generate_private_key(ec.SECP256R1())
    with serving(service) as peer:
        answers = webpush_send(
            vapid_settings(vapid),
            [
                push(1, browser.subscription(peer.url + "/push/abc")),
                push(2, browser.subscription(peer.url + "/push/gone")),
                push(3, browser.subscription(peer.url + "/push/busy")),
                push(4, '{"endpoint": "nowhere"}'),
                push(5, browser.subscription(peer.url + "/push/abc"), link="myapp://sale"),
            ],
        )
    assert [(a.ref, a.outcome, a.provider_id, a.code, a.retry_after) for a in answers[:3]] == [
        (1, "accepted", "https://push.example/m/1", None, None),
        (2, "failed", None, "gone", None),
        (3, "retry", None, "429", 5.0),
    ]
    assert (answers[3].outcome, answers[3].code) == ("failed", "bad-subscription")
    assert answers[3].error is not None
    assert answers[3].error.startswith("Đăng ký Web Push không hợp lệ: no endpoint URL.")
    assert answers[4] == Submitted(
        5,
        "failed",
        code="bad-payload",
        error="Web Push chỉ mở được liên kết https, không mở được 'myapp://sale'.",
    )
    # Requests run concurrently: find the accepted one by its path, not by arrival order.
    _, payload, headers = next(r for r in service.received if r[0] == "/push/abc")
    assert payload == {
        "web_push": 8030,
        "notification": {
            "title": "Loa Shop",
            "navigate": "https://shop.vn/sale",
            "body": "Giảm 20% hôm nay",
        },
    }
    vapid_public = vapid.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert headers["authorization"].endswith(",k=" + b64(vapid_public))
    assert len(service.received) == 3  # nothing was sent for the bad subscription or link


def test_webpush_settings_name_the_bad_field() -> None:
    with pytest.raises(LoaError) as caught:
        WebPushChannel.from_settings({"vapid_private_key": "bm90IGEga2V5", "vapid_subject": "x"})
    assert caught.value.render("vi").startswith(
        "Cài đặt tuyến Web Push sai ở 'vapid_private_key': cannot read the key"
    )
    key = ec.generate_private_key(ec.SECP256R1())
    raw = b64(key.private_numbers().private_value.to_bytes(32, "big"))
    with pytest.raises(LoaError) as subject:
        WebPushChannel.from_settings({"vapid_private_key": raw, "vapid_subject": "ops@shop.vn"})
    assert subject.value.render("en") == (
        "The Web Push route setting 'vapid_subject' is wrong: use mailto:you@your-domain or "
        "https://your-domain. Fix this value in the route's settings."
    )
    WebPushChannel.from_settings({"vapid_private_key": raw, "vapid_subject": "mailto:o@shop.vn"})
