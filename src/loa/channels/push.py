"""App and browser push: `FcmChannel` (Firebase Cloud Messaging HTTP v1) and `WebPushChannel`
(RFC 8030 Web Push with VAPID, RFC 8292, and aes128gcm payload encryption, RFC 8291).

Both send over one pooled `httpx.AsyncClient`, up to `window` requests at once, and build their
payloads with `loa.domain.push` (size limits included). An `Outgoing` carries the notification
in `extras`: "title" (required), "link", "image", "data", or a ready payload under "fcm" /
"webpush"; `text` is the body. `to` is the device token (FCM) or the subscription JSON
(`{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}`, Web Push).

FCM: the OAuth token comes from a JWT signed with the service account's key (google-auth's
signer) exchanged at its `token_uri`, done here over httpx so the event loop never blocks; it is
cached until five minutes before it expires and renewed once when FCM says it is no longer valid.
Answers: 200 -> `accepted` with FCM's message `name`; UNREGISTERED, INVALID_ARGUMENT,
SENDER_ID_MISMATCH ... -> `failed` with that FCM code (so the token can be forgotten); 429, 503
and 500 -> `retry` (FCM documents resending on these), after `Retry-After` when given.

Web Push: pywebpush encrypts (its `WebPusher.encode`) and py-vapid signs the VAPID JWT (cached
per push service for 12 hours); the request itself goes out on httpx, not through pywebpush's
synchronous `requests` call, so no thread pool is needed. 201 -> `accepted` (the `Location`
header is the id, else one made from our key); 404/410 -> `failed` with code "gone" (the
subscription is dead: forget it); 413 -> `failed` "too-big"; 429 and 5xx -> `retry`.

For both, no answer after the request went out (a read timeout) is `failed` with code
"uncertain": neither service deduplicates, so sending again could show it twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.auth import crypt
from google.auth import jwt as google_jwt
from py_vapid import Vapid  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pywebpush import WebPusher, WebPushException  # type: ignore[import-untyped]

from loa.channels.base import (
    ChannelDown,
    ChannelInfo,
    InboundHandler,
    Outgoing,
    ReceiptHandler,
    Submitted,
)
from loa.domain.push import Push, fcm_message, webpush_payload
from loa.i18n import LoaError, Msg

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_MARGIN_S = 300.0
VAPID_LIFETIME_S = 12 * 3600

BAD_SETTING = Msg(
    "push.bad_setting",
    "Cài đặt tuyến {channel} sai ở '{field}': {error}. Sửa giá trị này trong cài đặt tuyến.",
    "The {channel} route setting '{field}' is wrong: {error}. Fix this value in the route's "
    "settings.",
)
TOKEN_REFUSED = Msg(
    "push.token_refused",
    "Máy chủ xác thực của Google từ chối tài khoản dịch vụ '{account}': {error}. Tạo khoá mới "
    "cho tài khoản dịch vụ trong Firebase và cập nhật tuyến.",
    "Google's token server refused the service account '{account}': {error}. Create a new key "
    "for the service account in Firebase and update the route.",
)
TOKEN_UNREACHABLE = Msg(
    "push.token_unreachable",
    "Không kết nối được máy chủ xác thực {url}: {error}. Kiểm tra mạng và tường lửa.",
    "Cannot reach the token server {url}: {error}. Check the network and the firewall.",
)
NO_TITLE = Msg(
    "push.no_title",
    "Thông báo đẩy thiếu tiêu đề (extras['title']).",
    "The push notification has no title (extras['title']).",
)
BAD_SUBSCRIPTION = Msg(
    "push.bad_subscription",
    "Đăng ký Web Push không hợp lệ: {error}. Cần JSON dạng "
    '{{"endpoint": "https://...", "keys": {{"p256dh": "...", "auth": "..."}}}}.',
    "The Web Push subscription is not valid: {error}. It must be JSON like "
    '{{"endpoint": "https://...", "keys": {{"p256dh": "...", "auth": "..."}}}}.',
)
UNCERTAIN = Msg(
    "push.uncertain",
    "Không nhận được trả lời sau khi đã gửi ({error}); thông báo có thể đã đến nên Loa không gửi "
    "lại.",
    "No answer after the request was sent ({error}); the notification may have arrived, so "
    "Loa does not send it again.",
)


def _load(model: type[BaseModel], channel: str, settings: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(settings))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise LoaError(BAD_SETTING, channel=channel, field=field, error=message) from None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _retry_after(response: httpx.Response) -> float | None:
    header = response.headers.get("Retry-After")
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def _notification(message: Outgoing) -> Push | Submitted:
    extras = message.extras
    title = _text(extras.get("title"))
    if title is None:
        return Submitted(message.ref, "failed", code="bad-payload", error=NO_TITLE.render())
    data = {str(k): str(v) for k, v in dict(extras.get("data") or {}).items()}
    return Push(
        title=title,
        body=message.text,
        link=_text(extras.get("link")),
        image=_text(extras.get("image")),
        data=data,
    )


def _uncertain(message: Outgoing, exc: Exception) -> Submitted:
    error = UNCERTAIN.render(error=f"{type(exc).__name__}: {exc}".rstrip(": "))
    return Submitted(message.ref, "failed", code="uncertain", error=error)


# --- FCM ------------------------------------------------------------------------------------


class FcmSettings(BaseModel):
    """A route's FCM settings."""

    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(min_length=1)
    service_account: dict[str, Any]  # the key file's JSON, or a path to it
    token_uri: str | None = None  # default: the key file's token_uri
    api_base: str = "https://fcm.googleapis.com"
    timeout_s: float = Field(default=15.0, gt=0)
    window: int = Field(default=50, ge=1, le=1000)
    ttl_s: int | None = Field(default=None, ge=0)
    android_channel_id: str | None = None

    @field_validator("service_account", mode="before")
    @classmethod
    def _read(cls, value: Any) -> Any:
        if isinstance(value, str):
            path = Path(value).expanduser()
            try:
                value = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read the key file {path}: {exc}") from None
        if isinstance(value, Mapping):
            missing = [k for k in ("client_email", "private_key") if not value.get(k)]
            if missing:
                raise ValueError(f"the service account key has no {missing[0]}")
            try:
                crypt.RSASigner.from_service_account_info(value)  # type: ignore[no-untyped-call]
            except (ValueError, KeyError) as exc:
                raise ValueError(f"the private_key cannot be read: {exc}") from None
        return value


class FcmChannel:
    """Push to Android/iOS apps (and browsers) through FCM HTTP v1."""

    info: ChannelInfo

    def __init__(self, settings: FcmSettings) -> None:
        self.settings = settings
        self.info = ChannelInfo(name="fcm", kinds=frozenset({"push"}), window=settings.window)
        account = settings.service_account
        self._signer = crypt.RSASigner.from_service_account_info(account)  # type: ignore[no-untyped-call]
        self._email = str(account["client_email"])
        self._token_uri = (
            settings.token_uri or account.get("token_uri") or "https://oauth2.googleapis.com/token"
        )
        self._url = (
            f"{settings.api_base.rstrip('/')}/v1/projects/{settings.project_id}/messages:send"
        )
        self._client: httpx.AsyncClient | None = None
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock: asyncio.Lock | None = None
        self.token_fetches = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        """A channel from a route's settings; a bad one raises a LoaError naming the field."""
        return cls(_load(FcmSettings, "FCM", settings))

    def on_receipt(self, handler: ReceiptHandler) -> None:
        """FCM sends no delivery reports to the sender."""

    def on_inbound(self, handler: InboundHandler) -> None:
        """Push has no inbound messages."""

    async def open(self) -> None:
        """Connect and fetch the first token, so bad credentials show at once."""
        if self._client is None:
            window = self.settings.window
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.timeout_s, pool=None),
                limits=httpx.Limits(max_connections=window, max_keepalive_connections=window),
            )
        await self._access_token()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def submit(self, batch: Sequence[Outgoing]) -> list[Submitted]:
        """One answer per message, in order; ChannelDown when FCM or Google's token server
        cannot be reached or refuses our credentials."""
        if not batch:
            return []
        try:
            await self.open()
        except LoaError as exc:
            raise ChannelDown(exc.render("en"), unsent=[m.ref for m in batch]) from exc
        gate = asyncio.Semaphore(self.settings.window)
        answers: list[Submitted | None] = [None] * len(batch)
        down: list[str] = []

        async def send(index: int) -> None:
            async with gate:
                if down:
                    return
                try:
                    answers[index] = await self._send(batch[index])
                except ChannelDown as exc:
                    down.append(exc.reason)

        await asyncio.gather(*(send(i) for i in range(len(batch))))
        if down:
            answered = [a for a in answers if a is not None]
            unsent = [m.ref for m, a in zip(batch, answers, strict=True) if a is None]
            raise ChannelDown(down[0], answered=answered, unsent=unsent)
        return [a for a in answers if a is not None]

    async def _access_token(self, *, renew: bool = False) -> str:
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            if renew:
                self._token = None
            if self._token is not None and time.monotonic() < self._token_until:
                return self._token
            assert self._client is not None
            now = int(time.time())
            assertion = google_jwt.encode(  # type: ignore[no-untyped-call]
                self._signer,
                {
                    "iss": self._email,
                    "scope": FCM_SCOPE,
                    "aud": self._token_uri,
                    "iat": now,
                    "exp": now + 3600,
                },
            ).decode()
            try:
                response = await self._client.post(
                    self._token_uri, data={"grant_type": JWT_BEARER, "assertion": assertion}
                )
            except httpx.TransportError as exc:
                raise LoaError(TOKEN_UNREACHABLE, url=self._token_uri, error=exc) from exc
            try:
                body = response.json()
            except ValueError:
                body = {}
            token = body.get("access_token") if isinstance(body, dict) else None
            if response.status_code != 200 or not token:
                error = f"HTTP {response.status_code} {body.get('error', '')}".strip()
                if isinstance(body, dict) and body.get("error_description"):
                    error += f": {body['error_description']}"
                raise LoaError(TOKEN_REFUSED, account=self._email, error=error)
            self.token_fetches += 1
            lifetime = float(body.get("expires_in") or 3600)
            self._token = str(token)
            self._token_until = time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_S)
            return self._token

    def _payload(self, message: Outgoing) -> dict[str, Any] | Submitted:
        ready = message.extras.get("fcm")
        if isinstance(ready, Mapping):
            body = dict(ready.get("message", ready))
            body.pop("topic", None)
            return {"message": {**body, "token": message.to}}
        push = _notification(message)
        if isinstance(push, Submitted):
            return push
        try:
            return fcm_message(
                push,
                token=message.to,
                ttl_s=self.settings.ttl_s,
                android_channel_id=self.settings.android_channel_id,
            )
        except LoaError as exc:
            return Submitted(message.ref, "failed", code="bad-payload", error=exc.render())

    async def _send(self, message: Outgoing) -> Submitted:
        payload = self._payload(message)
        if isinstance(payload, Submitted):
            return payload
        assert self._client is not None
        for attempt in (1, 2):
            try:
                token = await self._access_token(renew=attempt == 2)
            except LoaError as exc:
                raise ChannelDown(exc.render("en")) from exc
            try:
                response = await self._client.post(
                    self._url, json=payload, headers={"Authorization": f"Bearer {token}"}
                )
            except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                return Submitted(message.ref, "retry", code="connect-timeout", error=str(exc))
            except httpx.ConnectError as exc:
                raise ChannelDown(f"cannot connect to {self._url}: {exc}") from exc
            except httpx.TransportError as exc:
                return _uncertain(message, exc)
            if response.status_code == 200:
                name = _text(_json(response).get("name"))
                if name is None:
                    return Submitted(message.ref, "failed", code="no-id", error=response.text)
                return Submitted(message.ref, "accepted", provider_id=name)
            code, words = _fcm_error(response)
            if response.status_code == 401 and code == "UNAUTHENTICATED" and attempt == 1:
                continue  # our token expired early: renew it once
            if response.status_code == 401 and code == "UNAUTHENTICATED":
                raise ChannelDown(f"FCM refused our token: {words}")
            if response.status_code in (429, 500, 503) or code in ("QUOTA_EXCEEDED", "UNAVAILABLE"):
                return Submitted(
                    message.ref,
                    "retry",
                    code=code,
                    error=words,
                    retry_after=_retry_after(response),
                )
            return Submitted(message.ref, "failed", code=code, error=words)
        raise AssertionError("unreachable")  # pragma: no cover


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _fcm_error(response: httpx.Response) -> tuple[str, str]:
    """FCM's own error code (UNREGISTERED, ...) or the Google API status, and its words."""
    error = _json(response).get("error")
    if not isinstance(error, dict):
        return str(response.status_code), response.text[:300] or response.reason_phrase
    code = _text(error.get("status")) or str(response.status_code)
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("FcmError"):
            code = _text(detail.get("errorCode")) or code
    return code, _text(error.get("message")) or response.reason_phrase


# --- Web Push -------------------------------------------------------------------------------


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def vapid_key(value: str) -> ec.EllipticCurvePrivateKey:
    """A VAPID private key from PEM, or base64url of the raw 32-byte scalar or of DER."""
    if "-----BEGIN" in value:
        key = serialization.load_pem_private_key(value.encode(), password=None)
    else:
        try:
            raw = _b64("".join(value.split()))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"not PEM nor base64: {exc}") from None
        if len(raw) == 32:
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
        else:
            key = serialization.load_der_private_key(raw, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("VAPID needs a P-256 (prime256v1) EC key")
    return key


class WebPushSettings(BaseModel):
    """A route's Web Push settings."""

    model_config = ConfigDict(extra="forbid")

    vapid_private_key: str
    vapid_subject: str
    ttl_s: int = Field(default=86_400, ge=0)  # how long the push service keeps it if offline
    urgency: str | None = None  # very-low / low / normal / high
    timeout_s: float = Field(default=15.0, gt=0)
    window: int = Field(default=50, ge=1, le=1000)

    @field_validator("vapid_private_key")
    @classmethod
    def _key(cls, value: str) -> str:
        try:
            vapid_key(value)
        except ValueError as exc:
            raise ValueError(f"cannot read the key: {exc}") from None
        return value

    @field_validator("vapid_subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://")):
            raise ValueError("use mailto:you@your-domain or https://your-domain")
        return value

    @field_validator("urgency")
    @classmethod
    def _urgency(cls, value: str | None) -> str | None:
        if value is not None and value not in ("very-low", "low", "normal", "high"):
            raise ValueError("use very-low, low, normal or high")
        return value


class WebPushChannel:
    """Push to browsers through their push services (FCM, Mozilla, Apple ...)."""

    info: ChannelInfo

    def __init__(self, settings: WebPushSettings) -> None:
        self.settings = settings
        self.info = ChannelInfo(name="webpush", kinds=frozenset({"push"}), window=settings.window)
        self._vapid = Vapid(private_key=vapid_key(settings.vapid_private_key))
        self._vapid_headers: dict[str, tuple[float, str]] = {}  # origin -> (until, header)
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        """A channel from a route's settings; a bad one raises a LoaError naming the field."""
        return cls(_load(WebPushSettings, "Web Push", settings))

    def on_receipt(self, handler: ReceiptHandler) -> None:
        """Push services send no delivery reports."""

    def on_inbound(self, handler: InboundHandler) -> None:
        """Push has no inbound messages."""

    async def open(self) -> None:
        if self._client is None:
            window = self.settings.window
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.timeout_s, pool=None),
                limits=httpx.Limits(max_connections=window, max_keepalive_connections=window),
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def submit(self, batch: Sequence[Outgoing]) -> list[Submitted]:
        """One answer per message, in order. Each subscription lives at its own push service,
        so one unreachable service is a retry for its messages, not a dead channel."""
        if not batch:
            return []
        await self.open()
        gate = asyncio.Semaphore(self.settings.window)

        async def send(message: Outgoing) -> Submitted:
            async with gate:
                return await self._send(message)

        return list(await asyncio.gather(*(send(m) for m in batch)))

    def _authorization(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._vapid_headers.get(origin)
        if cached is not None and now < cached[0]:
            return cached[1]
        claims = {"sub": self.settings.vapid_subject, "aud": origin, "exp": int(now) + 86_400}
        header = str(self._vapid.sign(claims)["Authorization"])
        self._vapid_headers[origin] = (now + VAPID_LIFETIME_S, header)
        return header

    def _prepare(self, message: Outgoing) -> tuple[str, bytes, dict[str, str]] | Submitted:
        try:
            subscription = json.loads(message.to)
            if not isinstance(subscription, dict) or not str(
                subscription.get("endpoint", "")
            ).startswith(("https://", "http://")):
                raise ValueError("no endpoint URL")
            pusher = WebPusher(subscription)
        except (ValueError, WebPushException, binascii.Error) as exc:
            error = BAD_SUBSCRIPTION.render(error=exc)
            return Submitted(message.ref, "failed", code="bad-subscription", error=error)
        ready = message.extras.get("webpush")
        if isinstance(ready, Mapping):
            payload: Mapping[str, Any] = ready
        else:
            push = _notification(message)
            if isinstance(push, Submitted):
                return push
            try:
                payload = webpush_payload(push, tag=_text(message.extras.get("tag")))
            except LoaError as exc:
                return Submitted(message.ref, "failed", code="bad-payload", error=exc.render())
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            body = bytes(pusher.encode(data, "aes128gcm")["body"])
        except (WebPushException, ValueError) as exc:
            error = BAD_SUBSCRIPTION.render(error=exc)
            return Submitted(message.ref, "failed", code="bad-subscription", error=error)
        endpoint = str(subscription["endpoint"])
        headers = {
            "Authorization": self._authorization(endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self.settings.ttl_s),
        }
        if self.settings.urgency:
            headers["Urgency"] = self.settings.urgency
        return endpoint, body, headers

    async def _send(self, message: Outgoing) -> Submitted:
        prepared = self._prepare(message)
        if isinstance(prepared, Submitted):
            return prepared
        endpoint, body, headers = prepared
        assert self._client is not None
        try:
            response = await self._client.post(endpoint, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return Submitted(message.ref, "retry", code="connect-error", error=str(exc))
        except httpx.TransportError as exc:
            return _uncertain(message, exc)
        status = response.status_code
        words = response.text[:300] or response.reason_phrase
        if status in (200, 201, 202):
            location = response.headers.get("Location") or f"webpush:{message.key}"
            return Submitted(message.ref, "accepted", provider_id=location)
        if status in (404, 410):
            return Submitted(message.ref, "failed", code="gone", error=words)
        if status == 413:
            return Submitted(message.ref, "failed", code="too-big", error=words)
        if status == 429 or status >= 500:
            return Submitted(
                message.ref,
                "retry",
                code=str(status),
                error=words,
                retry_after=_retry_after(response),
            )
        return Submitted(message.ref, "failed", code=str(status), error=words)
